"""docs/outputs.md is generated from the catalog, which declares every file a real run publishes."""

import csv
import json
import re
from pathlib import Path

import duckdb
import markupsafe
import pytest

from spendmap import catalog, schemas
from spendmap.manifest import listed_outputs
from spendmap.outputs.outputs_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "outputs.md"


def test_the_document_is_what_the_generator_writes():
    assert DOC.read_text(encoding="utf-8") == render(), "run `python -m spendmap.outputs.outputs_doc`"


def test_every_published_file_is_a_row_with_its_format_and_columns_and_nothing_links_outside():
    text = render()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [d.path for d in catalog.PUBLISHED]
    for dataset, row in zip(catalog.PUBLISHED, rows, strict=True):
        assert row.split(" | ")[1] == dataset.format
        assert dataset.description in row
        if dataset.columns and dataset is not catalog.AWARDS:
            assert f"Columns: `{', '.join(dataset.columns)}`" in row
    assert ", ".join(schemas.AWARD_DTYPES) in text  # the awards' own section
    duckdb_row = rows[catalog.PUBLISHED.index(catalog.DUCKDB)]
    assert "local_spend" in duckdb_row and "council_profile" in duckdb_row
    assert not re.search(r"https?://|\.\./", text)


@pytest.mark.parametrize(("relative", "name"), [
    ("place_summary.csv", "place_summary_csv"),
    ("trends.csv", "trends_csv"),
    ("councils/wakefield/index.html", "council_page"),
    ("councils/city-of-london/city-of-london_grant_profile.xlsx", "council_workbook"),
    ("assets/plotly.min.js", "assets"),
    ("search/unplaced.js", "search_unplaced_js"),
    # Undeclared: a file of no dataset, also inside the councils folder (whose files are declared one
    # by one, so the folder itself claims none) and one folder too deep.
    ("notes.csv", None),
    ("councils/wakefield/notes.txt", None),
    ("councils/wakefield/extra/index.html", None),
    ("awards.parquet.tmp", None),
])
def test_a_file_is_the_published_dataset_its_path_matches(relative, name):
    found = catalog.published(relative)
    assert (found.name if found else None) == name


@pytest.mark.flow
def test_a_real_run_publishes_only_declared_files_with_their_declared_columns(bundled_run):
    files = sorted(p.relative_to(bundled_run).as_posix() for p in bundled_run.rglob("*") if p.is_file())
    undeclared = [f for f in files if catalog.published(f) is None]
    assert not undeclared, f"declare these in spendmap.catalog (PUBLISHED): {undeclared[:10]}"
    for export in catalog.CSV_EXPORTS:
        path = export.at(bundled_run)
        if export.name == "trends_csv":  # one year: no trends
            assert not path.exists()
            continue
        with path.open(encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        assert header[: len(export.columns)] == list(export.columns), export.path
    with catalog.REJECTS.at(bundled_run).open(encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == list(catalog.REJECTS.columns)
    with duckdb.connect(str(catalog.DUCKDB.at(bundled_run)), read_only=True) as con:
        tables = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    assert sorted(tables) == sorted(t for t in catalog.DUCKDB_TABLES if t != "trends")
    manifest = json.loads(catalog.MANIFEST.at(bundled_run).read_text(encoding="utf-8"))
    assert manifest["outputs"] == listed_outputs(bundled_run)
    assert list(manifest["outputs"]) == [
        "awards.parquet", "rejects.csv", *(d.path for d in catalog.CSV_EXPORTS if d.name != "trends_csv"),
        "spendmap.duckdb", "index.html", "councils/", "search.html", "search/awards.js", "assets/"]
    assert manifest["outputs"]["councils/"] == "382 council folders"
    assert manifest["outputs"]["assets/"] == f"{sum(1 for _ in (bundled_run / 'assets').iterdir())} files"
    # The index links every table the run wrote, each with the catalog's line for it.
    index = catalog.INDEX_HTML.at(bundled_run).read_text(encoding="utf-8")
    for d in catalog.INDEX_DOWNLOADS:
        assert (f'href="{d.path}"' in index) == d.at(bundled_run).exists(), d.path
        assert d.link and (str(markupsafe.escape(d.link)) in index) == d.at(bundled_run).exists(), d.path
