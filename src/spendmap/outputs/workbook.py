"""A council's workbook (`<slug>_grant_profile.xlsx`), written with openpyxl in write-only mode.

Sheets: Summary, Awards, Small grants, Duplication, CRA allocation, Notes. Each table sheet has a frozen
header row, an autofilter, £ / % / date number formats and sensible column widths. Text from data that
starts with `=`, `+`, `-`, `@` (or tab/CR) is stored as a text cell with Excel's quote prefix, so it shows
exactly as published and can never run as a formula.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from spendmap.outputs.safe import FORMULA_PREFIXES

GBP = '"£"#,##0'
GBP_PENCE = '"£"#,##0.00'
INT = "#,##0"
SHARE = "0.0%"
DATE = "yyyy-mm-dd"

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="12324F")
_WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class Col:
    """One output column: source name, header text, kind (text|gbp|gbp_pence|int|share|date|bool|num), width."""

    name: str
    header: str
    kind: str = "text"
    width: float = 14


AWARD_SHEET_COLUMNS = [
    Col("award_id", "Award id", width=22), Col("award_date", "Award date", "date", 12),
    Col("department", "Department", width=12), Col("department_raw", "Funder (as published)", width=32),
    Col("managing_body", "Managed by", width=24), Col("scheme_code", "Scheme code", width=16),
    Col("scheme_title", "Scheme", width=40), Col("title", "Award title", width=40),
    Col("recipient_name", "Recipient", width=36), Col("recipient_id", "Recipient id", width=20),
    Col("recipient_postcode", "Postcode", width=10), Col("is_council_recipient", "To the council", "bool", 10),
    Col("is_redacted", "Redacted", "bool", 10), Col("geo_method", "Placed by", width=14),
    Col("policy_area", "Policy area", width=24), Col("amount_gbp", "Amount", "gbp_pence", 16),
    Col("source_file", "Source file", width=28), Col("source_sheet", "Source sheet", width=14),
    Col("source_row", "Source row", "int", 10),
]
SMALL_SHEET_COLUMNS = [
    Col("scope_label", "Scope", width=34), Col("n_awards", "Awards", "int", 10),
    Col("n_small", "Small awards", "int", 12), Col("share_small", "Share small", "share", 12),
    Col("threshold_gbp", "Threshold", "gbp", 12),
]
DUPLICATION_SHEET_COLUMNS = [
    Col("policy_area", "Policy area", width=26), Col("kind_label", "Kind", width=20),
    Col("departments", "Departments", width=24), Col("n_departments", "Departments (n)", "int", 10),
    Col("schemes", "Schemes", width=50), Col("n_schemes", "Schemes (n)", "int", 10),
    Col("recipients", "Recipients", width=50), Col("n_recipients", "Recipients (n)", "int", 10),
    Col("n_awards", "Awards", "int", 10), Col("total_gbp", "Total", "gbp", 14),
]
CRA_SHEET_COLUMNS = [
    Col("department", "Department", width=30), Col("function", "Function", width=34),
    Col("allocated_gbp", "Allocated", "gbp", 16), Col("per_head_gbp", "Per head", "gbp_pence", 12),
    Col("region_per_head_gbp", "Region per head", "gbp_pence", 14),
    Col("england_per_head_gbp", "England per head", "gbp_pence", 14),
    Col("population", "Population", "int", 12), Col("region", "Region", width=22),
    Col("region_population", "Region population", "int", 16),
]
_FORMATS = {"gbp": GBP, "gbp_pence": GBP_PENCE, "int": INT, "share": SHARE, "date": DATE}


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def text_cell(ws: Any, value: str) -> Any:
    """A text cell; formula-like text is kept verbatim but typed as text with the quote prefix."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith(FORMULA_PREFIXES):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"  # openpyxl would otherwise type "=..." as a formula
        cell.quotePrefix = True
        return cell
    return value


def _value(ws: Any, value: Any, kind: str) -> Any:
    if _is_missing(value):
        return None
    if kind == "text":
        return text_cell(ws, str(value))
    if kind == "bool":
        return "yes" if bool(value) else "no"
    if kind == "date":
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, dt.datetime | dt.date):
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = DATE
            return cell
        return text_cell(ws, str(value))
    number = float(value)
    if kind == "int":
        number = int(round(number))
    cell = WriteOnlyCell(ws, value=number)
    cell.number_format = _FORMATS.get(kind, "General")
    return cell


def _table_sheet(wb: Workbook, title: str, df: pd.DataFrame, columns: Sequence[Col], empty_note: str) -> None:
    ws = wb.create_sheet(title)
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = col.width
    ws.freeze_panes = "A2"
    header = []
    for col in columns:
        cell = WriteOnlyCell(ws, value=col.header)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = _WRAP
        header.append(cell)
    ws.append(header)
    present = [c for c in columns if c.name in df.columns]
    data = {c.name: df[c.name].tolist() for c in present}
    for r in range(len(df)):
        ws.append([_value(ws, data[c.name][r], c.kind) if c.name in data else None for c in columns])
    last_row = max(len(df) + 1, 1)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last_row}"
    if df.empty:
        ws.append([])
        ws.append([text_cell(ws, empty_note)])


def write_workbook(
    path: Path,
    summary: Sequence[tuple[str, Any, str]],
    awards: pd.DataFrame,
    small_grants: pd.DataFrame,
    duplication: pd.DataFrame,
    cra: pd.DataFrame,
    notes: Sequence[tuple[str, str]],
    place_name: str,
) -> Path:
    """Write one council's workbook.

    summary: (label, value, kind) rows for the Summary sheet; notes: (heading, text) rows for Notes.
    The frames use the canonical column names (plus `scope_label`/`kind_label` helper columns).
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 44
    ws.column_dimensions["B"].width = 40
    ws.freeze_panes = "A2"
    header = []
    for text in ("Figure", "Value"):
        cell = WriteOnlyCell(ws, value=text)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        header.append(cell)
    ws.append(header)
    for label, value, kind in summary:
        ws.append([text_cell(ws, label), _value(ws, value, kind)])
    ws.auto_filter.ref = f"A1:B{len(summary) + 1}"

    _table_sheet(wb, "Awards", awards, AWARD_SHEET_COLUMNS, f"No grant awards were placed in {place_name}.")
    _table_sheet(wb, "Small grants", small_grants, SMALL_SHEET_COLUMNS, "No small-grant figures.")
    _table_sheet(wb, "Duplication", duplication, DUPLICATION_SHEET_COLUMNS,
                 f"No duplication findings for {place_name}.")
    _table_sheet(wb, "CRA allocation", cra, CRA_SHEET_COLUMNS, f"No CRA allocation for {place_name}.")

    ws = wb.create_sheet("Notes")
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 110
    ws.freeze_panes = "A2"
    header = []
    for text in ("Note", "Detail"):
        cell = WriteOnlyCell(ws, value=text)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        header.append(cell)
    ws.append(header)
    for heading, text in notes:
        detail = text_cell(ws, text)
        if not isinstance(detail, Cell):
            detail = WriteOnlyCell(ws, value=detail)
        detail.alignment = _WRAP
        ws.append([text_cell(ws, heading), detail])
    ws.auto_filter.ref = f"A1:B{len(notes) + 1}"

    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def summary_rows(items: Mapping[str, tuple[Any, str]]) -> list[tuple[str, Any, str]]:
    """Convenience: {label: (value, kind)} -> summary rows."""
    return [(label, value, kind) for label, (value, kind) in items.items()]
