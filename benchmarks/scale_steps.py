"""One measurement of the scale benchmark, in its own process (run_benchmarks.py starts it).

    python benchmarks/scale_steps.py bare FILE
    python benchmarks/scale_steps.py steps FILE OUT_DIR [--all-councils] [--profile TOP]

`bare`: the floor: python-calamine reading the award sheet into Python rows (ODS/XLSX), or pyarrow
reading the CSV into an Arrow table. `steps`: one run through the pipeline's own definition
(`spendmap.pipeline.execute`) with a runner that times each step (in-process, no Prefect): wall and CPU
seconds of each, and the process's peak RSS after each. With --profile, each step runs under
pyinstrument and its top TOP functions by own time are reported with file:line.
The last line of stdout is the JSON result.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (render_site's worker processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def _reset_step_peak() -> None:
    """Start this process's high-water mark (VmHWM) afresh, so each step reports its own peak
    (ru_maxrss only ever grows). Linux only; elsewhere the step peak is the process's so far."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _status_mb(field: str) -> float:
    """A /proc/self/status memory figure in MB (VmHWM: peak since the last reset; VmRSS: now), or the
    process's peak where /proc is not there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_mb()


def bare_parse(path: Path) -> dict:
    """The floor for this file: parse only, no typing or checks."""
    t0, c0 = time.perf_counter(), time.process_time()
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pacsv

        rows = pacsv.read_csv(path).num_rows
        how = "pyarrow.csv.read_csv"
    else:
        from python_calamine import CalamineWorkbook

        rows = len(CalamineWorkbook.from_path(str(path)).get_sheet_by_name("#Awards").to_python())
        how = "python-calamine to_python of #Awards"
    return {"how": how, "rows": rows, "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - c0, "peak_rss_mb": _peak_mb()}


def _frames(session):
    """Every frame of a pyinstrument session, with its key (function, file, line)."""
    stack = [session.root_frame()]
    while stack:
        frame = stack.pop()
        if frame is not None:
            yield frame, _key(frame)
            stack.extend(frame.children)


def _key(frame) -> tuple[str, str, int]:
    return frame.function or "?", frame.file_path_short or frame.file_path or "", frame.line_no or 0


def _hotspots(session, top: int) -> list[dict]:
    """Functions by own time (summed over every place they were called from), with file:line."""
    own: dict[tuple[str, str, int], float] = {}
    for frame, key in _frames(session):
        if frame.total_self_time > 0 and frame.file_path:
            own[key] = own.get(key, 0.0) + frame.total_self_time
    total = session.duration or 1.0
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:top]
    return [{"function": f, "where": f"{p}:{line}", "seconds": s, "share": s / total}
            for (f, p, line), s in ranked]


def _callers(session, top: int) -> list[dict]:
    """spendmap's own functions by total (inclusive) time: which of our calls the time sits under."""
    incl: dict[tuple[str, str, int], float] = {}
    for frame, key in _frames(session):
        path = frame.file_path or ""
        # A recursive call is counted once: only the outermost frame of a function adds its time.
        if ("/spendmap/" in path and "/spendmap/steps.py" not in path
                and key not in {_key(a) for a in _ancestors(frame)}):
            incl[key] = incl.get(key, 0.0) + frame.time
    ranked = sorted(incl.items(), key=lambda kv: -kv[1])[:top]
    return [{"function": f, "where": f"{p}:{line}", "seconds": s} for (f, p, line), s in ranked]


def _ancestors(frame):
    parent = frame.parent
    while parent is not None:
        yield parent
        parent = parent.parent


# Step names of spendmap.pipeline and the steps.* functions execute() calls directly, as reported.
LABELS = {
    "resolve_place_codes": "resolve places (pfpp)",
    "resolve-input": "resolve inputs (sha256)",
    "read-grants": "read grants (ingest_grants)",
    "allocate-cra": "allocate CRA (allocate_cra)",
    "place-awards": "place (place_grants)",
    "classify-awards": "classify (classify_awards)",
    "grant-analytics": "analytics (grant_analytics)",
    "write-tables": "write tables (write_tables)",
    "render_site": "render pages, 13 pilot places (render_site)",
    "write_manifest": "manifest and publish",
    "publish": "manifest and publish",
}


