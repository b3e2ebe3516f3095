"""Never a wrong total, whatever the file (issue 16): each hostile or careless input as a small crafted
file, read by the real reader and, where the case is about the run, by the real CLI (in-process)."""

from __future__ import annotations

import csv
import json
import math
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendmap.cli import main
from spendmap.errors import InputError
from spendmap.manifest import plain_amount, reconcile_written
from spendmap.outputs.tables import write_csv, write_parquet
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.sources.grants import AMOUNT_CEILING_GBP, TOTAL_ROW, parse_amounts, read_grants

DFE, DFT = "Department for Education", "Department for Transport"
HEADER = ["Identifier", "Title", "Amount Awarded", "Award Date", "Recipient Org:Name",
          "Recipient Org:Postal Code", "Funding Org:Name"]
AWARDS = [
    ["A-1", "Holiday activities", "1000", "2016-06-01", "Wakefield Council", "WF1 2EB", DFE],
    ["A-2", "Bus grant", "2500.50", "2016-07-01", "Leeds City Council", "LS1 1UR", DFT],
    ["A-3", "Sport", "499.50", "2016-08-01", "Wakefield Trinity Club", "WF1 2EB", DFT],
]


def _csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _run(tmp_path: Path, *args: str, out: str = "out") -> tuple[int, Path]:
    target = tmp_path / out
    code = main(["run", "--offline", "--places", "Wakefield", "--out", str(target), *args])
    return code, target


def _manifest(out: Path) -> dict:
    return json.loads((out / "run_manifest.json").read_text())


# --- 1. a cached read follows the file as given ---------------------------------------------------


def test_same_bytes_under_another_name_take_that_name_and_its_year(tmp_path, fresh_cache, capsys):
    alpha = _csv(tmp_path / "in" / "alpha-2016-17.csv", AWARDS)
    assert _run(tmp_path, "--grants", str(alpha), out="a")[0] == 0
    beta = tmp_path / "in" / "beta-2017-18.csv"
    shutil.copy(alpha, beta)
    capsys.readouterr()
    code, out = _run(tmp_path, "--grants", str(beta), out="b")
    assert code == 0
    assert "Read 3 award rows from 1 register (reused from the cache)" in capsys.readouterr().out
    (grants,) = _manifest(out)["inputs"]["grants"]
    assert (grants["path"], grants["fy"], grants["fy_source"]) == (str(beta), "2017-18", "file name")
    awards = pd.read_parquet(out / "awards.parquet")
    assert set(awards["source_file"]) == {"beta-2017-18.csv"} and set(awards["fy"]) == {"2017-18"}
    assert _manifest(out)["financial_years"] == ["2017-18"]
    with duckdb.connect(str(out / "spendmap.duckdb"), read_only=True) as con:  # not the first run's tables
        assert con.sql("SELECT DISTINCT source_file, fy FROM awards").fetchall() == [
            ("beta-2017-18.csv", "2017-18")]


def test_a_renamed_copy_of_the_bundled_register_and_a_deleted_first_copy(tmp_path, fresh_cache):
    first = tmp_path / "first-copy.xlsx"
    shutil.copy(reference_path(*BUNDLED_GRANTS), first)
    assert _run(tmp_path, "--grants", str(first), "--year", "2016-17", out="a")[0] == 0
    renamed = tmp_path / "renamed-register.xlsx"
    shutil.copy(first, renamed)
    code, out = _run(tmp_path, "--grants", str(renamed), "--year", "2016-17", out="b")
    assert code == 0
    rec = _manifest(out)["reconciliation"]
    assert rec["ok"] and rec["totals"]["rows_accepted"] == 3351
    assert rec["totals"]["amount_accepted_gbp"] == 3_920_986_733.0
    first.unlink()  # the path the cached read was made from is gone
    code, out = _run(tmp_path, "--grants", str(renamed), "--year", "2016-17", out="c")
    assert code == 0 and _manifest(out)["reconciliation"]["totals"]["amount_accepted_gbp"] == 3_920_986_733.0
    assert set(pd.read_parquet(out / "awards.parquet")["source_file"]) == {"renamed-register.xlsx"}


