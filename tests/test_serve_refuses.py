"""`spendmap serve` with no reachable Prefect API refuses at once: exit 2, one paragraph saying how to start
a server and set PREFECT_API_URL (not "Your deployments are being served…" and a page of tracebacks)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SPENDMAP = Path(sys.executable).parent / "spendmap"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


@pytest.mark.parametrize("api_url", [None, "closed"])
def test_serve_without_a_prefect_api_refuses(tmp_path, api_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")  # no profile that could name a server
    if api_url == "closed":
        env["PREFECT_API_URL"] = f"http://127.0.0.1:{_closed_port()}/api"
    proc = subprocess.run(
        [str(SPENDMAP), "serve"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    err = " ".join(proc.stderr.split())
    assert err.startswith("spendmap: `spendmap serve` needs a running Prefect server")
    assert "prefect server start" in err and "PREFECT_API_URL" in err
    assert ("none answers at PREFECT_API_URL=http://127.0.0.1:" in err) == (api_url == "closed")
    assert "Traceback" not in proc.stderr and "being served" not in proc.stdout + proc.stderr
    assert proc.stdout == ""
