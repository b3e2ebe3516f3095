"""Staging and publishing: a run replaces the output folder whole, or leaves it untouched."""

import pytest

from spendmap.errors import InputError
from spendmap.run_config import RunConfig
from spendmap.steps import discard_staging, preflight, publish, start_staging


def test_publish_replaces_folder_and_keeps_readme(tmp_path):
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "README.md").write_text("kept")
    (out / "stale.csv").write_text("old")
    staging = start_staging(out)
    (staging / "index.html").write_text("new")
    publish(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "index.html"]
    assert (out / "README.md").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["outputs"]  # no staging or retired folders left


def test_discarded_staging_leaves_nothing(tmp_path):
    out = tmp_path / "outputs"
    staging = start_staging(out)
    (staging / "half.csv").write_text("x")
    discard_staging(staging)
    assert list(tmp_path.iterdir()) == []


def test_preflight_names_missing_file(tmp_path):
    with pytest.raises(InputError, match="--population does not exist"):
        preflight(RunConfig(population=str(tmp_path / "nope.csv")))