def test_every_cached_step_follows_its_own_inputs(tmp_path, fresh_cache, capsys):
    """Classify, analytics and priority matching are cached on a chain of content keys: a warm run reuses
    them, but an edited priorities file (same path), a moved local-spend file and another small-grant
    threshold each give that run's own answer."""
    from .helpers.funding import write_funding

    funding, priorities = write_funding(tmp_path / "in")
    local = _csv(tmp_path / "in" / "local.csv", [
        ["Wakefield", "2016-17", "700", "School avoidance", "education", "", ""],
        ["Wakefield", "2016-17", "lots", "Bad line", "", "", ""],
    ], header=["place", "fy", "amount_gbp", "description", "spend_area", "priority_id",
               "source_organisation"])
    args = ("--funding", str(funding), "--priorities", str(priorities))
    assert _run(tmp_path, *args, "--local", str(local), out="a")[0] == 0
    capsys.readouterr()
    assert _run(tmp_path, *args, "--local", str(local), out="b")[0] == 0
    said = capsys.readouterr().out
    assert "Classified awards" in said and said.count("(reused from the cache)") >= 5, said
    assert "tables (reused from the cache)" in said, said
    first = pd.read_csv(tmp_path / "a" / "priority_funding.csv")
    pd.testing.assert_frame_equal(first, pd.read_csv(tmp_path / "b" / "priority_funding.csv"))
    assert "ebsa" in set(first["priority_id"])

    priorities.write_text(priorities.read_text().replace("id: ebsa", "id: absence"), encoding="utf-8")
    moved = tmp_path / "elsewhere" / "council-spend.csv"
    moved.parent.mkdir()
    shutil.move(local, moved)
    assert _run(tmp_path, *args, "--local", str(moved), "--small-threshold", "10000", out="c")[0] == 0
    funding_c = pd.read_csv(tmp_path / "c" / "priority_funding.csv")
    assert "absence" in set(funding_c["priority_id"]) and "ebsa" not in set(funding_c["priority_id"])
    rejects = pd.read_csv(tmp_path / "c" / "rejects.csv", dtype=str)
    assert "local.csv" not in set(rejects["source_file"])
    assert rejects.loc[rejects["source_file"] == "council-spend.csv", "source_row"].tolist() == ["3"]
    assert str(moved) in json.dumps(_manifest(tmp_path / "c")["priorities"]["local_inputs"])
    small = {out: pd.read_csv(tmp_path / out / "small_grants.csv") for out in ("b", "c")}
    assert set(small["b"]["threshold_gbp"]) == {100000} and set(small["c"]["threshold_gbp"]) == {10000}
    with duckdb.connect(str(tmp_path / "c" / "spendmap.duckdb"), read_only=True) as con:  # written anew
        assert con.sql("SELECT DISTINCT threshold_gbp FROM small_grants").fetchall() == [(10000,)]
        local_rejects = "SELECT count(*) FROM rejects WHERE source_file = 'council-spend.csv'"
        assert con.execute(local_rejects).fetchall() == [(1,)]
        assert "absence" in {p for (p,) in con.sql("SELECT priority_id FROM priority_funding").fetchall()}


# --- 2. subtotal and total rows ------------------------------------------------------------------------


