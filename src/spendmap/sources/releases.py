"""Official releases spendmap knows, found through the GOV.UK Content API.

`CATALOGUE` declares each source (grants register, CRA, population, postcode directory) and its
releases by financial year or edition. For a GOV.UK publication, `GET {base}/api/content/<path>`
(base: `$SPENDMAP_GOVUK_URL`, default https://www.gov.uk) returns the publication as JSON; its
`details.attachments` (and `details.documents`) list each file's `title`, `filename`, `url` and
`content_type`, and the attachment is chosen by those, never by scraping HTML.

Each check is a conditional request (If-None-Match / If-Modified-Since from the last fetch) and
compares `public_updated_at`, so a release that has not changed is recognised without downloading
it again. What was last fetched is remembered in the cache (`releases/<source>_<release>.json`).
"""

from __future__ import annotations

import difflib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from spendmap.errors import DownloadError, InputError
from spendmap.fiscal_year import fy_start_year
from spendmap.sources.cache import (
    FetchedFile,
    default_cache_dir,
    now_iso,
    read_json,
    record_in_manifest,
    write_json_atomic,
)
from spendmap.sources.download import (
    HttpPolicy,
    http_get,
    http_session,
    looks_like_html,
    make_retry,
    resolve_source,
)

GOVUK_ENV = "SPENDMAP_GOVUK_URL"
GOVUK_DEFAULT = "https://www.gov.uk"
STATE_DIR = "releases"

ODS = "application/vnd.oasis.opendocument.spreadsheet"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS = "application/vnd.ms-excel"
CSV = "text/csv"
ZIP = "application/zip"
_SUFFIX_TYPES = {".ods": ODS, ".xlsx": XLSX, ".xls": XLS, ".csv": CSV, ".zip": ZIP}


class ReleaseNotPublished(InputError):
    """The Content API has no publication at the release's path (404/410): not published yet."""


@dataclass(frozen=True)
class Release:
    """One release: a GOV.UK publication path (`path`) or, off GOV.UK, a page to download by hand."""

    key: str  # "2022-23" for a register year, "2024" for a CRA edition, "latest"
    path: str | None = None  # GOV.UK publication path, e.g. /government/statistics/...
    page: str | None = None  # a page off GOV.UK (ONS) where the file is downloaded by hand
    fy_first: str | None = None
    fy_last: str | None = None
    checked: bool = False  # the path was seen in a public copy of GOV.UK (docs/assumptions.md)

    def covers(self) -> str:
        """'covers 2022-23' or 'covers 2019-20 to 2023-24' (never '2019-20 to 2019-20')."""
        if not self.fy_first:
            return ""
        if self.fy_last in (None, self.fy_first):
            return f"covers {self.fy_first}"
        return f"covers {self.fy_first} to {self.fy_last}"


@dataclass(frozen=True)
class SourceSpec:
    """A source spendmap can find releases of, and how to pick its file among a release's attachments."""

    name: str
    description: str
    publisher: str
    licence: str
    used_as: str  # the `spendmap run` option the file is for
    expect: str  # what kind of file (for messages and the whole-file check)
    title_pattern: str = ""  # regex on an attachment's title
    filename_pattern: str = ""  # regex on its file name
    exclude_pattern: str = ""  # regex (title or file name) of look-alikes that are not the data
    content_types: tuple[str, ...] = ()  # acceptable, in order of preference
    releases: dict[str, Release] = field(default_factory=dict)
    manual: str = ""  # for a source not on GOV.UK: how to get the file


def _fy(start: int) -> str:
    return f"{start}-{(start + 1) % 100:02d}"


def _grants_releases() -> dict[str, Release]:
    checked = {2019, 2020, 2021, 2022, 2023}  # publication pages seen in public copies
    return {
        _fy(y): Release(
            key=_fy(y), path=f"/government/statistics/government-grants-statistics-{y}-to-{y + 1}",
            fy_first=_fy(y), fy_last=_fy(y), checked=y in checked,
        )
        for y in range(2016, 2025)
    }


def _cra_releases() -> dict[str, Release]:
    # Edition N covers the five outturn years ending N-1 to N (CRA 2014: 2009-10 to 2013-14).
    checked = {2014, 2020, 2022, 2023, 2024}
    return {
        str(n): Release(
            key=str(n), path=f"/government/statistics/country-and-regional-analysis-{n}",
            fy_first=_fy(n - 5), fy_last=_fy(n - 1), checked=n in checked,
        )
        for n in (2014, *range(2018, 2025))
    }


