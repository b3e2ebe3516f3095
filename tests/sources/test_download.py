"""spendmap.sources.download against a real local HTTP server (pytest-httpserver)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from werkzeug import Response

from spendmap.errors import DownloadError, InputError
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.sources import download as F
from spendmap.sources.download import (
    MANIFEST_NAME,
    default_cache_dir,
    read_fetch_manifest,
    resolve_source,
    sha256_of,
)

BODY = b"Identifier,Amount Awarded\nGB-1,100\n" * 1000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FAST = {"backoff_seconds": 0, "timeout": 5}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _data_files(cache: Path) -> list[Path]:
    return [p for p in _files(cache / "downloads") if not p.name.startswith(".")]


def _truncated(_request):
    def body():
        yield b"0123456789"

    return Response(body(), headers={"Content-Length": "1000"}, content_type="text/csv")


# ------------------------------------------------------------------------------------------------
# Local paths


def test_sha256_of_is_taken_again_whenever_the_file_may_have_changed(tmp_path, monkeypatch):
    from spendmap.sources import cache

    f = tmp_path / "register.csv"
    f.write_bytes(b"a" * 100)
    assert sha256_of(f) == hashlib.sha256(b"a" * 100).hexdigest()
    f.write_bytes(b"b" * 100)  # same size, at once: its time stamps may not have moved (coarse clocks)
    assert sha256_of(f) == hashlib.sha256(b"b" * 100).hexdigest()

    monkeypatch.setattr(cache, "_SETTLED_NS", -1)  # as though every file were older than 2 s
    opened = []
    real_open = open
    monkeypatch.setattr(cache, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k),
                        raising=False)
    first = sha256_of(f)
    assert sha256_of(f) == first and len(opened) == 1  # unchanged: remembered
    moved = f.rename(tmp_path / "moved.csv")  # same inode and bytes: the same digest, rightly
    assert sha256_of(moved) == first
    moved.write_bytes(b"c" * 100)  # written in place, the same size: new times
    os.utime(moved, ns=(1_000_000_000, 1_000_000_000))
    assert sha256_of(moved) == hashlib.sha256(b"c" * 100).hexdigest()
    replacement = tmp_path / "new.csv"
    replacement.write_bytes(b"d" * 100)
    os.utime(replacement, ns=(1_000_000_000, 1_000_000_000))
    replacement.replace(moved)  # another file under the same name: another inode
    assert sha256_of(moved) == hashlib.sha256(b"d" * 100).hexdigest()


def test_local_file_is_hashed_in_place(tmp_path):
    f = tmp_path / "grants.csv"
    f.write_bytes(BODY)
    got = resolve_source(str(f), cache_dir=tmp_path / "cache")
    assert got.path == f
    assert got.sha256 == hashlib.sha256(BODY).hexdigest() == sha256_of(f)
    assert got.bytes == len(BODY)
    assert (got.url, got.fetched_at, got.from_cache) == (None, None, False)
    assert not (tmp_path / "cache").exists()  # a local file is never copied


def test_missing_local_file_suggests_close_names(tmp_path):
    (tmp_path / "government-grant-awards-2016-17.xlsx").write_bytes(b"x")
    with pytest.raises(InputError) as err:
        resolve_source(tmp_path / "government-grant-award-2016-17.xlsx")
    msg = str(err.value)
    assert "government-grant-award-2016-17.xlsx does not exist" in msg
    assert "government-grant-awards-2016-17.xlsx" in msg.split("Did you mean", 1)[1]
    assert err.value.exit_code == 2


def test_missing_folder_and_folder_given(tmp_path):
    with pytest.raises(InputError, match="its folder .* does not exist"):
        resolve_source(tmp_path / "nope" / "x.csv")
    with pytest.raises(InputError, match="is a folder"):
        resolve_source(tmp_path)


def test_other_url_schemes_are_refused(tmp_path):
    with pytest.raises(InputError, match="only http:// and https://"):
        resolve_source("ftp://example.org/x.csv", cache_dir=tmp_path)


def test_default_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SPENDMAP_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SPENDMAP_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "spendmap"


# ------------------------------------------------------------------------------------------------
# Downloads


def test_download_hash_sidecar_and_manifest(httpserver, tmp_path):
    httpserver.expect_request("/files/register_2022_to_2023.csv").respond_with_data(
        BODY, content_type="text/csv"
    )
    url = httpserver.url_for("/files/register_2022_to_2023.csv")
    got = resolve_source(url, cache_dir=tmp_path, expect="csv", **FAST)
    assert got.path.name == "register_2022_to_2023.csv"
    assert got.path.read_bytes() == BODY
    assert got.sha256 == hashlib.sha256(BODY).hexdigest()
    assert got.bytes == len(BODY)
    assert (got.url, got.source, got.from_cache) == (url, url, False)
    assert got.fetched_at is not None and got.fetched_at.endswith("+00:00")
    sidecar = json.loads((got.path.parent / F.SIDECAR_NAME).read_text())
    assert sidecar["sha256"] == got.sha256 and sidecar["bytes"] == len(BODY) and sidecar["url"] == url
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert [(f["url"], f["sha256"], f["bytes"]) for f in manifest["files"]] == [(url, got.sha256, len(BODY))]
    assert manifest["files"][0]["path"] == str(got.path.relative_to(tmp_path))
    assert manifest["files"][0]["content_type"] == "text/csv"


def test_second_call_reuses_cache_and_refresh_downloads_again(httpserver, tmp_path):
    httpserver.expect_request("/a.csv").respond_with_data(BODY, content_type="text/csv")
    url = httpserver.url_for("/a.csv")
    first = resolve_source(url, cache_dir=tmp_path, **FAST)
    second = resolve_source(url, cache_dir=tmp_path, **FAST)
    assert len(httpserver.log) == 1
    assert second.from_cache and not first.from_cache
    assert (second.path, second.sha256, second.fetched_at) == (first.path, first.sha256, first.fetched_at)
    offline = resolve_source(url, cache_dir=tmp_path, offline=True)
    assert offline.from_cache and len(httpserver.log) == 1
    third = resolve_source(url, cache_dir=tmp_path, refresh=True, **FAST)
    assert len(httpserver.log) == 2 and not third.from_cache
    assert len(read_fetch_manifest(tmp_path)["files"]) == 1  # one entry per URL, updated


def test_damaged_cache_entry_is_downloaded_again(httpserver, tmp_path):
    httpserver.expect_request("/a.csv").respond_with_data(BODY, content_type="text/csv")
    url = httpserver.url_for("/a.csv")
    first = resolve_source(url, cache_dir=tmp_path, **FAST)
    first.path.write_bytes(BODY[:100])  # size no longer matches the sidecar
    again = resolve_source(url, cache_dir=tmp_path, **FAST)
    assert not again.from_cache and again.path.read_bytes() == BODY and len(httpserver.log) == 2


def test_500_then_200_succeeds_after_retry(httpserver, tmp_path):
    httpserver.expect_oneshot_request("/flaky.csv").respond_with_data("busy", status=500)
    httpserver.expect_request("/flaky.csv").respond_with_data(BODY, content_type="text/csv")
    got = resolve_source(httpserver.url_for("/flaky.csv"), cache_dir=tmp_path, retries=3, **FAST)
    assert got.path.read_bytes() == BODY
    assert [resp.status_code for _, resp in httpserver.log] == [500, 200]


def test_429_with_retry_after_is_retried(httpserver, tmp_path):
    httpserver.expect_oneshot_request("/r.csv").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "0"}
    )
    httpserver.expect_request("/r.csv").respond_with_data(BODY, content_type="text/csv")
    got = resolve_source(httpserver.url_for("/r.csv"), cache_dir=tmp_path, retries=1, **FAST)
    assert got.bytes == len(BODY) and len(httpserver.log) == 2


def test_always_500_gives_download_error_after_all_attempts(httpserver, tmp_path):
    httpserver.expect_request("/down.csv").respond_with_data("oops", status=503)
    url = httpserver.url_for("/down.csv")
    with pytest.raises(DownloadError) as err:
        resolve_source(url, cache_dir=tmp_path, retries=2, **FAST)
    assert len(httpserver.log) == 3
    msg = str(err.value)
    assert url in msg and "3 attempts" in msg and "HTTP 503" in msg
    assert err.value.exit_code == 3
    assert _files(tmp_path) == []
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_backoff_grows_with_jitter_between_attempts(httpserver, tmp_path, monkeypatch):
    # urllib3's Retry: no wait before the first retry, then backoff * 2^(n-1) plus up to backoff/2 jitter.
    import urllib3.util.retry as urllib3_retry

    sleeps: list[float] = []
    monkeypatch.setattr(urllib3_retry.time, "sleep", sleeps.append)
    httpserver.expect_request("/down.csv").respond_with_data("oops", status=500)
    with pytest.raises(DownloadError):
        resolve_source(httpserver.url_for("/down.csv"), cache_dir=tmp_path, retries=3, backoff_seconds=0.5)
    assert len(httpserver.log) == 4
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 1.25 and 2.0 <= sleeps[1] <= 2.25


def test_404_fails_at_once(httpserver, tmp_path):
    httpserver.expect_request("/gone.ods").respond_with_data("not here", status=404)
    url = httpserver.url_for("/gone.ods")
    with pytest.raises(DownloadError) as err:
        resolve_source(url, cache_dir=tmp_path, retries=5, **FAST)
    assert len(httpserver.log) == 1
    assert url in str(err.value) and "HTTP 404" in str(err.value)
    assert _files(tmp_path) == []


def test_html_page_instead_of_spreadsheet(httpserver, tmp_path):
    page = "<!DOCTYPE html><html><body>Government grants statistics</body></html>"
    httpserver.expect_request("/register").respond_with_data(page, content_type="text/html; charset=utf-8")
    url = httpserver.url_for("/register")
    with pytest.raises(InputError) as err:
        resolve_source(url, cache_dir=tmp_path, expect="spreadsheet", **FAST)
    assert (
        "returned a web page" in str(err.value) and "spreadsheet" in str(err.value) and url in str(err.value)
    )
    assert len(httpserver.log) == 1  # not retried
    assert _files(tmp_path) == []
    # Without `expect` a page is just a file.
    assert resolve_source(url, cache_dir=tmp_path, **FAST).path.read_text() == page


def test_html_body_with_misleading_content_type(httpserver, tmp_path):
    httpserver.expect_request("/x.xlsx").respond_with_data(
        b"\n  <html><head><title>Sign in</title></head></html>", content_type="application/octet-stream"
    )
    with pytest.raises(InputError, match="returned a web page"):
        resolve_source(httpserver.url_for("/x.xlsx"), cache_dir=tmp_path, expect="spreadsheet", **FAST)
    assert _files(tmp_path) == []


def test_offline_url_not_cached(httpserver, tmp_path):
    url = httpserver.url_for("/never.csv")
    with pytest.raises(InputError) as err:
        resolve_source(url, cache_dir=tmp_path, offline=True)
    assert "--offline forbids downloading" in str(err.value) and url in str(err.value)
    assert "spendmap fetch" in str(err.value)
    assert httpserver.log == []


def test_truncated_body_leaves_no_partial_file(httpserver, tmp_path):
    httpserver.expect_request("/cut.csv").respond_with_handler(_truncated)
    with pytest.raises(DownloadError) as err:
        resolve_source(httpserver.url_for("/cut.csv"), cache_dir=tmp_path, retries=1, **FAST)
    assert len(httpserver.log) == 2
    assert "truncated" in str(err.value)
    assert _files(tmp_path) == []


def test_truncated_once_then_complete(httpserver, tmp_path):
    httpserver.expect_oneshot_request("/cut.csv").respond_with_handler(_truncated)
    httpserver.expect_request("/cut.csv").respond_with_data(BODY, content_type="text/csv")
    got = resolve_source(httpserver.url_for("/cut.csv"), cache_dir=tmp_path, retries=1, **FAST)
    assert got.path.read_bytes() == BODY
    assert [p.name for p in _files(tmp_path / "downloads")] == sorted([F.SIDECAR_NAME, "cut.csv"])


def test_timeout_is_retried(httpserver, tmp_path):
    def slow(_request):
        time.sleep(0.4)
        return Response(BODY, content_type="text/csv")

    httpserver.expect_request("/slow.csv").respond_with_handler(slow)
    with pytest.raises(DownloadError, match="timed out"):
        resolve_source(
            httpserver.url_for("/slow.csv"), cache_dir=tmp_path, retries=1, backoff_seconds=0, timeout=0.1
        )
    assert _files(tmp_path) == []


def test_failed_refresh_keeps_the_cached_copy(httpserver, tmp_path):
    httpserver.expect_oneshot_request("/a.csv").respond_with_data(BODY, content_type="text/csv")
    httpserver.expect_request("/a.csv").respond_with_data("down", status=500)
    url = httpserver.url_for("/a.csv")
    first = resolve_source(url, cache_dir=tmp_path, **FAST)
    with pytest.raises(DownloadError):
        resolve_source(url, cache_dir=tmp_path, refresh=True, retries=1, **FAST)
    again = resolve_source(url, cache_dir=tmp_path, offline=True)
    assert again.from_cache and again.path.read_bytes() == BODY and again.sha256 == first.sha256


def test_content_disposition_names_the_cached_file(httpserver, tmp_path):
    httpserver.expect_request("/download").respond_with_data(
        BODY,
        content_type=XLSX_TYPE,
        headers={"Content-Disposition": 'attachment; filename="Grants Register 2022 to 2023.xlsx"'},
    )
    got = resolve_source(httpserver.url_for("/download"), cache_dir=tmp_path, expect="spreadsheet", **FAST)
    assert got.path.name == "Grants_Register_2022_to_2023.xlsx"


# ------------------------------------------------------------------------------------------------
# Whole files only (issue 9): no Content-Length -> judged by structure


REGISTER = reference_path(*BUNDLED_GRANTS)  # the real bundled 2016-17 register (.xlsx, a zip)


def _no_length(body: bytes, content_type: str):
    """A handler streaming `body` without Content-Length (the server closes the connection at the end)."""

    def handler(_request):
        def gen():
            yield body

        return Response(gen(), content_type=content_type)

    return handler


def test_whole_workbook_without_content_length_is_cached(httpserver, tmp_path):
    data = REGISTER.read_bytes()
    httpserver.expect_request("/reg.xlsx").respond_with_handler(_no_length(data, XLSX_TYPE))
    got = resolve_source(httpserver.url_for("/reg.xlsx"), cache_dir=tmp_path, expect="spreadsheet", **FAST)
    assert got.sha256 == sha256_of(REGISTER) and got.bytes == 514_345


def test_cut_short_workbook_without_content_length_is_not_cached(httpserver, tmp_path):
    cut = REGISTER.read_bytes()[:300_000]  # the zip's central directory (at its end) is missing
    httpserver.expect_request("/reg.xlsx").respond_with_handler(_no_length(cut, XLSX_TYPE))
    with pytest.raises(DownloadError) as err:
        resolve_source(httpserver.url_for("/reg.xlsx"), cache_dir=tmp_path, expect="spreadsheet",
                       retries=1, **FAST)
    assert "incomplete" in str(err.value) and "zip" in str(err.value) and err.value.exit_code == 3
    assert len(httpserver.log) == 2  # retried once, the same Retry budget
    assert _files(tmp_path / "downloads") == [] and not (tmp_path / MANIFEST_NAME).exists()


def test_csv_cut_mid_character_without_content_length_is_not_cached(httpserver, tmp_path):
    text = "Identifier,Recipient,Amount\nGB-1,Café Society £,100\n".encode() * 50
    cut = text[: text.index("é".encode()) + 1]  # half of a two-byte character, then the end
    httpserver.expect_request("/g.csv").respond_with_handler(_no_length(cut, "text/csv"))
    with pytest.raises(DownloadError, match="middle of a character"):
        resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", retries=0, **FAST)
    assert _files(tmp_path / "downloads") == []
    httpserver.clear()
    httpserver.expect_request("/g.csv").respond_with_handler(_no_length(text, "text/csv"))
    whole = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", **FAST)
    assert whole.bytes == len(text)
    # A Windows-1252 CSV ('£' is byte 0xA3) is whole too: not UTF-8, but it decodes.
    cp1252 = "Identifier,Amount\nGB-1,£100\n".encode("cp1252")
    httpserver.expect_request("/w.csv").respond_with_handler(_no_length(cp1252, "text/csv"))
    windows = resolve_source(httpserver.url_for("/w.csv"), cache_dir=tmp_path, expect="csv", **FAST)
    assert windows.bytes == len(cp1252)


def test_cached_file_that_no_longer_reads_is_evicted_and_downloaded_again_once(httpserver, tmp_path):
    data = REGISTER.read_bytes()
    httpserver.expect_request("/reg.xlsx").respond_with_data(data, content_type=XLSX_TYPE)
    url = httpserver.url_for("/reg.xlsx")
    first = resolve_source(url, cache_dir=tmp_path, expect="spreadsheet", **FAST)
    first.path.write_bytes(data[:-1000] + b"\0" * 1000)  # same size as recorded, but the zip is damaged
    again = resolve_source(url, cache_dir=tmp_path, expect="spreadsheet", **FAST)
    assert not again.from_cache and len(httpserver.log) == 2
    assert again.path.read_bytes() == data and again.sha256 == sha256_of(REGISTER)
    # Offline, a damaged copy is removed and the user told to fetch it again (no loop, no stale file).
    again.path.write_bytes(data[:-1000] + b"\0" * 1000)
    with pytest.raises(InputError, match="could not be read .* removed"):
        resolve_source(url, cache_dir=tmp_path, offline=True, expect="spreadsheet")
    assert _data_files(tmp_path) == []


def _encrypted_workbook() -> bytes:
    """The shape Excel gives a workbook saved with a password: an OLE2 compound file whose directory
    names an 'EncryptedPackage' stream (crafted: no library here writes one)."""
    directory = "EncryptedPackage".encode("utf-16-le").ljust(64, b"\0")
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + directory + b"\0" * 4000


def test_password_protected_workbook_download_says_so(httpserver, tmp_path):
    httpserver.expect_request("/locked.xlsx").respond_with_data(
        _encrypted_workbook(), content_type=XLSX_TYPE
    )
    with pytest.raises(InputError) as err:
        resolve_source(httpserver.url_for("/locked.xlsx"), cache_dir=tmp_path, expect="spreadsheet", **FAST)
    msg = str(err.value)
    assert "password-protected" in msg and "unprotected copy" in msg and "locked.xlsx" in msg
    assert "download again" not in msg and len(httpserver.log) == 1  # not retried as if damaged
    assert _files(tmp_path / "downloads") == []


# ------------------------------------------------------------------------------------------------
# Deadline, redirect loop, interrupted downloads


def _trickle(interval: float, total: int = 100, sent: list | None = None):
    def handler(_request):
        def gen():
            for _ in range(total):
                yield b"x"
                if sent is not None:
                    sent.append(1)
                time.sleep(interval)

        return Response(gen(), headers={"Content-Length": str(total)}, content_type="text/csv")

    return handler


def test_a_trickling_server_cannot_hold_a_download_past_its_deadline(httpserver, tmp_path):
    sent: list = []
    httpserver.expect_request("/slow.csv").respond_with_handler(_trickle(0.5, sent=sent))
    with pytest.raises(DownloadError) as err:
        resolve_source(httpserver.url_for("/slow.csv"), cache_dir=tmp_path, retries=3, backoff_seconds=0,
                       timeout=60, deadline=2)
    # Each read returns (a byte every 0.5 s), so only the deadline can stop it: the download gave up with
    # most of the 100 bytes unsent, and did not retry (no second request). No clock is asserted.
    assert len(sent) < 100 and len(httpserver.log) == 1
    assert "deadline of 2 s" in str(err.value) and "SPENDMAP_DOWNLOAD_DEADLINE" in str(err.value)
    assert err.value.exit_code == 3
    assert _files(tmp_path / "downloads") == []


def test_deadline_comes_from_the_environment(httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("SPENDMAP_DOWNLOAD_DEADLINE", "1.5")
    httpserver.expect_request("/slow.csv").respond_with_handler(_trickle(0.5))
    with pytest.raises(DownloadError, match="deadline of 1.5 s"):
        resolve_source(httpserver.url_for("/slow.csv"), cache_dir=tmp_path, **FAST)
    monkeypatch.setenv("SPENDMAP_DOWNLOAD_DEADLINE", "soon")
    with pytest.raises(InputError, match="SPENDMAP_DOWNLOAD_DEADLINE must be a number"):
        resolve_source(httpserver.url_for("/other.csv"), cache_dir=tmp_path, **FAST)


def test_redirect_loop_is_a_download_error(httpserver, tmp_path):
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(DownloadError) as err:
        resolve_source(httpserver.url_for("/a"), cache_dir=tmp_path, **FAST)
    assert "redirects in a loop" in str(err.value) and err.value.exit_code == 3
    assert len(httpserver.log) == F.MAX_REDIRECTS + 1
    assert _files(tmp_path) == []


def test_redirect_loop_exits_3_from_the_cli(httpserver, tmp_path, capsys, monkeypatch):
    from spendmap.cli import main

    monkeypatch.setenv("SPENDMAP_CACHE", str(tmp_path / "cache"))
    httpserver.expect_request("/a.xlsx").respond_with_data("", status=301, headers={"Location": "/a.xlsx"})
    code = main(["run", "--grants", httpserver.url_for("/a.xlsx"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and "redirects in a loop" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_killed_download_leaves_no_part_file_that_later_runs_keep(httpserver, tmp_path):
    httpserver.expect_request("/big.csv").respond_with_handler(_trickle(0.2, total=200))
    cache = tmp_path / "cache"
    code = (
        "import sys; from spendmap.sources.download import resolve_source; "
        "resolve_source(sys.argv[1], cache_dir=sys.argv[2], timeout=5)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, httpserver.url_for("/big.csv"), str(cache)])
    try:
        end = time.monotonic() + 20
        parts: list[Path] = []
        while time.monotonic() < end and not parts:
            parts = list(cache.glob("downloads/*/.part-*"))
            time.sleep(0.1)
        assert parts, "the child never started writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert all(p.exists() for p in parts)  # kill -9 runs no clean-up: the next run must do it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    httpserver.expect_request("/small.csv").respond_with_data(BODY, content_type="text/csv")
    resolve_source(httpserver.url_for("/small.csv"), cache_dir=cache, **FAST)
    assert list(cache.glob("downloads/*/.part-*")) == []
    assert not parts[0].parent.exists()  # the entry folder held nothing else


# ------------------------------------------------------------------------------------------------
# Is a download whole? Content-Length both ways, a catalogue's declared size, else "unverified"

_CSV = b"Identifier,Amount Awarded\n" + b"".join(b"GB-%d,100\n" % i for i in range(3351))
_CUT = _CSV[: _CSV.index(b"GB-2000,")]  # cut at a row boundary: every check of structure passes


def _declaring(body: bytes, length: int):
    """A server whose Content-Length is not the size of what it sends."""
    def handler(_request):
        response = Response(body, content_type="text/csv")
        response.headers["Content-Length"] = str(length)  # after: werkzeug sets the true size itself
        return response

    return handler


def test_body_longer_than_its_content_length_is_a_failed_download(httpserver, tmp_path):
    httpserver.expect_request("/g.csv").respond_with_handler(_declaring(_CSV, len(_CUT)))
    with pytest.raises(DownloadError) as err:
        resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", retries=1, **FAST)
    assert f"the server sent {len(_CSV):,} bytes, but its Content-Length said {len(_CUT):,}" in str(err.value)
    assert err.value.exit_code == 3 and len(httpserver.log) == 2  # retried, then failed
    assert _files(tmp_path / "downloads") == [] and not (tmp_path / MANIFEST_NAME).exists()


def test_body_shorter_than_its_content_length_is_a_failed_download(httpserver, tmp_path):
    httpserver.expect_request("/g.csv").respond_with_handler(_declaring(_CUT, len(_CSV)))
    with pytest.raises(DownloadError) as err:
        resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", retries=0, **FAST)
    assert "truncated" in str(err.value) or "cut short" in str(err.value)
    assert err.value.exit_code == 3 and _files(tmp_path / "downloads") == []


def test_content_length_that_matches_is_verified(httpserver, tmp_path):
    httpserver.expect_request("/g.csv").respond_with_data(_CSV, content_type="text/csv")
    got = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", **FAST)
    assert got.bytes == len(_CSV) and got.verified is True
    assert got.verification == "size matched the server's Content-Length"
    again = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, offline=True)
    assert again.from_cache and again.verified is True


def test_no_content_length_is_kept_but_unverified_also_from_the_cache(httpserver, tmp_path):
    httpserver.expect_request("/g.csv").respond_with_handler(_no_length(_CUT, "text/csv"))
    got = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", **FAST)
    assert got.bytes == len(_CUT) and got.verified is False and "no Content-Length" in got.verification
    manifest = got.to_manifest()
    assert manifest["verified"] is False and manifest["verification"] == got.verification
    again = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, offline=True)
    assert again.from_cache and again.verified is False and again.verification == got.verification


def test_no_content_length_is_checked_against_a_declared_size(httpserver, tmp_path):
    httpserver.expect_request("/g.csv").respond_with_handler(_no_length(_CUT, "text/csv"))
    with pytest.raises(DownloadError, match=f"has {len(_CUT):,} bytes, but .*file_size.* says {len(_CSV):,}"):
        resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", retries=0,
                       declared_bytes=len(_CSV), **FAST)
    assert _files(tmp_path / "downloads") == []
    httpserver.clear()
    httpserver.expect_request("/g.csv").respond_with_handler(_no_length(_CSV, "text/csv"))
    got = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv",
                         declared_bytes=len(_CSV), **FAST)
    assert got.verified is True and "file_size" in got.verification


def test_a_cache_entry_of_an_earlier_version_is_not_taken_as_verified(httpserver, tmp_path):
    httpserver.expect_request("/g.csv").respond_with_data(_CSV, content_type="text/csv")
    got = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, expect="csv", **FAST)
    sidecar = got.path.parent / F.SIDECAR_NAME
    meta = json.loads(sidecar.read_text())
    del meta["verified"], meta["verification"]
    sidecar.write_text(json.dumps(meta))
    again = resolve_source(httpserver.url_for("/g.csv"), cache_dir=tmp_path, offline=True)
    assert again.verified is False and "did not record" in again.verification