def test_subtotal_and_total_rows_are_rejected_by_shape(tmp_path):
    path = _csv(tmp_path / "subtotals-2016-17.csv", AWARDS + [
        ["", "", "3000", "", "", "", DFT],  # a funder and nothing else
        ["S-8", "Total for Department for Transport", "3000", "", "DfT", "", DFT],
        ["TOTAL", "", "4000", "", "", "", "All departments"],
        ["S-9", "", "4000", "", "Grand total", "", DFE],
        ["S-10", "", "4000", "", "Wakefield Council", "", "All government departments"],
        # names that hold the word but are not totals
        ["T-1", "Total Fitness", "10", "2016-06-01", "Total Fitness Ltd", "WF1 2EB", DFE],
        ["T-2", "x", "20", "2016-06-01", "Totally Active CIC", "WF1 2EB", DFE],
    ])
    read = read_grants(path)
    reasons = read.rejects.set_index("source_row")["reason"].to_dict()
    assert reasons == {
        5: f"{TOTAL_ROW} (a funder, but no identifier and no recipient)",
        6: f"{TOTAL_ROW} (title 'Total for Department for Transport')",
        7: f"{TOTAL_ROW} (identifier 'TOTAL')",
        8: f"{TOTAL_ROW} (recipient 'Grand total')",
        9: f"{TOTAL_ROW} (funder 'All government departments')",
    }
    assert read.awards["award_id"].tolist() == ["A-1", "A-2", "A-3", "T-1", "T-2"]
    assert read.info["amount_accepted_gbp"] == 4030.0 and read.info["rows_rejected_as_totals"] == 5


def test_subtotal_rows_are_rejected_by_value(tmp_path):
    """Rows that look like awards but equal the sum of their funder's rows or of the file's rows:
    funders' subtotals first, then a grand total that equals the awards once subtotals are out."""
    path = _csv(tmp_path / "values-2016-17.csv", AWARDS + [
        ["V-1", "x", "3000", "2016-06-01", "Transport subtotal line", "", DFT],
        ["V-2", "x", "4050", "2016-06-01", "All of it", "", "Cabinet Office"],
        ["V-3", "x", "50", "2016-06-01", "Leeds City Council", "LS1 1UR", "Home Office"],
    ])
    read = read_grants(path)
    reasons = read.rejects.set_index("source_row")["reason"]
    assert reasons.to_dict() == {
        5: f"{TOTAL_ROW} (its amount is the sum of its funder's other rows)",
        6: f"{TOTAL_ROW} (its amount is the sum of the file's other rows)",
    }
    assert read.info["amount_accepted_gbp"] == 4050.0


def test_the_bundled_register_has_no_row_taken_for_a_total(bundled_awards):
    assert len(bundled_awards) == 3351 and bundled_awards["amount_gbp"].sum() == 3_920_986_733


def test_subtotals_leave_the_published_total_that_of_the_awards(tmp_path, fresh_cache):
    path = _csv(tmp_path / "subtotals-2016-17.csv", AWARDS + [
        ["", "Total for Department for Transport", "3000", "", "", "", DFT],
        ["TOTAL", "", "4000", "", "", "", "All departments"],
    ])
    code, out = _run(tmp_path, "--grants", str(path))
    assert code == 0
    totals = _manifest(out)["reconciliation"]["totals"]
    assert totals["amount_accepted_gbp"] == 4000.0 and totals["amount_rejected_gbp"] == 7000.0
    assert pd.read_csv(out / "place_summary.csv")["total_gbp"].sum() == 4000.0


# --- 3. decimal separators -------------------------------------------------------------------------------


def test_ambiguous_decimal_separators_are_rejected_never_guessed():
    cells = ["25000,50", "1.234,50", "25.000,00", "1.234.567", "25000,5", "1,2345", "£1,234.50", "1,234,567",
             "12.500", "(1,000)", 25000.5]
    values, bad = parse_amounts(pd.Series(cells, dtype=object))
    assert bad.iloc[:5].tolist() == [f"ambiguous decimal separator: '{c}'" for c in cells[:5]]
    assert bad.iloc[5] == "amount not a number: '1,2345'"
    assert values.iloc[6:].tolist() == [1234.5, 1234567.0, 12.5, -1000.0, 25000.5]
    assert values.iloc[:6].isna().all()


