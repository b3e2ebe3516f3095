"""Ctrl-C and SIGTERM on a real `spendmap run`: it stops promptly, publishes nothing, leaves no process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Guards against a hang, not speed checks (no assertion here depends on how loaded the machine is): a
# run that never reaches its staging folder, or never ends after the signal, fails instead of hanging.
STARTUP_GUARD_S = 600
STOP_GUARD_S = 300


def _session_members(session_id: int) -> list[int]:
    """Processes still alive in the run's own session (the run and any child it started)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == session_id and fields[0] != "Z":  # fields[3]: session id; Z: zombie
            members.append(int(entry.name))
    return members


def _start_run(tmp_path: Path, out: Path, **popen) -> subprocess.Popen:
    """A real `spendmap run` in its own session (as a terminal gives it), with its own Prefect home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), SPENDMAP_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-m", "spendmap", "run", "--offline", "--out", str(out)],
                            env=env, start_new_session=True, **popen)


@pytest.mark.flow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_run_and_publishes_nothing(tmp_path, signum):
    out = tmp_path / "outputs"
    run = _start_run(tmp_path, out, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + STARTUP_GUARD_S
        while not any(".partial-" in p.name for p in tmp_path.iterdir()):
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.1)
        time.sleep(1.0)  # well into the work
        if signum == signal.SIGINT:
            os.killpg(run.pid, signum)  # Ctrl-C: the terminal signals the whole foreground group
        else:
            run.send_signal(signum)  # `kill PID`: the run alone, not its children
        _, err = run.communicate(timeout=STOP_GUARD_S)
        # It stopped on the signal (not by finishing the run): its exit code says which signal, and
        # nothing was published.
        assert run.returncode == 128 + signum, err
        assert "no output was published" in err and "Traceback" not in err
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".outputs.")]
        time.sleep(0.5)
        assert _session_members(run.pid) == [], "a child process (Prefect's server?) outlived the run"
    finally:
        for pid in _session_members(run.pid):
            os.kill(pid, signal.SIGKILL)
        if run.poll() is None:
            run.kill()
            run.communicate()


@pytest.mark.flow
def test_staging_left_by_kill_9_is_removed_by_the_next_run(tmp_path):
    """kill -9 cannot be caught: the next run into the same --out removes what it left, and only that."""
    from spendmap.outputs.publish import discard_staging, start_staging

    out = tmp_path / "outputs"
    run = _start_run(tmp_path, out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + STARTUP_GUARD_S
        while not (left := [p for p in tmp_path.iterdir() if ".partial-" in p.name]):
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.0)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=STOP_GUARD_S)
    finally:
        for pid in _session_members(run.pid):
            os.kill(pid, signal.SIGKILL)
    assert all(p.exists() for p in left) and not out.exists()
    mine = tmp_path / f".outputs.partial-{run.pid}-user"  # its process is gone, but no mark: kept
    mine.mkdir()
    staging = start_staging(out)  # what the next run does first
    discard_staging(staging)
    assert not any(p.exists() for p in left) and mine.is_dir()
