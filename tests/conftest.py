"""Shared fixtures: the real bundled register, and one real Prefect run of the main job per session."""

import os
import tempfile
from pathlib import Path

import pytest

from spendmap.paths import BUNDLED_GRANTS, reference_path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Runs cache downloads and step results: never in the user's own ~/.cache/spendmap.
os.environ.setdefault("SPENDMAP_CACHE", tempfile.mkdtemp(prefix="spendmap-test-cache-"))


@pytest.fixture(scope="session")
def bundled_awards():
    from spendmap.sources.grants import read_grants

    return read_grants(reference_path(*BUNDLED_GRANTS)).awards


@pytest.fixture(scope="session")
def prefect_harness() -> str:
    """A temporary Prefect server and database, started once for every test that runs a flow (in this
    process, or in a subprocess given the API URL it yields: starting a server costs tens of seconds on
    a loaded machine, so no test starts its own unless that is what it tests)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def bundled_run(tmp_path_factory, prefect_harness) -> Path:
    """`spendmap run` on the bundled data, every council rendered, through the real Prefect flow."""
    from spendmap.cli import main

    out = tmp_path_factory.mktemp("run") / "outputs"
    assert main(["run", "--runner", "prefect", "--out", str(out)]) == 0
    return out