ONS_PORTAL_ITEM = "https://www.arcgis.com/sharing/rest/content/items/<ITEM_ID>/data"

CATALOGUE: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec(
            name="grants-register",
            description="Cabinet Office Government Grants Register (GGIS awards), one workbook per "
            "financial year, attached to GOV.UK's 'Government grants statistics' publication.",
            publisher="Cabinet Office (Government Grants Management Function)",
            licence="Open Government Licence v3.0",
            used_as="--grants",
            expect="spreadsheet",
            title_pattern=r"(?i)grants?\s+register",
            filename_pattern=r"(?i)grants?[_ -]*register|grant[_ -]*awards",
            # The same publication attaches statistical tables and a bulletin: never the register.
            exclude_pattern=r"(?i)statistical[_ -]*tables|bulletin|development[_ -]*plan|quality",
            content_types=(ODS, XLSX, CSV),
            releases=_grants_releases(),
        ),
        SourceSpec(
            name="cra",
            description="HM Treasury Country and Regional Analysis (CRA) database, one edition a year "
            "covering the five latest outturn years.",
            publisher="HM Treasury",
            licence="Open Government Licence v3.0",
            used_as="--cra",
            expect="spreadsheet",
            title_pattern=r"(?i)\bdatabase\b",
            filename_pattern=r"(?i)database",
            exclude_pattern=r"(?i)\b[ab][_ -]*tables|interactive|guidance",
            content_types=(XLSX, ODS, CSV),
            releases=_cra_releases(),
        ),
        SourceSpec(
            name="population",
            description="ONS mid-year population estimates for the UK, by local authority (the "
            "'MYE2'/'MYE4' workbook).",
            publisher="Office for National Statistics",
            licence="Open Government Licence v3.0",
            used_as="--population",
            expect="spreadsheet",
            releases={"latest": Release(
                key="latest",
                page="https://www.ons.gov.uk/peoplepopulationandcommunity/populationandmigration/"
                "populationestimates/datasets/populationestimatesforukenglandandwalesscotlandandnorthernireland",
            )},
            manual="ONS publishes it on ons.gov.uk, not through the GOV.UK Content API: download the "
            "workbook from the page and pass it (or its file URL) as --population.",
        ),
        SourceSpec(
            name="nspl",
            description="ONS National Statistics Postcode Lookup (NSPL; ONSPD has the same layout): "
            "every UK postcode with its local authority district. A zip of about 2.5 million rows.",
            publisher="Office for National Statistics (ONS Geography)",
            licence="Open Government Licence v3.0; contains OS data, Royal Mail data and National "
            "Statistics data, Crown copyright and database right",
            used_as="--postcodes",
            expect="zip",
            releases={"latest": Release(key="latest", page="https://geoportal.statistics.gov.uk/")},
            manual="Each edition is an item of the ONS Open Geography Portal; its download address is "
            f"{ONS_PORTAL_ITEM} (the item id is on the dataset's page, search 'NSPL'). Pass that address "
            "(or the downloaded zip) as --postcodes; spendmap caches the download.",
        ),
    )
}


def source_names() -> list[str]:
    """Names accepted by `spendmap fetch --source`."""
    return sorted(CATALOGUE)


def govuk_base() -> str:
    """$SPENDMAP_GOVUK_URL (a mirror or a test stand-in), else https://www.gov.uk; no trailing slash."""
    return (os.environ.get(GOVUK_ENV) or GOVUK_DEFAULT).strip().rstrip("/")


def content_api_url(path: str) -> str:
    """GOV.UK Content API address of a publication path."""
    return f"{govuk_base()}/api/content/{path.lstrip('/')}"


def page_url(release: Release) -> str:
    """The human page of a release (GOV.UK publication, or the ONS page)."""
    return f"{govuk_base()}{release.path}" if release.path else (release.page or "")


# --------------------------------------------------------------------------------------------------
# Choosing a release and an attachment


def get_spec(name: str) -> SourceSpec:
    """The catalogue entry for `name`, or an InputError listing the names known."""
    if name not in CATALOGUE:
        close = difflib.get_close_matches(name, source_names(), n=2, cutoff=0.4)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise InputError(
            f"Unknown source '{name}'. `spendmap fetch --source` knows: {', '.join(source_names())}.{hint}"
        )
    return CATALOGUE[name]


