"""`spendmap serve` against a real Prefect server: the scheduled deployment registers and runs."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.flow

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_serve_registers_a_scheduled_deployment_that_runs(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    logs = tmp_path / "logs"
    logs.mkdir()
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env, stdout=(logs / "server.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    serve = None
    try:
        _wait_healthy(api, timeout=120)
        serve = subprocess.Popen(
            [str(BIN / "spendmap"), "serve", "--cron", "0 6 * * 1"],
            env=env, cwd=tmp_path, stdout=(logs / "serve.log").open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out = tmp_path / "scheduled-outputs"
        run = None
        end = time.time() + 90
        while time.time() < end:  # the deployment exists once serve has registered it
            run = subprocess.run(
                [str(BIN / "prefect"), "deployment", "run", "spendmap-run/spendmap-weekly", "--watch",
                 "--param", "params=" + json.dumps({"places": "Wakefield", "out_dir": str(out)})],
                env=env, capture_output=True, text=True, timeout=300,
            )
            if run.returncode == 0 or "not found" not in (run.stdout + run.stderr).lower():
                break
            time.sleep(2)
        assert run is not None and run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert "Completed" in run.stdout
        assert (out / "index.html").is_file() and (out / "councils" / "wakefield" / "index.html").is_file()
        inspected = subprocess.run(
            [str(BIN / "prefect"), "deployment", "inspect", "spendmap-run/spendmap-weekly"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert "0 6 * * 1" in inspected.stdout  # the weekly schedule is registered
    finally:
        if serve is not None:
            _stop(serve)
        _stop(server)
