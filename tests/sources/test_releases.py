"""spendmap.sources.releases against a local stand-in for the GOV.UK Content API (pytest-httpserver)."""

from __future__ import annotations

import hashlib
import json

import pytest
from werkzeug import Response

from spendmap.cli import main
from spendmap.errors import DownloadError, InputError
from spendmap.sources import releases as R
from spendmap.sources.download import read_fetch_manifest
from tests.helpers.govuk import ODS, XLSX, Publication, file_attachment, html_attachment, serve

PATH_2223 = "/government/statistics/government-grants-statistics-2022-to-2023"
REGISTER_NAME = "2024-03-19_Government_Grants_Register_2022_to_2023.ods"
BODY_V1 = b"PK-not-really: the register, version 1 " * 100
BODY_V2 = b"PK-not-really: the register, version 2 (revised) " * 100


@pytest.fixture
def govuk(httpserver, monkeypatch, tmp_path):
    """The 2022-23 grants statistics publication as GOV.UK attaches it: a bulletin (HTML), statistical
    tables (ODS, a look-alike) and the register (ODS)."""
    monkeypatch.setenv("SPENDMAP_GOVUK_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("SPENDMAP_CACHE", str(tmp_path / "cache"))
    media = httpserver.url_for(f"/media/abc/{REGISTER_NAME}")
    publication = Publication(path=PATH_2223, attachments=[
        html_attachment("Grants Statistics Bulletin 2022 to 2023", f"{PATH_2223}/grants-statistics-bulletin"),
        file_attachment("Government grants statistics 2022 to 2023: statistical tables",
                        "Government_grants_statistics_2022_to_2023_statistical_tables.ods",
                        httpserver.url_for("/media/def/tables.ods")),
        file_attachment("Government Grants Register 2022 to 2023", REGISTER_NAME, media),
    ])
    serve(httpserver, publication)
    body = {"data": BODY_V1}
    httpserver.expect_request(f"/media/abc/{REGISTER_NAME}").respond_with_handler(
        lambda _req: Response(body["data"], content_type=ODS)
    )
    return publication, body


def _hits(httpserver, path: str) -> int:
    return sum(1 for req, _ in httpserver.log if req.path == path)


def test_fetch_downloads_the_register_and_prints_path_and_sha256(govuk, httpserver, tmp_path, capsys):
    assert main(["fetch", "--source", "grants-register", "--year", "2022-23"]) == 0
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "cache" / "downloads"
    assert out[0].startswith(str(path)) and out[0].endswith(REGISTER_NAME)
    assert out[1].startswith(f"sha256 {hashlib.sha256(BODY_V1).hexdigest()}")
    assert open(out[0], "rb").read() == BODY_V1
    assert _hits(httpserver, f"/media/abc/{REGISTER_NAME}") == 1
    assert _hits(httpserver, "/media/def/tables.ods") == 0  # the look-alike is never fetched
    entry = read_fetch_manifest(tmp_path / "cache")["files"][0]
    assert entry["source_name"] == "grants-register" and entry["release"] == "2022-23"
    assert entry["attachment_title"] == "Government Grants Register 2022 to 2023"
    assert entry["public_updated_at"] == "2024-10-11T09:30:00.000+01:00"
    state = json.loads(R.state_path(tmp_path / "cache", "grants-register", "2022-23").read_text())
    assert state["etag"] == '"v1"' and state["sha256"] == hashlib.sha256(BODY_V1).hexdigest()


def test_unchanged_release_is_not_downloaded_again_and_an_update_is(govuk, httpserver, tmp_path):
    publication, body = govuk
    cache = tmp_path / "cache"
    first, check1 = R.fetch_release("grants-register", year="2022-23", cache_dir=cache)
    assert check1.changed and not first.from_cache
    again = R.check_release("grants-register", "2022-23", cache_dir=cache)
    api_requests = [req for req, _ in httpserver.log if req.path.startswith("/api/content")]
    assert api_requests[-1].headers.get("If-None-Match") == '"v1"'  # a conditional request
    assert again.not_modified and not again.changed
    second, _ = R.fetch_release("grants-register", year="2022-23", cache_dir=cache)
    assert second.from_cache and second.sha256 == first.sha256
    assert _hits(httpserver, f"/media/abc/{REGISTER_NAME}") == 1
    # GOV.UK revises the file in place: new ETag, new public_updated_at, same address.
    publication.etag, publication.public_updated_at = '"v2"', "2025-01-20T09:30:00.000+00:00"
    body["data"] = BODY_V2
    check = R.check_release("grants-register", "2022-23", cache_dir=cache)
    assert check.changed and check.public_updated_at == "2025-01-20T09:30:00.000+00:00"
    third, _ = R.fetch_release("grants-register", year="2022-23", cache_dir=cache)
    assert not third.from_cache and third.sha256 == hashlib.sha256(BODY_V2).hexdigest()
    assert _hits(httpserver, f"/media/abc/{REGISTER_NAME}") == 2
    # Offline afterwards: the file last fetched, no request.
    before = len(httpserver.log)
    offline, _ = R.fetch_release("grants-register", year="2022-23", cache_dir=cache, offline=True)
    assert offline.sha256 == third.sha256 and len(httpserver.log) == before


def test_unchanged_by_public_updated_at_without_etag(govuk, httpserver, tmp_path):
    publication, _ = govuk
    publication.etag = ""  # a mirror that sends no ETag: public_updated_at decides
    cache = tmp_path / "cache"
    R.fetch_release("grants-register", year="2022-23", cache_dir=cache)
    check = R.check_release("grants-register", "2022-23", cache_dir=cache)
    assert not check.not_modified and not check.changed


def test_no_matching_attachment(govuk, capsys):
    publication, _ = govuk
    publication.attachments = publication.attachments[:2]  # bulletin and tables only
    assert main(["fetch", "--source", "grants-register", "--year", "2022-23"]) == 2
    err = " ".join(capsys.readouterr().err.split())  # the CLI wraps its paragraph at 100 columns
    err = err[err.index("spendmap: "):]  # (Prefect's background log handler may have written before it)
    assert "no attachment that is the grants-register data file" in err
    assert "statistical tables" in err and "--grants PATH" in err and "Traceback" not in err


def test_html_instead_of_json(govuk, capsys):
    publication, _ = govuk
    publication.html = True
    with pytest.raises(DownloadError) as err:
        R.check_release("grants-register", "2022-23")
    assert "answered a web page" in str(err.value) and "SPENDMAP_GOVUK_URL" in str(err.value)
    assert main(["fetch", "--source", "grants-register", "--year", "2022-23"]) == 3


def test_publication_not_there(govuk, httpserver):
    httpserver.expect_request(
        "/api/content/government/statistics/government-grants-statistics-2024-to-2025"
    ).respond_with_data('{"error": "not found"}', status=404, content_type="application/json")
    with pytest.raises(InputError, match="not published yet"):
        R.check_release("grants-register", "2024-25")


def test_choose_attachment_by_title_filename_and_type():
    spec = R.CATALOGUE["grants-register"]

    def att(title, filename, ctype):
        return R.Attachment(title=title, filename=filename, url=f"https://x/{filename}", content_type=ctype)

    tables = att("Government grants statistics 2022 to 2023: statistical tables", "tables.ods", ODS)
    csv = att("Government Grants Register 2022 to 2023 (CSV)", "Grants_Register_2022_to_2023.csv", "text/csv")
    ods = att("Government Grants Register 2022 to 2023", "Grants_Register_2022_to_2023.ods", ODS)
    pdf = att("Government Grants Register guidance", "register.pdf", "application/pdf")
    assert R.choose_attachment(spec, [tables, csv, ods, pdf]) == ods  # ODS preferred over CSV
    assert R.choose_attachment(spec, [tables, pdf]) is None
    assert R.choose_attachment(spec, [tables, csv]) == csv
    cra = R.CATALOGUE["cra"]
    db = att("Country and regional analysis 2024: database", "CRA_2024_database.xlsx", XLSX)
    a_tables = att("Country and regional analysis 2024: A tables", "CRA_2024_A_tables.xlsx", XLSX)
    assert R.choose_attachment(cra, [a_tables, db]) == db


def test_attachments_resolve_relative_urls_and_skip_html_documents():
    item = {"details": {
        "attachments": [{"title": "T", "url": "/media/x/Register.ods", "content_type": ODS}],
        "documents": ["<section>html</section>", {"title": "T", "url": "/media/x/Register.ods"}],
    }}
    got = R.attachments_of(item, "https://mirror.example")
    assert got == [R.Attachment("T", "Register.ods", "https://mirror.example/media/x/Register.ods", ODS)]


def test_catalogue_years_and_editions():
    grants = R.CATALOGUE["grants-register"].releases
    assert list(grants) == [f"{y}-{(y + 1) % 100:02d}" for y in range(2016, 2025)]
    assert grants["2022-23"].path == PATH_2223
    assert R.pick_release(R.CATALOGUE["cra"], "2019-20").key == "2024"  # newest edition covering it
    assert R.pick_release(R.CATALOGUE["cra"], "2010-11").key == "2014"
    assert R.pick_release(R.CATALOGUE["grants-register"], None).key == "2024-25"
    with pytest.raises(InputError) as err:
        R.pick_release(R.CATALOGUE["cra"], "2005-06")
    assert "2014 (covers 2009-10 to 2013-14)" in str(err.value)
    with pytest.raises(InputError, match="Did you mean 'grants-register'"):
        R.get_spec("grant-register")


def test_sources_off_govuk_say_where_to_get_them(tmp_path):
    with pytest.raises(InputError) as err:
        R.fetch_release("nspl", cache_dir=tmp_path)
    assert "arcgis.com/sharing/rest/content/items/<ITEM_ID>/data" in str(err.value)
    assert "--postcodes" in str(err.value)
    with pytest.raises(InputError, match="ons.gov.uk"):
        R.fetch_release("population", cache_dir=tmp_path)


def test_fetch_list_shows_the_catalogue_without_doubled_ranges(capsys):
    assert main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert "2022-23 covers 2022-23:" in out and "covers 2022-23 to 2022-23" not in out
    assert "2024 covers 2019-20 to 2023-24: https://www.gov.uk/government/statistics/" in out
    assert "government-grants-statistics-2016-to-2017" in out
    assert "arcgis.com/sharing/rest/content/items/<ITEM_ID>/data" in out


def test_postcodes_accepts_the_ons_portal_item_download_address(httpserver, tmp_path):
    # The ONS Open Geography Portal serves an edition at .../content/items/<ITEM_ID>/data: no file name
    # in the address, a zip of CSVs in the body (here the 11-row NSPL sample, zipped as the NSPL is).
    import io
    import zipfile
    from pathlib import Path

    from spendmap.sources.postcodes import load_postcode_lookup

    sample = Path(__file__).parents[1] / "fixtures" / "postcodes" / "nspl_sample.csv"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/NSPL_FEB_2024_UK.csv", sample.read_bytes())
    item = "/sharing/rest/content/items/0123456789abcdef0123456789abcdef/data"
    httpserver.expect_request(item).respond_with_data(buf.getvalue(), content_type="application/zip")
    table, fetched = load_postcode_lookup(httpserver.url_for(item), cache_dir=tmp_path)
    assert fetched.path.name == "data" and fetched.bytes == len(buf.getvalue())
    assert len(table) == 11
    assert table.set_index("postcode_key").loc["WF12EB", "laua"] == "E08000036"  # Wakefield


def test_a_download_without_content_length_is_checked_against_the_attachment_file_size(
        httpserver, monkeypatch, tmp_path, capsys):
    """GOV.UK states each attachment's size (`file_size`): a download the server sends without a
    Content-Length is compared with it, so a cut-short file fails (exit 3) instead of being cached."""
    monkeypatch.setenv("SPENDMAP_GOVUK_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("SPENDMAP_CACHE", str(tmp_path / "cache"))
    attachment = file_attachment("Government Grants Register 2022 to 2023", REGISTER_NAME,
                                 httpserver.url_for(f"/media/abc/{REGISTER_NAME}"))
    serve(httpserver, Publication(path=PATH_2223, attachments=[{**attachment, "file_size": len(BODY_V1)}]))
    sent = {"data": BODY_V1[:1000]}

    def chunked(_request):  # a generator body: no Content-Length
        return Response((piece for piece in [sent["data"]]), content_type=ODS)

    httpserver.expect_request(f"/media/abc/{REGISTER_NAME}").respond_with_handler(chunked)
    assert main(["fetch", "--source", "grants-register", "--year", "2022-23"]) == 3
    assert f"says {len(BODY_V1):,}" in capsys.readouterr().err
    sent["data"] = BODY_V1
    assert main(["fetch", "--source", "grants-register", "--year", "2022-23"]) == 0
    out = capsys.readouterr().out
    assert "Warning" not in out and f"{len(BODY_V1):,} bytes" in out
    entry = read_fetch_manifest(tmp_path / "cache")["files"][0]
    assert entry["sha256"] == hashlib.sha256(BODY_V1).hexdigest()


def test_fetch_says_when_a_download_could_not_be_verified(govuk, httpserver, capsys):
    publication, body = govuk
    httpserver.clear()
    serve(httpserver, publication)
    httpserver.expect_request(f"/media/abc/{REGISTER_NAME}").respond_with_handler(
        lambda _req: Response((piece for piece in [body["data"]]), content_type=ODS))
    assert main(["fetch", "--source", "grants-register", "--year", "2022-23"]) == 0
    assert "Warning: not verified as complete" in capsys.readouterr().out
