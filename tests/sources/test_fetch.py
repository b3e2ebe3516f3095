"""spendmap.sources.fetch against a real local HTTP server (pytest-httpserver)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from werkzeug import Response

from spendmap.errors import DownloadError, InputError
from spendmap.sources import fetch as F
from spendmap.sources.fetch import (
    KNOWN_SOURCES,
    MANIFEST_NAME,
    default_cache_dir,
    fetch_known,
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


def test_backoff_doubles_between_attempts(httpserver, tmp_path, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(F.time, "sleep", sleeps.append)
    httpserver.expect_request("/down.csv").respond_with_data("oops", status=500)
    with pytest.raises(DownloadError):
        resolve_source(httpserver.url_for("/down.csv"), cache_dir=tmp_path, retries=3, backoff_seconds=0.5)
    assert sleeps == [0.5, 1.0, 2.0]


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
    # Without `expect` a page is just a file (fetch_known reads landing pages this way).
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
# Known sources


def test_known_sources_are_declared_consistently():
    for name, spec in KNOWN_SOURCES.items():
        assert {"description", "licence", "releases", "used_as"} <= set(spec), name
        for key, release in spec["releases"].items():
            assert release["url"].startswith("https://"), (name, key)
            assert release["direct"] in (True, False), (name, key)
            if "fy_first" in release:
                assert F.fy_start_year(release["fy_first"]) <= F.fy_start_year(release["fy_last"])
    assert KNOWN_SOURCES["grants-register"]["releases"]["2022-23"]["fy_first"] == "2022-23"


def test_landing_candidates_try_the_govuk_release_page_first():
    url = "https://www.gov.uk/government/statistics/country-and-regional-analysis-2022/guidance"
    assert F._landing_candidates(url) == [
        "https://www.gov.uk/government/statistics/country-and-regional-analysis-2022",
        url,
    ]
    release = "https://www.gov.uk/government/statistics/country-and-regional-analysis-2014"
    assert F._landing_candidates(release) == [release]


@pytest.fixture
def fake_catalogue(httpserver, monkeypatch):
    page = (
        '<html><a href="/media/bulletin.pdf">Bulletin</a>'
        '<a href="/media/abc/2024-03-19_Government_Grants_Register_2022_to_2023.ods">Register</a>'
        '<a href="/media/tables.ods">Tables</a></html>'
    )
    httpserver.expect_request("/statistics/grants-2022-23").respond_with_data(page, content_type="text/html")
    httpserver.expect_request(
        "/media/abc/2024-03-19_Government_Grants_Register_2022_to_2023.ods"
    ).respond_with_data(BODY, content_type="application/vnd.oasis.opendocument.spreadsheet")
    spec = {
        **KNOWN_SOURCES["grants-register"],
        "releases": {
            "2022-23": {
                "url": httpserver.url_for("/statistics/grants-2022-23"),
                "direct": False,
                "fy_first": "2022-23",
                "fy_last": "2022-23",
            },
            "2021-22": {
                "url": httpserver.url_for("/media/direct.ods"),
                "direct": True,
                "fy_first": "2021-22",
                "fy_last": "2021-22",
            },
        },
    }
    monkeypatch.setitem(KNOWN_SOURCES, "grants-register", spec)
    return spec


def test_fetch_known_follows_the_landing_page_link(httpserver, tmp_path, fake_catalogue):
    got = fetch_known("grants-register", year="2022-23", cache_dir=tmp_path, **FAST)
    assert got.path.name == "2024-03-19_Government_Grants_Register_2022_to_2023.ods"
    assert got.sha256 == hashlib.sha256(BODY).hexdigest()
    entry = next(f for f in read_fetch_manifest(tmp_path)["files"] if f["url"] == got.url)
    assert entry["source_name"] == "grants-register" and entry["release"] == "2022-23"
    assert entry["landing_page"] == fake_catalogue["releases"]["2022-23"]["url"]
    assert entry["sha256"] == got.sha256 and entry["bytes"] == len(BODY)
    requests_seen = len(httpserver.log)
    again = fetch_known("grants-register", year="2022-23", cache_dir=tmp_path, offline=True)
    assert again.from_cache and again.path == got.path and len(httpserver.log) == requests_seen


def test_fetch_known_direct_release(httpserver, tmp_path, fake_catalogue):
    httpserver.expect_request("/media/direct.ods").respond_with_data(
        BODY, content_type="application/octet-stream"
    )
    got = fetch_known("grants-register", year="2021-22", cache_dir=tmp_path, **FAST)
    assert got.path.name == "direct.ods" and len(httpserver.log) == 1


def test_fetch_known_without_year_takes_newest(httpserver, tmp_path, fake_catalogue):
    got = fetch_known("grants-register", cache_dir=tmp_path, **FAST)
    assert "2022_to_2023" in got.path.name


def test_fetch_known_page_without_the_file(httpserver, tmp_path, monkeypatch):
    httpserver.expect_request("/p").respond_with_data(
        '<a href="/other.pdf">x</a><a href="/t.zip">z</a>', content_type="text/html"
    )
    spec = {
        **KNOWN_SOURCES["cra"],
        "releases": {
            "2022": {
                "url": httpserver.url_for("/p"),
                "direct": False,
                "fy_first": "2017-18",
                "fy_last": "2021-22",
            }
        },
    }
    monkeypatch.setitem(KNOWN_SOURCES, "cra", spec)
    with pytest.raises(InputError) as err:
        fetch_known("cra", year="2019-20", cache_dir=tmp_path, **FAST)
    assert "Could not find the cra 2022 data file" in str(err.value) and "/t.zip" in str(err.value)
    assert "--cra" in str(err.value)


def test_fetch_known_errors(tmp_path):
    with pytest.raises(InputError, match="Did you mean 'grants-register'"):
        fetch_known("grant-register", cache_dir=tmp_path)
    with pytest.raises(InputError) as err:
        fetch_known("cra", year="2015-16", cache_dir=tmp_path)
    assert "2014 (2009-10 to 2013-14)" in str(err.value) and "2022 (2017-18 to 2021-22)" in str(err.value)
    with pytest.raises(InputError, match="not a financial year"):
        fetch_known("grants-register", year="2022", cache_dir=tmp_path)
    # The NSPL has no checkable file address: the user is told where to get it, with no request made.
    with pytest.raises(InputError) as err:
        fetch_known("nspl", cache_dir=tmp_path)
    assert "integrateddataservice.gov.uk" in str(err.value) and "--postcodes" in str(err.value)
    with pytest.raises(InputError, match="--offline forbids downloading"):
        fetch_known("grants-register", year="2022-23", cache_dir=tmp_path, offline=True)
    assert _files(tmp_path) == []


def test_cra_year_picks_the_edition_covering_it(tmp_path, monkeypatch):
    seen = {}

    def fake_discover(name, spec, key, release, **_):
        seen["key"] = key
        raise InputError("stop")

    monkeypatch.setattr(F, "_discover_file_url", fake_discover)
    with pytest.raises(InputError):
        fetch_known("cra", year="2019-20", cache_dir=tmp_path)
    assert seen["key"] == "2022"
    with pytest.raises(InputError):
        fetch_known("cra", year="2010-11", cache_dir=tmp_path)
    assert seen["key"] == "2014"


def test_fetch_known_landing_page_down_is_a_download_error(httpserver, tmp_path, monkeypatch):
    httpserver.expect_request("/statistics/cra").respond_with_data("down", status=502)
    spec = {
        **KNOWN_SOURCES["cra"],
        "releases": {
            "2022": {
                "url": httpserver.url_for("/statistics/cra"),
                "direct": False,
                "fy_first": "2017-18",
                "fy_last": "2021-22",
            }
        },
    }
    monkeypatch.setitem(KNOWN_SOURCES, "cra", spec)
    with pytest.raises(DownloadError) as err:
        fetch_known("cra", year="2021-22", cache_dir=tmp_path, retries=1, **FAST)
    assert "HTTP 502" in str(err.value) and err.value.exit_code == 3
    assert len(httpserver.log) == 2
