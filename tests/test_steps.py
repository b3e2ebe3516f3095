"""Preflight: every check that can fail a run fails it before any work, with exit 2 and nothing touched."""

import shutil

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