def test_the_independent_counter_parses_on_its_own():
    """The reconciliation's parser never reads a decimal comma as a thousands one: were the reader to
    accept '25000,50' as £2,500,050, the count would not, and the run would fail to reconcile."""
    assert [plain_amount(c) for c in ["25000,50", "1.234,50", "25.000,00", "1,2345"]] == [None] * 4
    assert [plain_amount(c) for c in ["£1,234.50", "(1,000)", "-£50", "GBP 7", " 12 ", 3.5]] == [
        1234.5, -1000.0, -50.0, 7.0, 12.0, 3.5]


def test_a_reader_that_misreads_a_decimal_comma_fails_the_reconciliation(tmp_path, monkeypatch):
    from spendmap.sources import grants

    path = _csv(tmp_path / "decimals-2016-17.csv", AWARDS + [
        ["D-1", "x", "25000,50", "2016-06-01", "Leeds City Council", "LS1 1UR", DFT]])
    read = read_grants(path)
    assert read.rejects["reason"].tolist() == ["ambiguous decimal separator: '25000,50'"]
    out = tmp_path / "out"
    out.mkdir()
    write_parquet(read.awards, out / "awards.parquet")
    write_csv(read.rejects, out / "rejects.csv")
    assert reconcile_written([read.info], out)["ok"]
    # The old fault, put back: commas stripped whatever they separate.
    monkeypatch.setattr(grants, "_DECIMAL_COMMA", r"^$x")
    monkeypatch.setattr(grants, "_GROUPED", r".*")
    wrong = read_grants(path)
    assert wrong.info["amount_accepted_gbp"] == 2_504_050.0
    write_parquet(wrong.awards, out / "awards.parquet")
    write_csv(wrong.rejects, out / "rejects.csv")
    assert not reconcile_written([wrong.info], out)["ok"]


# --- 5. the year given reaches the reader ----------------------------------------------------------------


def test_year_given_for_a_register_with_no_year_and_blank_dates(tmp_path, fresh_cache, capsys):
    path = _csv(tmp_path / "register.csv", [[*r[:3], "", *r[4:]] for r in AWARDS])
    code, _ = _run(tmp_path, "--grants", str(path), out="a")
    assert code == 2 and "Give it with --year" in " ".join(capsys.readouterr().err.split())
    code, out = _run(tmp_path, "--grants", str(path), "--year", "2016-17", out="b")
    assert code == 0
    (grants,) = _manifest(out)["inputs"]["grants"]
    assert (grants["fy"], grants["fy_source"]) == ("2016-17", "given")


def test_a_register_whose_every_row_is_rejected_publishes_its_rejects(tmp_path, fresh_cache):
    """Nothing accepted is still a run: the year its name states, every row in rejects.csv with its
    reason, a reconciliation of 2 read = 0 accepted + 2 rejected, and pages saying there are no awards
    (it failed with an IndexError before: no award, so no year for the pages)."""
    rows = [[*AWARDS[0][:2], "n/a", *AWARDS[0][3:]], [*AWARDS[1][:2], "", *AWARDS[1][3:]]]
    path = _csv(tmp_path / "Government_Grants_Register_2016_to_2017_rejected.csv", rows)
    code, out = _run(tmp_path, "--grants", str(path))
    assert code == 0
    manifest = _manifest(out)
    assert manifest["financial_years"] == ["2016-17"] and manifest["reconciliation"]["ok"]
    (counts,) = manifest["reconciliation"]["per_input"]
    assert (counts["rows_read"], counts["rows_accepted"], counts["rows_rejected"]) == (2, 0, 2)
    rejects = pd.read_csv(out / "rejects.csv")
    mine = rejects[rejects["source_file"] == path.name]
    assert mine["reason"].tolist() == ["amount not a number: 'n/a'", "amount missing"]
    assert len(pd.read_parquet(out / "awards.parquet")) == 0
    assert (out / "councils" / "wakefield" / "index.html").is_file()


