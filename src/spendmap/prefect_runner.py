"""The Prefect runner: the same pipeline definition (`spendmap.pipeline.execute`) as the flow
`spendmap-run`, each step a task.

- Cached steps (reading, placing) use a cache key that is their result-cache folder's name, itself a
  hash of the inputs' sha256, the parameters and the code version; their results persist in
  `<cache>/prefect-results`, beside the step folders, never in the staging folder. A second run on
  unchanged sources shows those task runs as `Cached` and does not read or place again.
- Council pages are a mapped task, `render-council`, on the flow's task runner (a thread pool), or on a
  Dask cluster when the run's parameters say `task_runner="dask"` (an existing scheduler at
  `dask_address`, or a LocalCluster started for the run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import Task, flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from spendmap.pipeline import STEPS, Progress, RunOutcome, Step, execute, is_complete, step_body
from spendmap.run_config import RunParams

RESULTS_DIR_NAME = "prefect-results"


def results_dir(cache_dir: Path) -> Path:
    return cache_dir / RESULTS_DIR_NAME


def _cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """The step folder's name. A record whose folder was deleted is dropped, so the step runs again."""
    folder = Path(parameters["work_dir"])
    key = folder.name
    if not is_complete(folder):
        (results_dir(folder.parent.parent) / key).unlink(missing_ok=True)
    return key


def _task(step: Step) -> Task:
    if step.cached:
        return task(step_body(step), name=step.name, cache_key_fn=_cache_key, persist_result=True)
    return task(step.fn, name=step.name, cache_policy=NO_CACHE)


TASKS: dict[str, Task] = {step.name: _task(step) for step in STEPS}


class PrefectRunner:
    """Runs `execute`'s steps as tasks of the current flow run."""

    def __init__(self, params: RunParams, cache_dir: Path, progress: Progress | None = None) -> None:
        self.params = params
        self.progress = progress
        storage = results_dir(cache_dir)  # a Path: Prefect stores records there without a saved block
        self.tasks = {
            name: t.with_options(result_storage=storage) if t.cache_policy is not NO_CACHE else t
            for name, t in TASKS.items()
        }
        self._render_tasks: dict[Any, Task] = {}

    def call(self, step: Step, *args: Any, **kwargs: Any) -> Any:
        return self.tasks[step.name](*args, **kwargs)

    def submit(self, step: Step, *args: Any, **kwargs: Any) -> Any:
        return self.tasks[step.name].submit(*args, **kwargs)

    def map_councils(self, fn: Any, jobs: list[Any]) -> Iterator[Any]:
        """One `render-council` task run per council, on the flow's task runner or on Dask; each
        result is yielded as it is collected, so the caller's progress advances while pages render."""
        if fn not in self._render_tasks:
            self._render_tasks[fn] = task(fn, name="render-council", cache_policy=NO_CACHE)
        render = self._render_tasks[fn]
        parameters = {"job": jobs}
        if not jobs:
            return
        if self.params.task_runner == "dask":
            with _api_url_for_workers(), dask_task_runner(self.params) as runner:
                yield from (f.result() for f in runner.map(render, parameters))
            return
        yield from (f.result() for f in render.map(**parameters))

    def log(self, message: str) -> None:
        print(message)


@contextmanager
def _api_url_for_workers() -> Iterator[None]:
    """PREFECT_API_URL in the environment while a local cluster starts its worker processes.

    Without it each worker process would start a temporary Prefect server of its own (and time out)
    instead of reporting to the one this run uses.
    """
    from prefect.client.orchestration import get_client

    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = before or str(get_client(sync_client=True).api_url)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)


def dask_task_runner(params: RunParams) -> Any:
    """A DaskTaskRunner on the scheduler at `dask_address`, else on a LocalCluster for this run."""
    from prefect_dask import DaskTaskRunner

    if params.dask_address:
        return DaskTaskRunner(address=params.dask_address)
    workers = max(1, min(2, os.cpu_count() or 1))
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "dashboard_address": None}
    )


@flow(name="spendmap-run", log_prints=True)
def spendmap_run(params: RunParams | None = None) -> dict[str, Any]:
    """One run of spendmap: grants register(s) + CRA + population -> the output folder."""
    from spendmap.sources.fetch import default_cache_dir

    params = params or RunParams()
    cache_dir = Path(params.cache_dir) if params.cache_dir else default_cache_dir()
    outcome = execute(params, PrefectRunner(params, cache_dir, progress=cli_progress()))
    _artifacts(outcome.manifest, outcome.index_html)
    return {
        "out_dir": str(outcome.out_dir), "index_html": str(outcome.index_html), "manifest": outcome.manifest,
        "n_councils": outcome.n_councils,
    }


# The CLI's progress bar for a flow run in this process: a callable is no flow parameter (deployments
# could not send one), so `run_flow` hands it over here for the run's duration.
_progress: Progress | None = None


def cli_progress() -> Progress | None:
    """The bar `run_flow` was given. The flow reads it through this function, never the global itself:
    Dask pickles the flow function by value, globals it names included, and a bar cannot be pickled."""
    return _progress


def run_flow(params: RunParams, progress: Progress | None = None) -> RunOutcome:
    """The flow for the CLI: progress printed plainly, Prefect's own logs only with --debug."""
    global _progress
    _progress = progress
    try:
        with ephemeral_startup_timeout():
            result = spendmap_run.with_options(log_prints=False)(params=params)
    finally:
        _progress = None
    return RunOutcome(
        Path(result["out_dir"]), Path(result["index_html"]), result["manifest"], result["n_councils"]
    )


EPHEMERAL_TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
EPHEMERAL_TIMEOUT_SECONDS = 120
PREFECT_DEFAULT_TIMEOUT = 20  # missed on a loaded machine (the benchmark driver met it)


@contextmanager
def ephemeral_startup_timeout(seconds: int = EPHEMERAL_TIMEOUT_SECONDS) -> Iterator[None]:
    """A longer start-up timeout for the temporary Prefect server a run without PREFECT_API_URL starts,
    unless the user set one (in the environment or their Prefect profile)."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    timeout = settings.server.ephemeral.startup_timeout_seconds
    user_set = EPHEMERAL_TIMEOUT_SETTING in os.environ or timeout != PREFECT_DEFAULT_TIMEOUT
    if user_set or settings.api.url:  # a server is configured: no temporary one is started
        yield
        return
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    with temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: seconds}):
        yield


def _artifacts(manifest: dict, index_html: Path) -> None:
    """Human-readable summaries in the Prefect UI."""
    rec = manifest["reconciliation"]["totals"]
    create_markdown_artifact(
        key="spendmap-run-summary",
        markdown=(
            f"# spendmap run {', '.join(manifest['financial_years'])}\n\n"
            f"- award rows read: {rec['rows_read']:,}; accepted {rec['rows_accepted']:,}; "
            f"rejected {rec['rows_rejected']:,}\n"
            f"- £ in {rec['amount_in_gbp']:,.0f}; accepted {rec['amount_accepted_gbp']:,.0f}; "
            f"rejected {rec['amount_rejected_gbp']:,.0f}\n"
            f"- reconciles: {manifest['reconciliation']['ok']}\n"
        ),
        description="Rows and £ in and out of the grants registers",
    )
    create_table_artifact(
        key="spendmap-geo-methods",
        table=[{"geo_method": m, **v} for m, v in manifest["geo_methods"].items()],
        description="How awards were placed in councils",
    )
    create_link_artifact(key="spendmap-index", link=index_html.as_uri(), description="The output folder")
