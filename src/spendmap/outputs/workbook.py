"""A council's workbook (`<slug>_grant_profile.xlsx`): Summary, Awards, Small grants, Duplication,
CRA allocation and Notes sheets, written with openpyxl.

Each sheet has a frozen header row, an autofilter, £ / % / date number formats and set column widths.
Text from data is always stored as a text cell (never a formula); text that starts with `=`, `+`, `-`,
`@` (or tab/CR) also gets Excel's quote prefix, so it shows exactly as published and cannot run.

openpyxl's write-only mode is used (rows streamed, about 10 µs a cell here): the normal mode costs about
90 µs a cell, too slow for a 63,000-award year across every council. Only cells that need a style
(headers, money, dates, quoted text) are built as styled cells; the rest are plain values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from spendmap.outputs.safe import FORMULA_PREFIXES
from spendmap.text import is_missing

GBP = '"£"#,##0'
GBP_PENCE = '"£"#,##0.00'
INT = "#,##0"
SHARE = "0.0%"
DATE = "yyyy-mm-dd"
_KIND_FORMAT = {"gbp": GBP, "gbp_pence": GBP_PENCE, "int": INT, "share": SHARE, "date": DATE}
_HEADER_FONT = Font(bold=True, color="FFFFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="FF12324F")
_TOP_WRAP = Alignment(vertical="top", wrap_text=True)
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


class _Cells:
    """Builds write-only cells for one sheet, styling only the cells that need it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def styled(self, value: Any, number_format: str | None = None, wrap: bool = False) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=value)
        if number_format:
            cell.number_format = number_format
        if wrap:
            cell.alignment = _TOP_WRAP
        return cell

    def text(self, value: Any, wrap: bool = False) -> Any:
        text = str(value).translate(_ILLEGAL)
        if not text.startswith(FORMULA_PREFIXES) and not wrap:
            return text
        cell = WriteOnlyCell(self.ws, value=text)
        cell.data_type = "s"  # a string, even when it looks like a formula
        if text.startswith(FORMULA_PREFIXES):
            cell.quotePrefix = True
        if wrap:
            cell.alignment = _TOP_WRAP
        return cell

    def header(self, text: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=text)
        cell.font, cell.fill, cell.alignment = _HEADER_FONT, _HEADER_FILL, _TOP_WRAP
        return cell

    def value(self, value: Any, kind: str, wrap: bool = False) -> Any:
        """One cell of the given kind (text|gbp|gbp_pence|int|share|date|bool|num); None when missing."""
        if is_missing(value):
            return None
        if kind == "text":
            return self.text(value, wrap)
        if kind == "bool":
            return "yes" if bool(value) else "no"
        if kind == "date":
            if isinstance(value, pd.Timestamp):
                value = value.to_pydatetime()
            if isinstance(value, dt.date):
                plain = value.replace(tzinfo=None) if isinstance(value, dt.datetime) else value
                return self.styled(plain, DATE)
            return self.text(value)
        number = float(value)
        if not math.isfinite(number):
            return None
        if kind == "int":
            number = int(round(number))
        fmt = _KIND_FORMAT.get(kind)
        return self.styled(number, fmt) if fmt else number


def _new_sheet(wb: Workbook, name: str, widths: Sequence[float], n_rows: int) -> tuple[Any, _Cells]:
    ws = wb.create_sheet(name)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(widths))}{max(n_rows, 1) + 1}"
    return ws, _Cells(ws)


def _table_sheet(wb: Workbook, name: str, df: pd.DataFrame, columns: Sequence[Col], empty_note: str) -> None:
    ws, cells = _new_sheet(wb, name, [c.width for c in columns], len(df))
    ws.append([cells.header(c.header) for c in columns])
    data = [(c.kind, df[c.name].tolist() if c.name in df.columns else None) for c in columns]
    for r in range(len(df)):
        ws.append([cells.value(values[r], kind) if values is not None else None for kind, values in data])
    if df.empty:
        ws.append([])
        ws.append([cells.text(empty_note)])


def _pairs_sheet(
    wb: Workbook,
    name: str,
    headers: tuple[str, str],
    widths: list[float],
    rows: Iterable[tuple[str, Any, str]],
    wrap: bool = False,
) -> None:
    rows = list(rows)
    ws, cells = _new_sheet(wb, name, widths, len(rows))
    ws.append([cells.header(h) for h in headers])
    for label, value, kind in rows:
        ws.append([cells.text(label), cells.value(value, kind, wrap=wrap and kind == "text")])


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
) -> Path:
    """Write one council's workbook.

    summary: (label, value, kind) rows for the Summary sheet; notes: (heading, text) rows for Notes.
    The frames use the canonical column names (plus `scope_label`/`kind_label` helper columns).
    """
    wb = Workbook(write_only=True)
    _pairs_sheet(wb, "Summary", ("Figure", "Value"), [44, 40], summary)
    _table_sheet(wb, "Awards", awards, AWARD_SHEET_COLUMNS, f"No grant awards were placed in {place_name}.")
    _table_sheet(wb, "Small grants", small_grants, SMALL_SHEET_COLUMNS, "No small-grant figures.")
    _table_sheet(
        wb,
        "Duplication",
        duplication,
        DUPLICATION_SHEET_COLUMNS,
        f"No duplication findings for {place_name}.",
    )
    _table_sheet(
        wb,
        "Duplication awards",
        finding_awards if finding_awards is not None else pd.DataFrame(),
        FINDING_AWARD_COLUMNS,
        f"No duplication findings for {place_name}.",
    )
    _table_sheet(wb, "CRA allocation", cra, CRA_SHEET_COLUMNS, f"No CRA allocation for {place_name}.")
    _pairs_sheet(wb, "Notes", ("Note", "Detail"), [28, 110], [(h, t, "text") for h, t in notes], wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".xlsx.part")
    wb.save(tmp)
    tmp.replace(path)
    return path


def summary_rows(items: Mapping[str, tuple[Any, str]]) -> list[tuple[str, Any, str]]:
    """Convenience: {label: (value, kind)} -> summary rows."""
    return [(label, value, kind) for label, (value, kind) in items.items()]
