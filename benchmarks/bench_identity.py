"""Benchmark: recipient identity (transforms.recipient_identity.resolve_recipients) at scale.

Run: .venv/bin/python benchmarks/bench_identity.py [--rows 200000] [--top 8]
Prints a markdown section (for benchmarks/RESULTS.md).

A synthetic register (spendmap.testing.registers, CSV, seed 13; made once into benchmarks/data/) is
read, placed and given departments by the pipeline's own steps, as classify_awards receives it; then
steps.identify_recipients (the councils' own org-ids, then resolve_recipients) is timed, best of 3,
wall and CPU, and profiled once under pyinstrument (top functions by own time).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
from pyinstrument import Profiler

from spendmap import steps
from spendmap.award_layers import read_awards
from spendmap.sources.rules import load_departments
from spendmap.testing.registers import generate_register
from spendmap.transforms.departments import apply_departments

DATA = Path(__file__).resolve().parent / "data"
SEED = 13


def identity_input(rows: int) -> pd.DataFrame:
    """The awards classify_awards hands to identify_recipients: read, placed, departments applied."""
    path = DATA / f"Government_Grants_Register_2016_to_2017_SYNTH_{rows}_identity.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        generate_register(path, rows, fmt="csv", seed=SEED)
    with tempfile.TemporaryDirectory() as tmp:
        read = steps.ingest_grants([str(path)], ["2016-17"], Path(tmp))
        placed = steps.place_grants(read.awards, None, Path(tmp))
        return apply_departments(read_awards([read.awards, placed.awards]), load_departments())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--top", type=int, default=8)
    args = p.parse_args()
    awards = identity_input(args.rows)
    steps.identify_recipients(awards.head(100))  # imports and the council tables, once a process anyway
    walls, cpus = [], []
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        identity = steps.identify_recipients(awards)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    profiler = Profiler(interval=0.002)
    profiler.start()
    steps.identify_recipients(awards)
    profiler.stop()
    own: dict[str, float] = {}
    stack = [profiler.last_session.root_frame()]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if frame.identifier != "[self]" and frame.total_self_time > 0:
            key = f"`{frame.function}` ({Path(frame.file_path or '?').name}:{frame.line_no})"
            own[key] = own.get(key, 0.0) + frame.total_self_time
    s = identity.summary
    load = os.getloadavg()[0]
    print("## Recipient identity (bench_identity.py)\n")
    print(f"Synthetic register, {len(awards):,} awards (CSV, seed {SEED}), read, placed and given "
          f"departments by the pipeline's steps: {s['recipient_records']:,} recipient records, "
          f"{s['organisations']:,} organisations, {s['merges']:,} merges, {s['merges_refused']:,} refused. "
          f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"pandas {pd.__version__}; load average {load:.1f}. Best of 3.\n")
    print("| step | wall s | CPU s |\n|---|---:|---:|")
    print(f"| **steps.identify_recipients** (resolve_recipients with council lookups) | "
          f"**{min(walls):.2f}** | {min(cpus):.2f} |")
    print("\nWhere the time goes (pyinstrument, own time):\n")
    for key, seconds in sorted(own.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"- {key}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
