"""Resolve a source (local path or http(s) URL) to a local file, downloading into a cache when needed.

Every input spendmap reads goes through `resolve_source`, so the run manifest records the same facts
for a local file and a download (path, sha256, bytes, URL, time).

A download is cached only when it is whole: it is streamed to a `.part-<pid>-*` file in its cache
folder, checked (against Content-Length when the server sends one, else by structure: a zip's central
directory, a workbook that opens, a CSV that decodes) and only then renamed into place. A cached file
that no longer passes the structural check is evicted and downloaded again, once. Every download has
an overall deadline; retries use urllib3's `Retry` (exponential backoff with jitter, only on connection
errors, timeouts, 408/425/429 and 5xx), inside this module so they work with and without Prefect.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from spendmap import __version__
from spendmap.errors import DownloadError, InputError
from spendmap.sources.cache import (
    CHUNK,
    MANIFEST_NAME,
    PART_PREFIX,
    SIDECAR_NAME,
    FetchedFile,
    cached_meta,
    check_whole,
    default_cache_dir,
    entry_dir_for,
    evict,
    evict_url,
    now_iso,
    read_fetch_manifest,
    record_in_manifest,
    sha256_of,
    sweep_stale_parts,
    write_json_atomic,
)

__all__ = [  # with the cache names callers of resolve_source use, re-exported
    "MANIFEST_NAME", "SIDECAR_NAME", "FetchedFile", "HttpPolicy", "default_cache_dir", "evict_url", "is_url",
    "read_fetch_manifest", "resolve_source", "sha256_of",
]

_MAX_RETRY_AFTER = 120  # never sleep longer than this on a server's Retry-After
RETRY_STATUS = frozenset({408, 425, 429, *range(500, 600)})
MAX_REDIRECTS = 10
DEADLINE_ENV = "SPENDMAP_DOWNLOAD_DEADLINE"
DEFAULT_DEADLINE_SECONDS = 1800.0  # 30 min: the 900 MB NSPL at 1 MB/s fits; a trickling server does not
_HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class HttpPolicy:
    """How hard to try: urllib3 retries, per-read timeout and the overall deadline of one download."""

    retries: int = 3  # further attempts after the first
    backoff_seconds: float = 1.0  # urllib3 backoff_factor: waits 0, 2b, 4b, ... (+ jitter)
    timeout: float = 60  # seconds for connecting and for each read
    deadline: float | None = None  # whole download, seconds; None: $SPENDMAP_DOWNLOAD_DEADLINE or 30 min

    def deadline_seconds(self) -> float:
        if self.deadline is not None:
            return float(self.deadline)
        text = os.environ.get(DEADLINE_ENV, "").strip()
        try:
            value = float(text) if text else DEFAULT_DEADLINE_SECONDS
        except ValueError:
            raise InputError(f"${DEADLINE_ENV} must be a number of seconds, not '{text}'.") from None
        if not value > 0:
            raise InputError(f"${DEADLINE_ENV} must be a positive number of seconds, not '{text}'.")
        return value


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
    deadline: float | None = None,
    refresh: bool = False,
    expect: str | None = None,
    declared_bytes: int | None = None,
) -> FetchedFile:
    """Local path -> checked and hashed; http(s) URL -> downloaded into the cache (or reused from it).

    Retries (urllib3 `Retry`): `retries` further attempts on connection errors, timeouts, a truncated
    body, HTTP 5xx, 408, 425 and 429, with exponential backoff (`backoff_seconds`) plus jitter, or the
    server's Retry-After (capped at 120 s). Other HTTP errors fail at once. `deadline` bounds the whole
    download in seconds (default `$SPENDMAP_DOWNLOAD_DEADLINE`, else 30 min). `expect` ("spreadsheet",
    "csv", "zip", ...) says a data file is wanted: a web page in reply is then an InputError. `refresh`
    downloads a cached URL again. `declared_bytes` is the file's size as a catalogue states it (the
    GOV.UK Content API's attachment `file_size`): the check when the server sends no Content-Length.
    A download checked against neither is kept but marked unverified (`FetchedFile.verified`), and so
    is every later use of it from the cache. Raises InputError (exit 2) for a missing file, a forbidden
    or unusable download; DownloadError (exit 3) when the download failed, a body shorter or longer
    than its Content-Length included.
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
    policy = HttpPolicy(retries=retries, backoff_seconds=backoff_seconds, timeout=timeout, deadline=deadline)
    sweep_stale_parts(cache_dir)
    entry_dir = entry_dir_for(cache_dir, text)
    cached = None if refresh else cached_meta(entry_dir)
    if cached is not None:
        problem = check_whole(entry_dir / cached["filename"], expect)
        if problem is None:
            return _cached_file(cached, entry_dir, text)
        # A cached copy that no longer reads is evicted and fetched again, once (never in a loop).
        evict(entry_dir)
        if offline:
            raise InputError(
                f"The cached copy of {text} in {cache_dir} could not be read ({problem}) and was removed; "
                f"--offline forbids downloading it again. Run once without --offline to fetch it anew."
            )
    if offline:
        raise InputError(
            f"{text} is not in spendmap's download cache ({cache_dir}) and --offline forbids downloading. "
            f"Run once without --offline (or `spendmap fetch`) while online to cache it, point "
            f"$SPENDMAP_CACHE at a cache that holds it, or pass a local copy of the file instead of the URL."
        )
    meta = _download(text, entry_dir, policy=policy, expect=expect, declared_bytes=declared_bytes)
    fetched = _cached_file(meta, entry_dir, text, from_cache=False)
    record_in_manifest(cache_dir, fetched, extra={"content_type": meta.get("content_type")})
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
        # An entry written before sizes were recorded as checked is not known to be whole.
        verified=bool(meta.get("verified", False)),
        verification=meta.get("verification") or UNRECORDED_CHECK,
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
# HTTP: one session per download, retried by urllib3


