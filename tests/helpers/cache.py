"""A test's own spendmap cache, seeded with the reference data a session has already parsed."""

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
