"""Resolve a source (local path or http(s) URL) to a local file, downloading into a cache when needed.

Every input spendmap reads goes through `resolve_source`, so the run manifest can record the same facts
for a local file and a download (path, sha256, bytes, URL, time). Downloads are streamed to a temporary
file in the cache folder and renamed into place only when complete and checked, so an interrupted or
failed download never leaves a half file that a later `--offline` run would mistake for the real one.

`KNOWN_SOURCES` declares the official releases `spendmap fetch --source NAME` knows about. Every URL in
it was checked against a public copy of the page; where no direct file URL could be checked, the entry
holds the landing page and `direct: False`, and `fetch_known` looks for the file link on that page
rather than guessing a file address.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests

from spendmap import __version__
from spendmap.errors import DownloadError, InputError
from spendmap.fiscal_year import fy_start_year

MANIFEST_NAME = "fetch_manifest.json"
SIDECAR_NAME = ".source.json"  # leading dot: never clashes with a published file name
_CHUNK = 1 << 20  # 1 MiB: big enough for throughput, small enough to keep memory flat on the 900 MB NSPL
_MAX_RETRY_AFTER = 120.0  # never sleep longer than this on a server's Retry-After
_RETRY_STATUS = {408, 425, 429}  # plus every 5xx
_HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


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

    def to_manifest(self) -> dict[str, Any]:
        """JSON-ready dict for run_manifest.json / fetch_manifest.json."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def default_cache_dir() -> Path:
    """$SPENDMAP_CACHE, else ~/.cache/spendmap."""
    override = os.environ.get("SPENDMAP_CACHE")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "spendmap"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_url(src: str | Path) -> bool:
    """True for http(s) URLs (a Path is never a URL)."""
    return isinstance(src, str) and src.strip().lower().startswith(("http://", "https://"))


def resolve_source(
    src: str | Path,
    *,
    cache_dir: Path | None = None,
    offline: bool = False,
    retries: int = 3,
    backoff_seconds: float = 1.0,
    timeout: float = 60,
    refresh: bool = False,
    expect: str | None = None,
) -> FetchedFile:
    """Local path -> checked and hashed; http(s) URL -> downloaded into the cache (or reused from it).

    `retries` is the number of further attempts after the first (so 3 means up to 4 requests) on
    connection errors, timeouts, truncated bodies, HTTP 5xx, 408 and 429, waiting
    `backoff_seconds * 2**n` between them (or the server's Retry-After, capped). Other HTTP errors
    (404, 403, ...) fail at once. `expect` ("spreadsheet", "csv", "zip", ...) says a data file is wanted:
    a web page in reply is then an InputError rather than a file. `refresh` re-downloads a cached URL.
    Raises InputError (exit 2) for a missing file or a forbidden download, DownloadError (exit 3) when
    the download failed.
    """
    text = str(src).strip()
    if not is_url(src):
        if isinstance(src, str) and _URL_RE.match(text):
            raise InputError(
                f"'{text}' is a URL spendmap cannot download: only http:// and https:// addresses are "
                "supported. Download the file yourself and pass its local path instead."
            )
        return _resolve_local(Path(src).expanduser(), text)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    entry_dir = _entry_dir(cache_dir, text)
    cached = None if refresh else _cached(entry_dir)
    if cached is not None:
        return _cached_file(cached, entry_dir, text)
    if offline:
        raise InputError(
            f"{text} is not in spendmap's download cache ({cache_dir}) and --offline forbids downloading. "
            f"Run once without --offline (or `spendmap fetch`) while online to cache it, point "
            f"$SPENDMAP_CACHE at a cache that holds it, or pass a local copy of the file instead of the URL."
        )
    meta = _download(
        text, entry_dir, retries=retries, backoff_seconds=backoff_seconds, timeout=timeout, expect=expect
    )
    fetched = _cached_file(meta, entry_dir, text, from_cache=False)
    _record_in_manifest(cache_dir, fetched, extra={"content_type": meta.get("content_type")})
    return fetched


def _cached_file(
    meta: dict[str, Any], entry_dir: Path, source: str, *, from_cache: bool = True
) -> FetchedFile:
    """FetchedFile for a cache entry described by its sidecar `meta`."""
    return FetchedFile(
        path=entry_dir / meta["filename"],
        source=source,
        sha256=meta["sha256"],
        bytes=int(meta["bytes"]),
        url=meta["url"],
        fetched_at=meta["fetched_at"],
        from_cache=from_cache,
    )


