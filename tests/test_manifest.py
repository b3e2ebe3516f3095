"""The reconciliation counts inputs by a plain read and outputs from the written files, so it can fail."""

from __future__ import annotations

import csv
import math
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendmap.manifest import check_reconciled, count_input, reconcile_written
from spendmap.outputs.tables import write_csv, write_parquet
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.sources.grants import read_grants

HEADER = ["Identifier", "Amount Awarded", "Award Date", "Recipient Org:Name", "Funding Org:Name", "Currency"]

# Cells of every kind a register can hold, good and bad.
amounts = st.one_of(
    st.integers(-10**9, 10**10).map(str),
    st.floats(-1e9, 1e9, allow_nan=False).map(lambda f: f"{f:.2f}"),
    st.integers(0, 10**7).map(lambda n: f"£{n:,}"),
    st.integers(0, 10**6).map(lambda n: f"({n:,})"),
    st.sampled_from(["", "   ", "n/a", "about 5k", "-", "1e400", "inf", "-inf", "nan", "1e11", "£ 12.50"]),
)
texts = st.one_of(st.sampled_from(["", " ", "Total", "Redacted", "=cmd()", "+44", "@x", "-1", "a\nb",
                                   "line\r\nbreak", "x\u2028y", "\t"]),
                  st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12))
rows = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["", "G-1", "G-2", "G-3"]), st.integers(0, 60).map(lambda i: f"A-{i}")),
        amounts,
        st.sampled_from(["", "01/04/2021", "31/02/2021", "2021-06-30", "soon"]),
        texts,
        st.one_of(st.just(""), st.sampled_from(["Home Office", "DfE", "Department for Transport"])),
        st.sampled_from(["", "GBP", "EUR", "£"]),
    ),
    min_size=1, max_size=40,
)


def _write_outputs(paths: list[Path], out: Path) -> None:
    """What the flow writes: awards.parquet and rejects.csv (formula-safe), by the real writers."""
    known: dict[str, str] = {}
    reads = [read_grants(p, year="2021-22", known_ids=known, position=i) for i, p in enumerate(paths, 1)]
    write_parquet(pd.concat([r.awards for r in reads], ignore_index=True), out / "awards.parquet")
    write_csv(pd.concat([r.rejects for r in reads], ignore_index=True), out / "rejects.csv")
    return reads


def _manifest_inputs(reads) -> list[dict]:
    return [r.info for r in reads]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows, min_size=1, max_size=3))
def test_read_equals_accepted_plus_rejected_for_any_rows(files):
    tmp = Path(tempfile.mkdtemp())
    try:
        paths = []
        for i, body in enumerate(files):
            path = tmp / f"register_{i}.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(HEADER)
                writer.writerows(body)
            paths.append(path)
        reads = _write_outputs(paths, tmp)
        result = reconcile_written(_manifest_inputs(reads), tmp)
        assert result["ok"], result
        # The same identity, counted here once more without spendmap: rows and £ from the files.
        for path, check in zip(paths, result["per_input"], strict=True):
            with path.open(newline="", encoding="utf-8") as f:
                data = [r for r in list(csv.reader(f))[1:] if any(c.strip() for c in r)]
            assert check["rows_read"] == len(data)
            assert check["rows_accepted"] + check["rows_rejected"] == len(data)
            assert math.isfinite(check["amount_in_gbp"])
            assert math.isclose(check["amount_in_gbp"],
                                check["amount_accepted_gbp"] + check["amount_rejected_gbp"], abs_tol=0.01)
    finally:
        shutil.rmtree(tmp)


def test_bundled_register_counted_plainly():
    counted = count_input(reference_path(*BUNDLED_GRANTS), "GGIS_Grant_Awards_2016_to_2017 ", 1,
                          "Amount Awarded")
    assert counted == {"rows": 3351, "amount_gbp": 3_920_986_733.0}


@pytest.fixture
def written(tmp_path):
    src = tmp_path / "register 2021-22.csv"
    src.write_text("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\n"
                   "R-1,100,One Ltd,Home Office\nR-2,250,Two Ltd,Home Office\n"
                   "R-3,oops,Three Ltd,Home Office\n"
                   "Total,350,,\n")
    reads = _write_outputs([src], tmp_path)
    return tmp_path, _manifest_inputs(reads)


