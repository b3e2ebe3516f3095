"""Benchmark: CRA at council level on the bundled 2018 edition (21,135 rows × 5 years).

Times, best of 3:
  - read: spendmap.sources.cra.read_cra (sheet/header detection, melt, labels, units, checks)
  - population: population_for_councils for each of the edition's 5 years
  - allocation: allocate_cra for every council × department × HMT function × year at once
    (and, for information, at sub-function level)
Target: the allocation of a whole edition under 5 s. Prints a markdown section.

Run: .venv/bin/python benchmarks/bench_cra.py
"""

from __future__ import annotations

import os
import platform
import time

import pandas as pd

from spendmap.sources.cra import read_cra
from spendmap.sources.population import load_bundled_population
from spendmap.transforms.allocation import allocate_cra, conservation_checks
from spendmap.transforms.population import population_for_councils

TARGET_S = 5.0


def best_of(fn, n: int = 3):
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    t_read, cra = best_of(read_cra)
    long = cra.frame
    years = cra.years
    tables = load_bundled_population()
    t_pop, pop = best_of(lambda: pd.concat([population_for_councils(tables, fy).frame for fy in years]))
    t_alloc, alloc = best_of(lambda: allocate_cra(long, pop))
    t_sub, sub = best_of(lambda: allocate_cra(long, pop, level="subfunction"))
    checks = conservation_checks(alloc, long)
    worst = int(checks["difference_pence"].abs().max())
    lower = alloc[~alloc["is_aggregate"]]
    groups = alloc.groupby(["fy", "department", "function"]).ngroups
    verdict = "meets" if t_alloc < TARGET_S else "MISSES"
    print("## CRA at council level (benchmarks/bench_cra.py)\n")
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, pandas {pd.__version__}. Best of 3.\n"
    )
    print("| step | rows | seconds |")
    print("|---|---:|---:|")
    print(
        f"| read_cra (bundled 2018 edition, {cra.rows_read:,} rows × {len(years)} years) | "
        f"{len(long):,} cells | {t_read:.2f} |"
    )
    print(f"| population_for_councils × {len(years)} years | {len(pop):,} | {t_pop:.2f} |")
    print(f"| allocate_cra, department × function, all years | {len(alloc):,} | {t_alloc:.2f} |")
    print(f"| allocate_cra, department × function × sub-function, all years | {len(sub):,} | {t_sub:.2f} |")
    print()
    n_lower = lower["la_code"].nunique()
    n_counties = alloc["la_code"].nunique() - n_lower
    print(
        f"{n_lower} district-level councils + {n_counties}"
        f" county aggregates; {groups:,} year × department × function groups. Conservation: the largest "
        f"region difference is {worst} pence. Target: allocation under {TARGET_S:.0f} s — {verdict} "
        f"({t_alloc:.2f} s).\n"
    )


if __name__ == "__main__":
    main()
