"""Scheme registers: the three bundled layouts, checked against a direct pandas reading, and odd files."""

import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.paths import BUNDLED_SCHEMES, reference_path
from spendmap.sources.schemes import (
    SCHEME_COLUMNS,
    canonical_cofog,
    read_scheme_register,
    read_scheme_registers,
)

P13, P14, P16 = (reference_path(*parts) for parts in BUNDLED_SCHEMES)


def test_2016_17_register_matches_direct_pandas_reading():
    direct = pd.read_csv(P16, lineterminator="\r", thousands=",", dtype={"Value per year": "float64"})
    result = read_scheme_register(P16)
    assert len(direct) == 1207
    assert len(result.schemes) == 1207 and result.rejects.empty
    assert result.schemes["value_gbp"].sum() == pytest.approx(direct["Value per year"].sum(), abs=0.01)
    assert result.schemes["value_gbp"].sum() == pytest.approx(99_835_148_027.0, abs=0.01)
    assert (result.schemes["value_gbp"] < 0).sum() == (direct["Value per year"] < 0).sum() == 7
    assert set(result.schemes["fy"]) == {"2016-17"}
    assert result.schemes["scheme_code"].str.startswith("SCH-").all()
    assert list(result.schemes.columns) == SCHEME_COLUMNS
    # 'n/a' COFOG is not stated; numbered names lose their number.
    assert result.schemes["cofog"].isna().sum() == direct["COFOG L0 Long Name"].isna().sum() == 37
    assert "General public services" in set(result.schemes["cofog"])


def test_2014_15_register_in_millions_with_blank_rows():
    direct = pd.read_csv(P14, dtype=str, keep_default_na=False)
    nonblank = direct[(direct != "").any(axis=1)]
    titled = nonblank[nonblank["Grants Description"].str.strip() != ""]
    expected = pd.to_numeric(titled["Amount (£m)"].str.replace(",", "").str.strip()).sum() * 1e6
    result = read_scheme_register(P14)
    stats = result.stats[0]
    assert stats["blank_rows"] == len(direct) - len(nonblank) == 64_177
    assert stats["rows_accepted"] == len(titled) == 1_179
    assert stats["rows_rejected"] == 1
    assert result.rejects.iloc[0]["reason"].startswith("no scheme title")
    assert result.schemes["value_gbp"].sum() == pytest.approx(expected, rel=1e-12)
    assert stats["rows_read"] == stats["blank_rows"] + stats["rows_accepted"] + stats["rows_rejected"]


def test_2013_14_register_in_thousands():
    direct = pd.read_csv(P13)
    result = read_scheme_register(P13)
    assert len(result.schemes) == len(direct) == 1_019
    assert result.schemes["value_gbp"].sum() == pytest.approx(
        direct["Amount (£,000s)"].sum() * 1000, rel=1e-12
    )
    assert set(result.schemes["fy"]) == {"2013-14"}
    assert result.schemes["scheme_code"].isna().all()


def test_all_bundled_registers_together():
    result = read_scheme_registers()
    assert result.schemes.groupby("fy").size().to_dict() == {
        "2013-14": 1019,
        "2014-15": 1179,
        "2016-17": 1207,
    }
    assert len(result.stats) == 3 and len(result.rejects) == 1


def test_cr_line_endings_thousands_and_negatives(tmp_path):
    path = tmp_path / "GGIS_Grant_Schemes_2016-17.csv"
    text = (
        "Funding Org:Name,Grant Programme:Code,Grant Programme:Title,Aims and objectives,Value per year,"
        "Start Date,End Date,Duration Numeric,Allocation Method,Recipient Sector,COFOG L0 Long Name\r"
        'Home Office,SCH-1,Police grant,"Keep people safe,\rtogether","1,500,000",,,,,,'
        "3. Public order and safety\r"
        'Home Office,SCH-2,Refund,.,"-2,000",,,,,,n/a\r'
        'Home Office,SCH-3,Odd,.,"12 pounds",,,,,,n/a\r'
        ",,,,,,,,,,\r"
    )
    path.write_bytes(text.encode("utf-8"))
    result = read_scheme_register(path)
    assert result.schemes["value_gbp"].tolist() == [1_500_000.0, -2_000.0]
    assert result.schemes.loc[0, "description"] == "Keep people safe,\rtogether"
    assert result.schemes["cofog"].tolist()[0] == "Public order and safety"
    assert pd.isna(result.schemes.loc[1, "description"])  # '.' means not stated
    assert result.rejects["source_row"].tolist() == [4]
    assert "is not a number: '12 pounds'" in result.rejects.loc[0, "reason"]
    assert result.stats[0]["blank_rows"] == 1
    assert set(result.schemes["fy"]) == {"2016-17"}


def test_unknown_header_is_one_clear_input_error(tmp_path):
    path = tmp_path / "schemes-2016-17.csv"
    path.write_text("Dept,Title,Money\nDfT,Buses,1\n")
    with pytest.raises(InputError) as err:
        read_scheme_register(path)
    message = str(err.value)
    assert str(path) in message and "Dept, Title, Money" in message and "Grant Programme:Title" in message


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_scheme_register(tmp_path / "nope.csv")
    empty = tmp_path / "empty-2016-17.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="is empty"):
        read_scheme_register(empty)


def test_no_year_anywhere_rejects_rows(tmp_path):
    path = tmp_path / "register.csv"
    path.write_text("Department,Grants Description,Amount (£m),Grant Category\nDfT,Buses,1.5,General Grant\n")
    result = read_scheme_register(path)
    assert result.schemes.empty
    assert result.rejects.loc[0, "reason"] == "no financial year in the file name or Year column"


def test_canonical_cofog_spellings():
    values = pd.Series(
        [
            "1. General public services",
            "Environmental protection",
            "Social Protection",
            "unknown",
            "n/a",
            "",
            None,
        ],
        dtype="string",
    )
    assert canonical_cofog(values).tolist() == [
        "General public services",
        "Environment protection",
        "Social protection",
        pd.NA,
        pd.NA,
        pd.NA,
        pd.NA,
    ]
