"""A local stand-in for the GOV.UK Content API (pytest-httpserver), shaped like the real JSON:
a content item with `public_updated_at` and `details.attachments` (title, filename, url,
content_type, attachment_type), plus `details.documents` as rendered HTML strings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from werkzeug import Request, Response

ODS = "application/vnd.oasis.opendocument.spreadsheet"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Publication:
    """One publication on the stand-in; change its fields to publish an update."""

    path: str  # e.g. /government/statistics/government-grants-statistics-2022-to-2023
    attachments: list[dict] = field(default_factory=list)
    public_updated_at: str = "2024-10-11T09:30:00.000+01:00"
    etag: str = '"v1"'
    html: bool = False  # answer a web page instead of JSON (a wrong $SPENDMAP_GOVUK_URL)

    def item(self) -> dict:
        return {
            "base_path": self.path,
            "content_id": "00000000-0000-0000-0000-000000000000",
            "document_type": "official_statistics",
            "schema_name": "publication",
            "title": self.path.rsplit("/", 1)[-1].replace("-", " ").capitalize(),
            "public_updated_at": self.public_updated_at,
            "details": {
                "attachments": self.attachments,
                "documents": ['<section class="attachment embedded">rendered HTML</section>'],
            },
        }

    def respond(self, request: Request) -> Response:
        if self.html:
            return Response("<!DOCTYPE html><html><body>Sign in</body></html>", content_type="text/html")
        if request.headers.get("If-None-Match") == self.etag:
            return Response(status=304, headers={"ETag": self.etag})
        return Response(json.dumps(self.item()), content_type="application/json", headers={"ETag": self.etag})


def file_attachment(title: str, filename: str, url: str, content_type: str = ODS) -> dict:
    return {"attachment_type": "file", "title": title, "filename": filename, "url": url,
            "content_type": content_type, "id": filename}


def html_attachment(title: str, path: str) -> dict:
    return {"attachment_type": "html", "title": title, "url": path, "id": title}


def serve(httpserver, publication: Publication) -> None:
    """Answer the Content API address of `publication` from its current state."""
    httpserver.expect_request(f"/api/content{publication.path}").respond_with_handler(publication.respond)
