"""`spendmap serve` against a real Prefect server and a stand-in GOV.UK: the scheduled release check
processes a new release and leaves an unchanged one alone."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.sources.download import sha256_of
from spendmap.testing.reference_cache import seed_reference
from tests.helpers.govuk import XLSX, Publication, file_attachment, serve

pytestmark = pytest.mark.flow

BIN = Path(sys.executable).parent


def _wait_healthy(url: str, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"Prefect server at {url} did not answer within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


PATH_1617 = "/government/statistics/government-grants-statistics-2016-to-2017"
REGISTER = reference_path(*BUNDLED_GRANTS)


def _deployment_run(env: dict, params: list[str]) -> subprocess.CompletedProcess:
    """`prefect deployment run ... --watch`, retried while `spendmap serve` has not registered it yet."""
    run = None
    end = time.time() + 600  # a guard against a hang, not a speed check: a loaded machine registers late
    while time.time() < end:
        run = subprocess.run(
            [str(BIN / "prefect"), "deployment", "run", "spendmap-check-releases/spendmap-weekly", "--watch",
             *params],
            env=env, capture_output=True, text=True, timeout=300,
        )
        if run.returncode == 0 or "not found" not in (run.stdout + run.stderr).lower():
            break
        time.sleep(2)
    assert run is not None and run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Completed" in run.stdout
    return run


def test_serve_runs_the_release_check_new_then_unchanged(tmp_path, httpserver, prefect_harness,
                                                          reference_cache):
    # The stand-in GOV.UK publishes the 2016-17 register (a copy of the bundled one, which the bundled
    # CRA covers) through the Content API, with an ETag for conditional requests.
    media = f"/media/abc/{REGISTER.name}"
    publication = Publication(path=PATH_1617, attachments=[
        file_attachment("Government grants register 2016 to 2017", REGISTER.name, httpserver.url_for(media),
                        XLSX),
    ])
    serve(httpserver, publication)
    httpserver.expect_request(media).respond_with_data(REGISTER.read_bytes(), content_type=XLSX)

    # The session's Prefect server (tests/conftest.py), reached over HTTP as a user's server would be.
    api = prefect_harness
    cache = seed_reference(reference_cache, tmp_path / "cache")
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "SPENDMAP_GOVUK_URL": httpserver.url_for("/").rstrip("/"),
        "SPENDMAP_CACHE": str(cache),
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    served = None
    try:
        _wait_healthy(api, timeout=300)
        served = subprocess.Popen(
            [str(BIN / "spendmap"), "serve", "--cron", "0 6 * * 1"],
            env=env, cwd=tmp_path, stdout=(logs / "serve.log").open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out_root = tmp_path / "scheduled"
        params = ["--param", 'years=["2016-17"]', "--param", f"out_root={out_root}",
                  "--param", "places=Wakefield"]

        # 1. A new release: fetched and processed.
        _deployment_run(env, params)
        out = out_root / "2016-17"
        assert (out / "index.html").is_file() and (out / "councils" / "wakefield" / "index.html").is_file()
        manifest = json.loads((out / "run_manifest.json").read_text())
        assert manifest["financial_years"] == ["2016-17"]
        totals = manifest["reconciliation"]["totals"]
        assert totals["rows_read"] == totals["rows_accepted"] + totals["rows_rejected"] == 3_351
        processed = json.loads((cache / "schedule" / "processed.json").read_text())
        assert processed["2016-17"]["sha256"] == sha256_of(REGISTER)
        assert sum(1 for req, _ in httpserver.log if req.path == media) == 1
        stamp = (out / "run_manifest.json").stat().st_mtime_ns

        # 2. Unchanged (the Content API answers 304 to If-None-Match): recorded, nothing fetched or run.
        _deployment_run(env, params)
        api_calls = [req for req, _ in httpserver.log if req.path == f"/api/content{PATH_1617}"]
        assert api_calls[-1].headers.get("If-None-Match") == publication.etag
        assert sum(1 for req, _ in httpserver.log if req.path == media) == 1
        assert (out / "run_manifest.json").stat().st_mtime_ns == stamp
        assert json.loads((cache / "schedule" / "processed.json").read_text()) == processed
        artifact = subprocess.run(
            [str(BIN / "prefect"), "artifact", "inspect", "spendmap-2016-17-check"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert "No new grants-register release for 2016-17" in artifact.stdout, artifact.stdout[-2000:]
        for key in ("spendmap-2016-17-run-summary", "spendmap-2016-17-placement", "spendmap-2016-17-outputs"):
            shown = subprocess.run([str(BIN / "prefect"), "artifact", "inspect", key],
                                   env=env, capture_output=True, text=True, timeout=60)
            assert key in shown.stdout, (key, shown.stdout[-1000:], shown.stderr[-1000:])

        inspected = subprocess.run(
            [str(BIN / "prefect"), "deployment", "inspect", "spendmap-check-releases/spendmap-weekly"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert "0 6 * * 1" in inspected.stdout  # the weekly schedule is registered
    finally:
        if served is not None:
            _stop(served)
