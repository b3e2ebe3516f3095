"""`make bench`: measure spendmap at scale and write benchmarks/RESULTS.md.

    python benchmarks/run_benchmarks.py                 # 63,000 / 630,000 / 1,000,000 awards + bench_*.py
    python benchmarks/run_benchmarks.py --quick         # a few hundred awards, into benchmarks/data/
    SPENDMAP_BENCH_SIZES=63000,630000 make bench        # choose the CSV sizes
    python benchmarks/run_benchmarks.py --profile ods:63000,csv:1000000   # add "Where the time goes"

For each size it generates a synthetic register (spendmap.testing.registers; cached in the data folder,
which git ignores) and, each in a fresh process so peak RSS is that process's own:
  - the bare parse (python-calamine for ODS/XLSX, pyarrow for CSV: the floor),
  - every pipeline step, timed through pipeline.execute without Prefect (benchmarks/scale_steps.py),
  - the whole run: `spendmap run --offline --places pfpp --grants FILE` as a subprocess,
then fits the exponent of cost against awards (least squares on log-log) and checks the targets of
issue 17. Every bench_*.py script in this folder is run too and its section kept in RESULTS.md.
Sections are delimited by `<!-- section:NAME -->` markers; sections not re-measured are kept as they
were, and the hand-written `notes` section is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))

FULL_SIZES = (63_000, 630_000, 1_000_000)
QUICK_SIZES = (300, 900)
SEED = 13
ALL_PAGES_MIN = 10_000  # every council's pages are timed on the sheet case from this size
# Targets (issue 17), on the 2-core benchmark machine, each a ratio or figure within one run.
TARGET_RATIO = 3.0  # 63,000 awards (ODS), 13 pilot pages, warm cache: within 3x the bare parse
TARGET_1M_RATIO, TARGET_1M_GB = 8.0, 1.5  # 1,000,000 awards (CSV): within 8x pyarrow read_csv, < 1.5 GB
TARGET_EXPONENT = 1.1  # growth no worse than linear
TARGET_ALL_PAGES_SECONDS = 20.0  # every council's pages for a 63,000-award year
TARGET_SMALL_ROWS, TARGET_SMALL_SECONDS = 2_000, 5.0  # a 2,000-award file end to end, warm: under 5 s
WARM_MAX_ROWS = 100_000  # files up to this size get a second, warm-cache whole run
ORDER = ["scale", "profile", "history", "notes"]  # sections first in RESULTS.md, then bench_*.py ones
SECTION_RE = re.compile(r"<!-- section:(\S+) -->\n(.*?)<!-- /section:\1 -->\n?", re.S)


@dataclass
class Measure:
    wall_s: float
    peak_rss_mb: float
    result: dict = field(default_factory=dict)
    load: float = 0.0
    cpu_s: float = 0.0  # user + system CPU of the process and its waited-for children: less load-bound


@dataclass
class Case:
    fmt: str
    rows: int
    path: Path
    summary: dict
    bare: Measure | None = None
    steps: Measure | None = None
    whole: Measure | None = None
    profile: Measure | None = None
    whole_error: str = ""
    warm: Measure | None = None  # the whole run again, its step cache and parsed reference kept


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    env.setdefault("SPENDMAP_CACHE", str(tmp / "cache"))
    # Prefect's temporary server gets 20 s to start by default; on a loaded 2-core machine it can take
    # longer, and the run then fails with "Timed out while attempting to connect".
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    return env


def measured(cmd: list[str], env: dict[str, str], *, want_json: bool = True) -> Measure:
    """Run cmd; wall time, and peak RSS of the process (or the largest of its waited-for children)."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-3000:]}\n{stdout[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1]) if want_json else {"stdout": stdout}
    # scale_steps resets its high-water mark before each step, and the kernel's maxrss with it: its
    # own figure (the largest of the steps' peaks) is then the process's peak.
    peak = max(usage.ru_maxrss / 1024, float(result.get("peak_rss_mb", 0.0)))
    return Measure(wall_s=wall, peak_rss_mb=peak, result=result, load=load,
                   cpu_s=usage.ru_utime + usage.ru_stime)


