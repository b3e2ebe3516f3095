"""A council's workbook (`<slug>_grant_profile.xlsx`): Summary, Awards, Small grants, Duplication,
CRA allocation and Notes sheets, written with XlsxWriter.

Each sheet has a frozen header row, an autofilter, £ / % / date number formats and set column widths.
Text from data is always stored as a text cell (never a formula); text that starts with `=`, `+`, `-`,
`@` (or tab/CR) also gets Excel's quote prefix, so it shows exactly as published and cannot run.

XlsxWriter writes the workbook's parts (styles, column widths, panes, autofilter, zip); each sheet's
rows are made here as the inline-string row XML of XlsxWriter's constant-memory mode, column by column
(`_Sheet`), which is about 20x cheaper a cell than its write_* methods. XlsxWriter against openpyxl's
write-only mode on the same seven sheets (benchmarks/RESULTS.md, notes): 15 ms against 30 ms for a
five-award council, 250 ms against 750 ms for 5,000 awards, before the row XML; openpyxl stays for
reading the workbooks back in the tests. Formats are made once per workbook and shared by every cell
of a kind.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import _utf16_len, _utf16_truncate, xl_col_to_name
from xlsxwriter.worksheet import Worksheet

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
# in_memory: XlsxWriter assembles the parts in memory and zips them, with no temporary files (with its
# constant-memory mode, creating and deleting about 30 temporary files was half of each workbook's
# time on this machine's disk); the rows are held as XML text (`_RowsWorksheet`), a few MB at most.
_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False}
# Characters XML 1.0 forbids; published data occasionally carries them.
_ILLEGAL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32)])
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


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


class _RowsWorksheet(Worksheet):
    """An XlsxWriter worksheet whose <sheetData> is row XML made by `_Sheet.rows` (`row_xml`), not cells
    stored by its write_* methods (those would be lost: using them raises at close)."""

    def __init__(self) -> None:
        super().__init__()
        self.row_xml: list[str] = []

    def _write_sheet_data(self) -> None:  # XlsxWriter's hook for a worksheet's <sheetData>
        if self.table:
            raise RuntimeError(f"sheet {self.name!r}: cells written with XlsxWriter's writers, use _Sheet")
        if self.dim_rowmin is None:
            self._xml_empty_tag("sheetData")
        else:
            self.fh.write("<sheetData>" + "".join(self.row_xml) + "</sheetData>")


class _Sheet:
    """Writes one sheet's rows as the row XML XlsxWriter's constant-memory mode writes, held by a
    `_RowsWorksheet`; XlsxWriter still writes everything around them (styles, widths, panes,
    autofilter, zip).

    Why not `ws.write_string`/`write_number`: XlsxWriter spends ~10 µs a cell in Python (argument
    checks, a cell tuple, then per-cell escaping and an attribute list when the row is flushed); 2.0M
    cells for every council's workbook were ~60% of the pages' time. Here each column is converted once
    (repeated values once per column) and a row is one join. The XML is byte for byte what XlsxWriter
    3.3.1 (pinned in pyproject.toml) writes for the same cells: tests/outputs/test_workbook.py
    `test_rows_match_xlsxwriter_cell_writer` compares the two, so an upgrade that changes it fails there.
    Only styled cells carry an `s` attribute; text is always an inline string, never a formula.
    """

    def __init__(self, wb: Any, formats: dict[str, Any], name: str, widths: Sequence[float], n_rows: int):
        self.ws = wb.add_worksheet(name, worksheet_class=_RowsWorksheet)
        self.styles = _style_attributes(formats)
        self.row = 0
        for i, width in enumerate(widths):
            self.ws.set_column(i, i, width)
        self.ws.freeze_panes(1, 0)
        self.ws.autofilter(0, 0, max(n_rows, 1), len(widths) - 1)

    def append(self, cells: Sequence[tuple[Any, str | None]]) -> None:
        """One row of (value, format key or None) pairs; a None value is left blank."""
        self.rows([[None if value is None else _cell_xml(value, self.styles[fmt], self.ws)
                    for value, fmt in cells]])

    def header(self, headers: Sequence[str]) -> None:
        self.append([(h, "header") for h in headers])

    def rows(self, rows: Iterable[Sequence[str | None]]) -> None:
        """Rows of cell XML (`_cell_xml`, None = blank) from the current row on; a row with no cell is
        not written (as XlsxWriter does), but still takes its row number."""
        ws, lines = self.ws, []
        first = last = lo = hi = -1  # rows and columns holding a cell, for the sheet's used range
        for cells in rows:
            if self.row >= ws.xls_rowmax:  # beyond Excel's last row XlsxWriter writes nothing either
                break
            r = str(self.row + 1)
            parts = [f'<c r="{_COLUMN_NAMES[i]}{r}"{xml}' for i, xml in enumerate(cells) if xml is not None]
            if parts:
                lines.append(f'<row r="{r}">{"".join(parts)}</row>')
                used = None
                if first < 0:
                    first = self.row
                    used = [i for i, xml in enumerate(cells) if xml is not None]
                elif (lo > 0 and any(x is not None for x in cells[:lo])) or any(
                        x is not None for x in cells[hi + 1:]):
                    used = [i for i, xml in enumerate(cells) if xml is not None]
                if used:
                    lo = used[0] if lo < 0 else min(lo, used[0])
                    hi = max(hi, used[-1])
                last = self.row
                if len(lines) >= 4096:
                    ws.row_xml.append("".join(lines))
                    lines.clear()
            self.row += 1
        ws.row_xml.append("".join(lines))
        if first >= 0:  # the sheet's used range (the <dimension> XlsxWriter writes)
            ws._check_dimensions(first, lo)
            ws._check_dimensions(last, hi)


# XlsxWriter 3.3.1's inline-string escapes (worksheet._write_cell, xmlwriter._escape_control_characters,
# utility._preserve_whitespace), repeated so each distinct text is escaped once.
_ESCAPE_LIKE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_NEEDS_ESCAPE = re.compile("[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
_XLS_STRMAX = 32767  # characters (UTF-16 units) in one cell
_COLUMN_NAMES = [xl_col_to_name(i) for i in range(16384)]


def _style_attributes(formats: dict[str, Any]) -> dict[str | None, str]:
    """Format key -> the cell's ` s="N"` attribute (no attribute for an unstyled cell)."""
    return {None: "", **{key: f' s="{fmt._get_xf_index()}"' for key, fmt in formats.items()}}


