"""Preflight: every check that can fail a run fails it before any work, with exit 2 and nothing touched."""

import shutil

import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.run_config import RunConfig
from spendmap.steps import preflight
from tests.helpers.users import open_folder, without_root


def test_preflight_names_missing_file(tmp_path):
    with pytest.raises(InputError, match="--population does not exist"):
        preflight(RunConfig(population=str(tmp_path / "nope.csv"), out_dir=str(tmp_path / "o")))


def test_preflight_says_a_folder_is_a_folder(tmp_path):
    with pytest.raises(InputError, match="--grants is a folder, not a file"):
        preflight(RunConfig(grants=[str(tmp_path)], out_dir=str(tmp_path / "o")))


def test_preflight_unreadable_file():
    folder = open_folder()
    try:
        locked = folder / "grants 2016-17.xlsx"
        shutil.copy(reference_path(*BUNDLED_GRANTS), locked)
        locked.chmod(0)
        config = RunConfig(grants=[str(locked)], out_dir=str(folder / "o"))
        with without_root(), pytest.raises(InputError, match="--grants cannot be read.*Permission denied"):
            preflight(config)
    finally:
        shutil.rmtree(folder)


def test_same_register_twice_is_refused_naming_both(tmp_path):
    copy = tmp_path / "copy_of_a.xlsx"
    shutil.copy(reference_path(*BUNDLED_GRANTS), copy)
    original = str(reference_path(*BUNDLED_GRANTS))
    with pytest.raises(InputError) as err:
        preflight(RunConfig(grants=[original, str(copy)], out_dir=str(tmp_path / "o")))
    assert "same file twice" in str(err.value)
    assert original in str(err.value) and str(copy) in str(err.value)


def test_out_above_an_input_is_refused(tmp_path):
    grants = tmp_path / "data" / "grants 2016-17.xlsx"
    grants.parent.mkdir()
    shutil.copy(reference_path(*BUNDLED_GRANTS), grants)
    for out in (grants.parent, tmp_path, grants):
        with pytest.raises(InputError, match="holds an input of this run"):
            preflight(RunConfig(grants=[str(grants)], out_dir=str(out)))
    assert grants.is_file()


def test_ingest_refuses_the_same_download_twice(tmp_path):
    """URLs are only files once downloaded: the same content under two cache names is refused too."""
    from spendmap.steps import ingest_grants

    body = "Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\nA-1,10,One Ltd,Home Office\n"
    first, second = tmp_path / "a_2016-17.csv", tmp_path / "b_2016-17.csv"
    first.write_text(body)
    second.write_text(body)
    with pytest.raises(InputError, match="same file twice"):
        ingest_grants([str(first), str(second)], [], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_2016-17.csv", "b_2016-17.csv"]


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
    coverage = result.summary["coverage"]
    assert coverage["used"] is False and coverage["run_years_not_in_edition"] == ["2020-21"]
    assert coverage["edition_years"] == ["2013-14", "2014-15", "2015-16", "2016-17", "2017-18"]
    assert "give a newer edition with --cra" in coverage["note"]
    allocation = pd.read_parquet(result.allocation)
    assert len(allocation) == 0
    assert list(allocation.columns)[: len(CRA_ALLOCATION_COLUMNS)] == CRA_ALLOCATION_COLUMNS
    assert result.vintages["2020-21"]["vintage"] == 2020  # the population note still stands
    assert "Warning: The CRA edition given" in capsys.readouterr().out
