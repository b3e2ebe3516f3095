"""The award table as layers: the labelled awards, then one narrow parquet per step that adds columns.

Placing and classifying each write only the columns they set (`schemas.PLACEMENT_COLUMNS`,
`schemas.CLASSIFICATION_COLUMNS`) beside each award's `award_id`, instead of rewriting a million awards'
fifty-odd columns; a later step reads the columns it needs from whichever layer holds them
(`read_awards(layers, columns)`), and the published `awards.parquet` is the layers put side by side
(`write_awards`). Every layer holds the same awards in the same order, which `read_awards` checks by their
award ids; where two layers hold a column, the later one's values are the current ones (placing sets
`la_code`, empty in the labelled awards).

`layers` is always a list of parquet paths, the labelled awards first. The pipeline builds it from the
steps' results of this run: a step's cached result names only its own layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from spendmap.schemas import AWARD_DTYPES, AWARD_EXTRA_DTYPES

KEY = "award_id"
BATCH_ROWS = 128_000  # rows per slice when writing the whole table: memory stays a few slices


def write_layer(awards: pd.DataFrame, columns: Sequence[str], path: Path) -> Path:
    """`award_id` and `columns` of `awards` (cast to their canonical dtypes) as one layer's parquet."""
    dtypes = {**AWARD_DTYPES, **AWARD_EXTRA_DTYPES}
    layer = awards[[KEY, *columns]]
    differ = {c: dtypes[c] for c in layer.columns if c in dtypes and str(layer[c].dtype) != dtypes[c]}
    layer = layer.astype(differ)
    path.parent.mkdir(parents=True, exist_ok=True)
    layer.to_parquet(path, index=False)
    return path


def read_awards(layers: Sequence[str | Path], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The awards with `columns` (None: every column, in awards.parquet's order), each from the last
    layer holding it. Raises RuntimeError when the layers do not hold the same awards in one order (a
    bug: a layer from another run's awards)."""
    return _merged(layers, columns).to_pandas()


def award_columns(layers: Sequence[str | Path]) -> list[str]:
    """Every column the layers hold together, in awards.parquet's order."""
    return _order([pq.read_schema(p) for p in layers])


def write_awards(layers: Sequence[str | Path], path: Path) -> Path:
    """The whole award table (every column, awards.parquet's order and pandas dtypes) written from the
    layers a slice at a time, so a million awards are never in memory at once."""
    schemas = [pq.read_schema(p) for p in layers]
    columns = _order(schemas)
    owners = _owners(schemas, columns)
    schema = _schema(schemas, owners, columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema) as writer:
        for batches in _slices(layers, owners):
            writer.write_table(_side_by_side(batches, owners, columns, schema))
    _check_rows(layers, path)
    return path


def _order(schemas: list[pa.Schema]) -> list[str]:
    """The canonical columns first (schemas' order), then the others as the layers first hold them."""
    seen: list[str] = []
    for schema in schemas:
        seen += [c for c in schema.names if c not in seen]
    canonical = [c for c in {**AWARD_DTYPES, **AWARD_EXTRA_DTYPES} if c in seen]
    return canonical + [c for c in seen if c not in canonical]


def _owners(schemas: list[pa.Schema], columns: Sequence[str]) -> dict[str, int]:
    """column -> the index of the last layer holding it (award_id: the first)."""
    owners = {}
    for column in columns:
        holders = [i for i, s in enumerate(schemas) if column in s.names]
        if not holders:
            raise KeyError(f"no award layer holds the column {column!r}")
        owners[column] = holders[0] if column == KEY else holders[-1]
    return owners


def _schema(schemas: list[pa.Schema], owners: dict[str, int], columns: Sequence[str]) -> pa.Schema:
    """The merged table's schema, with pandas metadata taken column by column from the owning layer,
    so pandas reads each column back with the dtype its step wrote."""
    described = {}
    for i, schema in enumerate(schemas):
        meta = json.loads((schema.metadata or {}).get(b"pandas", b"{}") or b"{}")
        for entry in meta.get("columns", []):
            if owners.get(entry["name"]) == i:
                described[entry["name"]] = entry
    first = json.loads((schemas[0].metadata or {}).get(b"pandas", b"{}") or b"{}")
    pandas_meta = {**first, "index_columns": [], "column_indexes": [],
                   "columns": [described[c] for c in columns if c in described]}
    fields = [schemas[owners[c]].field(c) for c in columns]
    return pa.schema(fields, metadata={b"pandas": json.dumps(pandas_meta).encode()})


def _merged(layers: Sequence[str | Path], columns: Sequence[str] | None) -> pa.Table:
    schemas = [pq.read_schema(p) for p in layers]
    wanted = list(columns) if columns is not None else _order(schemas)
    owners = _owners(schemas, wanted)
    tables = []
    for i, layer in enumerate(layers):
        mine = [c for c in wanted if owners[c] == i]
        if i and not mine:
            continue  # a layer contributing nothing is not read (its rows were checked when written)
        tables.append((i, pq.read_table(layer, columns=list(dict.fromkeys([KEY, *mine])))))
    base = tables[0][1]
    for i, table in tables[1:]:
        _check_aligned(base, table, layers[0], layers[i])
    by_column = {c: t.column(c) for i, t in tables for c in t.column_names if owners.get(c) == i}
    return pa.Table.from_arrays([by_column[c] for c in wanted], schema=_schema(schemas, owners, wanted))


def _slices(layers: Sequence[str | Path], owners: dict[str, int]) -> Iterator[list[pa.RecordBatch | None]]:
    """The layers' batches of BATCH_ROWS rows, side by side (None for a layer contributing nothing)."""
    iterators = []
    for i, layer in enumerate(layers):
        mine = [c for c, owner in owners.items() if owner == i]
        iterators.append(
            pq.ParquetFile(layer).iter_batches(
                batch_size=BATCH_ROWS, columns=list(dict.fromkeys([KEY, *mine])))
            if mine or i == 0 else None)
    while True:
        batches = [next(it, None) if it is not None else None for it in iterators]
        if batches[0] is None:
            if any(b is not None for b in batches):
                raise RuntimeError(f"award layers of unequal length: {[str(p) for p in layers]}")
            return
        yield batches


def _side_by_side(batches: list[pa.RecordBatch | None], owners: dict[str, int], columns: Sequence[str],
                  schema: pa.Schema) -> pa.Table:
    base = batches[0]
    for i, batch in enumerate(batches[1:], start=1):
        if batch is None or batch.num_rows != base.num_rows or not batch.column(KEY).equals(base.column(KEY)):
            raise RuntimeError(f"award layer {i} does not hold the labelled awards in their order")
    return pa.Table.from_arrays([batches[owners[c]].column(c) for c in columns], schema=schema)


def _check_aligned(base: pa.Table, table: pa.Table, base_path: str | Path, path: str | Path) -> None:
    if table.num_rows != base.num_rows or not table.column(KEY).equals(base.column(KEY)):
        raise RuntimeError(f"the award layer {path} does not hold the awards of {base_path} in their order")


def _check_rows(layers: Sequence[str | Path], path: Path) -> None:
    rows = {pq.ParquetFile(p).metadata.num_rows for p in [*layers, path]}
    if len(rows) != 1:
        raise RuntimeError(f"award layers and {path} hold different numbers of awards: {sorted(rows)}")