def _string_xml(text: str, style: str) -> str:
    """The cell XML after `<c r="A1"` for a text cell (an inline string)."""
    if len(text) > _XLS_STRMAX // 2 and _utf16_len(text) > _XLS_STRMAX:
        text = _utf16_truncate(text, _XLS_STRMAX)
    if _NEEDS_ESCAPE.search(text):  # most text has nothing to escape: one scan
        if "_x" in text:
            text = _ESCAPE_LIKE.sub(r"_x005F\1", text)
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
        text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        space = text[:1].isspace() or text[-1:].isspace()  # = XlsxWriter's ^\s / \s$ tests
        # Unlike XlsxWriter, a text that looks like rich-text XML ("<r>...</r>") is escaped too: data
        # never becomes markup.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    else:
        space = text[:1].isspace() or text[-1:].isspace()
    preserve = ' xml:space="preserve"' if space else ""
    return f'{style} t="inlineStr"><is><t{preserve}>{text}</t></is></c>'


def _cell_xml(value: Any, style: str, ws: Any) -> str:
    """The cell XML after `<c r="A1"` for one value of `_cell` (text, number or date)."""
    if isinstance(value, str):
        return _string_xml(value, style)
    if isinstance(value, dt.date):
        value = ws._convert_date_time(value)  # Excel's serial day, as ws.write_datetime stores it
    return f"{style}><v>{value:.16G}</v></c>"


def _column_xml(values: Sequence[Any], kind: str, styles: dict[str | None, str], ws: Any) -> list[str | None]:
    """Every cell of one column as cell XML (None = blank): finite floats of a number column directly,
    anything else through `_cell` once per distinct (type, value)."""
    out: list[str | None] = []
    append = out.append
    memo: dict[Any, str | None] = {}
    if kind not in ("text", "bool", "date"):
        number_style = styles[kind if kind in _KIND_FORMAT else None]
        whole = kind == "int"
    else:
        number_style, whole = None, False
    texts: dict[str, str | None] = {}  # str values (the most common): no (type, value) key needed
    for value in values:
        if number_style is not None and type(value) is float and value - value == 0.0:  # finite
            append(f"{number_style}><v>{(int(round(value)) if whole else value):.16G}</v></c>")
            continue
        if type(value) is str:
            try:
                append(texts[value])
            except KeyError:
                cell, fmt = _cell(value, kind)
                texts[value] = xml = None if cell is None else _cell_xml(cell, styles[fmt], ws)
                append(xml)
            continue
        try:
            key = (type(value), value)
            xml = memo[key]
        except KeyError:
            cell, fmt = _cell(value, kind)
            memo[key] = xml = None if cell is None else _cell_xml(cell, styles[fmt], ws)
        except TypeError:  # unhashable
            cell, fmt = _cell(value, kind)
            xml = None if cell is None else _cell_xml(cell, styles[fmt], ws)
        append(xml)
    return out


def _text(value: Any, wrap: bool = False) -> tuple[str, str | None]:
    text = str(value)
    if _ILLEGAL_CHARS.search(text):  # a scan is far cheaper than translate() on the clean majority
        text = text.translate(_ILLEGAL)
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
    # Column by column (one type test per value, repeated values once), then written row by row.
    blank = [None] * len(df)
    data = [_column_xml(df[c.name].tolist(), c.kind, sheet.styles, sheet.ws) if c.name in df.columns
            else blank for c in columns]
    sheet.rows(zip(*data, strict=True))
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
