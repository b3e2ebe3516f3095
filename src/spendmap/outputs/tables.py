"""Writing the tabular outputs: CSV (formula-safe), parquet and the DuckDB database."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from spendmap.outputs.safe import neutralise_frame


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """CSV for people and spreadsheets: text cells that could run as formulas are neutralised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_frame(df).to_csv(path, index=False, encoding="utf-8")
    return path


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    """Parquet keeps values exactly as computed (it is for code, not spreadsheets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    return path


def write_duckdb(tables: Mapping[str, pd.DataFrame | Path], path: Path) -> Path:
    """One DuckDB file holding every table, replaced whole. A table given as a parquet file's path is
    read by DuckDB from disk (a million awards never pass through pandas)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    with duckdb.connect(str(path)) as con:
        for name, df in tables.items():
            if isinstance(df, Path):
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM read_parquet(?)', [str(df)])
                continue
            con.register("frame_to_copy", df)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame_to_copy')
            con.unregister("frame_to_copy")
    return path


def write_json(data: object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
