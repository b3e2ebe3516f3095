"""Shared fixtures: the real bundled register read once per session."""

import pytest

from spendmap.paths import BUNDLED_GRANTS, reference_path


@pytest.fixture(scope="session")
def bundled_awards():
    from spendmap.sources.grants import read_grants

    return read_grants(reference_path(*BUNDLED_GRANTS)).awards
