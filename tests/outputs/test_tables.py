import duckdb
import pandas as pd

from spendmap.outputs.tables import write_csv, write_duckdb, write_parquet


def test_csv_neutralised_parquet_exact_duckdb_queryable(tmp_path):
    df = pd.DataFrame({"recipient_name": ["=cmd|' /C calc'!A0", "Age UK"], "amount_gbp": [-1.5, 2.0]})
    write_csv(df, tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv")["recipient_name"].iloc[0] == "'=cmd|' /C calc'!A0"
    write_parquet(df, tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet")["recipient_name"].iloc[0] == "=cmd|' /C calc'!A0"
    db = tmp_path / "x.duckdb"
    write_duckdb({"awards": df}, db)
    write_duckdb({"awards": df.head(1)}, db)  # replaced whole, not appended
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*), sum(amount_gbp) from awards").fetchone() == (1, -1.5)


def test_run_summary_and_progress_lines(tmp_path):
    from io import StringIO

    from rich.console import Console

    from spendmap.outputs.terminal import RenderProgress, run_summary

    manifest = {
        "financial_years": ["2016-17"],
        "geo_methods": {
            "council_match": {"awards": 450, "amount_gbp": 1_401_665_589.0},
            "postcode": {"awards": 0, "amount_gbp": 0.0},
            "unresolved": {"awards": 2_901, "amount_gbp": 2_519_321_144.0},
        },
    }
    text = run_summary(manifest, tmp_path, 382)
    assert text.splitlines()[0] == (
        "Read 3,351 awards (£3.9bn) for 2016-17; placed 450 (13%, £1.4bn) in a council, 2,901 not placed."
    )
    assert f"Open {tmp_path.resolve() / 'index.html'}" in text
    buffer = StringIO()
    with RenderProgress(Console(file=buffer, force_terminal=False), every=2) as bar:
        for i, name in enumerate(["Adur", "Allerdale", "Amber Valley"], start=1):
            bar("council", i, 3, name)
        bar("index", 1, 1, "index.html")
    assert buffer.getvalue().splitlines() == [
        "Council pages: 2 of 3 written (last: Allerdale)",
        "Council pages: 3 of 3 written (last: Amber Valley)",
        "Wrote index.html",
    ]
