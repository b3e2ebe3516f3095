"""Whole runs with other funders' data (issue 18): --funding alone, with the register, --local and
--priorities; the priority tables as the contract names them, in CSV, DuckDB and the workbook."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from spendmap.cli import main
from spendmap.outputs.money import format_gbp
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.schemas import PRIORITY_FUNDING_COLUMNS, PRIORITY_MATCH_COLUMNS, PRIORITY_OVERLAP_COLUMNS

from .helpers.funding import HOSTILE, write_funding

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    return write_funding(tmp_path_factory.mktemp("funding"))


@pytest.fixture(scope="module")
def funding_only(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["run", "--funding", str(inputs[0]), "--priorities", str(inputs[1]), "--places",
                 "Wakefield,Hastings", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def combined(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["run", "--grants", str(reference_path(*BUNDLED_GRANTS)), "--funding", str(inputs[0]),
                 "--local", str(DOCS / "local_spend_example.csv"), "--places", "Wakefield,Hastings",
                 "--out", str(out)]) == 0
    return out


def test_funding_alone_is_a_whole_run(funding_only: Path):
    awards = pd.read_parquet(funding_only / "awards.parquet")
    # Six grants: one bad amount and one of 2015-16 rejected; the bundled register is not read.
    assert sorted(awards["award_id"]) == ["360G-T-1", "360G-T-2", "360G-T-3", "360G-T-5"]
    assert set(awards["source_file"]) == {"other_funders.json"}
    by_id = awards.set_index("award_id")
    assert by_id["funder_type"].to_dict() == {
        "360G-T-1": "lottery_distributor", "360G-T-2": "charitable_funder", "360G-T-3": "local_government",
        "360G-T-5": "charitable_funder"}
    assert by_id.loc["360G-T-1", "la_code"] == "E08000036"
    assert by_id.loc["360G-T-1", "geo_method"] == "geo_code"
    assert by_id.loc["360G-T-3", "amount_gbp"] == 8500.0
    rejects = pd.read_csv(funding_only / "rejects.csv", dtype=str)
    grants = rejects[rejects["source_file"] == "other_funders.json"].set_index("source_row")["reason"]
    assert grants.to_dict() == {"6": "amount not a number: 'n/a'",
                                "4": "outside the run's years (2015-16, run: 2016-17)"}
    unplaced = pd.read_csv(funding_only / "unplaced.csv", dtype=str).set_index("award_id")
    assert unplaced.loc["360G-T-5", "unplaced_reason"] == "region_or_country_code"
    manifest = json.loads((funding_only / "run_manifest.json").read_text())
    assert manifest["reconciliation"]["ok"] is True
    rec = manifest["reconciliation"]["per_input"][0]
    assert (rec["rows_read"], rec["rows_accepted"], rec["rows_rejected"]) == (6, 4, 2)
    assert rec["amount_in_gbp"] == 12000 + 30000 + 8500 + 999 + 5000
    assert manifest["inputs"]["grants"][0]["role"] == "funding"
    summary = pd.read_csv(funding_only / "place_summary.csv").set_index("la_code")
    assert summary.loc["E08000036", ["n_awards", "total_gbp"]].tolist() == [2, 42000.0]
    by_type = pd.read_csv(funding_only / "place_summary_by_funder_type.csv")
    wakefield = by_type[by_type["la_code"] == "E08000036"].set_index("funder_type")
    assert wakefield["total_gbp"].to_dict() == {"charitable_funder": 30000.0, "lottery_distributor": 12000.0}


def test_priority_tables_have_the_contract_columns(funding_only: Path):
    funding = pd.read_csv(funding_only / "priority_funding.csv")
    matches = pd.read_csv(funding_only / "priority_matches.csv")
    overlaps = pd.read_csv(funding_only / "priority_overlaps.csv")
    assert list(funding.columns) == PRIORITY_FUNDING_COLUMNS
    assert list(matches.columns) == PRIORITY_MATCH_COLUMNS
    assert list(overlaps.columns) == PRIORITY_OVERLAP_COLUMNS
    f = funding.set_index(["priority_id", "source"])["amount_gbp"]
    assert f[("ebsa", "other_public_grants")] == 12000.0
    assert f[("ebsa", "charitable_grants")] == 30000.0
    assert f[("ebsa", "central_government_grants")] == 0.0
    assert f[("warm", "other_public_grants")] == 8500.0
    assert ("nothing", "charitable_grants") in f.index and f[("nothing", "charitable_grants")] == 0.0
    assert set(funding["source"]) <= {"central_government_grants", "other_public_grants", "charitable_grants",
                                      "local_spend", "cra_allocated"}
    # Every priority figure traces to rows of priority_matches.
    grants = funding[funding["source"] != "cra_allocated"]
    sums = matches.groupby(["priority_id", "source"])["amount_gbp"].sum()
    for row in grants[grants["n_items"] > 0].itertuples():
        assert sums[(row.priority_id, row.source)] == row.amount_gbp
    o = overlaps.set_index("priority_id")
    assert o.loc["ebsa", "funders"] == "A Yorkshire Foundation; The National Lottery Community Fund"
    assert o.loc["ebsa", "n_funder_types"] == 2
    with duckdb.connect(str(funding_only / "spendmap.duckdb"), read_only=True) as con:
        for table in ("priority_funding", "priority_matches", "priority_overlaps", "priorities"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0
        assert con.execute("SELECT sum(amount_gbp) FROM priority_matches WHERE priority_id = 'ebsa'"
                           ).fetchone()[0] == 42000.0


def test_page_and_workbook_show_the_priorities(funding_only: Path):
    page = (funding_only / "councils" / "wakefield" / "index.html").read_text(encoding="utf-8")
    assert "Funding against Wakefield's priorities" in page
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert ("Gap: no grant in this run&#39;s data (grants from lottery distributors, local government and "
            "charitable funders) for 2016-17 matched this priority." in page)
    assert "Overlap: 2 funders (A Yorkshire Foundation; The National Lottery Community Fund)" in page
    assert (funding_only / "councils" / "wakefield" / "sankey_priorities.html").exists()
    assert "grants from lottery distributors, local government and charitable funders" in page
    wb = load_workbook(funding_only / "councils" / "wakefield" / "wakefield_grant_profile.xlsx",
                       read_only=True)
    assert "Priorities" in wb.sheetnames and "Priority matches" in wb.sheetnames
    rows = list(wb["Priority matches"].iter_rows(values_only=True))
    assert {r[3] for r in rows[1:]} == {"A Yorkshire Foundation", "The National Lottery Community Fund"}


def test_register_funding_and_local_spend_together(combined: Path):
    awards = pd.read_parquet(combined / "awards.parquet")
    assert len(awards) == 3351 + 4
    by_type = pd.read_csv(combined / "place_summary_by_funder_type.csv")
    wakefield = by_type[by_type["la_code"] == "E08000036"].set_index("funder_type")
    # The register's figure for Wakefield stays as it was (10 awards, £4,846,224), beside the others.
    assert wakefield.loc["central_government", ["n_awards", "total_gbp"]].tolist() == [10, 4846224.0]
    seed = pd.read_csv(combined / "place_summary.csv").set_index("la_code").loc["E08000036"]
    assert seed["n_awards"] == 10 + 2 and seed["total_gbp"] == 4846224.0 + 42000.0
    counts = awards["funder_type"].value_counts().to_dict()
    assert counts == {"central_government": 3351, "charitable_funder": 2, "lottery_distributor": 1,
                      "local_government": 1}
    # The bundled pfpp priorities are the default.
    funding = pd.read_csv(combined / "priority_funding.csv")
    assert funding["la_code"].nunique() == 13
    f = funding.set_index(["la_code", "priority_id", "source"])
    assert f.loc[("E08000036", "ebsa-absence", "local_spend"), "amount_gbp"] == 138000.0
    assert f.loc[("E08000036", "ebsa-absence", "other_public_grants"), "amount_gbp"] == 12000.0
    assert f.loc[("E08000036", "ebsa-absence", "cra_allocated"), "n_items"] == 5
    # The two Wakefield grants fund its priority; the 2016-17 register holds none for it (DfT and MoJ).
    assert f.loc[("E08000036", "ebsa-absence", "central_government_grants"), "n_items"] == 0
    manifest = json.loads((combined / "run_manifest.json").read_text())
    assert manifest["reconciliation"]["ok"] is True
    assert manifest["priorities"]["local_inputs"][0]["rows_read"] == 5
    rejects = pd.read_csv(combined / "rejects.csv", dtype=str)
    assert len(rejects[rejects["source_file"] == "local_spend_example.csv"]) == 0


def test_bad_priorities_file_exits_2_and_publishes_nothing(tmp_path: Path, capsys):
    bad = tmp_path / "p.yaml"
    bad.write_text("places:\n  - place: Luton\n    priorities: [{id: a, title: t, policy_areas: [crime]}]\n",
                   encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", "--priorities", str(bad), "--places", "Luton", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown policy area(s) ['crime']" in err and "Traceback" not in err
    assert not out.exists()


@pytest.fixture(scope="module")
def bundled_pfpp(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert main(["run", "--places", "pfpp", "--out", str(out)]) == 0
    return out


def test_bundled_run_shows_each_pilots_priority(bundled_pfpp: Path):
    """`make run`'s data: the register's central-government grants and CRA context against the preset."""
    funding = pd.read_csv(bundled_pfpp / "priority_funding.csv")
    assert funding["priority_id"].nunique() == 13
    f = funding.set_index(["la_code", "source"])
    # County Durham: one award in community safety (DfT's drug-driving fund to Durham Police, £25,000), by
    # its policy area; nothing from other funders in this register.
    durham_grants = f.loc[("E06000047", "central_government_grants"), ["n_items", "amount_gbp"]]
    assert durham_grants.tolist() == [1, 25000.0]
    matches = pd.read_csv(bundled_pfpp / "priority_matches.csv")
    durham = matches[matches["la_code"] == "E06000047"].iloc[0]
    assert (durham["recipient_name"], durham["rules"]) == ("Durham Police", "policy_area")
    # CRA context = the allocation of the preset's functions to the council, read from cra_allocation.csv.
    cra = pd.read_csv(bundled_pfpp / "cra_allocation.csv")
    wanted = cra[(cra["la_code"] == "E08000036") & (cra["function"] == "9. Education")]
    assert f.loc[("E08000036", "cra_allocated"), "amount_gbp"] == pytest.approx(wanted["allocated_gbp"].sum())
    assert f.loc[("E08000036", "cra_allocated"), "n_items"] == len(wanted) == 5
    page = (bundled_pfpp / "councils" / "wakefield" / "index.html").read_text(encoding="utf-8")
    assert ("Gap: no grant in this run&#39;s data (central-government grants) for 2016-17 matched this "
            "priority." in page)
    assert "Persistent school absence caused by emotionally based school avoidance" in page
    assert "central-government grants and spending by" in page  # the register holds nothing else
    assert (bundled_pfpp / "priority_overlaps.csv").read_text().strip() == ",".join(PRIORITY_OVERLAP_COLUMNS)


def test_undated_funding_grants_take_the_run_year(tmp_path: Path):
    from spendmap.steps import ingest_grants

    package = tmp_path / "no_dates.json"
    org = {"recipientOrganization": [{"name": "R"}], "fundingOrganization": [{"name": "F"}]}
    grants = [{"id": "a", "amountAwarded": 5, **org},
              {"id": "b", "amountAwarded": 6, "awardDate": "2019-05-01", **org}]
    package.write_text(json.dumps({"grants": grants}), encoding="utf-8")
    read = ingest_grants([str(package)], ["2020-21"], tmp_path, funding_from=0)
    awards = pd.read_parquet(read.awards)
    assert awards[["award_id", "fy"]].values.tolist() == [["a", "2020-21"]]
    reasons = pd.read_parquet(read.rejects)["reason"].tolist()
    assert reasons == ["outside the run's years (2019-20, run: 2020-21)"]
    assert read.inputs[0]["rows_outside_run_years"] == 1 and read.inputs[0]["role"] == "funding"


def _profile(out: Path, capsys) -> str:
    assert main(["profile", "Wakefield", "--out", str(out)]) == 0
    return " ".join(capsys.readouterr().out.split())  # rich wraps at 110 columns


def test_profile_shows_the_priorities_as_the_page_does(funding_only: Path, capsys):
    text = _profile(funding_only, capsys)
    assert "Funding against Wakefield's priorities, 2016-17" in text
    # ebsa: the lottery grant (other public grants) and the foundation's (charitable grants), CRA beside.
    assert "│ other public grants │ 1 │ £12k │" in text and "│ charitable grants │ 1 │ £30k │" in text
    assert "│ All grants matched │ 2 │ £42k │" in text
    assert ("Overlap: 2 funders (A Yorkshire Foundation; The National Lottery Community Fund) of 2 funder "
            "type(s) fund this priority: 2 lines, £42k.") in text
    gap = ("Gap: no grant in this run's data (grants from lottery distributors, local government and "
           "charitable funders) for 2016-17 matched this priority.")
    assert text.count(gap) == 2  # transport and nothing; the same sentence as the page's
    assert gap.replace("'", "&#39;") in (funding_only / "councils" / "wakefield" / "index.html").read_text()


def test_profile_of_a_bundled_pilot_shows_its_gap(bundled_pfpp: Path, capsys):
    text = _profile(bundled_pfpp, capsys)
    assert "Persistent school absence caused by emotionally based school avoidance (ebsa-absence)" in text
    assert "│ central-government grants │ 0 │ £0 │" in text
    cra = pd.read_csv(bundled_pfpp / "priority_funding.csv").set_index(["la_code", "source"]).loc[
        ("E08000036", "cra_allocated")]
    assert format_gbp(cra["amount_gbp"]) == "£450m"  # CRA context, as on the page
    assert "│ CRA spend allocated by population (context) │ 5 │ £450m │" in text
    assert ("Gap: no grant in this run's data (central-government grants) for 2016-17 matched this "
            "priority.") in text
    assert "Overlap:" not in text


def test_profile_without_priorities_says_nothing_of_them(combined: Path, capsys):
    # --places Wakefield,Hastings with the pfpp preset: Wakefield has them; a council without is silent.
    assert main(["profile", "Leeds", "--out", str(combined)]) == 0
    assert "priorities" not in capsys.readouterr().out


def test_small_grants_and_duplication_keep_the_registers_figures_beside_other_funders(combined: Path):
    # Small awards per funder type add up to small_grants' all-recipients count: other funders' small
    # grants are separable from the register's.
    small = pd.read_csv(combined / "small_grants.csv")
    small = small[small["scope"] == "all_recipients"].set_index(["la_code", "fy"])["n_small"]
    by_type = pd.read_csv(combined / "place_summary_by_funder_type.csv")
    per_type = by_type.groupby(["la_code", "fy"])["n_small_awards"].sum()
    assert (small.loc[per_type.index] == per_type).all()
    wakefield = by_type[by_type["la_code"] == "E08000036"].set_index("funder_type")["n_small_awards"]
    # 8 small awards of the register, as in a register-only run (place_summary.csv of `make run`)
    assert wakefield.to_dict() == {"central_government": 8, "charitable_funder": 1, "lottery_distributor": 1}
    # The register's one Wakefield finding (DfT's buses) is as in a register-only run; its type says so.
    dup = pd.read_csv(combined / "duplication.csv")
    assert set(dup["funder_types"]) == {"central_government"} and len(dup) == 151