def register_path(data_dir: Path, fmt: str, rows: int) -> Path:
    return data_dir / f"Government_Grants_Register_2016_to_2017_SYNTH_{rows}_seed{SEED}.{fmt}"


def ensure_register(data_dir: Path, fmt: str, rows: int, env: dict[str, str]) -> tuple[Path, dict]:
    """The generated register (made once, with its summary beside it).

    Generated in a child process: the postcode directory it loads would otherwise stay in this
    process, and Linux reports a forked child's peak RSS as at least its parent's.
    """
    path = register_path(data_dir, fmt, rows)
    meta = path.with_name(path.name + ".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    m = measured([sys.executable, "-m", "spendmap.testing.registers", "--rows", str(rows), "--format", fmt,
                  "--seed", str(SEED), "--out", str(path)], env)
    summary = {**m.result, "generate_s": m.wall_s, "generate_peak_rss_mb": m.peak_rss_mb}
    meta.write_text(json.dumps(summary, indent=1))
    print(f"generated {path.name} ({summary['bytes'] / 1e6:.1f} MB) in {m.wall_s:.1f}s",
          file=sys.stderr, flush=True)
    return path, summary


def check_read(case: Case) -> None:
    """The reader saw exactly what the generator wrote: every award accepted, £ to the penny."""
    res = case.steps.result
    expect_rows, expect_gbp = case.summary["rows"], case.summary["amount_total_gbp"]
    if res["rows_accepted"] != expect_rows or round(res["amount_in_gbp"] - expect_gbp, 2) != 0:
        raise RuntimeError(f"{case.path.name}: read {res['rows_accepted']:,} awards, "
                           f"£{res['amount_in_gbp']:,.2f}; generated {expect_rows:,}, £{expect_gbp:,.2f}")


def measure_case(case: Case, env: dict[str, str], tmp: Path, *, whole: bool, all_councils: bool) -> None:
    py = sys.executable
    print(f"[{case.fmt} {case.rows:,}] bare parse", file=sys.stderr, flush=True)
    case.bare = measured([py, str(HERE / "scale_steps.py"), "bare", str(case.path)], env)
    print(f"[{case.fmt} {case.rows:,}] steps", file=sys.stderr, flush=True)
    steps_cmd = [py, str(HERE / "scale_steps.py"), "steps", str(case.path), str(tmp / "out-steps")]
    case.steps = measured(steps_cmd + (["--all-councils"] if all_councils else []), env)
    check_read(case)
    if whole:
        print(f"[{case.fmt} {case.rows:,}] whole run (spendmap run)", file=sys.stderr, flush=True)
        out = tmp / "out-run"
        cmd = [py, "-m", "spendmap", "run", "--offline", "--places", "pfpp", "--grants", str(case.path),
               "--out", str(out)]
        for attempt in (1, 2):  # once more if it fails: the machine is shared and Prefect can time out
            try:
                case.whole = measured(cmd, env, want_json=False)
                break
            except RuntimeError as exc:
                case.whole_error = f"attempt {attempt} failed: " + " ".join(str(exc).split())[-300:]
                print(case.whole_error, file=sys.stderr, flush=True)
            finally:
                shutil.rmtree(out, ignore_errors=True)
        if case.whole and case.rows <= WARM_MAX_ROWS:
            print(f"[{case.fmt} {case.rows:,}] whole run, warm cache", file=sys.stderr, flush=True)
            try:
                case.warm = measured(cmd, env, want_json=False)
            finally:
                shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(tmp / "out-steps", ignore_errors=True)


def profile_case(case: Case, env: dict[str, str], tmp: Path, top: int) -> None:
    print(f"[{case.fmt} {case.rows:,}] profile", file=sys.stderr, flush=True)
    case.profile = measured([sys.executable, str(HERE / "scale_steps.py"), "steps", str(case.path),
                             str(tmp / "out-profile"), "--profile", str(top)], env)
    shutil.rmtree(tmp / "out-profile", ignore_errors=True)


def save_raw(path: Path, cases: list[Case], started: str) -> None:
    """Every figure measured, so RESULTS.md can be rewritten (--render-only) without measuring again."""
    from dataclasses import asdict

    path.write_text(json.dumps({"started": started, "cases": [{**asdict(c), "path": str(c.path)}
                                                              for c in cases]}))


