"""Each pipeline step alone, on three-row frames and crafted files: no Prefect, no runner."""

import pandas as pd

from spendmap import catalog
from spendmap.award_layers import read_awards
from spendmap.schemas import (
    AWARD_COLUMNS,
    PLACE_SUMMARY_COLUMNS,
    REJECT_COLUMNS,
    REJECT_EXTRA_COLUMNS,
    conform_awards,
)
from spendmap.step_results import AnalyticsResult, ClassifyResult, PlaceResult, ReadResult, TablesResult
from spendmap.steps import (
    classify_awards,
    collect_rejects,
    grant_analytics,
    ingest_grants,
    place_grants,
    start_staging,
    write_tables,
)

WAKEFIELD, LEEDS = "E08000036", "E08000035"


def _three_awards() -> pd.DataFrame:
    rows = [
        ("A1", "Wakefield Council", "Department for Transport", "Bus grant", 1_000.0),
        ("A2", "Leeds City Council", "Ministry of Justice", "Victims services", 250_000.0),
        ("A3", "Nowhere Ltd", "Department for Transport", "Bus grant", 500.0),
    ]
    columns = ["award_id", "recipient_name", "department_raw", "scheme_title", "amount_gbp"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["fy"], frame["title"] = "2016-17", frame["scheme_title"]
    frame["source_file"], frame["source_sheet"], frame["source_row"] = "crafted.csv", "", [2, 3, 4]
    return conform_awards(frame)


def _rejects(path, n: int) -> str:
    frame = pd.DataFrame({c: [f"{c}{i}" for i in range(n)] for c in REJECT_COLUMNS})
    frame.to_parquet(path, index=False)
    return str(path)


def test_ingest_grants_writes_catalog_datasets(tmp_path):
    register = tmp_path / "grants_2016-17.csv"
    register.write_text(
        "Identifier,Title,Amount Awarded,Award Date,Recipient Org:Name,Funding Org:Name\r\n"
        "A1,Bus grant,\"£1,000\",01/05/2016,Wakefield Council,Department for Transport\r\n"
        "A2,Victims,2500,01/06/2016,Leeds City Council,Ministry of Justice\r\n"
        "A3,Broken,not money,01/06/2016,Nowhere Ltd,Ministry of Justice\r\n"
    )
    read = ingest_grants([str(register)], [], tmp_path)
    assert isinstance(read, ReadResult) and read.fys == ["2016-17"]
    assert read.awards == str(catalog.AWARDS_READ.at(tmp_path))
    assert read.rejects == str(catalog.REJECTS_GRANTS.at(tmp_path))
    awards, rejects = pd.read_parquet(read.awards), pd.read_parquet(read.rejects)
    assert awards["award_id"].tolist() == ["A1", "A2"] and awards["amount_gbp"].sum() == 3_500
    assert rejects["source_row"].tolist() == [4]
    assert list(rejects.columns) == REJECT_COLUMNS + REJECT_EXTRA_COLUMNS
    (info,) = read.inputs
    assert info["rows_read"] == 3 == info["rows_accepted"] + info["rows_rejected"]


def test_place_and_classify_three_awards(tmp_path):
    path = tmp_path / "in.parquet"
    _three_awards().to_parquet(path, index=False)
    placed = place_grants(str(path), None, tmp_path)
    assert isinstance(placed, PlaceResult) and placed.awards == str(catalog.AWARDS_PLACED.at(tmp_path))
    assert placed.geo_methods["council_match"] == {"awards": 2, "amount_gbp": 251_000.0}
    assert placed.geo_methods["unresolved"] == {"awards": 1, "amount_gbp": 500.0}
    assert pd.read_parquet(placed.awards)["la_code"].tolist()[:2] == [WAKEFIELD, LEEDS]

    classified = classify_awards([str(path), placed.awards], tmp_path)
    assert isinstance(classified, ClassifyResult)
    assert (classified.awards, classified.schemes, classified.rejects) == tuple(
        str(d.at(tmp_path)) for d in (catalog.AWARDS_CLASSIFIED, catalog.SCHEMES, catalog.REJECTS_SCHEMES)
    )
    awards = read_awards([str(path), placed.awards, classified.awards])
    assert awards["la_code"].tolist()[:2] == [WAKEFIELD, LEEDS]  # placement's layer, beside this one
    assert awards["department"].tolist() == ["DfT", "MoJ", "DfT"]
    assert awards["policy_area"].notna().all() and len(pd.read_parquet(classified.schemes)) > 100


def test_grant_analytics_reads_the_schemes_it_is_given(tmp_path):
    awards = _three_awards()
    awards["la_code"] = [WAKEFIELD, LEEDS, None]
    awards["department"], awards["policy_area"] = ["DfT", "MoJ", "DfT"], ["Transport", "Justice", "Transport"]
    awards_path = tmp_path / "awards.parquet"
    awards.to_parquet(awards_path, index=False)
    schemes = pd.DataFrame({
        "fy": ["2016-17"] * 3, "policy_area": ["Transport"] * 3, "department": ["DfT", "MoJ", "DfT"],
        "scheme_title": ["Buses", "Prison transport", "Trains"], "value_gbp": [10.0, 20.0, 30.0],
    })
    schemes_path = tmp_path / "elsewhere" / "my_schemes.parquet"
    schemes_path.parent.mkdir()
    schemes.to_parquet(schemes_path, index=False)
    result = grant_analytics([str(awards_path)], str(schemes_path), ["2016-17"], 100_000.0, tmp_path)
    assert isinstance(result, AnalyticsResult)
    assert set(result.tables) == {d.name for d in catalog.ANALYTIC_TABLES}
    summary = pd.read_parquet(result.tables["place_summary"]).set_index("la_code")
    assert len(summary) == 382 and summary["n_awards"].sum() == 2
    assert summary.loc[WAKEFIELD, "total_gbp"] == 1_000 and summary.loc[LEEDS, "n_small_awards"] == 0
    (overlap,) = pd.read_parquet(result.tables["national_scheme_overlaps"]).to_dict("records")
    assert overlap["policy_area"] == "Transport" and overlap["value_gbp"] == 60.0


def test_write_tables_collects_exactly_the_rejects_it_is_given(tmp_path):
    staging = start_staging(tmp_path / "out")
    awards = _three_awards().assign(la_code=[WAKEFIELD, LEEDS, None])
    awards_path = tmp_path / "awards.parquet"
    awards.to_parquet(awards_path, index=False)
    tables = {}
    for dataset in catalog.ANALYTIC_TABLES:
        tables[dataset.name] = str(tmp_path / f"{dataset.name}.parquet")
        frame = pd.DataFrame({c: ["x"] for c in dataset.columns} or {"fy": ["2016-17"]})
        frame.to_parquet(tables[dataset.name])
    cra_path = tmp_path / "cra.parquet"
    pd.DataFrame({c: ["x"] * 3 for c in catalog.CRA_ALLOCATION.columns}).to_parquet(cra_path)
    _rejects(tmp_path / "rejects_stray.parquet", 5)  # not passed: must not be picked up
    given = [_rejects(tmp_path / "a.parquet", 2), _rejects(tmp_path / "b.parquet", 0),
             _rejects(tmp_path / "c.parquet", 1)]
    written = write_tables([str(awards_path)], AnalyticsResult(tables, {}), str(cra_path), given, staging)
    assert isinstance(written, TablesResult)
    assert (written.rows["awards"], written.rows["rejects"], written.rows["cra_allocation"]) == (3, 3, 3)
    assert set(written.files) >= {"awards.parquet", "rejects.csv", "place_summary.csv", "spendmap.duckdb"}
    assert len(pd.read_csv(staging / "rejects.csv")) == 3
    assert collect_rejects([]).columns.tolist() == REJECT_COLUMNS + REJECT_EXTRA_COLUMNS


def test_catalog_names_every_dataset_once():
    paths = [(d.root, d.path) for d in catalog.DATASETS.values()]
    assert len(paths) == len(set(paths))
    assert catalog.DATASETS["place_summary_csv"].columns == tuple(PLACE_SUMMARY_COLUMNS)
    assert catalog.AWARDS.columns == tuple(AWARD_COLUMNS) and catalog.AWARDS.root == "out"
