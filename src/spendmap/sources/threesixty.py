"""360Giving JSON packages (`{"grants": [...]}`) as the same table the flat CSV/XLSX titles give.

The 360Giving Data Standard defines one data model with two serialisations: JSON (nested objects and
arrays, `360-giving-package-schema.json`) and flat spreadsheets whose column titles are the schema's
`title`s joined with ':' (`Recipient Org:Location:0:Geographic Code`). This module turns each grant of a
JSON package into one row keyed by those flat titles, so the one grants reader (`sources/grants.py`)
applies its aliases, amount/date/id rules and reject reasons to every form alike: a JSON package, a
GrantNav CSV export and a flat XLSX of the same grants give the same awards.

Field names and titles follow the standard's schema (ThreeSixtyGiving/standard,
`schema/360-giving-schema.json`: grant properties, `$defs.Organization`, `$defs.Location`,
`$defs.GrantProgramme`, `$defs.Event`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spendmap.errors import InputError

# The flat reader's own frame builder: the JSON rows become exactly the cells a CSV of them would.
from spendmap.sources.tabular import RawTable, _build_frame, _describe_missing, normalise_header

JSON_SUFFIXES = {".json"}
# Repeated locations are numbered :0:, :1:, ... in the flat titles; grants.MAX_LOCATION_INDEX reads 10.
MAX_LOCATIONS = 10

# Grant properties (schema property -> flat title).
_GRANT_TITLES = {
    "id": "Identifier",
    "title": "Title",
    "description": "Description",
    "currency": "Currency",
    "amountAwarded": "Amount Awarded",
    "amountAppliedFor": "Amount Applied For",
    "amountDisbursed": "Amount Disbursed",
    "awardDate": "Award Date",
    "fromOpenCall": "From An Open Call?",
    "dateModified": "Last Modified",
    "dataSource": "Data Source",
}
# $defs.Organization (recipientOrganization / fundingOrganization items).
_ORGANIZATION_TITLES = {
    "id": "Identifier",
    "name": "Name",
    "department": "Department",
    "charityNumber": "Charity Number",
    "companyNumber": "Company Number",
    "streetAddress": "Street Address",
    "addressLocality": "City",
    "addressRegion": "County",
    "addressCountry": "Country",
    "postalCode": "Postal Code",
}
# $defs.Location (beneficiaryLocation items, Organization.location items).
_LOCATION_TITLES = {"name": "Name", "geoCode": "Geographic Code", "geoCodeType": "Geographic Code Type"}
_PROGRAMME_TITLES = {"code": "Code", "title": "Title"}
_EVENT_TITLES = {"startDate": "Start Date", "endDate": "End Date", "duration": "Duration (months)"}


def is_json_package(path: Path) -> bool:
    """A .json file, or any file whose first non-blank byte opens a JSON object."""
    if path.suffix.lower() in JSON_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head.startswith(b"{")


def _first(value: Any) -> Mapping[str, Any]:
    """The first object of a schema array (the flat titles without an index are its first item)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, Mapping) else {}


