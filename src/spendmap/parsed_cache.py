"""Reference data parsed once: a reader's result kept in the cache, keyed by content and code version.

A CRA edition, the scheme registers or the department and policy rules are the same bytes run after run;
parsing them again (seconds for a CRA workbook) is a fixed cost paid for nothing. `parsed(kind, files,
params, parse)` returns `parse()`'s result, stored under `<cache>/parsed/<kind>-<key>.pickle`, where the
key hashes the files' sha256, the parameters and `pipeline.code_version()` (spendmap's source, its
reference data and the reading libraries' versions): changing any of them parses again. Only a
successful parse is stored, so a file that fails to read fails the same way every run. What depends on
where a file is rather than what it holds (its path in rejects and summaries) is applied by the caller
every run, never taken from the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
FOLDER = "parsed"
KEEP = 16  # per kind: a few editions and years side by side


def key(kind: str, files: Sequence[Path | str], params: Any) -> str:
    """The cache key: the files' content, the parameters and the code version."""
    from spendmap.pipeline import code_version
    from spendmap.sources.cache import sha256_of

    blob = json.dumps([kind, code_version(), [sha256_of(Path(f)) for f in files], params],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def parsed(
    kind: str, files: Sequence[Path | str], params: Any, parse: Callable[[], T], cache_dir: Path | str | None
) -> T:
    """parse(), or its stored result for the same files, parameters and code; no cache_dir: parse()."""
    if cache_dir is None:
        return parse()
    path = _entry(kind, files, params, cache_dir)
    if path.is_file():
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)  # our own cache file, written below
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            path.unlink(missing_ok=True)  # damaged or from another code shape: parse again
    value = parse()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    _prune(path.parent, kind)
    return value


def stored(kind: str, files: Sequence[Path | str], params: Any, cache_dir: Path | str | None) -> bool:
    """Whether `parsed` would find a stored result (without loading it)."""
    return cache_dir is not None and _entry(kind, files, params, cache_dir).is_file()


def _entry(kind: str, files: Sequence[Path | str], params: Any, cache_dir: Path | str) -> Path:
    return Path(cache_dir) / FOLDER / f"{kind}-{key(kind, files, params)}.pickle"


def _prune(folder: Path, kind: str, keep: int = KEEP) -> None:
    entries = sorted(folder.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)