def test_reconciles_with_exact_figures(written):
    out, inputs = written
    result = reconcile_written(inputs, out)
    assert result["ok"]
    assert result["totals"] == {"rows_read": 4, "rows_accepted": 2, "rows_rejected": 2,
                                "amount_in_gbp": 700.0, "amount_accepted_gbp": 350.0,
                                "amount_rejected_gbp": 350.0}


def test_an_award_lost_from_the_written_file_fails(written):
    out, inputs = written
    awards = pd.read_parquet(out / "awards.parquet")
    awards.iloc[:1].to_parquet(out / "awards.parquet")
    result = reconcile_written(inputs, out)
    assert not result["ok"] and result["totals"]["rows_accepted"] == 1
    with pytest.raises(Exception, match="does not reconcile") as err:
        check_reconciled(result)
    assert err.value.exit_code == 1


def test_an_inflated_amount_fails(written):
    out, inputs = written
    awards = pd.read_parquet(out / "awards.parquet")
    awards.loc[0, "amount_gbp"] *= 2
    awards.to_parquet(out / "awards.parquet")
    result = reconcile_written(inputs, out)
    assert not result["ok"]
    assert not result["per_input"][0]["amounts_reconcile"] and result["per_input"][0]["rows_reconcile"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le", "utf-16-be"])
def test_plain_count_reads_every_encoding_the_reader_does(tmp_path, encoding):
    src = tmp_path / "register 2021-22.csv"
    src.write_bytes(("Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\r\n"
                     'E-1,"£1,000",Caf\u00e9 Ltd,Home Office\r\nE-2,x,Two Ltd,Home Office\r\n'
                     f'E-3,5,Long Ltd,Home Office,"{"y" * 140_000}"\r\n').encode(encoding))
    reads = _write_outputs([src], tmp_path)
    result = reconcile_written(_manifest_inputs(reads), tmp_path)
    assert result["ok"] and result["totals"]["rows_read"] == 3 and result["totals"]["amount_in_gbp"] == 1005.0


def test_inputs_sharing_a_file_name_reconcile_each_by_input_id(tmp_path):
    """Two folders' `register 2021-22.csv` (different awards): written rows carry the input id, so each is
    reconciled on its own, and the reject reason names the input by id and full path (its folder)."""
    first, second = tmp_path / "a" / "register 2021-22.csv", tmp_path / "b" / "register 2021-22.csv"
    for folder in (first.parent, second.parent):
        folder.mkdir()
    head = "Identifier,Amount Awarded,Recipient Org:Name,Funding Org:Name\n"
    first.write_text(head + "R-1,100,One Ltd,Home Office\nR-1,60,Two Ltd,Home Office\n")
    second.write_text(head + "S-1,40,Three Ltd,Home Office\n")
    reads = _write_outputs([first, second], tmp_path)
    result = reconcile_written(_manifest_inputs(reads), tmp_path)
    assert result["ok"] and [p["path"] for p in result["per_input"]] == [str(first), str(second)]
    assert [(p["rows_read"], p["rows_accepted"], p["rows_rejected"]) for p in result["per_input"]] == [
        (2, 1, 1), (1, 1, 0)]
    assert result["totals"] == {"rows_read": 3, "rows_accepted": 2, "rows_rejected": 1,
                                "amount_in_gbp": 200.0, "amount_accepted_gbp": 140.0,
                                "amount_rejected_gbp": 60.0}
    rejects = pd.read_csv(tmp_path / "rejects.csv", dtype=str)
    assert rejects["reason"].tolist() == [
        f"duplicate award id (also in input {reads[0].info['input_id']} ({first}) row 2)"]
    awards = pd.read_parquet(tmp_path / "awards.parquet")
    awards.iloc[:1].to_parquet(tmp_path / "awards.parquet")  # lose S-1: the second no longer reconciles
    again = reconcile_written(_manifest_inputs(reads), tmp_path)
    assert [p["rows_reconcile"] for p in again["per_input"]] == [True, False] and not again["ok"]
    assert not reconcile_written(_manifest_inputs(reads), tmp_path)["ok"]


def test_an_award_carrying_the_id_of_no_input_fails(written):
    out, inputs = written
    awards = pd.read_parquet(out / "awards.parquet")
    awards.loc[0, "input_id"] = "9:000000000000"
    awards.to_parquet(out / "awards.parquet")
    result = reconcile_written(inputs, out)
    assert not result["ok"] and result["awards_of_no_input"] == 1
    with pytest.raises(Exception, match="carry the id of no input"):
        check_reconciled(result)


def test_the_manifest_lists_the_catalogs_outputs_found_in_the_folder_in_catalog_order(tmp_path):
    from spendmap.manifest import listed_outputs

    for name in ("spendmap.duckdb", "place_summary.csv", "awards.parquet", "notes.txt", "trends.csv"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    for slug in ("adur", "wakefield"):
        (tmp_path / "councils" / slug).mkdir(parents=True)
    (tmp_path / "councils" / "stray.txt").write_text("x", encoding="utf-8")  # a file is no council folder
    (tmp_path / "rejects.csv").mkdir()  # a folder where a file is declared is not that file
    (tmp_path / "assets" / "fonts").mkdir(parents=True)  # a folder standing for its files counts them
    for name in ("style.css", "fonts/a.woff"):
        (tmp_path / "assets" / name).write_text("x", encoding="utf-8")
    assert listed_outputs(tmp_path) == {
        "awards.parquet": "awards.parquet", "place_summary.csv": "place_summary.csv",
        "trends.csv": "trends.csv", "spendmap.duckdb": "spendmap.duckdb", "councils/": "2 council folders",
        "assets/": "2 files",
    }
    assert list(listed_outputs(tmp_path)) == [
        "awards.parquet", "place_summary.csv", "trends.csv", "spendmap.duckdb", "councils/", "assets/"]


# --- counts taken ahead, in another process (pipeline.PlainCounts) -----------------------------------------


def test_counts_taken_ahead_in_another_process_equal_those_taken_after(tmp_path):
    from spendmap.manifest import count_inputs, plain_count_stored
    from spendmap.pipeline import PlainCounts

    info = read_grants(reference_path(*BUNDLED_GRANTS)).info
    cache = tmp_path / "cache"
    ahead = PlainCounts([info], cache, min_bytes=0)
    assert ahead.pending is not None  # a process was started
    assert ahead.result() == {info["input_id"]: {"rows": 3351, "amount_gbp": 3_920_986_733.0}}
    assert ahead.result() == count_inputs([info], None) and ahead.pool is None
    assert plain_count_stored(info, cache)  # kept where the manifest step finds it
    assert PlainCounts([info], cache, min_bytes=0).pending is None  # counted already: no process
    assert PlainCounts([info], tmp_path / "other", min_bytes=10**9).pending is None  # small: no process


def test_a_count_that_fails_ahead_is_taken_again_by_the_manifest_step(tmp_path):
    from spendmap.pipeline import PlainCounts

    src = tmp_path / "register.csv"
    src.write_text("Identifier,Amount Awarded\nR-1,100\n")
    info = {"input_id": "1:abc", "path": str(src), "sheet": None, "header_row": 1,
            "amount_header": "Amount Awarded"}
    failing = PlainCounts([{**info, "amount_header": "No such column"}], tmp_path / "cache", min_bytes=0)
    assert failing.result() == {} and failing.pool is None  # the error is left to the manifest step
    with pytest.raises(ValueError):  # which meets it itself, as before
        reconcile_written([{**info, "amount_header": "No such column"}], _written_empty(tmp_path))


def _written_empty(out: Path) -> Path:
    pd.DataFrame({"input_id": pd.Series([], dtype="string"), "amount_gbp": pd.Series([], dtype="float64")}
                 ).to_parquet(out / "awards.parquet")
    (out / "rejects.csv").write_text("input_id,original_values\n")
    return out
