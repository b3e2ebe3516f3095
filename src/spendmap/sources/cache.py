"""spendmap's download cache: entries, their integrity, and the fetch manifest.

Each URL has its own folder `downloads/<first 20 hex of sha256(URL)>/` holding the file under its
published name and a sidecar `.source.json`. A file is whole when its size matches the sidecar and its
structure holds (`check_whole`: a zip's central directory, a workbook that opens, a CSV that decodes).
Part files of downloads whose process is gone are swept away (`sweep_stale_parts`).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spendmap import __version__
from spendmap.errors import InputError

MANIFEST_NAME = "fetch_manifest.json"
SIDECAR_NAME = ".source.json"  # leading dot: never clashes with a published file name
PART_PREFIX = ".part-"
CHUNK = 1 << 20  # 1 MiB: big enough for throughput, small enough to keep memory flat on the 900 MB NSPL
_WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class FetchedFile:
    """A source resolved to a local file, with what the run manifest records about it."""

    path: Path  # local file (the original path for a local SRC, the cached copy for a URL)
    source: str  # the SRC as given
    sha256: str
    bytes: int
    url: str | None
    fetched_at: str | None  # ISO time of the download (UTC), None for a local file
    from_cache: bool
    # A download whose size was checked (Content-Length or a catalogue's declared size); None: local.
    verified: bool | None = None
    verification: str | None = None  # how it was checked, or why it could not be

    def to_manifest(self) -> dict[str, Any]:
        """JSON-ready dict for run_manifest.json / fetch_manifest.json."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def default_cache_dir() -> Path:
    """$SPENDMAP_CACHE, else ~/.cache/spendmap."""
    override = os.environ.get("SPENDMAP_CACHE")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "spendmap"


