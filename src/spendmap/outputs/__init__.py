"""Rendering: tables, DuckDB, HTML pages, Sankeys and workbooks."""