class DeadlineRetry(Retry):
    """urllib3 Retry that also stops at an overall deadline (time.monotonic() value) and never sleeps
    past it: the retry budget and the clock both bound a download."""

    deadline_at: float | None = None

    def new(self, **kw: Any) -> DeadlineRetry:
        out = super().new(**kw)
        out.deadline_at = self.deadline_at
        return out

    def remaining(self) -> float:
        return float("inf") if self.deadline_at is None else self.deadline_at - time.monotonic()

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self.remaining() <= 0

    def get_backoff_time(self) -> float:
        return max(0.0, min(super().get_backoff_time(), self.remaining()))

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else max(0.0, min(wait, _MAX_RETRY_AFTER, self.remaining()))


def make_retry(policy: HttpPolicy, deadline_at: float | None) -> DeadlineRetry:
    """The retry policy every spendmap request uses: only retryable errors, backoff with jitter."""
    n = max(0, int(policy.retries))
    retry = DeadlineRetry(
        total=n, connect=n, read=n, status=n, other=0, redirect=MAX_REDIRECTS,
        allowed_methods=frozenset({"GET", "HEAD"}), status_forcelist=RETRY_STATUS,
        backoff_factor=max(0.0, policy.backoff_seconds), backoff_jitter=max(0.0, policy.backoff_seconds) / 2,
        backoff_max=_MAX_RETRY_AFTER, retry_after_max=_MAX_RETRY_AFTER, raise_on_status=False,
        respect_retry_after_header=True,
    )
    retry.deadline_at = deadline_at
    return retry


