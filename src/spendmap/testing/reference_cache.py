"""A fresh spendmap cache (a test's, a benchmark step run's) seeded with reference data already parsed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# What a cache keeps of the bundled reference data once parsed (spendmap.parsed_cache, the built-in
# postcode directory); never the step results, downloads or plain counts a test may be about.
REFERENCE_PARSES = ("parsed/cra-*", "parsed/classification-*", "postcode_directory/*")


def seed_reference(reference: Path, cache: Path) -> Path:
    """`cache` holding hard links to the reference parses in `reference` (nothing else). spendmap
    replaces a cache file rather than writing into it, so a link is never changed under another test."""
    for pattern in REFERENCE_PARSES:
        for entry in reference.glob(pattern):
            target = cache / entry.relative_to(reference)
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.is_dir():
                shutil.copytree(entry, target, copy_function=os.link)
            else:
                os.link(entry, target)
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def warm_reference(cache: Path, work: Path) -> Path:
    """`cache` with the bundled reference data parsed: one in-process `spendmap run` of a one-award
    register for 2016-17 (the bundled CRA edition covers it), its outputs in `work`."""
    from spendmap.cli import main

    work.mkdir(parents=True, exist_ok=True)
    register = work / "warm-up-2016-17.csv"
    register.write_text("Identifier,Title,Amount Awarded,Award Date,Recipient Org:Name,Funding Org:Name\n"
                        "W-1,Warm-up,1000,2016-06-01,Wakefield Council,Department for Education\n")
    before = os.environ.get("SPENDMAP_CACHE")
    os.environ["SPENDMAP_CACHE"] = str(cache)
    try:
        code = main(["run", "--offline", "--places", "Wakefield", "--grants", str(register),
                     "--out", str(work / "out")])
    finally:
        if before is None:
            os.environ.pop("SPENDMAP_CACHE", None)
        else:
            os.environ["SPENDMAP_CACHE"] = before
    if code != 0:
        raise RuntimeError(f"the warm-up run exited {code}")
    return cache


if __name__ == "__main__":  # python -m spendmap.testing.reference_cache CACHE WORK
    import sys

    warm_reference(Path(sys.argv[1]), Path(sys.argv[2]))
