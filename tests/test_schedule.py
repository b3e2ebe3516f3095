"""The scheduled release check, in-process on Prefect's test harness (the served version, on a real
server, is tests/flows/test_serve.py)."""

import pytest

from spendmap.schedule import check_releases, newest_year
from tests.helpers.govuk import Publication, file_attachment, serve

pytestmark = pytest.mark.flow


def test_release_not_published_yet_is_recorded(httpserver, monkeypatch, tmp_path, prefect_harness):
    monkeypatch.setenv("SPENDMAP_GOVUK_URL", httpserver.url_for("/").rstrip("/"))
    httpserver.expect_request(
        "/api/content/government/statistics/government-grants-statistics-2024-to-2025"
    ).respond_with_data('{"error": "not found"}', status=404, content_type="application/json")
    got = check_releases(years=["2024-25"], out_root=str(tmp_path / "out"), cache_dir=str(tmp_path / "c"))
    assert got == {"2024-25": "not published"}
    assert not (tmp_path / "out").exists() and not (tmp_path / "c" / "schedule").exists()
    assert newest_year() == "2024-25"


def test_publication_without_the_register_fails(httpserver, monkeypatch, tmp_path, prefect_harness):
    monkeypatch.setenv("SPENDMAP_GOVUK_URL", httpserver.url_for("/").rstrip("/"))
    path = "/government/statistics/government-grants-statistics-2023-to-2024"
    serve(httpserver, Publication(path=path, attachments=[
        file_attachment("Statistical tables", "tables.ods", httpserver.url_for("/t.ods")),
    ]))
    with pytest.raises(Exception, match="no attachment that is the grants-register data file"):
        check_releases(years=["2023-24"], out_root=str(tmp_path / "out"), cache_dir=str(tmp_path / "c"))
    assert not (tmp_path / "out").exists()
