"""The run's closing summary and the council-by-council progress bar."""

from io import StringIO

from rich.console import Console

from spendmap.outputs.terminal import RenderProgress, run_summary

MANIFEST = {
    "financial_years": ["2016-17"],
    "reconciliation": {"totals": {"rows_read": 3_353, "rows_rejected": 2}},
    "geo_methods": {
        "council_match": {"awards": 450, "amount_gbp": 1_401_665_589.0},
        "postcode": {"awards": 0, "amount_gbp": 0.0},
        "unresolved": {"awards": 2_901, "amount_gbp": 2_519_321_144.0},
    },
}


def test_run_summary_states_reads_placement_pages_and_ends_with_the_index(tmp_path):
    lines = run_summary(MANIFEST, tmp_path, 1).splitlines()
    assert lines[0] == (
        "Awards read: 3,353 rows for 2016-17; 3,351 accepted (£3.9bn), 2 rejected (rejects.csv says why)."
    )
    assert lines[1] == (
        "Placed in a council: 450 of 3,351 awards (13.4%), £1.4bn of £3.9bn (35.7%); unplaced.csv lists "
        "the other 2,901 with reasons."
    )
    assert lines[2].startswith("Councils rendered: 1 page, ")
    assert lines[-2:] == ["Open in a browser:", str(tmp_path.resolve() / "index.html")]


def test_progress_bar_draws_on_a_terminal_and_is_silent_elsewhere():
    def drive(bar: RenderProgress) -> None:
        with bar:
            for i, name in enumerate(["Adur", "Allerdale", "Amber Valley"], start=1):
                bar("council", i, 3, name)
            bar("index", 1, 1, "index.html")

    piped = StringIO()
    drive(RenderProgress(Console(file=piped, force_terminal=False)))
    assert piped.getvalue() == ""
    terminal = StringIO()
    drive(RenderProgress(Console(file=terminal, force_terminal=True, width=100)))
    drawn = terminal.getvalue()
    assert "Council pages" in drawn and "3/3" in drawn and "Amber Valley" in drawn
