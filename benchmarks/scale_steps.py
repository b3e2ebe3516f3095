"""One measurement of the scale benchmark, in its own process (run_benchmarks.py starts it).

    python benchmarks/scale_steps.py bare FILE
    python benchmarks/scale_steps.py steps FILE OUT_DIR [--all-councils] [--profile TOP]

`bare`: the floor: python-calamine reading the award sheet into Python rows (ODS/XLSX), or pyarrow
reading the CSV into an Arrow table. `steps`: the pipeline's steps (spendmap.steps), called directly in
the order spendmap.pipeline runs them, with no Prefect: wall and CPU seconds of each, and the process's
peak RSS after each. With --profile, each step runs under pyinstrument and its top TOP functions by
own time are reported with file:line. The last line of stdout is the JSON result.
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


def run_steps(path: Path, out_dir: Path, *, all_councils: bool = False, profile_top: int = 0) -> dict:
    """Every step of one `spendmap run --offline --places pfpp --grants path`, timed one by one."""
    from spendmap import steps
    from spendmap.manifest import build_manifest, now_iso
    from spendmap.run_config import RunConfig
    from spendmap.sources.fetch import resolve_source

    results: list[dict[str, Any]] = []

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        profiler = None
        if profile_top:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.002)
            profiler.start()
        t0, c0 = time.perf_counter(), _cpu()
        out = fn()
        row = {"step": name, "wall_s": time.perf_counter() - t0, "cpu_s": _cpu() - c0,
               "peak_rss_mb": _peak_mb()}
        if profiler is not None:
            profiler.stop()
            row["hotspots"] = _hotspots(profiler.last_session, profile_top)
            row["ours"] = _callers(profiler.last_session, profile_top)
        results.append(row)
        print(f"  {name}: {row['wall_s']:.2f}s", file=sys.stderr, flush=True)
        return out

    config = RunConfig(grants=[str(path)], places="pfpp", out_dir=str(out_dir), offline=True)
    started = now_iso()
    place_codes = timed("resolve places (pfpp)", lambda: steps.resolve_place_codes(config.places))
    staging = steps.start_staging(out_dir)
    work_dir = staging / steps.WORK_DIR_NAME
    try:
        inputs = timed("resolve inputs (sha256)", lambda: {
            "grants": [resolve_source(g, offline=True).to_manifest() for g in config.grants],
            "cra": resolve_source(config.cra, offline=True).to_manifest(),
            "population": resolve_source(config.population, offline=True).to_manifest(),
            "postcodes": None,
        })
        read = timed("read grants (ingest_grants)", lambda: steps.ingest_grants(
            [f["path"] for f in inputs["grants"]], config.years, work_dir))
        fys = config.years or read.fys
        cra = timed("allocate CRA (allocate_cra)", lambda: steps.allocate_cra(
            inputs["cra"]["path"], inputs["population"]["path"], fys, config.cra_units, work_dir))
        placed = timed("place (place_grants)", lambda: steps.place_grants(read.awards, None, work_dir))
        classified = timed("classify (classify_awards)", lambda: steps.classify_awards(
            placed.awards, work_dir))
        analytics = timed("analytics (grant_analytics)", lambda: steps.grant_analytics(
            classified.awards, classified.schemes, fys, config.small_threshold_gbp, work_dir))
        rejects = [read.rejects, classified.rejects, *cra.rejects]
        written = timed("write tables (write_tables)", lambda: steps.write_tables(
            classified.awards, analytics, cra.allocation, rejects, staging))
        manifest = build_manifest(
            config=config.to_dict(), started=started, fys=fys, inputs=inputs, read=read.to_dict(),
            geo=placed.geo_methods, classified=classified.to_dict(), analytics=analytics.to_dict(),
            cra=cra.to_dict(), written=written.to_dict())
        manifest["postcode_directory"] = placed.postcode_directory
        manifest["placement"] = placed.placement
        context = steps.site_context(manifest)
        timed("render pages, 13 pilot places (render_site)",
              lambda: steps.render_site(staging, analytics, cra.allocation, context, place_codes))
        if all_councils:
            timed("render pages, every council (render_site)",
                  lambda: steps.render_site(staging, analytics, cra.allocation, context, None))
        timed("manifest and publish", lambda: (steps.write_manifest(manifest, staging),
                                               steps.publish(staging, out_dir)))
    except BaseException:
        steps.discard_staging(staging)
        raise
    info = read.inputs[0]
    return {"steps": results, "rows_read": info["rows_read"], "rows_accepted": info["rows_accepted"],
            "amount_in_gbp": info["amount_in_gbp"], "peak_rss_mb": _peak_mb(),
            "geo_methods": {k: v["awards"] for k, v in placed.geo_methods.items()}}


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