def pick_release(spec: SourceSpec, year: str | None) -> Release:
    """The release for financial year `year` (None: the newest): the register of that year, or the
    newest CRA edition whose outturn years include it (newer editions carry revised figures)."""
    releases = spec.releases
    dated = [r for r in releases.values() if r.fy_first]
    if not dated:  # not tied to a financial year (population, postcodes): the latest
        return next(iter(releases.values()))
    if year is None:
        return max(dated, key=lambda r: (fy_start_year(r.fy_last or r.fy_first), r.key))
    if year in releases:
        return releases[year]
    start = fy_start_year(year)
    covering = [
        r for r in dated if fy_start_year(r.fy_first) <= start <= fy_start_year(r.fy_last or r.fy_first)
    ]
    if not covering:
        spans = "; ".join(f"{r.key} ({r.covers()})" for r in dated)
        raise InputError(
            f"spendmap knows no release of '{spec.name}' covering {year}. Releases it knows: {spans}. For "
            f"another year, download the file from the publisher and pass it as {spec.used_as} PATH."
        )
    return max(covering, key=lambda r: fy_start_year(r.fy_last or r.fy_first))


@dataclass(frozen=True)
class Attachment:
    """One file attached to a GOV.UK publication."""

    title: str
    filename: str
    url: str  # absolute
    content_type: str
    file_size: int | None = None  # bytes, as the Content API states: checks a download with no Content-Length

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "filename": self.filename, "url": self.url,
                "content_type": self.content_type, "file_size": self.file_size}


def attachments_of(item: dict[str, Any], base_url: str) -> list[Attachment]:
    """Every file listed in a content item's `details.attachments` and `details.documents`
    (documents that are rendered HTML strings, as older publications have, are skipped)."""
    details = item.get("details") if isinstance(item.get("details"), dict) else {}
    out: list[Attachment] = []
    seen: set[str] = set()
    for key in ("attachments", "documents"):
        for entry in details.get(key) or []:
            if not isinstance(entry, dict) or not entry.get("url"):
                continue
            url = urljoin(base_url + "/", str(entry["url"]))
            if url in seen:
                continue
            seen.add(url)
            filename = str(entry.get("filename") or unquote(urlsplit(url).path.rsplit("/", 1)[-1]))
            ctype = str(entry.get("content_type") or _SUFFIX_TYPES.get(Path(filename).suffix.lower(), ""))
            size = entry.get("file_size")
            out.append(Attachment(title=str(entry.get("title") or ""), filename=filename, url=url,
                                  content_type=ctype.split(";")[0].strip().lower(),
                                  file_size=size if isinstance(size, int) and size > 0 else None))
    return out


def choose_attachment(spec: SourceSpec, attachments: list[Attachment]) -> Attachment | None:
    """The data file among a release's attachments, by content type, title and file name.

    An attachment qualifies when its content type is one the source accepts, its title or file name
    matches the source's pattern, and neither matches the look-alikes' pattern (statistical tables).
    Among those: title and file name both matching first, then the preferred content type, then the
    publisher's order.
    """
    ranked = []
    for order, att in enumerate(attachments):
        if att.content_type not in spec.content_types:
            continue
        if spec.exclude_pattern and (re.search(spec.exclude_pattern, att.title)
                                     or re.search(spec.exclude_pattern, att.filename)):
            continue
        by_title = bool(spec.title_pattern and re.search(spec.title_pattern, att.title))
        by_name = bool(spec.filename_pattern and re.search(spec.filename_pattern, att.filename))
        if not (by_title or by_name):
            continue
        ranked.append((-(by_title + by_name), spec.content_types.index(att.content_type), order, att))
    return min(ranked, key=lambda t: t[:3])[3] if ranked else None


# --------------------------------------------------------------------------------------------------
# Checking a release (conditional request) and fetching its file


@dataclass
class ReleaseCheck:
    """What the Content API said about a release just now, against what was last fetched."""

    source: str
    release: str
    api_url: str
    page_url: str
    changed: bool  # a new or updated release (or never fetched)
    not_modified: bool  # the server answered 304
    public_updated_at: str | None
    attachment: Attachment | None
    etag: str | None = None
    last_modified: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "release": self.release, "api_url": self.api_url,
            "page_url": self.page_url, "changed": self.changed, "not_modified": self.not_modified,
            "public_updated_at": self.public_updated_at,
            "attachment": self.attachment.to_dict() if self.attachment else None,
        }