# --------------------------------------------------------------------------------------------------
# Local files


def _resolve_local(path: Path, source: str) -> FetchedFile:
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file: give the path of the data file inside it.")
    if not path.is_file():
        raise InputError(_missing_file_message(path))
    return FetchedFile(
        path=path,
        source=source,
        sha256=sha256_of(path),
        bytes=path.stat().st_size,
        url=None,
        fetched_at=None,
        from_cache=False,
    )


def _missing_file_message(path: Path) -> str:
    folder = path.parent
    if not folder.is_dir():
        return f"The file {path} does not exist: its folder {folder} does not exist either."
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.5)
    if not close:  # try case-insensitively ("Grants.XLSX" vs "grants.xlsx")
        lower = {n.lower(): n for n in names}
        close = [lower[n] for n in difflib.get_close_matches(path.name.lower(), list(lower), n=3, cutoff=0.5)]
    hint = f" Did you mean {', '.join(repr(str(folder / c)) for c in close)}?" if close else ""
    return f"The file {path} does not exist ({len(names)} other files are in {folder}).{hint}"


# --------------------------------------------------------------------------------------------------
# Cache entries


def _entry_dir(cache_dir: Path, url: str) -> Path:
    # One folder per URL: the file keeps its published name (readers use it, e.g. to find the year).
    return cache_dir / "downloads" / hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]


def _cached(entry_dir: Path) -> dict[str, Any] | None:
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


def _write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_fetch_manifest(cache_dir: Path | None = None) -> dict[str, Any]:
    """The cache's fetch_manifest.json ({"files": [...]}), empty if there is none yet."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        data = json.loads((cache_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("files"), list):
            return data
    except (OSError, ValueError):
        pass
    return {"files": []}


def _record_in_manifest(cache_dir: Path, fetched: FetchedFile, extra: dict[str, Any] | None = None) -> None:
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
    _write_json_atomic(
        cache_dir / MANIFEST_NAME,
        {"generated_by": f"spendmap {__version__}", "updated_at": _now(), "files": files},
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------------
# Downloading


class _Retryable(Exception):
    """A failure worth another attempt; `wait` overrides the backoff (Retry-After)."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


def _download(
    url: str, entry_dir: Path, *, retries: int, backoff_seconds: float, timeout: float, expect: str | None
) -> dict[str, Any]:
    attempts = max(0, int(retries)) + 1
    created = not entry_dir.exists()
    entry_dir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    try:
        for attempt in range(1, attempts + 1):
            try:
                return _attempt(url, entry_dir, timeout=timeout, expect=expect)
            except _Retryable as exc:
                last_error = str(exc)
                wait = exc.wait if exc.wait is not None else backoff_seconds * 2 ** (attempt - 1)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                last_error = _describe(exc)
                wait = backoff_seconds * 2 ** (attempt - 1)
            except (
                requests.exceptions.InvalidURL,
                requests.exceptions.InvalidSchema,
                requests.exceptions.MissingSchema,
            ) as exc:
                raise InputError(f"'{url}' is not a valid download address ({exc}).") from None
            if attempt < attempts and wait > 0:
                time.sleep(min(wait, _MAX_RETRY_AFTER))
        raise DownloadError(
            f"Could not download {url}: {attempts} attempt{'s' if attempts != 1 else ''} failed "
            f"(retrying on connection errors, timeouts, truncated downloads, HTTP 5xx and 429), and the "
            f"last error was: {last_error}. Nothing was saved in the cache. Check the address and your "
            f"connection and try again later, or download the file yourself and pass its local path."
        )
    finally:
        if created and entry_dir.is_dir() and not any(entry_dir.iterdir()):
            entry_dir.rmdir()