def http_session(retry: Retry) -> requests.Session:
    """A requests Session whose adapters retry with `retry`; redirects are capped (a loop fails fast)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = MAX_REDIRECTS
    session.headers["User-Agent"] = f"spendmap/{__version__} (python-requests)"
    return session


def http_get(
    session: requests.Session, url: str, *, policy: HttpPolicy, deadline_at: float,
    headers: dict[str, str] | None = None, stream: bool = False,
) -> requests.Response:
    """GET with the session's retries, translating request failures into spendmap's errors."""
    remaining = deadline_at - time.monotonic()
    if remaining <= 0:
        raise DownloadError(_deadline_message(url, policy))
    per_read = max(0.01, min(float(policy.timeout), remaining))
    try:
        return session.get(url, headers=headers or {}, stream=stream, timeout=(per_read, per_read))
    except requests.TooManyRedirects:
        raise DownloadError(
            f"Could not download {url}: it redirects in a loop (more than {MAX_REDIRECTS} redirects). The "
            f"address or the server is misconfigured; nothing was saved in the cache. Open the address in "
            f"a browser to find the file's real location, or download it yourself and pass its local path."
        ) from None
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema) as exc:
        raise InputError(f"'{url}' is not a valid download address ({exc}).") from None
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError) as exc:
        if time.monotonic() >= deadline_at:
            raise DownloadError(_deadline_message(url, policy)) from None
        raise DownloadError(_failed_message(url, policy, _describe(exc))) from None


def _deadline_message(url: str, policy: HttpPolicy) -> str:
    return (
        f"Could not download {url}: it did not finish within the deadline of "
        f"{policy.deadline_seconds():g} s (set ${DEADLINE_ENV} for a longer one). The server may be very "
        f"slow or stalled. Nothing was saved in the cache; try again later, or download the file yourself "
        f"and pass its local path."
    )


def _failed_message(url: str, policy: HttpPolicy, last_error: str) -> str:
    attempts = max(0, int(policy.retries)) + 1
    return (
        f"Could not download {url}: {attempts} attempt{'s' if attempts != 1 else ''} failed "
        f"(retrying on connection errors, timeouts, truncated downloads, HTTP 5xx and 429), and the "
        f"last error was: {last_error}. Nothing was saved in the cache. Check the address and your "
        f"connection and try again later, or download the file yourself and pass its local path."
    )


class _BodyError(Exception):
    """The body broke off or was cut short: worth another attempt (counted by the same Retry)."""


def _download(url: str, entry_dir: Path, *, policy: HttpPolicy, expect: str | None,
              declared_bytes: int | None = None) -> dict[str, Any]:
    deadline_at = time.monotonic() + policy.deadline_seconds()
    retry = make_retry(policy, deadline_at)
    created = not entry_dir.exists()
    entry_dir.mkdir(parents=True, exist_ok=True)
    try:
        with http_session(retry) as session:
            body_retry: Retry = retry
            while True:
                try:
                    return _attempt(session, url, entry_dir, policy=policy, deadline_at=deadline_at,
                                    expect=expect, declared_bytes=declared_bytes)
                except _BodyError as exc:
                    # urllib3 retries until the headers arrive; a body that breaks later is fed to the
                    # same Retry object, so one budget and one backoff govern both.
                    try:
                        body_retry = body_retry.increment("GET", url, error=ProtocolError(str(exc)))
                    except MaxRetryError:
                        if time.monotonic() >= deadline_at:
                            raise DownloadError(_deadline_message(url, policy)) from None
                        raise DownloadError(_failed_message(url, policy, str(exc))) from None
                    body_retry.sleep()
    finally:
        if created and entry_dir.is_dir() and not any(entry_dir.iterdir()):
            entry_dir.rmdir()


def _attempt(
    session: requests.Session, url: str, entry_dir: Path, *, policy: HttpPolicy, deadline_at: float,
    expect: str | None, declared_bytes: int | None = None,
) -> dict[str, Any]:
    # Connection: close, so the body can be read to its end whatever Content-Length said (see
    # _read_past_length): a server declaring fewer bytes than it sends is caught, not cut short.
    with http_get(session, url, policy=policy, deadline_at=deadline_at, stream=True,
                  headers={"Connection": "close"}) as resp:
        _raise_for_status(url, resp, policy)
        content_type = resp.headers.get("Content-Type", "")
        if expect and content_type.split(";")[0].strip().lower() in _HTML_CONTENT_TYPES:
            raise _web_page_error(url, expect, content_type)
        filename = _filename(resp, url)
        expected_len = _content_length(resp)
        if expected_len is not None:
            _read_past_length(resp)
        digest, size = hashlib.sha256(), 0
        fd, tmp_name = tempfile.mkstemp(dir=entry_dir, prefix=f"{PART_PREFIX}{os.getpid()}-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _body(resp, url, policy, deadline_at):
                    if size == 0 and expect and _looks_like_html(chunk):
                        raise _web_page_error(url, expect, content_type or "no Content-Type")
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            if expected_len is not None and size < expected_len:
                raise _BodyError(f"the download was cut short ({size:,} of {expected_len:,} bytes)")
            if expected_len is not None and size > expected_len:
                raise _BodyError(f"the server sent {size:,} bytes, but its Content-Length said "
                                 f"{expected_len:,}")
            if expected_len is None and declared_bytes is not None and size != declared_bytes:
                raise _BodyError(f"the download has {size:,} bytes, but the publication's catalogue entry "
                                 f"(GOV.UK Content API file_size) says {declared_bytes:,}")
            if size == 0 and expect:
                raise _BodyError("the server sent an empty file")
            verified, verification = _verification(expected_len, declared_bytes)
            # Whole by count when the server gave one, else by structure; a password-protected
            # workbook is whole but unusable (check_whole raises InputError for it).
            problem = check_whole(tmp, expect, name=filename)
            if problem and expected_len is None:
                raise _BodyError(f"the downloaded file is incomplete: {problem}")
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
            "fetched_at": now_iso(),
            "content_type": content_type or None,
            "etag": resp.headers.get("ETag"),
            "last_modified": resp.headers.get("Last-Modified"),
            "verified": verified,
            "verification": verification,
        }
        # The sidecar is written last: an entry without it is incomplete and never reused.
        write_json_atomic(entry_dir / SIDECAR_NAME, meta)
        for stale in entry_dir.iterdir():  # a refresh whose file name changed leaves the old file
            if stale.name not in (filename, SIDECAR_NAME) and not stale.name.startswith("."):
                stale.unlink(missing_ok=True)
        return meta


UNRECORDED_CHECK = ("downloaded by an earlier spendmap that did not record whether its size was checked: "
                    "it may be incomplete (run `spendmap fetch` or the run once online with a fresh cache)")
UNVERIFIED = ("the server sent no Content-Length and no catalogue states the file's size, so it could not be "
              "checked as complete (a CSV cut at a row boundary would look whole): compare its rows with the "
              "publisher's own figures")


def _verification(expected_len: int | None, declared_bytes: int | None) -> tuple[bool, str]:
    """(verified, how) for a body whose size passed every check it had."""
    if expected_len is not None:
        return True, "size matched the server's Content-Length"
    if declared_bytes is not None:
        return True, "size matched the GOV.UK Content API attachment's file_size"
    return False, UNVERIFIED


def _read_past_length(resp: requests.Response) -> None:
    """Let the body be read to the end of the connection rather than to Content-Length.

    http.client stops reading at Content-Length, so a server sending more than it declared would
    give a file cut to the declared size that passes the size check. The request asked the server to
    close the connection after the response, so its end is the body's end; the bytes read are then
    compared with Content-Length (more or fewer: a failed download)."""
    fp = getattr(resp.raw, "_fp", None)  # urllib3's http.client response
    if fp is not None and hasattr(fp, "length") and resp.headers.get("Connection", "").lower() == "close":
        fp.length = None
        resp.raw.length_remaining = None  # urllib3's own count would stop it at Content-Length too


def _body(resp: requests.Response, url: str, policy: HttpPolicy, deadline_at: float):
    """The body in pieces as they arrive (read1), checking the overall deadline after each piece: a
    server trickling a byte every few seconds cannot hold the run past the deadline."""
    raw = resp.raw
    while True:
        if time.monotonic() >= deadline_at:
            raise DownloadError(_deadline_message(url, policy))
        try:
            chunk = raw.read1(CHUNK, decode_content=True)
        except (ProtocolError, ReadTimeoutError, requests.RequestException, OSError) as exc:
            if time.monotonic() >= deadline_at:
                raise DownloadError(_deadline_message(url, policy)) from None
            raise _BodyError(_describe(exc)) from None
        if not chunk:
            return
        yield chunk


def _raise_for_status(url: str, resp: requests.Response, policy: HttpPolicy) -> None:
    status = resp.status_code
    if status in RETRY_STATUS:  # urllib3 already retried it: these are the last attempt's words
        raise DownloadError(_failed_message(url, policy, f"HTTP {status} {resp.reason or ''}".strip()))
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


def _content_length(resp: requests.Response) -> int | None:
    # With Content-Encoding (gzip) the body is decoded, so the header counts other bytes.
    if resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity"):
        return None
    try:
        return int(resp.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _looks_like_html(chunk: bytes) -> bool:
    head = chunk[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def looks_like_html(body: bytes) -> bool:
    """True when bytes start like a web page (whatever the Content-Type said)."""
    return _looks_like_html(body)


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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (requests.Timeout, ReadTimeoutError)):
        return f"timed out ({exc.__class__.__name__})"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, ProtocolError)):
        return "the connection broke mid-download (truncated body)"
    if isinstance(exc, requests.ConnectionError) and exc.args and isinstance(exc.args[0], MaxRetryError):
        reason = exc.args[0].reason
        return f"{type(reason).__name__}: {str(reason)[:300]}"
    return f"{exc.__class__.__name__}: {str(exc)[:300]}"