def _cell(value: Any) -> object:
    """A JSON value as a table cell: blanks None, nested values as compact JSON text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def flatten_grant(grant: Mapping[str, Any]) -> dict[str, object]:
    """One grant object as {flat 360Giving title: cell}; absent fields are left out."""
    row: dict[str, object] = {}

    def put(title: str, value: Any) -> None:
        cell = _cell(value)
        if cell is not None:
            row[title] = cell

    for prop, title in _GRANT_TITLES.items():
        put(title, grant.get(prop))
    for prop, title in _EVENT_TITLES.items():
        put(f"Planned Dates:{title}", _first(grant.get("plannedDates")).get(prop))
    for key, prefix in (("recipientOrganization", "Recipient Org"), ("fundingOrganization", "Funding Org")):
        org = _first(grant.get(key))
        for prop, title in _ORGANIZATION_TITLES.items():
            put(f"{prefix}:{title}", org.get(prop))
        if key == "recipientOrganization":
            _put_locations(put, "Recipient Org:Location", org.get("location"))
    _put_locations(put, "Beneficiary Location", grant.get("beneficiaryLocation"))
    programme = _first(grant.get("grantProgramme"))
    for prop, title in _PROGRAMME_TITLES.items():
        put(f"Grant Programme:{title}", programme.get(prop))
    return row


def _put_locations(put, prefix: str, locations: Any) -> None:
    if isinstance(locations, Mapping):
        locations = [locations]
    if not isinstance(locations, list):
        return
    for i, loc in enumerate(locations[:MAX_LOCATIONS]):
        if isinstance(loc, Mapping):
            for prop, title in _LOCATION_TITLES.items():
                put(f"{prefix}:{i}:{title}", loc.get(prop))


def load_grants(path: Path, what: str = "grants file") -> list[Any]:
    """The `grants` array of a 360Giving JSON package (one clear paragraph when it is not one)."""
    try:
        with path.open("rb") as fh:
            data = json.loads(fh.read().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError(
            f"The {what} '{path}' looks like a 360Giving JSON package but is not UTF-8 text: export it "
            "again as UTF-8 JSON, or as the flat CSV/XLSX."
        ) from None
    except json.JSONDecodeError as err:
        raise InputError(
            f"The {what} '{path}' is not valid JSON ({err.msg} at line {err.lineno}, column "
            f"{err.colno}): a 360Giving JSON package is an object {{\"grants\": [...]}}. Download or "
            "export it again."
        ) from None
    grants = data.get("grants") if isinstance(data, Mapping) else None
    if not isinstance(grants, list):
        found = (f"an object with keys {sorted(data)[:10]}" if isinstance(data, Mapping)
                 else f"a JSON {type(data).__name__}")
        raise InputError(
            f"The {what} '{path}' is JSON but not a 360Giving package: expected an object with a "
            f"\"grants\" array (the 360Giving Data Standard's package schema); found {found}."
        )
    return grants


def read_json_package(path: Path, *, aliases: Mapping[str, str], required: Sequence[str],
                      what: str = "grants file") -> RawTable:
    """A JSON package as the RawTable the flat form of the same grants gives.

    Rows are the grants in order; `source_row` is the grant's position in the `grants` array
    (counting from 1) and the sheet is 'grants'. A grant that is not an object, or has none of the
    fields above, becomes a row holding only its JSON text under 'Value', which the reader then rejects
    as not an award row: every grant is a row read, accepted or rejected.
    """
    grants = load_grants(path, what)
    if not grants:
        raise InputError(f"The {what} '{path}' is a 360Giving package with no grants (\"grants\": []).")
    rows = []
    for g in grants:
        row = flatten_grant(g) if isinstance(g, Mapping) else {}
        rows.append(row or {"Value": json.dumps(g, ensure_ascii=False)[:200]})
    headers = list(dict.fromkeys(t for r in rows for t in r))
    norm = {normalise_header(k): v for k, v in aliases.items()}
    table = [headers, *([r.get(h) for h in headers] for r in rows)]
    frame, headers_found, original, _blank = _build_frame(table, 0, norm)
    frame["source_row"] = range(1, len(frame) + 1)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"The {what} '{path}' (a 360Giving JSON package of {len(grants):,} grants) has no grant "
            f"with {', '.join(_describe_missing(c, norm) for c in missing)}; the fields found are "
            f"{headers_found[:30]}. Each grant needs at least id, amountAwarded, recipientOrganization "
            "(name) and fundingOrganization (name), as the 360Giving schema requires."
        )
    return RawTable(frame=frame, path=path, sheet="grants", header_row=0, sheet_names=["grants"],
                    headers_found=headers_found, original_headers=original)


def count_package(path: Path) -> dict:
    """Grants in a package and the sum of their finite numeric amounts, read plainly (for the
    manifest's reconciliation, which must not share code with the reader)."""
    import math

    grants = load_grants(Path(path))
    amounts = []
    for g in grants:
        value = g.get("amountAwarded") if isinstance(g, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            amounts.append(float(value))
        elif isinstance(value, str):
            from spendmap.manifest import plain_amount

            a = plain_amount(value)
            if a is not None:
                amounts.append(a)
    return {"rows": len(grants), "amount_gbp": math.fsum(amounts)}


__all__ = ["is_json_package", "flatten_grant", "load_grants", "read_json_package", "count_package"]