def test_year_sources_file_name_given_award_dates(tmp_path):
    named = _csv(tmp_path / "grants-2016-17.csv", AWARDS)
    assert read_grants(named).info["fy_source"] == "file name"
    assert read_grants(named, year="2016-17").info["fy_source"] == "file name"
    with pytest.raises(InputError, match="is for 2016-17 \\(from its file name\\)"):
        read_grants(named, year="2017-18")
    dated = _csv(tmp_path / "export.csv", AWARDS)
    assert (read_grants(dated).info["fy"], read_grants(dated).info["fy_source"]) == ("2016-17", "award dates")
    # Award dates can precede the year paid: a single year given is used.
    assert read_grants(dated, year="2017-18").info["fy_source"] == "given"


# --- 6. inputs named by id and full path ----------------------------------------------------------------


def test_a_name_neutralised_in_csv_still_reconciles(tmp_path, fresh_cache):
    path = _csv(tmp_path / "=evil-2016-17.csv", AWARDS + [
        ["A-1", "dup", "5", "2016-06-01", "X", "WF1 2EB", DFE]])
    code, out = _run(tmp_path, "--grants", str(path))
    assert code == 0
    manifest = _manifest(out)
    (grants,) = manifest["inputs"]["grants"]
    assert manifest["reconciliation"]["ok"] and manifest["reconciliation"]["totals"]["rows_rejected"] == 1
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    mine = rejects[rejects["input_id"] == grants["input_id"]]
    assert mine["source_file"].tolist() == ["'=evil-2016-17.csv"]  # neutralised, yet matched by id
    iid = grants["input_id"]
    assert mine["reason"].tolist() == [f"duplicate award id (also in input {iid} ({path}) row 2)"]
    assert grants["input_id"] == f"1:{grants['sha256'][:12]}"


def test_two_folders_register_csv_are_told_apart(tmp_path, fresh_cache):
    north = _csv(tmp_path / "north" / "register-2016-17.csv", AWARDS)
    south = _csv(tmp_path / "south" / "register-2016-17.csv", [
        ["B-1", "x", "10", "2016-06-01", "Y", "LS1 1UR", DFT],
        ["A-3", "dup", "7", "2016-06-01", "X", "WF1 2EB", DFE]])
    code, out = _run(tmp_path, "--grants", str(north), "--grants", str(south))
    assert code == 0
    manifest = _manifest(out)
    ids = [g["input_id"] for g in manifest["inputs"]["grants"]]
    assert [p["input_id"] for p in manifest["reconciliation"]["per_input"]] == ids
    per_input = manifest["reconciliation"]["per_input"]
    assert all(p["rows_reconcile"] and p["amounts_reconcile"] for p in per_input)
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    grant_rejects = rejects[rejects["input_id"].notna()]
    assert grant_rejects["input_id"].tolist() == [ids[1]]
    assert grant_rejects["reason"].tolist() == [
        f"duplicate award id (also in input {ids[0]} ({north}) row 4)"]
    awards = pd.read_parquet(out / "awards.parquet")
    assert awards.groupby("input_id").size().to_dict() == {ids[0]: 3, ids[1]: 1}


# --- 7. text that reverses or colours figures --------------------------------------------------------