def run_steps(path: Path, out_dir: Path, *, all_councils: bool = False, profile_top: int = 0) -> dict:
    """One `spendmap run --offline --places pfpp --grants path` through the real pipeline definition
    (`pipeline.execute`) with a runner that times every step; the steps execute() calls directly
    (places, pages, manifest, publish) are timed by wrapping them in this process only. The step
    cache is a fresh folder, so reading and placing really run; it starts with the reference data that
    $SPENDMAP_CACHE holds parsed (run_benchmarks.py parses it once before any case), as a user's run on a
    new register does."""
    import tempfile

    from spendmap import pipeline, steps
    from spendmap.run_config import RunParams
    from spendmap.sources.cache import default_cache_dir
    from spendmap.testing.reference_cache import seed_reference

    results: list[dict[str, Any]] = []

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        label = LABELS.get(name, name)
        profiler = None
        if profile_top:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.002)
            profiler.start()
        _reset_step_peak()
        rss_before = _status_mb("VmRSS")
        t0, c0 = time.perf_counter(), _cpu()
        out = fn()
        row = {"step": label, "wall_s": time.perf_counter() - t0, "cpu_s": _cpu() - c0,
               "step_peak_mb": _status_mb("VmHWM"), "rss_before_mb": rss_before}
        row["peak_rss_mb"] = max([row["step_peak_mb"], *(r["peak_rss_mb"] for r in results)])  # so far
        if profiler is not None:
            profiler.stop()
            row["hotspots"] = _hotspots(profiler.last_session, profile_top)
            row["ours"] = _callers(profiler.last_session, profile_top)
        same = [r for r in results if r["step"] == label]
        if same and "hotspots" not in row:  # several calls of one step (each input resolved): one row
            for key in ("wall_s", "cpu_s"):
                same[0][key] += row[key]
            same[0]["peak_rss_mb"] = row["peak_rss_mb"]
            same[0]["step_peak_mb"] = max(same[0]["step_peak_mb"], row["step_peak_mb"])
        else:
            results.append(row)
        print(f"  {label}: {row['wall_s']:.2f}s", file=sys.stderr, flush=True)
        return out

    class TimingRunner(pipeline.InProcessRunner):
        def call(self, step: pipeline.Step, *args: Any, **kwargs: Any) -> Any:
            return timed(step.name, lambda: super(TimingRunner, self).call(step, *args, **kwargs))

    for name in ("resolve_place_codes", "render_site", "write_manifest", "publish"):
        original = getattr(steps, name)

        def wrapper(*args: Any, _name: str = name, _fn: Callable = original, **kwargs: Any) -> Any:
            out = timed(_name, lambda: _fn(*args, **kwargs))
            if _name == "render_site" and all_councils:
                # Every council too, into the same staging folder while the run's tables are there.
                every = (*args[:4], None)
                timed("render pages, every council (render_site)", lambda: _fn(*every, **kwargs))
            return out

        setattr(steps, name, wrapper)  # this benchmark process only
    with tempfile.TemporaryDirectory(prefix="spendmap-bench-cache-") as cache:
        seed_reference(default_cache_dir(), Path(cache))
        params = RunParams(grants=[str(path)], places="pfpp", out_dir=str(out_dir), offline=True,
                           cache_dir=cache)
        outcome = pipeline.execute(params, TimingRunner())
    manifest = outcome.manifest
    first = manifest["inputs"]["grants"][0]  # the file as resolved, with its reading's figures
    return {"steps": results, "rows_read": first["rows_read"], "rows_accepted": first["rows_accepted"],
            # Each step's timer resets the high-water mark (and with it ru_maxrss): the process's peak
            # is the largest of the steps' own.
            "amount_in_gbp": first["amount_in_gbp"],
            "peak_rss_mb": max([_peak_mb(), *(r["step_peak_mb"] for r in results)]),
            "geo_methods": {k: v["awards"] for k, v in manifest["geo_methods"].items()}}


def main(argv: list[str]) -> int:
    mode, path = argv[0], Path(argv[1])
    if mode == "bare":
        result = bare_parse(path)
    elif mode == "steps":
        top = int(argv[argv.index("--profile") + 1]) if "--profile" in argv else 0
        result = run_steps(path, Path(argv[2]), all_councils="--all-councils" in argv, profile_top=top)
    else:
        raise SystemExit(f"unknown mode {mode!r}: bare or steps")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
