"""Smoke run of `make bench` (benchmarks/run_benchmarks.py) on a few hundred awards; no timing asserted."""

from __future__ import annotations

import math

import pytest

from benchmarks import run_benchmarks


def _driver():
    return run_benchmarks


def test_exponent_is_the_log_log_slope():
    bench = _driver()
    xs = [1_000, 10_000, 100_000]
    assert bench.exponent(xs, [2 * x for x in xs]) == pytest.approx(1.0)
    assert bench.exponent(xs, [3e-6 * x * x for x in xs]) == pytest.approx(2.0)
    assert bench.exponent(xs, [5 + 0 * x for x in xs]) == pytest.approx(0.0, abs=1e-12)
    assert bench.exponent([1_000], [1.0]) is None
    assert math.isclose(bench.exponent([1, 4], [1, 2]), 0.5)


def test_results_file_keeps_sections_it_did_not_measure(tmp_path):
    bench = _driver()
    out = tmp_path / "RESULTS.md"
    bench.write_results(out, {"scale": "## Scale\nold figures\n", "notes": "## Notes\nby hand\n"},
                        ["scale", "notes"])
    bench.write_results(out, {"scale": "## Scale\nnew figures\n"}, ["scale", "notes"])
    text = out.read_text()
    assert "new figures" in text and "old figures" not in text and "by hand" in text
    assert text.index("## Scale") < text.index("## Notes")


def test_quick_run_writes_every_table(tmp_path):
    bench = _driver()
    out = tmp_path / "RESULTS.md"
    # Two CSV sizes (for the exponent) and a profile; the ODS and whole-run paths cost minutes here
    # on a shared machine, and the generator tests read ODS back already.
    assert bench.main(["--quick", "--sizes", "200,300", "--sheet-sizes", "", "--no-whole-run",
                       "--data-dir", str(tmp_path / "data"), "--out", str(out),
                       "--profile", "csv:200", "--top", "3"]) == 0
    text = out.read_text()
    # The generated files, their bare parse and every step, per case; the exponent; the hotspots.
    assert "| CSV | 200 |" in text and "| CSV | 300 |" in text and "pyarrow.csv.read_csv" in text
    for step in ("read grants (ingest_grants)", "place (place_grants)", "classify (classify_awards)",
                 "analytics (grant_analytics)", "write tables (write_tables)",
                 "render pages, 13 pilot places (render_site)"):
        assert f"| {step} |" in text
    assert "### Growth: fitted exponent of cost against awards (CSV, 200, 300)" in text
    assert "## Where the time goes (pyinstrument)" in text and "### CSV, 200 awards" in text
    assert "spendmap/" in text.split("## Where the time goes")[1]  # file:line of our own functions
    data = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert "Government_Grants_Register_2016_to_2017_SYNTH_200_seed13.csv" in data

    # The figures are kept: the results can be rewritten without measuring again.
    again = tmp_path / "again.md"
    assert bench.main(["--render-only", "--data-dir", str(tmp_path / "data"), "--out", str(again)]) == 0
    assert again.read_text().split("<!-- section:scale -->")[1] == text.split("<!-- section:scale -->")[1]