# Digests already taken in this process, keyed by what any change to a file changes: its device and inode
# (a replaced file is a new inode), size, and modification and status-change times in nanoseconds (a write
# in place moves both). A run hashes each input several times (resolving it, the same-file check, the
# reader's input id, the cache keys): 0.4 s each for a 500 MB register. Never stored on disk. As git does
# for "racily clean" files, a file changed in the last 2 s is not remembered: file systems stamp times
# coarsely (ext4 to a few ms), so a second write of the same size that soon could keep its stamp.
_DIGESTS: dict[tuple[int, int, int, int, int], str] = {}
_DIGESTS_KEEP = 256
_SETTLED_NS = 2_000_000_000


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (once per process while the file is unchanged)."""
    st = os.stat(path)
    stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if stamp in _DIGESTS:
        return _DIGESTS[stamp]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
        after = os.fstat(fh.fileno())
    hexdigest = digest.hexdigest()
    settled = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _SETTLED_NS
    if settled and (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == stamp[2:]:
        if len(_DIGESTS) >= _DIGESTS_KEEP:
            _DIGESTS.clear()
        _DIGESTS[stamp] = hexdigest
    return hexdigest


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------------
# Is a file whole?


def check_whole(path: Path, expect: str | None = None, name: str | None = None) -> str | None:
    """None when `path` is structurally complete, else what is wrong, in words.

    A zip (so also .xlsx/.ods) must have its central directory (it sits at the end: a cut-short zip
    has none); a workbook must open with calamine; a CSV must decode (UTF-8, else Windows-1252). Other
    files (JSON, web pages) are not judged. A password-protected workbook is whole but unusable: it
    raises InputError rather than being retried as if damaged. `name` is the file's published name
    (a download's part file has none): its suffix and the words of any message come from it.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        return f"it cannot be opened ({exc.strerror or exc})"
    suffix = Path(name or path.name).suffix.lower()
    wants_sheet = suffix in _WORKBOOK_SUFFIXES or (expect or "").startswith("spreadsheet")
    if head.startswith(b"PK\x03\x04"):  # a cut-short zip still starts so: its end is what is missing
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            return f"it is not a whole zip archive ({exc}); the download was probably cut short"
        # An Office Open XML or OpenDocument package (not, say, the NSPL zip of CSVs) must also open.
        if wants_sheet and ("[Content_Types].xml" in names or "mimetype" in names):
            return _workbook_problem(path)
        return None
    if head.startswith(OLE2_MAGIC):
        if is_password_protected(path):
            raise InputError(password_message(name or str(path)))
        return _workbook_problem(path) if wants_sheet or suffix == ".xls" else None
    if suffix in _TEXT_SUFFIXES or (expect or "").startswith("csv"):
        return _text_problem(path)
    return None


def is_password_protected(path: Path) -> bool:
    """True for an encrypted Office workbook: an OLE2 container holding an 'EncryptedPackage' stream
    (how Excel saves a .xlsx with a password to open)."""
    try:
        with path.open("rb") as fh:
            if fh.read(8) != OLE2_MAGIC:
                return False
            data = fh.read(4 << 20)  # the directory sits near the start in Excel's files
    except OSError:
        return False
    return "EncryptedPackage".encode("utf-16-le") in data


def password_message(path: Path | str) -> str:
    """The words for a password-protected workbook (whole, but spendmap cannot open it)."""
    return (
        f"'{path}' is a password-protected workbook: spendmap cannot open it. Open it in a spreadsheet "
        f"program with the password, save an unprotected copy (File > Save As, without a password) and "
        f"pass that copy instead."
    )


def _workbook_problem(path: Path) -> str | None:
    from python_calamine import CalamineWorkbook

    try:
        with path.open("rb") as fh:  # from a file object: calamine then goes by content, not by name
            wb = CalamineWorkbook.from_filelike(fh)
        wb.sheet_names  # noqa: B018 - opening reads the workbook index; touching it proves it parsed
    except Exception as exc:  # noqa: BLE001 - calamine raises several error types for damaged files
        return f"it does not open as a workbook ({type(exc).__name__}: {str(exc)[:160]})"
    return None


def _text_problem(path: Path) -> str | None:
    """A CSV decodes as UTF-8, or else as Windows-1252. A file that is UTF-8 throughout but ends in
    the middle of a character was cut short (Windows-1252 would decode anything and hide that)."""
    utf8 = _decode_failure(path, "utf-8-sig")
    if utf8 == "end":
        return "it ends in the middle of a character; the download was cut short"
    if utf8 == "middle" and _decode_failure(path, "cp1252"):
        return "it does not decode as text (UTF-8 or Windows-1252); it may be damaged"
    return None


def _decode_failure(path: Path, encoding: str) -> str | None:
    """Where decoding `path` fails: "middle", "end" (an incomplete last character) or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                decoder.decode(chunk)
    except UnicodeDecodeError:
        return "middle"
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "end"
    return None


# --------------------------------------------------------------------------------------------------
# Cache entries


def entry_dir_for(cache_dir: Path, url: str) -> Path:
    # One folder per URL: the file keeps its published name (readers use it, e.g. to find the year).
    return cache_dir / "downloads" / hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]


def cached_meta(entry_dir: Path) -> dict[str, Any] | None:
    """The sidecar of a complete cache entry, or None. Size is checked; the sha256 is the recorded one
    (re-hashing the 900 MB NSPL on every run would cost seconds for little)."""
    sidecar = entry_dir / SIDECAR_NAME
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        data = entry_dir / meta["filename"]
        if data.is_file() and data.stat().st_size == int(meta["bytes"]):
            return meta
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


def cached_entry(cache_dir: Path, url: str) -> dict[str, Any] | None:
    """The sidecar of the complete cache entry for `url`, or None."""
    return cached_meta(entry_dir_for(Path(cache_dir), url))


def evict(entry_dir: Path) -> None:
    """Remove a cache entry (sidecar first, so a crash midway never leaves a file that looks whole)."""
    (entry_dir / SIDECAR_NAME).unlink(missing_ok=True)
    if entry_dir.is_dir():
        for item in entry_dir.iterdir():
            if item.is_file():
                item.unlink(missing_ok=True)
        try:
            entry_dir.rmdir()
        except OSError:
            pass


def evict_url(url: str, cache_dir: Path | None = None) -> None:
    """Forget the cached download of `url` (a reader found it unreadable); the next run fetches it anew."""
    evict(entry_dir_for(Path(cache_dir) if cache_dir is not None else default_cache_dir(), url))


def sweep_stale_parts(cache_dir: Path) -> list[Path]:
    """Delete `.part-<pid>-*` files whose download process is gone (killed, crashed): a later run never
    keeps them. Parts of a live process (another spendmap downloading now) are left alone."""
    removed = []
    for part in (Path(cache_dir) / "downloads").glob(f"*/{PART_PREFIX}*"):
        m = re.match(rf"{re.escape(PART_PREFIX)}(\d+)-", part.name)
        pid = int(m.group(1)) if m else None
        try:
            age = time.time() - part.stat().st_mtime
        except OSError:
            continue
        # A live owner keeps its part (a download in progress), unless the part is a day old: the pid
        # has then been reused by another process.
        if pid is not None and pid_alive(pid) and age < 86_400:
            continue
        part.unlink(missing_ok=True)
        removed.append(part)
        try:
            part.parent.rmdir()  # an entry folder left holding nothing
        except OSError:
            pass
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal counts: it is someone else's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to `path` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is missing or not a JSON object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_fetch_manifest(cache_dir: Path | None = None) -> dict[str, Any]:
    """The cache's fetch_manifest.json ({"files": [...]}), empty if there is none yet."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    data = read_json(cache_dir / MANIFEST_NAME)
    return data if data is not None and isinstance(data.get("files"), list) else {"files": []}


def record_in_manifest(cache_dir: Path, fetched: FetchedFile, extra: dict[str, Any] | None = None) -> None:
    """Add or update (by URL) this download in the cache's fetch_manifest.json."""
    manifest = read_fetch_manifest(cache_dir)
    entry = {
        "url": fetched.url,
        "path": str(fetched.path.relative_to(cache_dir))
        if fetched.path.is_relative_to(cache_dir)
        else str(fetched.path),
        "sha256": fetched.sha256,
        "bytes": fetched.bytes,
        "fetched_at": fetched.fetched_at,
    }
    old = next((f for f in manifest["files"] if f.get("url") == fetched.url), {})
    merged = {**old, **entry, **{k: v for k, v in (extra or {}).items() if v is not None}}
    files = [f for f in manifest["files"] if f.get("url") != fetched.url] + [merged]
    write_json_atomic(
        cache_dir / MANIFEST_NAME,
        {"generated_by": f"spendmap {__version__}", "updated_at": now_iso(), "files": files},
    )
