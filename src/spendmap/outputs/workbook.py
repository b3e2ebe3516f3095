"""A council's workbook (`<slug>_grant_profile.xlsx`): Summary, Awards, Small grants, Duplication,
CRA allocation and Notes sheets, written with XlsxWriter in constant-memory mode.

Each sheet has a frozen header row, an autofilter, £ / % / date number formats and set column widths.
Text from data is always stored as a text cell (never a formula); text that starts with `=`, `+`, `-`,
`@` (or tab/CR) also gets Excel's quote prefix, so it shows exactly as published and cannot run.

XlsxWriter's constant-memory mode streams each row to disk as it is written. Measured against
openpyxl's write-only mode on the same seven sheets (benchmarks/RESULTS.md, notes): 15 ms against
30 ms for a five-award council, 250 ms against 750 ms for 5,000 awards; openpyxl stays for reading the
workbooks back in the tests. Formats are made once per workbook and shared by every cell of a kind.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from spendmap.outputs.safe import FORMULA_PREFIXES
from spendmap.text import is_missing

GBP = '"£"#,##0'
GBP_PENCE = '"£"#,##0.00'
INT = "#,##0"
SHARE = "0.0%"
DATE = "yyyy-mm-dd"
_KIND_FORMAT = {"gbp": GBP, "gbp_pence": GBP_PENCE, "int": INT, "share": SHARE, "date": DATE}
_HEADER = {"bold": True, "font_color": "#FFFFFF", "bg_color": "#12324F", "pattern": 1, "valign": "top",
           "text_wrap": True}
_TOP_WRAP = {"valign": "top", "text_wrap": True}
# Nothing in a cell is ever turned into a formula, number or link: text from data stays text.
_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False}
# Characters XML 1.0 forbids; published data occasionally carries them.
_ILLEGAL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32)])


@dataclass(frozen=True)
class Col:
    """One output column: source name, header, kind (text|gbp|gbp_pence|int|share|date|bool|num), width."""

    name: str
    header: str
    kind: str = "text"
    width: float = 14


AWARD_SHEET_COLUMNS = [
    Col("award_id", "Award id", width=22),
    Col("award_date", "Award date", "date", 12),
    Col("department", "Department", width=12),
    Col("department_raw", "Funder (as published)", width=32),
    Col("managing_body", "Managed by", width=24),
    Col("scheme_code", "Scheme code", width=16),
    Col("scheme_title", "Scheme", width=40),
    Col("title", "Award title", width=40),
    Col("recipient_name", "Recipient", width=36),
    Col("recipient_id", "Recipient id", width=20),
    Col("recipient_type", "Recipient type", width=20),
    Col("recipient_postcode", "Postcode", width=10),
    Col("is_council_recipient", "To the council", "bool", 10),
    Col("is_redacted", "Redacted", "bool", 10),
    Col("geo_method", "Placed by", width=14),
    Col("policy_area", "Policy area", width=24),
    Col("amount_gbp", "Amount", "gbp_pence", 16),
    Col("source_file", "Source file", width=28),
    Col("source_sheet", "Source sheet", width=14),
    Col("source_row", "Source row", "int", 10),
]
SMALL_SHEET_COLUMNS = [
    Col("scope_label", "Scope", width=34),
    Col("n_awards", "Awards", "int", 10),
    Col("n_small", "Small awards", "int", 12),
    Col("share_small", "Share small", "share", 12),
    Col("threshold_gbp", "Threshold", "gbp", 12),
]
# One row per finding; its awards are listed one per row on the "Duplication awards" sheet (joined lists
# of hundreds of names in one cell are unreadable).
DUPLICATION_SHEET_COLUMNS = [
    Col("finding", "Finding", "int", 8),
    Col("explanation", "Finding explained", width=60),
    Col("policy_area", "Policy area", width=26),
    Col("kind_label", "Kind", width=20),
    Col("departments", "Departments", width=24),
    Col("n_departments", "Departments (n)", "int", 10),
    Col("n_schemes", "Schemes (n)", "int", 10),
    Col("n_recipients", "Recipients (n)", "int", 10),
    Col("n_awards", "Awards", "int", 10),
    Col("total_gbp", "Total", "gbp", 14),
    Col("policy_subarea", "Sub-area", width=30),
    Col("allocation_methods", "Allocation methods", width=24),
    Col("score", "Schemes × recipients", "int", 12),
]
FINDING_AWARD_COLUMNS = [
    Col("finding", "Finding", "int", 8),
    Col("policy_area", "Policy area", width=26),
    Col("department", "Department", width=12),
    Col("scheme_title", "Scheme", width=40),
    Col("recipient_name", "Recipient", width=36),
    Col("title", "Award title", width=40),
    Col("award_id", "Award id", width=22),
    Col("amount_gbp", "Amount", "gbp_pence", 16),
]
CRA_SHEET_COLUMNS = [
    Col("department", "Department", width=30),
    Col("function", "Function", width=34),
    Col("allocated_gbp", "Allocated", "gbp", 16),
    Col("per_head_gbp", "Per head", "gbp_pence", 12),
    Col("region_per_head_gbp", "Region per head", "gbp_pence", 14),
    Col("england_per_head_gbp", "England per head", "gbp_pence", 14),
    Col("population", "Population", "int", 12),
    Col("region", "Region", width=22),
    Col("region_population", "Region population", "int", 16),
]


class _Sheet:
    """Writes one sheet row by row (constant-memory mode needs rows in order), styling only the cells
    that need it: headers, money, counts, shares, dates, wrapped or quoted text."""

    def __init__(self, wb: Any, formats: dict[str, Any], name: str, widths: Sequence[float], n_rows: int):
        self.ws = wb.add_worksheet(name)
        self.formats = formats
        self.row = 0
        for i, width in enumerate(widths):
            self.ws.set_column(i, i, width)
        self.ws.freeze_panes(1, 0)
        self.ws.autofilter(0, 0, max(n_rows, 1), len(widths) - 1)

    def append(self, cells: Sequence[tuple[Any, str | None]]) -> None:
        """One row of (value, format key or None) pairs; a None value is left blank."""
        for col, (value, fmt) in enumerate(cells):
            if value is None:
                continue
            style = self.formats[fmt] if fmt else None
            if isinstance(value, str):
                self.ws.write_string(self.row, col, value, style)
            elif isinstance(value, dt.date):
                self.ws.write_datetime(self.row, col, value, style)
            else:
                self.ws.write_number(self.row, col, value, style)
        self.row += 1

    def header(self, headers: Sequence[str]) -> None:
        self.append([(h, "header") for h in headers])


def _text(value: Any, wrap: bool = False) -> tuple[str, str | None]:
    text = str(value).translate(_ILLEGAL)
    if text.startswith(FORMULA_PREFIXES):
        return text, "quoted_wrap" if wrap else "quoted"  # a string with Excel's quote prefix
    return text, "wrap" if wrap else None


def _cell(value: Any, kind: str, wrap: bool = False) -> tuple[Any, str | None]:
    """One cell of the given kind (text|gbp|gbp_pence|int|share|date|bool|num); None when missing."""
    # Most cells are plain text or plain numbers: skip the general missing-value test for them.
    if kind == "text" and type(value) is str:
        return _text(value, wrap)
    if type(value) in (float, int) and kind not in ("text", "bool", "date"):
        return _number(float(value), kind)
    if is_missing(value):
        return None, None
    if kind == "text":
        return _text(value, wrap)
    if kind == "bool":
        return ("yes" if bool(value) else "no"), None
    if kind == "date":
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, dt.date):
            plain = value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value
            return plain, "date"
        return _text(value)
    return _number(float(value), kind)


def _number(number: float, kind: str) -> tuple[Any, str | None]:
    """A numeric cell: NaN and infinities are blank; counts are whole."""
    if not math.isfinite(number):
        return None, None
    if kind == "int":
        number = int(round(number))
    return number, (kind if kind in _KIND_FORMAT else None)


def _formats(wb: Any) -> dict[str, Any]:
    formats = {kind: wb.add_format({"num_format": fmt}) for kind, fmt in _KIND_FORMAT.items()}
    formats["header"] = wb.add_format(_HEADER)
    formats["wrap"] = wb.add_format(_TOP_WRAP)
    formats["quoted"] = wb.add_format({"quote_prefix": True})
    formats["quoted_wrap"] = wb.add_format({**_TOP_WRAP, "quote_prefix": True})
    return formats


def _table_sheet(
    wb: Any, formats: dict[str, Any], name: str, df: pd.DataFrame, columns: Sequence[Col], empty_note: str
) -> None:
    sheet = _Sheet(wb, formats, name, [c.width for c in columns], len(df))
    sheet.header([c.header for c in columns])
    data = [(c.kind, df[c.name].tolist() if c.name in df.columns else None) for c in columns]
    for r in range(len(df)):
        sheet.append([_cell(v[r], kind) if v is not None else (None, None) for kind, v in data])
    if df.empty:
        sheet.append([])
        sheet.append([_text(empty_note)])


def _pairs_sheet(
    wb: Any,
    formats: dict[str, Any],
    name: str,
    headers: tuple[str, str],
    widths: list[float],
    rows: Iterable[tuple[str, Any, str]],
    wrap: bool = False,
) -> None:
    rows = list(rows)
    sheet = _Sheet(wb, formats, name, widths, len(rows))
    sheet.header(headers)
    for label, value, kind in rows:
        sheet.append([_text(label), _cell(value, kind, wrap=wrap and kind == "text")])


def write_workbook(
    path: Path,
    summary: Sequence[tuple[str, Any, str]],
    awards: pd.DataFrame,
    small_grants: pd.DataFrame,
    duplication: pd.DataFrame,
    cra: pd.DataFrame,
    notes: Sequence[tuple[str, str]],
    place_name: str,
    finding_awards: pd.DataFrame | None = None,
    extra_sheets: Sequence[Callable[[Any, dict[str, Any]], None]] = (),
) -> Path:
    """Write one council's workbook.

    summary: (label, value, kind) rows for the Summary sheet; notes: (heading, text) rows for Notes.
    The frames use the canonical column names (plus `scope_label`/`kind_label` helper columns).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".xlsx.part")
    wb = xlsxwriter.Workbook(str(tmp), _OPTIONS)
    formats = _formats(wb)
    _pairs_sheet(wb, formats, "Summary", ("Figure", "Value"), [44, 40], summary)
    _table_sheet(wb, formats, "Awards", awards, AWARD_SHEET_COLUMNS,
                 f"No grant awards were placed in {place_name}.")
    _table_sheet(wb, formats, "Small grants", small_grants, SMALL_SHEET_COLUMNS, "No small-grant figures.")
    _table_sheet(wb, formats, "Duplication", duplication, DUPLICATION_SHEET_COLUMNS,
                 f"No duplication findings for {place_name}.")
    _table_sheet(
        wb, formats, "Duplication awards",
        finding_awards if finding_awards is not None else pd.DataFrame(),
        FINDING_AWARD_COLUMNS,
        f"No duplication findings for {place_name}.",
    )
    _table_sheet(wb, formats, "CRA allocation", cra, CRA_SHEET_COLUMNS,
                 f"No CRA allocation for {place_name}.")
    for add_sheets in extra_sheets:  # e.g. outputs.priorities_section.workbook_sheets (issue 18)
        add_sheets(wb, formats)
    _pairs_sheet(wb, formats, "Notes", ("Note", "Detail"), [28, 110], [(h, t, "text") for h, t in notes],
                 wrap=True)
    wb.close()
    tmp.replace(path)
    return path


def summary_rows(items: Mapping[str, tuple[Any, str]]) -> list[tuple[str, Any, str]]:
    """Convenience: {label: (value, kind)} -> summary rows."""
    return [(label, value, kind) for label, (value, kind) in items.items()]
