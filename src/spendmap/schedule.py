"""The scheduled flow: look for new official releases and process only what is new.

`spendmap-check-releases` asks the GOV.UK Content API about the grants register of each year it
watches (conditional requests, and `public_updated_at`), remembering in the cache what it last
processed (`schedule/processed.json`). A new or updated release is fetched and that year's pipeline
is run (the main flow, as a subflow); an unchanged one is recorded as such (a markdown artifact) and
nothing else happens. `spendmap serve` serves it on a cron; `flows/prefect.yaml` declares it for a
worker. Each processed year leaves artifacts: the run summary, the placement table, a link to the
outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from spendmap.errors import InputError
from spendmap.sources.cache import default_cache_dir, now_iso, read_json, write_json_atomic
from spendmap.sources.releases import CATALOGUE, ReleaseNotPublished, check_release, fetch_release

WATCHED_SOURCE = "grants-register"
STATE_FILE = Path("schedule") / "processed.json"
DEPLOYMENT_NAME = "spendmap-weekly"


def newest_year() -> str:
    """The newest register year in the catalogue (what the schedule watches by default)."""
    return max(CATALOGUE[WATCHED_SOURCE].releases)


def _state(cache_dir: Path) -> dict[str, Any]:
    return read_json(cache_dir / STATE_FILE) or {}


def _artifact_key(fy: str, what: str) -> str:
    # Artifact keys allow lower-case letters, digits and dashes only.
    return f"spendmap-{fy.replace('/', '-')}-{what}"


@task(name="check-release", cache_policy=NO_CACHE, retries=0)
def check_task(fy: str, cache_dir: str) -> dict[str, Any]:
    """What the Content API says about the register of `fy`, and whether it was already processed.
    A release not published yet is an answer ({"published": False}), not a failure."""
    try:
        check = check_release(WATCHED_SOURCE, fy, cache_dir=Path(cache_dir))
    except ReleaseNotPublished as exc:
        return {"published": False, "reason": str(exc), "new": False}
    done = _state(Path(cache_dir)).get(fy) or {}
    attachment = check.attachment.to_dict() if check.attachment else {}
    processed = (
        bool(done)
        and done.get("public_updated_at") == check.public_updated_at
        and done.get("url") == attachment.get("url")
    )
    return {**check.to_dict(), "published": True, "new": check.changed or not processed}


@task(name="fetch-release", cache_policy=NO_CACHE)
def fetch_task(fy: str, cache_dir: str) -> dict[str, Any]:
    fetched, _ = fetch_release(WATCHED_SOURCE, year=fy, cache_dir=Path(cache_dir))
    return fetched.to_manifest()


def run_year(fy: str, grants_path: str, options: dict[str, Any], out_dir: Path, cache_dir: Path) -> dict:
    """The one place the scheduled flow calls the main flow (its signature may change)."""
    from spendmap.pipeline import spendmap_run
    from spendmap.run_config import RunParams

    return spendmap_run(RunParams(
        years=[fy], grants=[grants_path], cra=options.get("cra"), population=options.get("population"),
        postcodes=options.get("postcodes"), places=options.get("places"),
        small_threshold_gbp=options.get("small_threshold_gbp", 100_000.0), out_dir=str(out_dir),
        offline=False, cra_units=options.get("cra_units"), cache_dir=str(cache_dir),
    ))


@flow(name="spendmap-check-releases", log_prints=True)
def check_releases(
    years: list[str] | None = None,
    out_root: str = "outputs",
    places: str | None = "pfpp",
    cra: str | None = None,
    population: str | None = None,
    postcodes: str | None = None,
    cache_dir: str | None = None,
) -> dict[str, str]:
    """For each watched year: a new release is fetched and processed into `out_root/<year>`; an
    unchanged (or not yet published) one is recorded and skipped.
    Returns {year: "processed" | "unchanged" | "not published"}."""
    logger = get_run_logger()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    options = {"places": places, "cra": cra, "population": population, "postcodes": postcodes}
    outcome: dict[str, str] = {}
    for fy in years or [newest_year()]:
        check = check_task(fy, str(cache))
        if not check["published"]:
            create_markdown_artifact(
                key=_artifact_key(fy, "check"),
                markdown=f"# The {WATCHED_SOURCE} release for {fy} is not published yet\n\n"
                f"{check['reason']}\n",
                description=f"Release check for {fy}: not published yet",
            )
            outcome[fy] = "not published"
            continue
        if not check["new"]:
            create_markdown_artifact(
                key=_artifact_key(fy, "check"),
                markdown=(
                    f"# No new {WATCHED_SOURCE} release for {fy}\n\n"
                    f"- publication: {check['page_url']}\n"
                    f"- public_updated_at: {check['public_updated_at']}\n"
                    f"- server: {'304 Not Modified' if check['not_modified'] else 'unchanged content'}\n"
                    f"- checked at {now_iso()}; nothing was downloaded or run.\n"
                ),
                description=f"Release check for {fy}: nothing new",
            )
            logger.info("No new %s release for %s; nothing to do", WATCHED_SOURCE, fy)
            outcome[fy] = "unchanged"
            continue
        fetched = fetch_task(fy, str(cache))
        out_dir = Path(out_root) / fy
        result = run_year(fy, fetched["path"], options, out_dir, cache)
        _year_artifacts(fy, check, fetched, result)
        state = _state(cache)
        state[fy] = {
            "public_updated_at": check["public_updated_at"], "url": (check["attachment"] or {}).get("url"),
            "sha256": fetched["sha256"], "out_dir": result["out_dir"], "processed_at": now_iso(),
        }
        write_json_atomic(cache / STATE_FILE, state)  # only after the run published its outputs
        outcome[fy] = "processed"
    return outcome


def _year_artifacts(fy: str, check: dict, fetched: dict, result: dict) -> None:
    """Run summary, placement table and a link to the outputs, keyed by year."""
    manifest = result.get("manifest") or {}
    totals = (manifest.get("reconciliation") or {}).get("totals") or {}
    lines = [
        f"# spendmap {fy}: new release processed",
        "",
        f"- publication: {check['page_url']} (public_updated_at {check['public_updated_at']})",
        f"- file: {(check['attachment'] or {}).get('title')} — sha256 {fetched['sha256']}",
    ]
    if totals:
        t = {k: totals.get(k, 0) for k in ("rows_read", "rows_accepted", "rows_rejected", "amount_in_gbp",
                                            "amount_accepted_gbp")}
        lines += [
            f"- award rows read {t['rows_read']:,}; accepted {t['rows_accepted']:,}; "
            f"rejected {t['rows_rejected']:,}",
            f"- £ in {t['amount_in_gbp']:,.0f}; accepted {t['amount_accepted_gbp']:,.0f}",
        ]
    lines.append(f"- outputs: {result['out_dir']}")
    create_markdown_artifact(key=_artifact_key(fy, "check"), markdown="\n".join(lines) + "\n",
                             description=f"Release check for {fy}: new release processed")
    create_markdown_artifact(key=_artifact_key(fy, "run-summary"), markdown="\n".join(lines) + "\n",
                             description=f"Run summary for {fy}")
    geo = manifest.get("geo_methods") or {}
    create_table_artifact(
        key=_artifact_key(fy, "placement"),
        table=[{"geo_method": m, **(v if isinstance(v, dict) else {"awards": v})} for m, v in geo.items()],
        description=f"How the {fy} awards were placed in councils",
    )
    create_link_artifact(key=_artifact_key(fy, "outputs"), link=Path(result["index_html"]).as_uri(),
                         description=f"The {fy} output folder")


SERVE_HELP = (
    "Start one in another terminal with `prefect server start`, then set PREFECT_API_URL to its API "
    "(export PREFECT_API_URL=http://127.0.0.1:4200/api, or `prefect config set PREFECT_API_URL=...`) and "
    "run `spendmap serve` again. `spendmap run` needs no server."
)


def require_prefect_api(timeout: float = 3.0) -> str:
    """The Prefect API URL `serve` will register with, after checking it answers; InputError (exit 2)
    when none is configured or it does not answer (serve would otherwise print that it is serving and
    then fail with tracebacks)."""
    import urllib.request

    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise InputError(
            "`spendmap serve` needs a running Prefect server, and PREFECT_API_URL is not set. " + SERVE_HELP
        )
    try:
        with urllib.request.urlopen(f"{str(url).rstrip('/')}/health", timeout=timeout):  # noqa: S310
            pass
    except (OSError, ValueError) as err:  # refused, timed out, HTTP error status, malformed URL
        raise InputError(
            f"`spendmap serve` needs a running Prefect server, and none answers at PREFECT_API_URL={url} "
            f"({type(err).__name__}). " + SERVE_HELP
        ) from None
    return str(url)


def serve_deployments(*, cron: str) -> None:
    """`spendmap serve`: the release check on `cron`, plus the main flow for runs on demand (blocks).
    Refuses at once (exit 2) when no Prefect API answers."""
    require_prefect_api()
    from prefect import serve

    from spendmap.pipeline import spendmap_run

    serve(
        check_releases.to_deployment(name=DEPLOYMENT_NAME, cron=cron),
        spendmap_run.to_deployment(name="spendmap-on-demand", parameters={"params": {"offline": False}}),
    )
