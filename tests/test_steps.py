"""Staging and publishing: a run replaces the output folder whole, or leaves it untouched."""

import pandas as pd
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


def test_run_year_outside_the_cra_edition_still_runs(tmp_path, capsys):
    """2020-21 is not in the bundled CRA 2018 edition: no allocation rows (columns kept), a warning, and
    coverage saying which years the edition holds."""
    from spendmap.paths import BUNDLED_CRA, BUNDLED_POPULATION, reference_path
    from spendmap.schemas import CRA_ALLOCATION_COLUMNS
    from spendmap.steps import allocate_cra

    result = allocate_cra(
        str(reference_path(*BUNDLED_CRA)), str(reference_path(*BUNDLED_POPULATION)), ["2020-21"], None,
        tmp_path,
    )
    coverage = result["summary"]["coverage"]
    assert coverage["used"] is False and coverage["run_years_not_in_edition"] == ["2020-21"]
    assert coverage["edition_years"] == ["2013-14", "2014-15", "2015-16", "2016-17", "2017-18"]
    assert "give a newer edition with --cra" in coverage["note"]
    allocation = pd.read_parquet(result["allocation"])
    assert len(allocation) == 0
    assert list(allocation.columns)[: len(CRA_ALLOCATION_COLUMNS)] == CRA_ALLOCATION_COLUMNS
    assert result["vintages"]["2020-21"]["vintage"] == 2020  # the population note still stands
    assert "Warning: The CRA edition given" in capsys.readouterr().out