def state_path(cache_dir: Path, source: str, release: str) -> Path:
    """Where what was last fetched of a release is remembered."""
    return Path(cache_dir) / STATE_DIR / f"{source}_{release}.json"


def check_release(
    name: str, year: str | None = None, *, cache_dir: Path | None = None, policy: HttpPolicy | None = None,
) -> ReleaseCheck:
    """Ask the Content API about a release, conditionally on what was last fetched (no download).

    Raises InputError when the source is not on GOV.UK, the publication does not exist (404) or it has
    no attachment that is the data file; DownloadError when the API cannot be reached or answers
    something that is not JSON (a web page: `$SPENDMAP_GOVUK_URL` pointing at the wrong site).
    """
    spec = get_spec(name)
    release = pick_release(spec, year)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    policy = policy or HttpPolicy(timeout=30)
    if not release.path:
        raise InputError(f"spendmap cannot download '{name}' by itself. {spec.manual} Page: {release.page}")
    api = content_api_url(release.path)
    page = page_url(release)
    state = read_json(state_path(cache_dir, name, release.key)) or {}
    headers = {"Accept": "application/json"}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    deadline_at = time.monotonic() + policy.deadline_seconds()
    with http_session(make_retry(policy, deadline_at)) as session:
        resp = http_get(session, api, policy=policy, deadline_at=deadline_at, headers=headers)
    etag, last_modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
    if resp.status_code == 304 and state.get("attachment"):
        return ReleaseCheck(
            source=name, release=release.key, api_url=api, page_url=page, changed=False, not_modified=True,
            public_updated_at=state.get("public_updated_at"), attachment=Attachment(**state["attachment"]),
            etag=etag or state.get("etag"), last_modified=last_modified or state.get("last_modified"),
        )
    if resp.status_code in (404, 410):
        raise ReleaseNotPublished(
            f"GOV.UK has no publication at {page} (the Content API answered HTTP {resp.status_code} for "
            f"{api}): the {name} {release.key} release is not published yet, or has moved. Find it on "
            f"GOV.UK and pass its file as {spec.used_as} PATH."
        )
    if resp.status_code != 200:
        raise DownloadError(
            f"Could not read the {name} {release.key} release from the GOV.UK Content API ({api}): HTTP "
            f"{resp.status_code} {resp.reason or ''}".rstrip() + ". Try again later."
        )
    item = _json_item(resp, api)
    attachment = choose_attachment(spec, attachments_of(item, govuk_base()))
    if attachment is None:
        listed = attachments_of(item, govuk_base())
        shown = "; ".join(f"'{a.title}' ({a.filename}, {a.content_type or 'no type'})" for a in listed[:10])
        raise InputError(
            f"The GOV.UK publication {page} has no attachment that is the {name} data file ({spec.expect}, "
            f"title like {spec.title_pattern!r} or file name like {spec.filename_pattern!r}). It attaches: "
            f"{shown or 'nothing'}. Download the file by hand and pass it as {spec.used_as} PATH."
        )
    updated = item.get("public_updated_at")
    changed = (
        not state.get("attachment")
        or state.get("public_updated_at") != updated
        or state["attachment"].get("url") != attachment.url
    )
    return ReleaseCheck(
        source=name, release=release.key, api_url=api, page_url=page, changed=changed, not_modified=False,
        public_updated_at=updated, attachment=attachment, etag=etag, last_modified=last_modified,
    )


def _json_item(resp: Any, api: str) -> dict[str, Any]:
    body = resp.content
    ctype = resp.headers.get("Content-Type", "")
    if "html" in ctype.lower() or looks_like_html(body):
        raise DownloadError(
            f"{api} answered a web page ({ctype or 'no Content-Type'}), not the JSON of the GOV.UK Content "
            f"API. ${GOVUK_ENV} (now {govuk_base()}) must be the GOV.UK site or a mirror serving "
            f"/api/content/; a proxy or login page may be in the way."
        )
    try:
        item = resp.json()
    except ValueError:
        item = None
    if not isinstance(item, dict):
        raise DownloadError(f"{api} did not answer a JSON object (Content-Type {ctype or 'none'}).")
    return item


