"""A council's workbook (`<slug>_grant_profile.xlsx`): Summary, Awards, Small grants, Duplication,
CRA allocation and Notes sheets.

Each sheet has a frozen header row, an autofilter, £ / % / date number formats and set column widths.
Text from data that starts with `=`, `+`, `-`, `@` (or tab/CR) is stored as a text cell with Excel's
quote prefix, so it shows exactly as published and can never run as a formula.

Why not openpyxl for writing: measured on this machine, openpyxl (write-only mode, no lxml) spends about
90 µs per cell, so the workbooks for a 63,000-award year took over 100 s of CPU on their own — more than
the whole 60 s budget for the folder. The sheets here are plain tables with a handful of fixed styles,
so they are written directly as SpreadsheetML (inline strings, one fixed styles part) with the standard
library, about 20× faster. The tests read every workbook back with openpyxl and python-calamine.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

from spendmap.outputs.safe import FORMULA_PREFIXES

GBP = '"£"#,##0'
GBP_PENCE = '"£"#,##0.00'
INT = "#,##0"
SHARE = "0.0%"
DATE = "yyyy-mm-dd"

# Cell style ids (index into cellXfs in _STYLES).
_S_HEADER, _S_GBP, _S_GBP_PENCE, _S_INT, _S_SHARE, _S_DATE, _S_QUOTED, _S_WRAP = range(1, 9)
_KIND_STYLE = {"gbp": _S_GBP, "gbp_pence": _S_GBP_PENCE, "int": _S_INT, "share": _S_SHARE, "num": 0}

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet {_NS}>
<numFmts count="4"><numFmt numFmtId="164" formatCode={quoteattr(GBP)}/><numFmt numFmtId="165" formatCode={quoteattr(GBP_PENCE)}/><numFmt numFmtId="166" formatCode={quoteattr(DATE)}/><numFmt numFmtId="167" formatCode={quoteattr(SHARE)}/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font><font><b/><sz val="11"/><color rgb="FFFFFFFF"/><name val="Calibri"/><family val="2"/></font></fonts>
<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FF12324F"/><bgColor indexed="64"/></patternFill></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="9">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="167" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# XML 1.0 forbids most control characters; published data occasionally carries them.
_ILLEGAL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32)])


@dataclass(frozen=True)
class Col:
    """One output column: source name, header text, kind (text|gbp|gbp_pence|int|share|date|bool|num), width."""

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
DUPLICATION_SHEET_COLUMNS = [
    Col("policy_area", "Policy area", width=26),
    Col("kind_label", "Kind", width=20),
    Col("departments", "Departments", width=24),
    Col("n_departments", "Departments (n)", "int", 10),
    Col("schemes", "Schemes", width=50),
    Col("n_schemes", "Schemes (n)", "int", 10),
    Col("recipients", "Recipients", width=50),
    Col("n_recipients", "Recipients (n)", "int", 10),
    Col("n_awards", "Awards", "int", 10),
    Col("total_gbp", "Total", "gbp", 14),
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


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _col_letter(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_LETTERS = [_col_letter(i) for i in range(1, 60)]


def text_xml(ref: str, value: str, style: int = 0) -> str:
    """An inline-string cell. Formula-like text keeps its characters but gets the quote-prefix style."""
    value = value.translate(_ILLEGAL)
    if value.startswith(FORMULA_PREFIXES):
        style = _S_QUOTED
    s_attr = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s_attr} t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'


def cell_xml(ref: str, value: Any, kind: str) -> str:
    """One cell of the given kind (text|gbp|gbp_pence|int|share|date|bool|num); '' when missing."""
    if _is_missing(value):
        return ""
    if kind == "text":
        return text_xml(ref, str(value))
    if kind == "bool":
        return text_xml(ref, "yes" if bool(value) else "no")
    if kind == "date":
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        if isinstance(value, dt.datetime):
            serial = (value.replace(tzinfo=None) - _EXCEL_EPOCH) / dt.timedelta(days=1)
            return f'<c r="{ref}" s="{_S_DATE}"><v>{serial:.10g}</v></c>'
        return text_xml(ref, str(value))
    number = float(value)
    if not math.isfinite(number):
        return ""
    if kind == "int":
        number = round(number)
    style = _KIND_STYLE.get(kind, 0)
    s_attr = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s_attr}><v>{number!r}</v></c>'


@dataclass
class _Sheet:
    name: str
    widths: list[float]
    rows: list[str]  # <row> elements
    n_cols: int

    def xml(self) -> str:
        last = _LETTERS[self.n_cols - 1]
        header_rows = max(len(self.rows), 1)
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(self.widths, 1)
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS} {_NS_R}>'
            f'<dimension ref="A1:{last}{header_rows}"/>'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft"'
            ' state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>{"".join(self.rows)}</sheetData>'
            f'<autoFilter ref="{self.filter_ref}"/></worksheet>'
        )

    @property
    def filter_ref(self) -> str:
        return f"A1:{_LETTERS[self.n_cols - 1]}{self.n_table_rows}"

    n_table_rows: int = 1


def _header_row(headers: Sequence[str]) -> str:
    cells = "".join(text_xml(f"{_LETTERS[i]}1", h, _S_HEADER) for i, h in enumerate(headers))
    return f'<row r="1">{cells}</row>'


def _table_sheet(name: str, df: pd.DataFrame, columns: Sequence[Col], empty_note: str) -> _Sheet:
    rows = [_header_row([c.header for c in columns])]
    present = [(i, c) for i, c in enumerate(columns) if c.name in df.columns]
    data = [(i, c.kind, df[c.name].tolist()) for i, c in present]
    for r in range(len(df)):
        n = r + 2
        cells = "".join(cell_xml(f"{_LETTERS[i]}{n}", values[r], kind) for i, kind, values in data)
        rows.append(f'<row r="{n}">{cells}</row>')
    sheet = _Sheet(name, [c.width for c in columns], rows, len(columns), n_table_rows=len(df) + 1)
    if df.empty:
        sheet.rows.append(f'<row r="3">{text_xml("A3", empty_note)}</row>')
    return sheet


def _pairs_sheet(
    name: str,
    headers: tuple[str, str],
    widths: list[float],
    rows: Sequence[tuple[str, Any, str]],
    wrap: bool = False,
) -> _Sheet:
    out = [_header_row(headers)]
    for r, (label, value, kind) in enumerate(rows, start=2):
        value_xml = (
            text_xml(f"B{r}", str(value), _S_WRAP)
            if wrap and kind == "text" and not _is_missing(value)
            else cell_xml(f"B{r}", value, kind)
        )
        out.append(f'<row r="{r}">{text_xml(f"A{r}", label)}{value_xml}</row>')
    return _Sheet(name, widths, out, 2, n_table_rows=len(rows) + 1)


def _save(path: Path, sheets: Sequence[_Sheet]) -> None:
    n = len(sheets)
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, n + 1)
        )
        + "</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    wb_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, n + 1)
        )
        + f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/styles" Target="styles.xml"/></Relationships>'
    )
    sheet_list = "".join(
        f'<sheet name={quoteattr(s.name)} sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(sheets, 1)
    )
    # Excel records each autofilter's range as a hidden defined name.
    names = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{escape(chr(39) + s.name + chr(39))}!$A$1:${_LETTERS[s.n_cols - 1]}${s.n_table_rows}</definedName>"
        for i, s in enumerate(sheets)
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {_NS} {_NS_R}>'
        f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheet_list}</sheets>'
        f"<definedNames>{names}</definedNames></workbook>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".xlsx.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", root_rels)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", wb_rels)
        z.writestr("xl/styles.xml", _STYLES)
        for i, sheet in enumerate(sheets, 1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", sheet.xml())
    tmp.replace(path)


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
    sheets = [
        _pairs_sheet("Summary", ("Figure", "Value"), [44, 40], summary),
        _table_sheet("Awards", awards, AWARD_SHEET_COLUMNS, f"No grant awards were placed in {place_name}."),
        _table_sheet("Small grants", small_grants, SMALL_SHEET_COLUMNS, "No small-grant figures."),
        _table_sheet(
            "Duplication",
            duplication,
            DUPLICATION_SHEET_COLUMNS,
            f"No duplication findings for {place_name}.",
        ),
        _table_sheet("CRA allocation", cra, CRA_SHEET_COLUMNS, f"No CRA allocation for {place_name}."),
        _pairs_sheet("Notes", ("Note", "Detail"), [28, 110], [(h, t, "text") for h, t in notes], wrap=True),
    ]
    _save(path, sheets)
    return path


def summary_rows(items: Mapping[str, tuple[Any, str]]) -> list[tuple[str, Any, str]]:
    """Convenience: {label: (value, kind)} -> summary rows."""
    return [(label, value, kind) for label, (value, kind) in items.items()]
