"""Shared fixtures: the real bundled register, and one real Prefect run of the main job per session."""

import os
import tempfile
from pathlib import Path

import pytest

from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.testing.reference_cache import seed_reference, warm_reference

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


@pytest.fixture(scope="session")
def reference_cache(tmp_path_factory) -> Path:
    """A cache holding the bundled reference data parsed once, so that a test needing a cache of its own
    starts where a user's second run does, not ~10 s colder."""
    root = tmp_path_factory.mktemp("reference")
    return warm_reference(root / "cache", root / "work")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch, reference_cache) -> Path:
    """A cache of this test's own (SPENDMAP_CACHE set to it): no step results, downloads or counts, only
    the reference data parsed once per session, so a first run here really reads, places and counts."""
    cache = seed_reference(reference_cache, tmp_path / "cache")
    monkeypatch.setenv("SPENDMAP_CACHE", str(cache))
    return cache