def fetch_release(
    name: str,
    *,
    year: str | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
    refresh: bool = False,
    policy: HttpPolicy | None = None,
) -> tuple[FetchedFile, ReleaseCheck | None]:
    """Download (or reuse from the cache) the file of an official release; record it.

    Online, the Content API is asked first (conditionally): an unchanged release reuses the cached
    file, an updated one is downloaded again. Offline, the file last fetched is used. The release's
    state and the cache's fetch_manifest.json are updated only after the file is in the cache.
    """
    spec = get_spec(name)
    release = pick_release(spec, year)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    policy = policy or HttpPolicy()
    state_file = state_path(cache_dir, name, release.key)
    state = read_json(state_file) or {}
    if offline:
        if not state.get("attachment"):
            raise InputError(
                f"'{name}' {release.key} has not been fetched into the cache ({cache_dir}) and --offline "
                f"forbids downloading: run `spendmap fetch --source {name} --year {release.key}` while "
                f"online first, or pass the file as {spec.used_as} PATH."
            )
        fetched = resolve_source(state["attachment"]["url"], cache_dir=cache_dir, offline=True,
                                 expect=spec.expect)
        return fetched, None
    check = check_release(name, release.key, cache_dir=cache_dir, policy=policy)
    assert check.attachment is not None
    fetched = resolve_source(
        check.attachment.url, cache_dir=cache_dir, refresh=refresh or check.changed and bool(state),
        expect=spec.expect, retries=policy.retries, backoff_seconds=policy.backoff_seconds,
        timeout=policy.timeout, deadline=policy.deadline, declared_bytes=check.attachment.file_size,
    )
    write_json_atomic(state_file, {
        "source": name, "release": release.key, "api_url": check.api_url, "page_url": check.page_url,
        "public_updated_at": check.public_updated_at, "etag": check.etag,
        "last_modified": check.last_modified, "attachment": check.attachment.to_dict(),
        "sha256": fetched.sha256, "path": str(fetched.path), "fetched_at": fetched.fetched_at or now_iso(),
    })
    record_in_manifest(cache_dir, fetched, extra={
        "source_name": name, "release": release.key, "requested_year": year,
        "publication": check.page_url, "attachment_title": check.attachment.title,
        "public_updated_at": check.public_updated_at, "description": spec.description,
        "licence": spec.licence,
    })
    return fetched, check


def fetch_known(
    name: str, *, year: str | None = None, cache_dir: Path | None = None, **kw: Any
) -> FetchedFile:
    """The file of an official release (see fetch_release), without the check."""
    policy_keys = {"retries", "backoff_seconds", "timeout", "deadline"}
    policy = HttpPolicy(**{k: v for k, v in kw.items() if k in policy_keys})
    rest = {k: v for k, v in kw.items() if k not in policy_keys}
    return fetch_release(name, year=year, cache_dir=cache_dir, policy=policy, **rest)[0]


# --------------------------------------------------------------------------------------------------
# `spendmap fetch`


def list_lines() -> list[str]:
    """What `spendmap fetch --list` prints: each source, then each release with what it covers."""
    lines = []
    for name in source_names():
        spec = CATALOGUE[name]
        lines.append(f"{name} (for {spec.used_as}): {spec.description}")
        if spec.manual:
            lines.append(f"    {spec.manual}")
        for release in spec.releases.values():
            covers = release.covers()
            note = "" if release.checked or not release.path else "  (address by pattern, not yet seen)"
            lines.append(f"    {release.key}{' ' + covers if covers else ''}: {page_url(release)}{note}")
    return lines


def fetch_command(*, source: str | None, year: str | None, list_only: bool) -> None:
    """`spendmap fetch`: list the catalogue, or download a release into the cache and say where it is."""
    if list_only or not source:
        print("\n".join(list_lines()))
        return
    fetched, check = fetch_release(source, year=year, cache_dir=default_cache_dir())
    note = "  (from cache)" if fetched.from_cache else ""
    if check is not None and not check.changed:
        note = "  (unchanged since the last fetch)"
    print(f"{fetched.path}\nsha256 {fetched.sha256}  {fetched.bytes:,} bytes{note}")
    if fetched.verified is False:
        print(f"Warning: not verified as complete: {fetched.verification}")
