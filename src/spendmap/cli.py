"""spendmap's command line: parses arguments and calls the pipeline. Kept thin on purpose."""

from __future__ import annotations

import argparse
import math
import os
import sys
import textwrap
import traceback
from collections.abc import Sequence
from typing import Literal, get_args, get_origin

from spendmap import __version__
from spendmap.errors import InputError, SpendmapError
from spendmap.fiscal_year import fy_start_year
from spendmap.run_config import RunParams, cli_options


def _year_list(text: str) -> list[str]:
    years = [y.strip() for y in text.split(",") if y.strip()]
    for y in years:
        fy_start_year(y)
    return years


def _positive_gbp(text: str) -> float:
    """--small-threshold: a positive, finite number of pounds (nan, inf, 0 and -5 are refused)."""
    try:
        value = float(text.replace(",", "").lstrip("£"))
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive amount of pounds: give a number above 0, e.g. 100000")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spendmap",
        description="Map UK central-government grant flows (GGIS grants register, HMT CRA) into councils.",
    )
    parser.add_argument("--version", action="version", version=f"spendmap {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and Prefect's own logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="one or more financial years through the whole pipeline")
    run.add_argument("--year", help="financial year, e.g. 2016-17 (default: the year the register says)")
    run.add_argument("--years", help="several years, comma-separated: also writes trend tables")
    _add_param_options(run)
    run.add_argument("--runner", choices=["auto", "in-process", "prefect"], default="auto",
                     help="in-process, or the Prefect flow (auto: Prefect when PREFECT_API_URL is set or "
                     "--task-runner is dask)")

    profile = sub.add_parser("profile", help="a council's grant profile in the terminal, from the last run")
    profile.add_argument("council", metavar="COUNCIL", help="GSS code, name or common variant")
    profile.add_argument("--year", help="financial year (default: the latest in the run)")
    profile.add_argument("--out", default="outputs", metavar="DIR", help="the run's output folder")

    places = sub.add_parser("places", help="list or search councils")
    places.add_argument("query", nargs="?", help="part of a name, a GSS code, or 'pfpp'")

    fetch = sub.add_parser("fetch", help="download official releases (found via the GOV.UK Content API)")
    fetch.add_argument("--year", help="financial year of the release, e.g. 2022-23 (default: the newest)")
    fetch.add_argument("--source", help="which source (see `spendmap fetch --list`), e.g. grants-register")
    fetch.add_argument("--list", action="store_true", help="list the sources and releases known")

    prio = sub.add_parser("priorities", help="print a starter priorities file (YAML) for a place")
    prio.add_argument("place", metavar="PLACE", help="GSS code, name or common variant of a council")

    serve = sub.add_parser("serve", help="serve the scheduled release check (needs a Prefect server)")
    serve.add_argument("--cron", default="0 6 * * 1", help="schedule (default: Mondays 06:00)")
    return parser


def _literal_choices(annotation: object) -> list[str]:
    """The allowed values of a Literal (or optional Literal) annotation; [] for anything else."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return [c for arg in get_args(annotation) if get_origin(arg) is Literal for c in get_args(arg)]


def _add_param_options(parser: argparse.ArgumentParser) -> None:
    """One option per RunParams field that declares one (flag, help, choices and type from the model)."""
    for name, opt in cli_options():
        field = RunParams.model_fields[name]
        kwargs: dict = {"dest": name, "help": opt["help"]}
        if opt.get("metavar"):
            kwargs["metavar"] = opt["metavar"]
        if opt.get("action"):
            kwargs["action"] = opt["action"]
        choices = _literal_choices(field.annotation)
        if choices:
            kwargs["choices"] = choices
        elif field.annotation is float:
            kwargs["type"] = _positive_gbp
        appended = opt.get("action") == "append"
        kwargs["default"] = [] if appended else field.get_default(call_default_factory=True)
        parser.add_argument(opt["flag"], **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.debug:
        # Prefect's own logs (and task tracebacks) stay out of the terminal; --debug shows them.
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # and Dask's, with --task-runner dask
    # Offline machines: Prefect's temporary server must not try to send telemetry.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        return COMMANDS[args.command](args)
    except SpendmapError as err:
        if args.debug:
            traceback.print_exc()
        _print_error(str(err))
        return err.exit_code
    except KeyboardInterrupt:
        _print_error("Interrupted; no output was published.")
        return 130
    except Exception as err:  # noqa: BLE001 - the last line of defence: one paragraph, not a traceback
        if args.debug:
            traceback.print_exc()
        _print_error(f"Unexpected error ({type(err).__name__}: {err}). Run again with --debug for details.")
        return 1


def _print_error(message: str) -> None:
    # Paths are never split at their hyphens, so a path in a message can be copied whole.
    print(textwrap.fill(f"spendmap: {message}", width=100, break_on_hyphens=False, break_long_words=False),
          file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from spendmap.pipeline import run_pipeline

    if args.year and args.years:
        raise InputError("Give either --year or --years, not both.")
    years = _year_list(args.years) if args.years else ([args.year] if args.year else [])
    params = RunParams(years=years, **{name: getattr(args, name) for name, _ in cli_options()})
    from spendmap.outputs.publish import stop_on_signals
    from spendmap.outputs.terminal import RenderProgress, run_summary

    with stop_on_signals(), RenderProgress() as bar:
        result = run_pipeline(params, runner=args.runner, progress=bar)
    print(run_summary(result.manifest, result.out_dir, result.n_councils))  # ends with index.html's path
    return 0


def cmd_places(args: argparse.Namespace) -> int:
    from spendmap.outputs.terminal import print_places

    print_places(args.query)
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from spendmap.outputs.terminal import print_profile

    print_profile(args.council, out_dir=args.out, year=args.year)
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from spendmap.sources.releases import fetch_command

    fetch_command(source=args.source, year=args.year, list_only=args.list)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from spendmap.schedule import serve_deployments

    serve_deployments(cron=args.cron)
    return 0


def cmd_priorities(args: argparse.Namespace) -> int:
    from spendmap.sources.priorities import starter_for

    print(starter_for(args.place), end="")
    return 0


COMMANDS = {
    "priorities": cmd_priorities,
    "run": cmd_run, "places": cmd_places, "profile": cmd_profile, "fetch": cmd_fetch, "serve": cmd_serve,
}