def load_raw(path: Path) -> tuple[list[Case], str]:
    data = json.loads(path.read_text())
    cases = []
    for d in data["cases"]:
        measures = {k: Measure(**d[k]) if d.get(k) else None
                    for k in ("bare", "steps", "whole", "profile", "warm")}
        cases.append(Case(fmt=d["fmt"], rows=d["rows"], path=Path(d["path"]), summary=d["summary"],
                          whole_error=d.get("whole_error", ""), **measures))
    return cases, data["started"]


def exponent(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x): cost ~ awards^exponent."""
    import numpy as np

    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


# --- writing RESULTS.md ---------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def _fmt_exp(e: float | None) -> str:
    return "n/a" if e is None else f"{e:.2f}"


def _steps_total(m: Measure, *, pilot_only: bool = True, key: str = "wall_s") -> float:
    return sum(s[key] for s in m.result["steps"] if not (pilot_only and "every council" in s["step"]))


def scale_section(cases: list[Case], started: str) -> str:
    lines = [
        "## Scale: 63,000 to 1,000,000 awards (run_benchmarks.py)",
        "",
        f"Measured {started}; {platform.machine()}, {os.cpu_count()} CPUs "
        f"shared with other jobs, Python {platform.python_version()}. Load = 1-minute load average when "
        "the measurement started (2.0 means both cores were already busy: expect noise).",
        "",
        f"Files: synthetic registers from `spendmap.testing.registers` (seed {SEED}, year 2016-17, labelled "
        "SYNTH-), read back exactly: every award accepted and the £ total equal to the penny. Whole run = "
        "`spendmap run --offline --places pfpp --grants FILE` as a subprocess (imports, every step "
        "in-process with no Prefect server, 13 pilot councils' pages). Peak RSS = the largest single process "
        "(`wait4` ru_maxrss).",
        "",
        "Each time is given as wall seconds (CPU seconds): with other jobs on the two cores the wall time "
        "can be several times the CPU time, so compare CPU figures across runs.",
        "",
        "| file | awards | MB | bare parse s | whole run s | whole / bare | warm run s | warm / bare "
        "| peak RSS, whole run | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        whole = c.whole.wall_s if c.whole else None
        ratio = f"{whole / c.bare.wall_s:.1f}x ({c.whole.cpu_s / c.bare.cpu_s:.1f}x)" if whole else "-"
        whole_text = f"{whole:.1f} ({c.whole.cpu_s:.1f})" if whole else "failed" if c.whole_error else "-"
        warm = (f"{c.warm.wall_s:.1f} ({c.warm.cpu_s:.1f}) | {c.warm.wall_s / c.bare.wall_s:.1f}x "
                f"({c.warm.cpu_s / c.bare.cpu_s:.1f}x)") if c.warm else "- | -"
        lines.append(
            f"| {c.fmt.upper()} | {c.rows:,} | {c.summary['bytes'] / 1e6:.1f} | {c.bare.wall_s:.2f} "
            f"({c.bare.cpu_s:.2f}) {c.bare.result['how']} | {whole_text} "
            f"| {ratio} | {warm} | "
            f"{f'{c.whole.peak_rss_mb / 1024:.2f} GB' if c.whole else '-'} | "
            f"{c.bare.load:.1f} / {c.whole.load if c.whole else 0:.1f} |")
    lines += ["", "### Each step, timed through pipeline.execute (in-process): wall s (CPU s)", ""]
    names = list(dict.fromkeys(s["step"] for c in cases for s in c.steps.result["steps"]))
    lines.append("| step | " + " | ".join(f"{c.fmt.upper()} {c.rows:,}" for c in cases) + " |")
    lines.append("|---|" + "---:|" * len(cases))
    for name in names:
        cells = []
        for c in cases:
            hit = [s for s in c.steps.result["steps"] if s["step"] == name]
            cells.append(f"{hit[0]['wall_s']:.2f} ({hit[0]['cpu_s']:.2f})" if hit else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **sum of steps (13 pilot pages)** | " + " | ".join(
        f"**{_steps_total(c.steps):.2f} ({_steps_total(c.steps, key='cpu_s'):.2f})**" for c in cases) + " |")
    lines.append("| whole run minus sum of steps (imports, process start) | " + " | ".join(
        f"{c.whole.wall_s - _steps_total(c.steps):.1f}" if c.whole else "-" for c in cases) + " |")
    lines.append("| peak RSS of the steps process, MB | "
                 + " | ".join(f"{c.steps.peak_rss_mb:,.0f}" for c in cases) + " |")
    lines.append("| load at start | " + " | ".join(f"{c.steps.load:.1f}" for c in cases) + " |")
    # Each step's own peak: scale_steps resets the kernel's high-water mark (VmHWM) before each step.
    lines += ["", "### Each step's own peak RSS, MB (the high-water mark reset before each step)", "",
              "| step | " + " | ".join(f"{c.fmt.upper()} {c.rows:,}" for c in cases) + " |",
              "|---|" + "---:|" * len(cases)]
    for name in names:
        cells = []
        for c in cases:
            hit = [s for s in c.steps.result["steps"] if s["step"] == name and "step_peak_mb" in s]
            cells.append(f"{hit[0]['step_peak_mb']:,.0f}" if hit else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    csv = sorted((c for c in cases if c.fmt == "csv"), key=lambda c: c.rows)
    if len(csv) >= 2:
        xs = [c.rows for c in csv]
        sizes = ", ".join(f"{x:,}" for x in xs)
        lines += ["", f"### Growth: fitted exponent of cost against awards (CSV, {sizes})",
                  "", f"| cost | exponent, wall | exponent, CPU | CPU slope {xs[-2]:,} to {xs[-1]:,} |",
                  "|---|---:|---:|---:|"]
        rows = [("bare parse", [c.bare.wall_s for c in csv], [c.bare.cpu_s for c in csv])]
        rows.append(("sum of steps", [_steps_total(c.steps) for c in csv],
                     [_steps_total(c.steps, key="cpu_s") for c in csv]))
        if all(c.whole for c in csv):
            rows.append(("whole run (fixed costs: imports, process start)", [c.whole.wall_s for c in csv],
                         [c.whole.cpu_s for c in csv]))
            rows.append(("whole-run peak RSS (in the wall column)", [c.whole.peak_rss_mb for c in csv], []))
        for name in names:
            hits = [next((s for s in c.steps.result["steps"] if s["step"] == name), None) for c in csv]
            rows.append((f"step: {name}", [h["wall_s"] if h else 0 for h in hits],
                         [h["cpu_s"] if h else 0 for h in hits]))
        for label, ys, cpus in rows:
            # The slope between the two largest sizes is free of the fixed costs that flatten the fit.
            lines.append(f"| {label} | {_fmt_exp(exponent(xs, ys))} | "
                         f"{_fmt_exp(exponent(xs, cpus)) if cpus else ''} | "
                         f"{_fmt_exp(exponent(xs[-2:], cpus[-2:])) if cpus else ''} |")
    errors = [f"- {c.fmt.upper()} {c.rows:,}: {c.whole_error}" for c in cases if c.whole_error]
    if errors:
        lines += ["", "Whole-run failures (each retried once):", "", *errors]
    lines += ["", targets(cases), ""]
    return "\n".join(lines)


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**not met**")


def targets(cases: list[Case]) -> str:
    lines = ["### Targets (issue 17)", "", "| target | figure | verdict |", "|---|---|---|"]
    sheets = [c for c in cases if c.fmt in ("ods", "xlsx") and c.bare]
    small = min(sheets, key=lambda c: c.rows, default=None)
    if small and (small.warm or small.whole):
        run, how = (small.warm, "warm") if small.warm else (small.whole, "cold: no warm run")
        ratio = run.wall_s / small.bare.wall_s
        lines.append(f"| {small.rows:,} awards ({small.fmt.upper()}), 13 pilot pages, warm cache: within "
                     f"{TARGET_RATIO:.0f}x the bare parse | {run.wall_s:.1f} s ({how}) / "
                     f"{small.bare.wall_s:.2f} s = {ratio:.1f}x (CPU: {run.cpu_s:.1f} s / "
                     f"{small.bare.cpu_s:.2f} s = {run.cpu_s / small.bare.cpu_s:.1f}x) | "
                     f"{_verdict(ratio <= TARGET_RATIO)} |")
    big = max((c for c in cases if c.fmt == "csv" and c.whole), key=lambda c: c.rows, default=None)
    if big:
        gb = big.whole.peak_rss_mb / 1024
        ratio = big.whole.wall_s / big.bare.wall_s
        lines.append(f"| {big.rows:,} awards (CSV), 13 pilot pages: within {TARGET_1M_RATIO:.0f}x pyarrow "
                     f"read_csv and under {TARGET_1M_GB} GB | {big.whole.wall_s:.1f} s / "
                     f"{big.bare.wall_s:.2f} s = {ratio:.1f}x (CPU {big.whole.cpu_s:.1f} s / "
                     f"{big.bare.cpu_s:.2f} s = {big.whole.cpu_s / big.bare.cpu_s:.1f}x), {gb:.2f} GB | "
                     f"{_verdict(ratio <= TARGET_1M_RATIO and gb < TARGET_1M_GB)} |")
    csv = sorted((c for c in cases if c.fmt == "csv" and c.whole), key=lambda c: c.rows)
    if len(csv) >= 2:
        xs = [c.rows for c in csv]
        fits = {"whole run": exponent(xs, [c.whole.wall_s for c in csv]),
                "whole run CPU": exponent(xs, [c.whole.cpu_s for c in csv]),
                "sum of steps": exponent(xs, [_steps_total(c.steps) for c in csv]),
                "sum of steps CPU": exponent(xs, [_steps_total(c.steps, key="cpu_s") for c in csv])}
        lines.append(f"| growth: exponent <= {TARGET_EXPONENT} | "
                     + ", ".join(f"{k} {_fmt_exp(v)}" for k, v in fits.items())
                     + f" | {_verdict(max(fits.values()) <= TARGET_EXPONENT)} |")
    pages = [(c, s) for c in cases for s in c.steps.result["steps"] if "every council" in s["step"]]
    for c, s in pages:
        lines.append(f"| every council's pages, {c.rows:,} awards: under {TARGET_ALL_PAGES_SECONDS:.0f} s | "
                     f"{s['wall_s']:.1f} s (CPU {s['cpu_s']:.1f} s) | "
                     f"{_verdict(s['wall_s'] < TARGET_ALL_PAGES_SECONDS)} |")
    tiny = min((c for c in cases if c.warm and c.rows <= 2 * TARGET_SMALL_ROWS), key=lambda c: c.rows,
               default=None)
    if tiny:
        lines.append(f"| a {TARGET_SMALL_ROWS:,}-award file end to end, warm: under "
                     f"{TARGET_SMALL_SECONDS:.0f} s | {tiny.rows:,} awards ({tiny.fmt.upper()}): "
                     f"{tiny.warm.wall_s:.1f} s (CPU "
                     f"{tiny.warm.cpu_s:.1f} s; cold {tiny.whole.wall_s:.1f} s) | "
                     f"{_verdict(tiny.warm.wall_s < TARGET_SMALL_SECONDS)} |")
    return "\n".join(lines)


def profile_section(cases: list[Case], started: str, top: int) -> str:
    lines = [
        "## Where the time goes (pyinstrument)",
        "",
        f"Profiled {started}: each step of "
        "benchmarks/scale_steps.py under pyinstrument (2 ms interval). *Own time* is time in the function "
        "itself, including C code it calls (pandas, pyarrow, regex), summed over every call site; "
        "*under spendmap's functions* is inclusive time, so the outer functions include the inner ones. "
        "Page rendering uses worker processes when there are many councils; their time is not seen here. "
        "file:line is where the function is defined.",
    ]
    for c in cases:
        if not c.profile:
            continue
        lines += ["", f"### {c.fmt.upper()}, {c.rows:,} awards (load {c.profile.load:.1f})", ""]
        for s in c.profile.result["steps"]:
            if s["wall_s"] < 0.05:
                continue
            lines += [f"**{s['step']}: {s['wall_s']:.2f} s** (profiled)", "",
                      "| own time s | share | function | where |", "|---:|---:|---|---|"]
            lines += [f"| {h['seconds']:.2f} | {h['share']:.0%} | `{h['function']}` | {h['where']} |"
                      for h in s["hotspots"][:top]]
            if s["ours"]:
                lines += ["", "Under spendmap's functions: " + "; ".join(
                    f"`{h['function']}` ({h['where']}) {h['seconds']:.2f} s" for h in s["ours"][:6])]
            lines.append("")
    return "\n".join(lines)


def history_row(cases: list[Case], started: str, old: str) -> str:
    """One line per full run, so RESULTS.md shows how each figure moved (fill in 'what changed')."""
    small = next((c for c in cases if c.fmt != "csv" and c.whole), None)
    big = max((c for c in cases if c.fmt == "csv" and c.whole), key=lambda c: c.rows, default=None)
    csv = sorted((c for c in cases if c.fmt == "csv" and c.whole), key=lambda c: c.rows)
    e = exponent([c.rows for c in csv], [c.whole.wall_s for c in csv]) if len(csv) >= 2 else None
    first = (f"{small.whole.wall_s:.1f} s = {small.whole.wall_s / small.bare.wall_s:.1f}x bare"
             if small else "-")
    last = f"{big.rows:,}: {big.whole.wall_s:.1f} s, {big.whole.peak_rss_mb / 1024:.2f} GB" if big else "-"
    commit = re.search(r"commit `(\w+)`", started)
    row = (f"| {started[:16]} | `{commit.group(1) if commit else '?'}` | {first} | {last} "
           f"| {_fmt_exp(e)} | {os.getloadavg()[0]:.1f} | (say what changed) |")
    body = old.strip() or ("## History of the scale figures\n\nEach full `make bench` adds a row; say in the "
                           "last column what changed the figures.\n\n| when (UTC) | commit | 63k ODS whole "
                           "run | largest CSV whole run, peak | exponent | load | what changed |\n"
                           "|---|---|---|---|---|---|---|")
    return body + "\n" + row


def write_results(path: Path, new: dict[str, str], order: list[str]) -> None:
    old = dict(SECTION_RE.findall(path.read_text())) if path.exists() else {}
    merged = {**old, **{k: v.rstrip() + "\n" for k, v in new.items()}}
    keys = [k for k in order if k in merged] + sorted(k for k in merged if k not in order)
    head = ("# spendmap benchmarks\n\nWritten by `make bench` (benchmarks/run_benchmarks.py); each section "
            "says when and where it was measured. The `notes` section is written by hand.\n\n")
    body = "\n".join(f"<!-- section:{k} -->\n{merged[k]}<!-- /section:{k} -->\n" for k in keys)
    path.write_text(head + body)


def run_scripts(env: dict[str, str]) -> dict[str, str]:
    """Every bench_*.py here (including ones added later); each prints its own markdown section."""
    out = {}
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"running {script.name}", file=sys.stderr, flush=True)
        load = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            out[script.name] = (f"## {script.name}\n\nFAILED (exit {proc.returncode}):\n\n```\n"
                                f"{proc.stderr[-1500:]}\n```\n")
        else:
            out[script.name] = proc.stdout.strip() + f"\n\n(load average {load:.1f} when it started)\n"
    return out


def _sizes(text: str | None, default: tuple[int, ...]) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()] if text else list(default)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    quick_env = os.environ.get("SPENDMAP_BENCH_QUICK", "") not in ("", "0")
    p.add_argument("--quick", action="store_true", default=quick_env,
                   help=f"small sizes {QUICK_SIZES} (also SPENDMAP_BENCH_QUICK=1); results go to the data "
                   "folder")
    p.add_argument("--sizes", default=os.environ.get("SPENDMAP_BENCH_SIZES"),
                   help="CSV sizes, comma-separated (default 63000,630000,1000000; env SPENDMAP_BENCH_SIZES)")
    p.add_argument("--sheet-sizes", default=None,
                   help="ODS sizes (default: the smallest CSV size); '' for none")
    p.add_argument("--sheet-format", choices=("ods", "xlsx"), default="ods")
    p.add_argument("--data-dir", type=Path,
                   default=Path(os.environ.get("SPENDMAP_BENCH_DATA", HERE / "data")))
    p.add_argument("--out", type=Path, default=None, help="results file (default benchmarks/RESULTS.md)")
    p.add_argument("--no-whole-run", action="store_true", help="skip the `spendmap run` subprocesses")
    p.add_argument("--no-scripts", action="store_true", help="skip the bench_*.py scripts")
    p.add_argument("--no-scale", action="store_true", help="only the bench_*.py scripts")
    p.add_argument("--profile", default="", help="cases to profile, e.g. ods:63000,csv:1000000")
    p.add_argument("--top", type=int, default=8, help="hotspots listed per step")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite the scale and profile sections from the data folder's scale_raw.json")
    args = p.parse_args(argv)

    sizes = _sizes(args.sizes, QUICK_SIZES if args.quick else FULL_SIZES)
    sheet_sizes = _sizes(args.sheet_sizes, (min(sizes),)) if args.sheet_sizes != "" else []
    out_path = args.out or (args.data_dir / "RESULTS.quick.md" if args.quick else HERE / "RESULTS.md")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    # The commit measured is the one checked out when the run starts (later commits do not change it).
    started = (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{_git('rev-parse', '--short', 'HEAD')}` "
               f"({_git('rev-parse', '--abbrev-ref', 'HEAD')})")
    new: dict[str, str] = {}
    raw_path = args.data_dir / "scale_raw.json"
    if args.render_only:
        cases, started = load_raw(raw_path)
        measured_cases = [c for c in cases if c.bare and c.steps]
        new["scale"] = scale_section(measured_cases, started)
        if any(c.profile for c in cases):
            new["profile"] = profile_section([c for c in cases if c.profile], started, args.top)
        write_results(out_path, new, ORDER)
        print(f"wrote {out_path}")
        return 0
    with tempfile.TemporaryDirectory(prefix="spendmap-bench-") as tmpdir:
        tmp = Path(tmpdir)
        env = _env(tmp)
        cases: list[Case] = []
        if not args.no_scale:
            # The bundled reference data (postcode directory, CRA, rules) parsed once, before any case:
            # each case then measures a new register, not spendmap's first run on a machine.
            measured([sys.executable, "-m", "spendmap.testing.reference_cache", env["SPENDMAP_CACHE"],
                      str(tmp / "warm-up")], env, want_json=False)
            wanted = [(args.sheet_format, n) for n in sheet_sizes] + [("csv", n) for n in sorted(sizes)]
            smallest_sheet = min(sheet_sizes, default=None)
            for fmt, n in wanted:
                path, summary = ensure_register(args.data_dir, fmt, n, env)
                case = Case(fmt, n, path, summary)
                measure_case(case, env, tmp, whole=not args.no_whole_run,
                             all_councils=fmt != "csv" and n == smallest_sheet and n >= ALL_PAGES_MIN)
                cases.append(case)
                # Written after every case, so a long run that dies later keeps what it measured.
                write_results(out_path, {"scale": scale_section(cases, started)}, ORDER)
                save_raw(raw_path, cases, started)
            new["scale"] = scale_section(cases, started)
            profiled = [tuple(x.split(":")) for x in args.profile.split(",") if x.strip()]
            for fmt, n in profiled:
                path, summary = ensure_register(args.data_dir, fmt, int(n), env)
                case = next((c for c in cases if c.fmt == fmt and c.rows == int(n)), None)
                if case is None:
                    case = Case(fmt, int(n), path, summary)
                    cases.append(case)
                profile_case(case, env, tmp, args.top)
                save_raw(raw_path, cases, started)
            if profiled:
                new["profile"] = profile_section([c for c in cases if c.profile], started, args.top)
            if not args.quick and not args.no_whole_run:
                old = dict(SECTION_RE.findall(out_path.read_text())) if out_path.exists() else {}
                new["history"] = history_row([c for c in cases if c.whole and c.bare], started,
                                             old.get("history", ""))
        if not args.no_scripts and not args.quick:
            new.update(run_scripts(env))
    write_results(out_path, new, ORDER)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
