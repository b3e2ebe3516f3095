"""Benchmark: reading an NSPL-sized postcode lookup and looking a year's postcodes up in it.

Generates a synthetic file in the NSPL layout (26 columns, default 2.5 million rows: the size of the
real UK file), then times spendmap's reader against a bare pyarrow parse of the same columns (the
floor) and pandas' C engine with usecols, plus the vectorised lookup of 63,000 postcodes (one year of
the grants register) and hashing the file. Prints a markdown section.

    .venv/bin/python benchmarks/bench_fetching.py [ROWS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from spendmap.sources.fetch import sha256_of
from spendmap.sources.postcodes import directory_from_lookup, read_postcode_lookup
from spendmap.transforms.postcodes import lookup_postcodes

HEADER = (
    "pcd,pcd2,pcds,dointr,doterm,usertype,oseast1m,osnrth1m,osgrdind,oa21,cty,ced,laua,ward,nhser,ctry,"
    "rgn,pcon,ttwa,itl,npark,lsoa21,msoa21,lat,long,imd"
).split(",")
WANTED = ["pcds", "laua", "cty", "rgn", "ctry", "doterm"]


def make_file(folder: Path, rows: int) -> Path:
    rng = np.random.default_rng(7)
    letters = np.array(list("ABCDEFGHJKLMNPRSTUWYZ"))
    # Unique postcodes by construction: inward 4,410 combinations x district 1-99 x two-letter area.
    idx = np.arange(rows)
    inward = (idx % 10).astype(str).astype(object) + letters[(idx // 10) % 21] + letters[(idx // 210) % 21]
    district = ((idx // 4410) % 99 + 1).astype(str).astype(object)
    area = letters[(idx // 436590) % 21].astype(object) + letters[(idx // 9168390) % 21]
    pcds = area + district + " " + inward
    codes = lambda prefix, n: np.char.add(prefix, rng.integers(0, n, rows).astype(str).astype("U8"))  # noqa: E731
    cols = {
        "pcd": pcds, "pcd2": pcds, "pcds": pcds,
        "dointr": np.full(rows, "198001"),
        "doterm": np.where(rng.random(rows) < 0.3, "201506", ""),
        "usertype": rng.integers(0, 2, rows).astype(str),
        "oseast1m": rng.integers(100000, 600000, rows).astype(str),
        "osnrth1m": rng.integers(100000, 900000, rows).astype(str),
        "osgrdind": np.full(rows, "1"),
        "oa21": codes("E000", 99999), "cty": codes("E1000", 99), "ced": codes("E5800", 9999),
        "laua": codes("E0700", 9999), "ward": codes("E050", 99999), "nhser": codes("E4000", 99),
        "ctry": np.full(rows, "E92000001"), "rgn": codes("E1200000", 9), "pcon": codes("E1400", 9999),
        "ttwa": codes("E3000", 999), "itl": codes("E0600", 999), "npark": np.full(rows, "E65000001"),
        "lsoa21": codes("E010", 99999), "msoa21": codes("E020", 9999),
        "lat": rng.uniform(49.9, 58.7, rows).round(6).astype(str),
        "long": rng.uniform(-6.4, 1.8, rows).round(6).astype(str),
        "imd": rng.integers(1, 32844, rows).astype(str),
    }
    table = pa.table({c: pa.array(np.asarray(cols[c]).astype(str)) for c in HEADER})
    path = folder / "NSPL_bench_UK.csv"
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    return path


def timed(fn, repeat: int = 2):
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2_500_000
    with tempfile.TemporaryDirectory() as tmp:
        path = make_file(Path(tmp), rows)
        size_mb = path.stat().st_size / 1e6
        t_floor, _ = timed(
            lambda: pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    include_columns=WANTED, column_types={c: pa.string() for c in WANTED}
                ),
            ).to_pandas()
        )
        t_c, _ = timed(lambda: pd.read_csv(path, usecols=WANTED, dtype=str, engine="c"), repeat=1)
        t_ours, table = timed(lambda: read_postcode_lookup(path))
        mem_mb = table.memory_usage(deep=True).sum() / 1e6
        sample = table["postcode_key"].sample(63_000, random_state=1, replace=True)
        queries = sample.str.lower().str.slice(0, 3) + "  " + sample.str.slice(3)  # odd spacing/case
        directory = directory_from_lookup(table, str(path))
        t_lookup, got = timed(lambda: lookup_postcodes(queries.reset_index(drop=True), directory))
        assert got["postcode_status"].isin(["matched", "corrected", "no_council"]).all()
        t_hash, _ = timed(lambda: sha256_of(path), repeat=1)
    print("## Fetching and postcode lookup (bench_fetching.py)\n")
    print(f"Synthetic NSPL-layout CSV: {rows:,} rows x {len(HEADER)} columns, {size_mb:,.0f} MB; 2 CPUs.\n")
    print("| step | seconds | note |")
    print("|---|---:|---|")
    print(f"| bare pyarrow parse of the 6 needed columns (floor) | {t_floor:.2f} | |")
    print(f"| pandas C engine, usecols, dtype=str | {t_c:.2f} | for comparison |")
    print(
        f"| `read_postcode_lookup` (parse + normalise + pseudo codes + dedupe check) | {t_ours:.2f} | "
        f"{t_ours / t_floor:.2f}x the floor; table {mem_mb:,.0f} MB in memory |"
    )
    print(f"| `transforms.postcodes.lookup_postcodes`, 63,000 postcodes | {t_lookup:.2f} | searchsorted |")
    print(f"| `sha256_of` the CSV | {t_hash:.2f} | {size_mb / t_hash:,.0f} MB/s |")
    print()


if __name__ == "__main__":
    main()