def _attempt(url: str, entry_dir: Path, *, timeout: float, expect: str | None) -> dict[str, Any]:
    headers = {"User-Agent": f"spendmap/{__version__} (python-requests)"}
    with requests.get(url, stream=True, timeout=timeout, headers=headers) as resp:
        status = resp.status_code
        if status >= 500 or status in _RETRY_STATUS:
            raise _Retryable(f"HTTP {status} {resp.reason or ''}".strip(), _retry_after(resp))
        if status >= 400:
            raise DownloadError(
                f"Could not download {url}: the server answered HTTP {status} {resp.reason or ''}".rstrip()
                + (
                    " (the file is not at that address: it may have moved or been renamed; check the "
                    "address on the publisher's page)"
                    if status in (404, 410)
                    else " (not retried: this error does not go away by trying again)"
                )
                + ". Nothing was saved in the cache."
            )
        content_type = resp.headers.get("Content-Type", "")
        if expect and content_type.split(";")[0].strip().lower() in _HTML_CONTENT_TYPES:
            raise _web_page_error(url, expect, content_type)
        filename = _filename(resp, url)
        expected_len = _content_length(resp)
        digest, size = hashlib.sha256(), 0
        fd, tmp_name = tempfile.mkstemp(dir=entry_dir, prefix=".part-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in resp.iter_content(_CHUNK):
                    if size == 0 and expect and _looks_like_html(chunk):
                        raise _web_page_error(url, expect, content_type or "no Content-Type")
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            if expected_len is not None and size != expected_len:
                raise _Retryable(f"the download was cut short ({size:,} of {expected_len:,} bytes)")
            if size == 0 and expect:
                raise _Retryable("the server sent an empty file")
            final = entry_dir / filename
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        meta = {
            "url": url,
            "final_url": resp.url,
            "filename": filename,
            "sha256": digest.hexdigest(),
            "bytes": size,
            "fetched_at": _now(),
            "content_type": content_type or None,
            "etag": resp.headers.get("ETag"),
            "last_modified": resp.headers.get("Last-Modified"),
        }
        # The sidecar is written last: an entry without it is incomplete and never reused.
        _write_json_atomic(entry_dir / SIDECAR_NAME, meta)
        for stale in entry_dir.iterdir():  # a refresh whose file name changed leaves the old file
            if stale.name not in (filename, SIDECAR_NAME) and not stale.name.startswith("."):
                stale.unlink(missing_ok=True)
        return meta


def _content_length(resp: requests.Response) -> int | None:
    # With Content-Encoding (gzip) requests decodes the body, so the header counts other bytes.
    if resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return None
    try:
        return int(resp.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def _looks_like_html(chunk: bytes) -> bool:
    head = chunk[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _web_page_error(url: str, expect: str, content_type: str) -> InputError:
    return InputError(
        f"{url} returned a web page ({content_type}), not the {expect} file expected. This usually means "
        f"the address is the publisher's landing page (GOV.UK and the ONS portal link the data files from "
        f"such pages) or a login/cookie page: open it in a browser, copy the address of the data file "
        f"itself (e.g. the .ods/.xlsx/.csv/.zip link), and use that instead."
    )


def _filename(resp: requests.Response, url: str) -> str:
    disposition = resp.headers.get("Content-Disposition", "")
    m = re.search(r"filename\*\s*=\s*(?:UTF-8'')?\"?([^\";]+)", disposition, re.IGNORECASE) or re.search(
        r"filename\s*=\s*\"?([^\";]+)", disposition, re.IGNORECASE
    )
    name = unquote(m.group(1)) if m else unquote(urlsplit(resp.url or url).path.rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return name[:150] or "download"


def _describe(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return f"timed out ({exc.__class__.__name__})"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke mid-download (truncated body)"
    text = str(exc)
    return f"{exc.__class__.__name__}: {text[:300]}"


# --------------------------------------------------------------------------------------------------
# Known official releases (`spendmap fetch --source NAME`)
#
# Each release's `url` is a page whose text was checked in a public copy (see docs/assumptions.md,
# "Fetching sources"). None of the direct file addresses (assets.publishing.service.gov.uk, ONS portal
# downloads) could be checked, so every release is `direct: False`: fetch_known reads the landing
# page and follows the link to the data file whose name matches `link_patterns`.

KNOWN_SOURCES: dict[str, dict[str, Any]] = {
    "grants-register": {
        "description": "Cabinet Office Government Grants Register (GGIS awards), one ODS workbook per "
        "financial year, linked from the GOV.UK 'Government grants statistics' release page.",
        "licence": "Open Government Licence v3.0",
        "publisher": "Cabinet Office (Government Grants Management Function)",
        "used_as": "--grants",
        "expect": "spreadsheet",
        "link_patterns": [r"(?i)grants?[_ -]*register.*\.(ods|xlsx|csv)$"],
        # No looser fallback: the release also links statistical tables (.ods) that are not the register.
        "releases": {
            "2019-20": {
                "url": "https://www.gov.uk/government/statistics/government-grants-statistics-2019-to-2020/"
                "government-grants-statistics-2019-to-2020",
                "direct": False,
                "fy_first": "2019-20",
                "fy_last": "2019-20",
            },
            "2020-21": {
                "url": "https://www.gov.uk/government/statistics/government-grants-statistics-2020-to-2021/"
                "government-grants-statistics-development-plan",
                "direct": False,
                "fy_first": "2020-21",
                "fy_last": "2020-21",
            },
            "2021-22": {
                "url": "https://www.gov.uk/government/statistics/government-grants-statistics-2021-to-2022/"
                "government-grants-statistics-development-plan",
                "direct": False,
                "fy_first": "2021-22",
                "fy_last": "2021-22",
            },
            "2022-23": {
                "url": "https://www.gov.uk/government/statistics/government-grants-statistics-2022-to-2023/"
                "grants-statistics-bulletin-2022-to-2023",
                "direct": False,
                "fy_first": "2022-23",
                "fy_last": "2022-23",
            },
            "2023-24": {
                "url": "https://www.gov.uk/government/statistics/government-grants-statistics-2023-to-2024/"
                "grants-statistics-bulletin-2023-to-2024",
                "direct": False,
                "fy_first": "2023-24",
                "fy_last": "2023-24",
            },
        },
    },
    "cra": {
        "description": "HM Treasury Country and Regional Analysis (CRA) database, one edition a year "
        "covering the five latest outturn years, linked from the GOV.UK release page.",
        "licence": "Open Government Licence v3.0",
        "publisher": "HM Treasury",
        "used_as": "--cra",
        "expect": "spreadsheet",
        "link_patterns": [r"(?i)database.*\.(xlsx|ods|csv)$"],  # not the A/B tables workbooks
        "releases": {
            "2014": {
                "url": "https://www.gov.uk/government/statistics/country-and-regional-analysis-2014",
                "direct": False,
                "fy_first": "2009-10",
                "fy_last": "2013-14",
            },
            "2022": {
                "url": "https://www.gov.uk/government/statistics/country-and-regional-analysis-2022/"
                "country-and-regional-analysis-2022-guidance",
                "direct": False,
                "fy_first": "2017-18",
                "fy_last": "2021-22",
            },
        },
    },
    "nspl": {
        "description": "ONS National Statistics Postcode Lookup (NSPL): every UK postcode, live and "
        "terminated, with its local authority district (laua), county, region and country. A zip of "
        "about 2.5 million rows (main file Data/NSPL*_UK.csv).",
        "licence": "Open Government Licence v3.0; contains OS data, Royal Mail data and National "
        "Statistics data, Crown copyright and database right",
        "publisher": "Office for National Statistics (ONS Geography)",
        "used_as": "--postcodes",
        "expect": "zip",
        # The ONS pages are built by JavaScript, so no file link can be read from them: the user
        # downloads the zip in a browser and passes it (or its direct URL) as --postcodes.
        "discover": False,
        "releases": {
            "latest": {
                "url": "https://integrateddataservice.gov.uk/data/national-statistics-postcode-lookup",
                "direct": False,
            },
        },
    },
}


def known_source_names() -> list[str]:
    """Names accepted by `spendmap fetch --source`."""
    return sorted(KNOWN_SOURCES)


def _pick_release(name: str, spec: dict[str, Any], year: str | None) -> tuple[str, dict[str, Any]]:
    releases = spec["releases"]
    if year is None:
        key = max(releases, key=lambda k: releases[k].get("fy_last", k))
        return key, releases[key]
    if year in releases:
        return year, releases[year]
    start = fy_start_year(year)
    covering = [
        k
        for k, r in releases.items()
        if "fy_first" in r and fy_start_year(r["fy_first"]) <= start <= fy_start_year(r["fy_last"])
    ]
    if not covering:
        if not any("fy_first" in r for r in releases.values()):
            key = max(releases)  # not tied to a financial year (postcode lookups): the latest
            return key, releases[key]
        spans = "; ".join(
            f"{k} ({r['fy_first']}" + (f" to {r['fy_last']})" if r["fy_last"] != r["fy_first"] else ")")
            for k, r in releases.items()
        )
        raise InputError(
            f"spendmap knows no release of '{name}' covering {year}. Releases it knows: {spans}. For "
            f"another year, download the file from the publisher and pass it as {spec['used_as']} PATH."
        )
    key = max(covering, key=lambda k: releases[k]["fy_last"])  # the newest edition has revised figures
    return key, releases[key]


def fetch_known(
    name: str,
    *,
    year: str | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    retries: int = 3,
    backoff_seconds: float = 1.0,
    timeout: float = 60,
) -> FetchedFile:
    """Download (or reuse from the cache) the official release `name` for financial year `year`.

    `year` is a financial year (2022-23); None means the newest release known. For landing-page
    releases the page is read and the data-file link matching the source's patterns is followed; the
    discovered file URL is remembered in the cache so `offline=True` works afterwards. The download is
    recorded in the cache's fetch_manifest.json with the source name and release.
    """
    if name not in KNOWN_SOURCES:
        close = difflib.get_close_matches(name, known_source_names(), n=2, cutoff=0.4)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise InputError(
            f"Unknown source '{name}'. `spendmap fetch --source` knows: "
            f"{', '.join(known_source_names())}.{hint}"
        )
    spec = KNOWN_SOURCES[name]
    release_key, release = _pick_release(name, spec, year)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    opts = dict(
        cache_dir=cache_dir,
        offline=offline,
        retries=retries,
        backoff_seconds=backoff_seconds,
        timeout=timeout,
    )
    if release.get("direct"):
        file_url = release["url"]
    else:
        file_url = _discover_file_url(name, spec, release_key, release, refresh=refresh, **opts)
    fetched = resolve_source(file_url, refresh=refresh, expect=spec.get("expect"), **opts)
    _record_in_manifest(
        cache_dir,
        fetched,
        extra={
            "source_name": name,
            "release": release_key,
            "requested_year": year,
            "landing_page": None if release.get("direct") else release["url"],
            "description": spec["description"],
            "licence": spec["licence"],
        },
    )
    return fetched


def _discover_file_url(
    name: str,
    spec: dict[str, Any],
    release_key: str,
    release: dict[str, Any],
    *,
    refresh: bool,
    cache_dir: Path,
    offline: bool,
    **opts: Any,
) -> str:
    memo = cache_dir / "known" / f"{name}_{release_key}.json"
    if not refresh:
        try:
            return json.loads(memo.read_text(encoding="utf-8"))["file_url"]
        except (OSError, ValueError, KeyError):
            pass
    manual = (
        f"Open {release['url']} in a browser, download the data file ({spec['description']}) and pass "
        f"its path (or the file's own URL) as {spec['used_as']}."
    )
    if not spec.get("discover", True):
        raise InputError(
            f"spendmap cannot download '{name}' by itself: the publisher's page gives no fixed file "
            f"address spendmap could check. {manual}"
        )
    if offline:
        raise InputError(
            f"'{name}' {release_key} has not been fetched into the cache ({cache_dir}) and --offline "
            f"forbids downloading: run `spendmap fetch --source {name}` while online first. {manual}"
        )
    links: list[str] = []
    failures: list[DownloadError] = []
    candidates = _landing_candidates(release["url"])
    for page_url in candidates:
        try:
            page = resolve_source(page_url, cache_dir=cache_dir, refresh=True, **opts)
        except DownloadError as exc:
            failures.append(exc)  # the release page may not exist; the checked page is tried next
            continue
        html = page.path.read_text(encoding="utf-8", errors="replace")
        links = [urljoin(page_url, unescape(h)) for h in re.findall(r"""href\s*=\s*["']([^"'#]+)""", html)]
        for pattern in spec["link_patterns"]:
            hits = [u for u in links if re.search(pattern, unquote(urlsplit(u).path.rsplit("/", 1)[-1]))]
            if hits:
                _write_json_atomic(memo, {"file_url": hits[0], "landing_page": page_url, "found_at": _now()})
                return hits[0]
    if len(failures) == len(candidates):
        raise failures[-1]  # no page could be read at all: a download failure (exit 3), not bad input
    files = sorted({u for u in links if re.search(r"\.(ods|xlsx|xls|csv|zip)$", urlsplit(u).path, re.I)})
    found = f" Data-file links on the page: {', '.join(files[:8])}." if files else " It links no data files."
    raise InputError(
        f"Could not find the {name} {release_key} data file on {release['url']}: no link matched the "
        f"expected file name ({spec['link_patterns'][0]}).{found} {manual}"
    )


def _landing_candidates(url: str) -> list[str]:
    """A GOV.UK HTML attachment (/government/statistics/<release>/<document>) links its data files from
    the release page one level up; try that page first, then the checked page itself."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    out = []
    if (
        parts.netloc.endswith("gov.uk")
        and len(segments) == 4
        and segments[:2] == ["government", "statistics"]
    ):
        out.append(f"{parts.scheme}://{parts.netloc}/{'/'.join(segments[:3])}")
    out.append(url)
    return out
