"""One pipeline, several runners: in-process, the Prefect flow (with task caching) and Dask give the
same tables as the Prefect run of the bundled data (`bundled_run`)."""

import asyncio
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from spendmap.cli import main
from spendmap.pipeline import STEPS

pytestmark = pytest.mark.flow

TABLES = ["place_summary.csv", "small_grants.csv", "cra_allocation.csv", "duplication.csv",
          "national_scheme_overlaps.csv", "rejects.csv"]
PFPP_PAGES = 14  # the 13 pilot places, East Sussex with Hastings
# Pages the Dask test renders: two are enough to show the work is mapped over the cluster's workers
# (every further page costs the suite a few seconds and tests nothing new).
DASK_PLACES, DASK_PAGES = "Wakefield,Birmingham", 2
# resolve-input x3 (register, CRA, population), then one task per other declared step
STEP_TASKS = 3 + len([s for s in STEPS if s.name != "resolve-input"])


def assert_same_tables(a, b) -> None:
    awards = [pd.read_parquet(x / "awards.parquet") for x in (a, b)]
    pd.testing.assert_frame_equal(*awards)
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_csv(a / name), pd.read_csv(b / name), obj=name)
    ma, mb = (json.loads((x / "run_manifest.json").read_text()) for x in (a, b))
    assert ma["reconciliation"] == mb["reconciliation"] and ma["geo_methods"] == mb["geo_methods"]


def _task_states(out_dir, n_tasks: int) -> dict[str, list[str]]:
    """{task name: [state name per task run]} of the one flow run that wrote out_dir.

    Task run states reach the server as events, processed a moment after the flow returns: wait for
    all `n_tasks` to have a final state (a guard of 10 minutes against a hang, not a speed check: a
    loaded machine processes events late).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read():
        async with get_client() as client:
            runs = [r for r in await client.read_flow_runs()
                    if r.parameters.get("params", {}).get("out_dir") == str(out_dir)]
            (run,) = runs
            only_this_run = FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
            for _ in range(1200):
                tasks = await client.read_task_runs(flow_run_filter=only_this_run)
                if len(tasks) == n_tasks and all(t.state and t.state.is_final() for t in tasks):
                    break
                await asyncio.sleep(0.5)
            states: dict[str, list[str]] = {}
            for t in tasks:
                states.setdefault(t.name.rsplit("-", 1)[0], []).append(t.state.name)
            return states

    return asyncio.run(read())


def test_second_prefect_run_reuses_reading_and_placing(tmp_path, fresh_cache, prefect_harness, bundled_run):
    cache = fresh_cache
    outs = [tmp_path / f"out{i}" for i in range(3)]

    def run(out):
        assert main(["run", "--runner", "prefect", "--places", "Wakefield", "--out", str(out)]) == 0
        return _task_states(out, STEP_TASKS + 1)  # one page

    first, second = run(outs[0]), run(outs[1])
    cached = ("read-grants", "place-awards", "classify-awards", "allocate-cra", "grant-analytics",
              "match-priorities", "write-tables")
    for step in cached:
        assert first[step] == ["Completed"] and second[step] == ["Cached"], step
    # What belongs to the files as given and the pages are made every run (the tables are copied).
    for step in ("label-grants", "render-council"):
        assert second[step] == ["Completed"], step
    # Cached results persist in the cache folder, not in a staging folder that publishing removes.
    assert sorted(p.name.rsplit("-", 1)[0] for p in (cache / "prefect-results").iterdir()) == sorted(cached)
    assert_same_tables(outs[0], outs[1])
    assert_same_tables(outs[1], bundled_run)

    # A step folder removed from the cache is rebuilt (its stale record dropped), not trusted.
    (read_dir,) = (cache / "steps").glob("read-grants-*")
    for f in read_dir.iterdir():
        f.unlink()
    third = run(outs[2])
    assert third["read-grants"] == ["Completed"] and third["place-awards"] == ["Cached"]
    assert third["classify-awards"] == ["Cached"]  # keyed on placing's key: the same content
    assert_same_tables(outs[2], bundled_run)


def test_in_process_run_gives_the_same_tables_without_importing_prefect(tmp_path, bundled_run):
    out = tmp_path / "outputs"
    script = (
        "import sys; from spendmap.cli import main; "
        f"code = main(['run', '--places', 'pfpp', '--out', {str(out)!r}]); "
        "print('prefect imported:', 'prefect' in sys.modules); sys.exit(code)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "prefect imported: False" in done.stdout
    assert_same_tables(out, bundled_run)
    assert len(list((out / "councils").iterdir())) == PFPP_PAGES


def test_dask_cluster_renders_the_same_run(tmp_path, prefect_harness, bundled_run):
    from distributed import LocalCluster

    out = tmp_path / "outputs"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        args = ["run", "--task-runner", "dask", "--dask-address", cluster.scheduler_address,
                "--places", DASK_PLACES, "--out", str(out)]
        assert main(args) == 0
        ran_on_dask = [w.state.executed_count for w in cluster.workers.values()]
    assert sum(ran_on_dask) == DASK_PAGES  # every page, and nothing else, rendered by the Dask workers
    states = _task_states(out, STEP_TASKS + DASK_PAGES)
    assert states["render-council"] == ["Completed"] * DASK_PAGES
    assert_same_tables(out, bundled_run)
    a = (out / "councils" / "wakefield" / "index.html").read_text()
    b = (bundled_run / "councils" / "wakefield" / "index.html").read_text()
    assert _without_timestamp(a) == _without_timestamp(b)


def _without_timestamp(html: str) -> str:
    import re

    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "", html)


def test_dask_address_needs_the_dask_runner(capsys):
    assert main(["run", "--dask-address", "tcp://127.0.0.1:8786"]) == 2
    assert "--task-runner dask" in capsys.readouterr().err


def test_dask_local_cluster_of_worker_processes(tmp_path):
    """No address: a LocalCluster of worker processes is started for the run; its workers report to the
    run's own temporary Prefect server (none starts one of its own), and Dask's logs stay quiet."""
    out = tmp_path / "outputs"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    done = subprocess.run(
        [sys.executable, "-m", "spendmap", "run", "--task-runner", "dask", "--places", "Wakefield,Leeds",
         "--out", str(out)], capture_output=True, text=True, env=env, timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith(str(out / "index.html"))
    assert "distributed" not in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in (out / "councils").iterdir()) == ["leeds", "wakefield"]


def test_a_temporary_prefect_server_gets_longer_to_start_unless_the_user_said(monkeypatch):
    """Prefect's 20 s start-up timeout was missed under load: a run without a server asks for 120 s; a
    value the user set (environment or profile), or a configured server, is left alone."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as TIMEOUT

    from spendmap.prefect_runner import EPHEMERAL_TIMEOUT_SETTING, ephemeral_startup_timeout

    monkeypatch.delenv(EPHEMERAL_TIMEOUT_SETTING, raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL, TIMEOUT}):
        with ephemeral_startup_timeout():
            assert TIMEOUT.value() == 120
        assert TIMEOUT.value() == 20
        with temporary_settings({TIMEOUT: 45}), ephemeral_startup_timeout():
            assert TIMEOUT.value() == 45
        with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}), ephemeral_startup_timeout():
            assert TIMEOUT.value() == 20
        monkeypatch.setenv(EPHEMERAL_TIMEOUT_SETTING, "20")
        with ephemeral_startup_timeout():
            assert TIMEOUT.value() == 20
