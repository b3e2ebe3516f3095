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

