"""The analyses written as SQL: one named .sql file per query, its first line saying what it computes.

`run(name, tables, **params)` runs `queries/<name>.sql` in an in-memory DuckDB over the given pandas or
Arrow tables (registered by name, never copied into the database) and returns a pandas frame; `$name`
parameters are bound, never spliced into the text. A query that builds on another's definition says so
in a `-- Uses: name` line (award_flags.sql: the small-award test, one definition for every query that
counts small awards). The files ship inside the package, so an analyst can read the method where it runs.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import pandas as pd


@cache
def sql(name: str) -> str:
    """The text of queries/<name>.sql."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def uses(name: str) -> list[str]:
    """The queries queries/<name>.sql builds on (its `-- Uses: a, b` line): macros defined first."""
    for line in sql(name).splitlines():
        if line.startswith("-- Uses:"):
            return [u.strip() for u in line.removeprefix("-- Uses:").split(",") if u.strip()]
    return []


def run(name: str, tables: dict[str, Any], **params: Any) -> pd.DataFrame:
    """queries/<name>.sql over `tables` (name -> DataFrame or Arrow table), with `params` bound."""
    import duckdb

    with duckdb.connect() as con:
        for table, frame in tables.items():
            con.register(table, frame)
        for macro in uses(name):
            con.execute(sql(macro))
        return con.execute(sql(name), params).df()
