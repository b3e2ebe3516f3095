"""Time rendering the whole output folder for every council, on deterministic synthetic data.

Run: .venv/bin/python benchmarks/bench_render.py [--awards 63669]
Prints a markdown section (for benchmarks/RESULTS.md): seconds, files, and the folder's total size.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from spendmap import schemas
from spendmap.outputs.site import RunContext, SiteTables, render_site
from spendmap.sources.councils import load_councils
from spendmap.transforms.profiles import place_summary
from spendmap.transforms.profiles import small_grants as small_grants_table

DEPARTMENTS = ["DfT", "MoJ", "DLUHC", "DHSC", "DfE", "DWP", "BEIS", "DCMS", "HO", "DEFRA", "CO", "HMT"]
FUNCTIONS = [
    "Transport",
    "Health",
    "Social protection",
    "Education and training",
    "Public order and safety",
    "Housing and community amenities",
    "Economic affairs",
    "Environment protection",
    "Recreation, culture and religion",
    "General public services",
]


def synthetic_tables(n_awards: int, seed: int = 2016) -> SiteTables:
    """Awards spread over every council with a skewed (Zipf-like) distribution, like the real register."""
    rng = np.random.default_rng(seed)
    councils = load_councils()
    codes = councils["la_code"].to_numpy()
    weights = 1.0 / np.arange(1, len(codes) + 1) ** 0.8
    weights /= weights.sum()
    la = rng.choice(codes, size=n_awards, p=weights)
    dept = rng.choice(
        DEPARTMENTS,
        size=n_awards,
        p=np.linspace(3, 1, len(DEPARTMENTS)) / np.linspace(3, 1, len(DEPARTMENTS)).sum(),
    )
    scheme_no = rng.integers(0, 60, size=n_awards)
    recipient_no = (rng.pareto(1.2, size=n_awards) * 40).astype(int) % 5000
    amount = np.round(rng.lognormal(10.5, 1.8, size=n_awards), 2)
    is_council = rng.random(n_awards) < 0.05
    names = councils.set_index("la_code")["la_name"]
    awards = pd.DataFrame(
        {
            "award_id": [f"GB-GOV-SYN-{i:06d}" for i in range(n_awards)],
            "fy": "2016-17",
            "department": dept,
            "department_raw": dept,
            "scheme_code": [f"{d}-{s:03d}" for d, s in zip(dept, scheme_no, strict=True)],
            "scheme_title": [f"{d} programme {s}" for d, s in zip(dept, scheme_no, strict=True)],
            "title": "Grant award",
            "recipient_id": [f"GB-CHC-{r:07d}" for r in recipient_no],
            "recipient_name": [f"Recipient organisation number {r}" for r in recipient_no],
            "recipient_postcode": "AB1 2CD",
            "is_redacted": False,
            "is_council_recipient": is_council,
            "la_code": la,
            "la_name": pd.Series(la).map(names).to_numpy(),
            "geo_method": "postcode",
            "amount_gbp": amount,
            "award_date": pd.Timestamp("2016-07-01"),
            "policy_area": "transport",
            "source_file": "synthetic.xlsx",
            "source_sheet": "Awards",
            "source_row": np.arange(n_awards) + 2,
        }
    )
    awards = schemas.conform_awards(awards)
    # The analytics step's own functions shape place_summary and small_grants.
    ps = place_summary(awards, councils, fys=["2016-17"])
    small_grants = small_grants_table(awards, councils, fys=["2016-17"])
    dup = ps[ps["n_awards"] > 50][["la_code", "la_name", "fy"]].assign(
        policy_area="transport",
        kind="cross_department",
        departments="DfT; DLUHC",
        n_departments=2,
        schemes="DfT programme 1; DLUHC programme 2",
        n_schemes=2,
        recipients="Recipient organisation number 1",
        n_recipients=1,
        n_awards=5,
        total_gbp=250_000.0,
    )
    pop = councils.set_index("la_code")["population_2020"].fillna(100_000)
    combos = [(d, f) for d in DEPARTMENTS for f in FUNCTIONS if rng.random() < 0.35]
    cra = pd.DataFrame(
        [(c, d, f) for c in codes for d, f in combos], columns=["la_code", "department", "function"]
    )
    cra["fy"], cra["la_name"], cra["region"] = "2016-17", cra["la_code"].map(names), "Synthetic region"
    cra["population"] = cra["la_code"].map(pop)
    cra["region_population"] = 5_000_000
    cra["region_per_head_gbp"] = rng.uniform(5, 900, size=len(cra))
    cra["allocated_gbp"] = cra["region_per_head_gbp"] * cra["population"]
    cra["per_head_gbp"] = cra["region_per_head_gbp"]
    cra["england_per_head_gbp"] = cra["region_per_head_gbp"] * 1.05
    cra["is_aggregate"] = False
    return SiteTables(
        councils=councils,
        awards=awards,
        place_summary=ps[schemas.PLACE_SUMMARY_COLUMNS],
        small_grants=small_grants,
        duplication=dup,
        cra_allocation=cra,
    )


def _time(tables: SiteTables, context: RunContext, workers: int):
    out = Path(tempfile.mkdtemp(prefix="bench_render_"))
    try:
        start = time.perf_counter()
        if workers > 1:  # as a Dask cluster of worker processes would: jobs pickled to other processes
            with ProcessPoolExecutor(max_workers=workers) as pool:
                result = render_site(out, tables, context, places=None, map_councils=pool.map)
        else:
            result = render_site(out, tables, context, places=None)
        seconds = time.perf_counter() - start
        plotly_js = (out / "assets" / "plotly.min.js").stat().st_size
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return result, seconds, plotly_js


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--awards", type=int, default=63_669)  # the size of a modern yearly register
    args = parser.parse_args()
    tables = synthetic_tables(args.awards)
    context = RunContext(fy="2016-17", sources=[{"name": "synthetic", "kind": "grants", "licence": "n/a"}])
    result, seconds, plotly_js = _time(tables, context, 2)
    _, seconds_1, _ = _time(tables, context, 1)
    print("## Rendering the output folder (bench_render.py)\n")
    print(
        f"Synthetic, deterministic data: {args.awards:,} awards over {len(result.profiles)} councils, "
        f"{len(tables.cra_allocation):,} CRA rows; {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}; other jobs were sharing the machine.\n"
    )
    print("| what | value |\n|---|---|")
    print(f"| councils rendered (profile, 2 Sankeys, CSV, workbook each) | {len(result.profiles)} |")
    print(f"| wall time, whole folder, 2 worker processes | {seconds:.1f} s (target < 60 s) |")
    print(f"| wall time, whole folder, one process | {seconds_1:.1f} s |")
    print(f"| files written | {result.n_files:,} |")
    print(
        f"| total folder size | {result.bytes_written / 1e6:.1f} MB (plotly.min.js once: "
        f"{plotly_js / 1e6:.1f} MB) |"
    )
    print(f"| mean per council (2 processes) | {1000 * seconds / max(1, len(result.profiles)):.0f} ms |")


if __name__ == "__main__":
    main()
