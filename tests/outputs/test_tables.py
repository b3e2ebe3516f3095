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



def test_duckdb_comments_every_table_and_column_and_has_the_views(tmp_path):
    from spendmap.sources.councils import load_councils
    from spendmap.transforms.geography import unplaced_table

    from .conftest import make_tables

    t = make_tables()
    lost = t.awards.head(2).assign(la_code=pd.NA, la_name=pd.NA, geo_method="unresolved",
                                   unplaced_reason="no_postcode", award_id=["U1", "U2"])
    t.awards = pd.concat([t.awards, lost], ignore_index=True)
    tables = {
        "awards": t.awards, "councils": load_councils(), "place_summary": t.place_summary,
        "small_grants": t.small_grants, "duplication": t.duplication, "cra_allocation": t.cra_allocation,
        "unplaced": unplaced_table(t.awards), "odd": pd.DataFrame({"what's this": [1]}),
    }
    db = tmp_path / "x.duckdb"
    write_duckdb(tables, db)
    with duckdb.connect(str(db), read_only=True) as con:
        comments = dict(con.execute(
            "select table_name, comment from duckdb_tables() union all "
            "select view_name, comment from duckdb_views() where not internal"
        ).fetchall())
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() where not internal"
        ).fetchall()
        assert set(comments) == {*tables, "council_profile", "awards_by_council_department",
                                 "unplaced_by_reason_department"}
        assert all(comments.values()), [k for k, v in comments.items() if not v]
        assert comments["odd"] == "odd"
        assert all(c for _, _, c in columns)
        # Every column of spendmap's own tables is described; an unknown one says it is not.
        undescribed = [(t_, c) for t_, c, text in columns if "no description" in text]
        assert undescribed == [("odd", "what's this")]
        small_n = next(c for t_, col, c in columns if (t_, col) == ("small_grants", "n_awards"))
        assert small_n.startswith("Awards tested against the threshold")
        # The views: Wakefield's profile with type, region and per head; awards by department; unplaced.
        row = con.execute(
            "select la_type_name, region_name, n_awards, total_gbp, "
            "grants_per_head_gbp = total_gbp / population from council_profile where la_name = 'Wakefield'"
        ).fetchone()
        assert row == ("Metropolitan district", "Yorkshire and The Humber", 16, 3_723_500.0, True)
        by_dept = con.execute("select sum(n_awards) from awards_by_council_department").fetchone()[0]
        placed = int(t.awards["la_code"].notna().sum())
        assert by_dept == placed
        unplaced = con.execute("select sum(n_awards) from unplaced_by_reason_department").fetchone()[0]
        assert unplaced == len(t.awards) - placed == 2


def _cells(path):
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_csv_export_reads_as_pandas_wrote_it_in_row_order_and_formula_safe(tmp_path):
    """The COPY export against the previous pandas writer (neutralise, then to_csv): every cell the
    same text, rows in the frame's order even over 200,000 rows (DuckDB does not keep it for every
    projection by itself), and a text holding a carriage return stays in its row."""
    import numpy as np

    from spendmap.outputs.safe import neutralise_frame

    texts = ["=cmd|' /C calc'!A0", "+1", "-x", "@SUM(A1)", "\tTab", "ok", None, 'say "hi"', "a, b",
             "two\nlines", "£ ünï", "", " =spaced", "#tag", "'quoted"]
    n = len(texts)
    df = pd.DataFrame({
        "name": pd.array(texts, dtype="string"),
        "amount": [1.0, np.nan, 1e-05, 3.0, -0.0, 1e20, 123456789.123, 0.1, 2.5, 1 / 3, 7.0, -8.5, 9.0, 10.0,
                   11.0],
        "flag": pd.array([True, False, None] * 5, dtype="boolean"),
        "plain_flag": [True, False, True] * 5,
        "count": pd.array([1, None] + list(range(n - 2)), dtype="Int64"),
        "day": pd.to_datetime(["2016-05-01", None] + ["2017-01-31"] * (n - 2)),
        "moment": pd.to_datetime(["2016-05-01 10:30:00", None] + ["2017-01-31 00:00:00"] * (n - 2)),
    })
    write_csv(df, tmp_path / "new.csv")
    neutralise_frame(df).to_csv(tmp_path / "old.csv", index=False)
    assert _cells(tmp_path / "new.csv") == _cells(tmp_path / "old.csv")
    assert _cells(tmp_path / "new.csv")[1][0] == "'=cmd|' /C calc'!A0"

    many = pd.DataFrame({"id": pd.array([f"A-{i}" for i in range(200_000)], dtype="string"),
                         "kind": pd.array(["=x", "y"] * 100_000, dtype="string")})
    rows = _cells(write_csv(many, tmp_path / "many.csv"))
    assert [r[0] for r in rows[1:]] == many["id"].tolist() and rows[1][1] == "'=x"

    carriage = pd.DataFrame({"name": pd.array(["\rstarts", "in\rside", "next"], dtype="string")})
    assert _cells(write_csv(carriage, tmp_path / "cr.csv")) == [["name"], ["'\rstarts"], ["in\rside"],
                                                                  ["next"]]
