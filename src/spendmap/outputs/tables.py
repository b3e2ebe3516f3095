"""Writing the tabular outputs: CSV (formula-safe), parquet and the DuckDB database."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from spendmap.outputs.safe import FORMULA_SQL
from spendmap.schemas import TABLE_DESCRIPTIONS, column_description


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """CSV for people and spreadsheets, written by DuckDB (`COPY … TO`): text cells that could run as
    formulas are neutralised by one SQL macro (`safe.FORMULA_SQL`, made from the prefixes
    `neutralise_frame` uses). Every cell reads as pandas' `to_csv` wrote it (True/False, a date without
    its time when every value is midnight, empty for missing); only where quotes go may differ (a text
    holding a carriage return is quoted, so it no longer splits its row)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not len(df.columns):  # as pandas writes a frame without columns
        path.write_text("\n" * (len(df) + 1), encoding="utf-8")
        return path
    position = "_row_" + "_".join(map(str, df.columns))  # a name no column has
    with duckdb.connect() as con:
        # Rows go out in the frame's order: DuckDB keeps it for some projections and not for others,
        # so it is stated.
        con.register("frame_to_export", df.assign(**{position: np.arange(len(df))}))
        con.execute(FORMULA_SQL)
        types = con.execute("SELECT column_name, column_type FROM (DESCRIBE frame_to_export)").fetchall()
        select = ", ".join(_csv_cell(con, name, kind) for name, kind in types if name != position)
        con.execute(f'COPY (SELECT {select} FROM frame_to_export ORDER BY "{position}") '
                    f"TO {_quote(str(path))} (HEADER, DELIMITER ',', NULL '')")
    return path


def _csv_cell(con: duckdb.DuckDBPyConnection, name: str, kind: str) -> str:
    """The SELECT item exporting one column as pandas' to_csv writes its cells."""
    ref = '"' + name.replace('"', '""') + '"'
    if kind == "BOOLEAN":
        return f"CASE WHEN {ref} THEN 'True' WHEN NOT {ref} THEN 'False' END AS {ref}"
    if kind.startswith("TIMESTAMP") or kind == "DATE":
        (midnight,) = con.execute(
            f"SELECT coalesce(bool_and({ref} = date_trunc('day', {ref})), true) FROM frame_to_export"
        ).fetchone()
        return f"strftime({ref}, '{'%Y-%m-%d' if midnight else '%Y-%m-%d %H:%M:%S'}') AS {ref}"
    if kind in ("DOUBLE", "FLOAT"):
        return f"CASE WHEN isnan({ref}) THEN NULL ELSE {ref} END AS {ref}"
    if kind == "VARCHAR":
        return f"neutralised({ref}) AS {ref}"
    return ref


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    """Parquet keeps values exactly as computed (it is for code, not spreadsheets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return path


# Views analysts ask for: (name, description, the tables it needs, SQL).
VIEWS = [
    (
        "council_profile",
        "Per council and year: type, region, awards, schemes, recipients, GBP placed, the population the "
        "CRA allocation used and grants GBP per head (only placed awards count).",
        ("councils", "place_summary", "cra_allocation"),
        """
        SELECT c.la_code, c.la_name, c.la_type_name, c.tier, c.region_name, c.nation, p.fy,
               p.n_awards, p.n_schemes, p.n_recipients, p.total_gbp, pop.population,
               p.total_gbp / NULLIF(pop.population, 0) AS grants_per_head_gbp
        FROM councils c
        JOIN place_summary p USING (la_code)
        LEFT JOIN (SELECT la_code, fy, max(population) AS population FROM cra_allocation GROUP BY ALL) pop
          ON pop.la_code = p.la_code AND pop.fy = p.fy
        """,
    ),
    (
        "awards_by_council_department",
        "Placed awards per council, year and department: number of awards and GBP.",
        ("awards",),
        """
        SELECT la_code, la_name, fy, department, count(*) AS n_awards, sum(amount_gbp) AS total_gbp
        FROM awards WHERE la_code IS NOT NULL GROUP BY ALL
        """,
    ),
    (
        "unplaced_by_reason_department",
        "Unplaced awards per year, department and reason: number of awards and GBP.",
        ("unplaced",),
        """
        SELECT fy, department, unplaced_reason, reason, count(*) AS n_awards, sum(amount_gbp) AS total_gbp
        FROM unplaced GROUP BY ALL
        """,
    ),
]
VIEW_COLUMNS = {"grants_per_head_gbp": "GBP placed in the council per head of its population."}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_duckdb(tables: Mapping[str, pd.DataFrame | Path], path: Path) -> Path:
    """One DuckDB file holding every table, replaced whole (a table given as a parquet file's path is
    read by DuckDB from disk, and stored in no set row order: a million awards never pass through
    pandas); every table and column
    carries a COMMENT (schemas.TABLE_DESCRIPTIONS / COLUMN_DESCRIPTIONS), plus the analysts' VIEWS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    with duckdb.connect(str(path)) as con:
        con.execute("BEGIN")  # one transaction: hundreds of COMMENT statements, one commit
        for name, df in tables.items():
            if isinstance(df, Path):
                # A large table read from disk is stored in no particular row order: kept in order,
                # a million awards took 5.4 s and 210 MB; unordered, 2.9 s and 112 MB (RESULTS.md).
                # Analysts order by input_id, source_sheet, source_row for the registers' order.
                con.execute("SET preserve_insertion_order = false")
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM read_parquet(?)', [str(df)])
                con.execute("SET preserve_insertion_order = true")
            else:
                con.register("frame_to_copy", df)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame_to_copy')
                con.unregister("frame_to_copy")
            con.execute(f'COMMENT ON TABLE "{name}" IS {_quote(TABLE_DESCRIPTIONS.get(name, name))}')
            columns = [c for (c,) in con.execute(f'SELECT column_name FROM (DESCRIBE "{name}")').fetchall()]
            for col in columns:
                text = column_description(name, str(col)) or f"{col} (no description declared)"
                con.execute(f'COMMENT ON COLUMN "{name}"."{col}" IS {_quote(text)}')
        con.execute("COMMIT")
        for view, text, needs, sql in VIEWS:
            if not all(t in tables for t in needs):
                continue
            con.execute("BEGIN")
            try:
                con.execute(f'CREATE VIEW "{view}" AS {sql}')
            except duckdb.BinderException:  # a partial table (tests, a bare export) lacks the view's columns
                con.execute("ROLLBACK")
                continue
            con.execute(f'COMMENT ON VIEW "{view}" IS {_quote(text)}')
            for (col,) in con.execute(f'SELECT column_name FROM (DESCRIBE "{view}")').fetchall():
                desc = VIEW_COLUMNS.get(col) or column_description(view, col) or col
                con.execute(f'COMMENT ON COLUMN "{view}"."{col}" IS {_quote(desc)}')
            con.execute("COMMIT")
    return path


def write_json(data: object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