def test_bidirectional_and_control_characters_are_removed_at_ingest(tmp_path, fresh_cache):
    path = _csv(tmp_path / "controls-2016-17.csv", AWARDS + [
        ["C-1", "Ev\u202eil\u2066", "93", "2016-06-01", "Wakefield \u202eTrust", "WF1 2EB", DFE],
        ["C-2", "line\nbreak", "5", "2016-06-01", "\x1b[31mRed Ltd\x1b[0m\x07", "WF1 2EB", DFE],
    ])
    read = read_grants(path)
    a = read.awards.set_index("award_id")
    assert a.loc["C-1", "recipient_name"] == "Wakefield Trust" and a.loc["C-1", "title"] == "Evil"
    assert a.loc["C-2", "recipient_name"] == "Red Ltd" and a.loc["C-2", "title"] == "line break"
    assert read.info["data_quality"]["text_cells_with_control_characters"] == 3
    code, out = _run(tmp_path, "--grants", str(path))
    assert code == 0
    council_csv = next((out / "councils").glob("*/*_awards.csv")).read_text(encoding="utf-8")
    assert "\x1b" not in council_csv and "\u202e" not in council_csv and "Red Ltd" in council_csv
    pages = "".join(p.read_text(encoding="utf-8") for p in (out / "councils").rglob("*.html"))
    assert "\u202e" not in pages and "Wakefield Trust" in pages
    assert '<th scope="row"><bdi>' in pages  # names isolated from the figures beside them


# --- 8. implausible values are said in the run summary; repeated headers refused -----------------------


def test_implausible_amounts_and_dates_are_warned_about_in_the_summary(tmp_path, fresh_cache, capsys):
    path = _csv(tmp_path / "implausible-2016-17.csv", AWARDS + [
        ["I-1", "x", "99999999999999", "2016-06-01", "Wakefield Council", "WF1 2EB", DFE],
        ["I-2", "x", "10", "2099-06-01", "Wakefield Council", "WF1 2EB", DFE],
        ["I-3", "x", "10", "2015-03-31", "Wakefield Council", "WF1 2EB", DFE],
        ["I-4", "x", "10", "2015-04-01", "Wakefield Council", "WF1 2EB", DFE],
    ])
    capsys.readouterr()
    code, out = _run(tmp_path, "--grants", str(path))
    assert code == 0
    stdout = capsys.readouterr().out
    assert (f"Warning: {path}: 1 award(s) above the plausibility ceiling of £{AMOUNT_CEILING_GBP:,.0f} "
            "(£99,999,999,999,999 in all)") in stdout
    assert f"Warning: {path}: 2 award date(s) more than a year outside 2016-17" in stdout
    awards = pd.read_parquet(out / "awards.parquet").set_index("award_id")
    assert awards["award_date_outside_fy"].to_dict() == {
        "A-1": False, "A-2": False, "A-3": False, "I-1": False, "I-2": True, "I-3": True, "I-4": False}
    assert len(_manifest(out)["warnings"]) == 2


def test_two_columns_meaning_the_amount_are_refused_naming_both(tmp_path, capsys):
    path = _csv(tmp_path / "twoamounts-2016-17.csv", [[*r[:3], "1", *r[3:]] for r in AWARDS],
                header=[*HEADER[:3], "amount awarded", *HEADER[3:]])
    with pytest.raises(InputError, match="2 columns that all mean 'amount_gbp': 'Amount Awarded' and "
                                         "'amount awarded'"):
        read_grants(path)
    same = _csv(tmp_path / "same-2016-17.csv", [[*r[:3], "1", *r[3:]] for r in AWARDS],
                header=[*HEADER[:3], "Amount Awarded", *HEADER[3:]])
    with pytest.raises(InputError, match="all mean 'amount_gbp': 'Amount Awarded', 2 times"):
        read_grants(same)
    code, _ = _run(tmp_path, "--grants", str(path))
    assert code == 2 and "Amount Awarded" in capsys.readouterr().err


# --- 9. no accepted set of rows can make the published total exceed the input's ---------------------

_money = st.integers(0, 10**9).map(lambda pence: pence / 100)
_written = st.sampled_from(["{:.2f}", "£{:,.2f}", "{:,.0f}", "{:.0f}", "GBP {:.2f}"])
_recipients = ["Leeds City Council", "Wakefield Council", "One Ltd", "Total Fitness Ltd"]
_award = st.tuples(st.integers(0, 40).map(lambda i: f"G-{i}"), _money, _written, st.sampled_from(_recipients),
                   st.sampled_from(["Home Office", "DfE", DFT]))
