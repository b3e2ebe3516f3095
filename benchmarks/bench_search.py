"""Weight and load time of the award finder (search.html) at 63,669 awards, and its per-council split.

Run: .venv/bin/python benchmarks/bench_search.py [--awards 63669] [--split-awards 630000]
Prints a markdown section (for benchmarks/RESULTS.md): the data files' size, the time to write them,
and in headless Chromium (file://, no network) the time until the finder is ready and a search's time.
Deterministic synthetic awards (bench_render.synthetic_tables) with titles as long as the real register's
(37 characters on average) and one in ten awards unplaced.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_render import synthetic_tables  # noqa: E402

from spendmap.outputs.search_page import (  # noqa: E402
    COUNCIL_DATA,
    chunk,
    finder_frame,
    write_chunk,
    write_search,
)
from spendmap.outputs.site import RunContext, _copy_assets, council_slugs  # noqa: E402
from spendmap.transforms.page_figures import council_search_names  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CTX = asdict(RunContext(fy="2016-17"))


def awards_like_the_register(n: int) -> pd.DataFrame:
    awards = synthetic_tables(n).awards.copy()
    rng = np.random.default_rng(19)
    words = ["Bus Service Operators Grant", "Local Transport Plan", "Victims Services", "Cycle Ambition",
             "Legal Aid Pilot", "Highways Maintenance Block", "Community Transport", "Safer Roads Fund"]
    awards["title"] = [f"{words[i % len(words)]} 2016/17 award {k}" for i, k in
                       enumerate(rng.integers(1, 9_999, size=n))]
    lost = rng.random(n) < 0.1
    awards.loc[lost, ["la_code", "la_name"]] = pd.NA
    awards.loc[lost, "unplaced_reason"] = "no_postcode"
    return awards


def council_meta(slugs: dict[str, str], councils: pd.DataFrame) -> dict[str, list]:
    names = council_search_names()
    info = councils.set_index("la_code")
    return {code: [info.at[code, "la_name"], info.at[code, "region_name"], f"councils/{slug}/index.html",
                   names.get(code, [])] for code, slug in slugs.items()}


def write_data(out: Path, awards: pd.DataFrame, single_file_max: int) -> tuple[float, dict[str, int]]:
    """Every council's awards_data.js and search.html + its data; (seconds, bytes by kind)."""
    councils = synthetic_tables(10).councils
    slugs = council_slugs(councils)
    meta = council_meta(slugs, councils)
    _copy_assets(out)
    start = time.perf_counter()
    sizes = {"council files": 0, "largest council file": 0}
    finder = finder_frame(awards)  # as render_site does: once, then a slice per council
    for code, rows in finder[finder["la_code"] != ""].groupby("la_code"):
        path = write_chunk(out / "councils" / slugs[code] / COUNCIL_DATA, chunk(rows, {code: meta[code]}))
        sizes["council files"] += path.stat().st_size
        sizes["largest council file"] = max(sizes["largest council file"], path.stat().st_size)
    write_search(out, CTX, finder, meta, slugs, single_file_max=single_file_max)
    seconds = time.perf_counter() - start
    for name in ("awards.js", "unplaced.js"):
        if (out / "search" / name).exists():
            sizes[f"search/{name}"] = (out / "search" / name).stat().st_size
    sizes["search.html"] = (out / "search.html").stat().st_size
    return seconds, sizes


def browser_times(url: str, query: str, repeats: int = 3) -> tuple[float, float, float]:
    """(ms until the finder is ready, ms of one search, peak JS heap MB) in headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--enable-precise-memory-info"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    loads, searches, heap = [], [], 0.0
    try:
        for _ in range(repeats):
            driver.get("about:blank")
            driver.get(url)
            end = time.time() + 300
            while driver.execute_script("return document.body.getAttribute('data-finder')") != "ready":
                if time.time() > end:
                    raise TimeoutError(url)
                time.sleep(0.02)
            loads.append(driver.execute_script("return performance.now()"))
            searches.append(driver.execute_script(
                "const b = document.getElementById('f-q'), t = performance.now(); b.value = arguments[0];"
                "b.dispatchEvent(new Event('input', {bubbles: true})); return performance.now() - t;", query))
            heap = max(heap, driver.execute_script("return performance.memory.usedJSHeapSize") / 1e6)
    finally:
        driver.quit()
    return statistics.median(loads), statistics.median(searches), heap


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--awards", type=int, default=63_669)
    parser.add_argument("--split-awards", type=int, default=630_000)
    args = parser.parse_args()
    rows = []
    for n, single_max in ((args.awards, 150_000), (args.split_awards, 150_000)):
        out = Path(tempfile.mkdtemp(prefix="bench_search_"))
        try:
            awards = awards_like_the_register(n)
            seconds, sizes = write_data(out, awards, single_max)
            search = (out / "search.html").resolve().as_uri()
            ready, query, heap = browser_times(search, "transport plan 2016")
            rows.append((n, "one file" if n <= single_max else "per council", seconds, sizes, ready, query,
                         heap))
            if n > single_max:  # a council filter loads that council's file only
                biggest = awards["la_code"].value_counts().index[0]
                ready_c, query_c, heap_c = browser_times(f"{search}#council={biggest}", "transport plan 2016")
                rows.append((n, f"per council, council={biggest} (the largest)", 0.0, {}, ready_c, query_c,
                             heap_c))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    print("## Award finder: weight and load time (bench_search.py)\n")
    print(f"Synthetic, deterministic awards (titles as long as the register's, one in ten unplaced); "
          f"headless Chromium from file://; {os.cpu_count()} CPU cores shared with other jobs, Python "
          f"{platform.python_version()}. search.html loads one data file up to 150,000 awards, above "
          "that each council's own awards_data.js (the file its page already uses) and "
          "search/unplaced.js.\n")
    print("| awards | data loaded | write s | data files | ready (ms) | one search (ms) | JS heap MB |")
    print("|---|---|---|---|---|---|---|")
    for n, mode, seconds, sizes, ready, query, heap in rows:
        files = "; ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items() if v > 50_000) or "—"
        print(f"| {n:,} | {mode} | {seconds:.1f} | {files} | {ready:,.0f} | {query:,.0f} | {heap:,.0f} |")
    print("\nA search is a linear, exact scan of every loaded award (no index library at this size). Above "
          "the one-file size a council view (`#council=...`) loads only that council's file, while a "
          "search across every council loads them all: at that size start from a council or query "
          "spendmap.duckdb.")


if __name__ == "__main__":
    main()