# What a careless or hostile file adds: rows that are not awards, and amounts that are not pounds.
_noise = st.one_of(
    st.tuples(st.just("total"), st.sampled_from(["", "Total", "Grand total", "TOTAL"]),
              st.sampled_from(["", "All departments", "Home Office"])),
    st.tuples(st.just("comma"), st.integers(1, 10**7), st.sampled_from(["5", "50", "05", "99"])),
    st.tuples(st.just("dots"), st.integers(1, 999), st.integers(0, 999)),
)


def _file_rows(awards, noise) -> tuple[list[list[str]], float]:
    """The register's rows, and the independent truth: the sum of its genuine awards' pounds."""
    rows, truth = [], 0.0
    seen = set()
    for ident, amount, fmt, recipient, funder in awards:
        if ident in seen:
            continue  # an id once: a repeat is rightly rejected, and would not be a genuine award
        seen.add(ident)
        text = fmt.format(round(amount) if "0f" in fmt else amount)
        rows.append([ident, "", text, "2021-06-01", recipient, "", funder])
        truth += plain_amount(text)
    total = sum(plain_amount(r[2]) for r in rows)
    for kind, *parts in noise:
        if kind == "total":
            label, funder = parts
            rows.append(["", label, f"{total:.2f}", "", label, "", funder])
        elif kind == "comma":
            rows.append(["", "x", f"{parts[0]},{parts[1]}", "", "One Ltd", "", "Home Office"])
        else:
            rows.append(["", "x", f"{parts[0]}.{parts[1]:03d},00", "", "One Ltd", "", "Home Office"])
    return rows, truth


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_award, min_size=1, max_size=25), st.lists(_noise, max_size=6), st.randoms())
def test_no_accepted_rows_make_the_published_total_exceed_the_input(awards, noise, rnd):
    rows, truth = _file_rows(awards, noise)
    rnd.shuffle(rows)
    tmp = Path(tempfile.mkdtemp())
    try:
        path = _csv(tmp / "register 2021-22.csv", rows)
        read = read_grants(path)
        write_parquet(read.awards, tmp / "awards.parquet")
        write_csv(read.rejects, tmp / "rejects.csv")
        rec = reconcile_written([read.info], tmp)
        published = math.fsum(pd.read_parquet(tmp / "awards.parquet")["amount_gbp"])
        # The run publishes only what reconciles, and what it publishes never exceeds the genuine awards.
        assert rec["ok"], rec
        assert published <= truth + 0.01, (published, truth, read.rejects["reason"].tolist())
        assert published <= rec["totals"]["amount_in_gbp"] + 0.01
    finally:
        shutil.rmtree(tmp)


def test_a_run_whose_counts_are_taken_ahead_reconciles_the_same(tmp_path, fresh_cache, monkeypatch):
    from spendmap import pipeline

    started = []
    real = pipeline.PlainCounts.__init__

    def counting_ahead(self, inputs, cache_dir, min_bytes=None):
        real(self, inputs, cache_dir, min_bytes=0)  # as a 500 MB register would be
        started.append(self.pending is not None)

    monkeypatch.setattr(pipeline.PlainCounts, "__init__", counting_ahead)
    path = _csv(tmp_path / "ahead-2016-17.csv",
                AWARDS + [["A-4", "x", "25000,50", "2016-06-01", "X", "", DFT]])
    code, out = _run(tmp_path, "--grants", str(path))
    assert code == 0 and started == [True]
    reconciliation = _manifest(out)["reconciliation"]
    assert reconciliation["ok"] and reconciliation["totals"] == {
        "rows_read": 4, "rows_accepted": 3, "rows_rejected": 1, "amount_in_gbp": 4000.0,
        "amount_accepted_gbp": 4000.0, "amount_rejected_gbp": 0.0}
