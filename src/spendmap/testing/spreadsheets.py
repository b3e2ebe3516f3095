"""Fast, streaming writers for OpenDocument (.ods) and Office Open XML (.xlsx) spreadsheets.

odfpy took 9 minutes for a 63,000-row sheet and openpyxl costs about 10 µs a cell even in write-only
mode; these write the zip and the sheet XML directly and stream rows, so a million-row register needs
no more memory than one chunk of rows. Cells: str -> string, int/float -> number, bool -> boolean,
date/datetime -> date, None or "" -> empty.

Used by the register generator (spendmap.testing.registers), the tests and the benchmarks.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

Rows = Iterable[Sequence[object]]
_ZIP_TIME = (2016, 4, 1, 0, 0, 0)  # fixed entry times: the same rows give the same bytes


def _entry(name: str, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = compress
    info._compresslevel = 1  # speed over size, as ZipFile(compresslevel=1) would give (3.11 name)
    return info

# --- ODS ------------------------------------------------------------------------------------------

_ODS_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/"
  manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""
_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'office:version="1.2"'
)
_STYLES = f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-styles {_NS}/>\n'
_EMPTY = "<table:table-cell/>"
_ATTR = {'"': "&quot;"}


def ods_cell(v: object) -> str:
    """One <table:table-cell> for a Python value."""
    if v is None or v == "":
        return _EMPTY
    if isinstance(v, bool):
        return (f'<table:table-cell office:value-type="boolean" office:boolean-value="{str(v).lower()}">'
                f"<text:p>{str(v).upper()}</text:p></table:table-cell>")
    if isinstance(v, (int, float)):
        return (f'<table:table-cell office:value-type="float" office:value="{v!r}">'
                f"<text:p>{v}</text:p></table:table-cell>")
    if isinstance(v, (date, datetime)):
        iso = v.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(v, datetime) else v.isoformat()
        return (f'<table:table-cell office:value-type="date" office:date-value="{iso}">'
                f"<text:p>{iso}</text:p></table:table-cell>")
    return (f'<table:table-cell office:value-type="string"><text:p>{escape(str(v))}</text:p>'
            "</table:table-cell>")


def _ods_row(row: Sequence[object]) -> str:
    if not row or all(v is None or v == "" for v in row):
        return "<table:table-row><table:table-cell/></table:table-row>"
    return "<table:table-row>" + "".join(map(ods_cell, row)) + "</table:table-row>"


def write_ods(path: Path | str, sheets: Mapping[str, Rows]) -> Path:
    """Write `sheets` (name -> rows of cells, in order; rows may be a generator) as an .ods file."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        # The mimetype entry must come first and be stored uncompressed (ODF packaging rule).
        zf.writestr(_entry("mimetype", zipfile.ZIP_STORED), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr(_entry("META-INF/manifest.xml"), _ODS_MANIFEST)
        zf.writestr(_entry("styles.xml"), _STYLES)
        with zf.open(_entry("content.xml"), "w", force_zip64=True) as out:
            out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_NS}>'
                      "<office:body><office:spreadsheet>".encode())
            for name, rows in sheets.items():
                out.write(f'<table:table table:name="{escape(name, _ATTR)}">'.encode())
                _stream(out, map(_ods_row, rows))
                out.write(b"</table:table>")
            out.write(b"</office:spreadsheet></office:body></office:document-content>")
    return path


def _stream(out, parts: Iterable[str], batch: int = 2_000) -> None:
    """Write XML fragments in batches (one encode and write per batch, not per row)."""
    buf: list[str] = []
    for part in parts:
        buf.append(part)
        if len(buf) >= batch:
            out.write("".join(buf).encode())
            buf.clear()
    if buf:
        out.write("".join(buf).encode())


# --- XLSX -----------------------------------------------------------------------------------------

_EXCEL_EPOCH = date(1899, 12, 30)
_XLSX_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/styles.xml"
 ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
{sheets}</Types>"""
_XLSX_SHEET_TYPE = ('<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType='
                    '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>\n')
_XLSX_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Target="xl/workbook.xml"
 Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>
</Relationships>"""
_XLSX_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="1"><fill><patternFill patternType="none"/></fill></fills>
<borders count="1"><border/></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
</styleSheet>"""
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def xlsx_cell(v: object) -> str:
    """One <c> element (no cell reference: readers take cells in order) for a Python value."""
    if v is None or v == "":
        return "<c/>"
    if isinstance(v, bool):
        return f'<c t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (int, float)):
        return f"<c><v>{v!r}</v></c>"
    if isinstance(v, (date, datetime)):
        d = v.date() if isinstance(v, datetime) else v
        return f'<c s="1"><v>{(d - _EXCEL_EPOCH).days}</v></c>'
    return f'<c t="inlineStr"><is><t xml:space="preserve">{escape(str(v))}</t></is></c>'


def _xlsx_row(row: Sequence[object]) -> str:
    return "<row>" + "".join(map(xlsx_cell, row)) + "</row>"


def write_xlsx(path: Path | str, sheets: Mapping[str, Rows]) -> Path:
    """Write `sheets` (name -> rows of cells, in order; rows may be a generator) as an .xlsx file."""
    path = Path(path)
    names = list(sheets)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(_entry("[Content_Types].xml"), _XLSX_TYPES.format(
            sheets="".join(_XLSX_SHEET_TYPE.format(i=i) for i in range(1, len(names) + 1))))
        zf.writestr(_entry("_rels/.rels"), _XLSX_RELS)
        zf.writestr(_entry("xl/styles.xml"), _XLSX_STYLES)
        zf.writestr(_entry("xl/workbook.xml"), (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_MAIN_NS}" '
            f'xmlns:r="{_REL_NS}"><sheets>'
            + "".join(f'<sheet name="{escape(n, _ATTR)}" sheetId="{i}" r:id="rId{i}"/>'
                      for i, n in enumerate(names, 1))
            + "</sheets></workbook>"))
        zf.writestr(_entry("xl/_rels/workbook.xml.rels"), (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
            'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="rId{i}" Target="worksheets/sheet{i}.xml" '
                      f'Type="{_REL_NS}/worksheet"/>' for i in range(1, len(names) + 1))
            + f'<Relationship Id="rId{len(names) + 1}" Target="styles.xml" Type="{_REL_NS}/styles"/>'
            "</Relationships>"))
        for i, name in enumerate(names, 1):
            with zf.open(_entry(f"xl/worksheets/sheet{i}.xml"), "w", force_zip64=True) as out:
                out.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                          f'<worksheet xmlns="{_MAIN_NS}"><sheetData>'.encode())
                _stream(out, map(_xlsx_row, sheets[name]))
                out.write(b"</sheetData></worksheet>")
    return path
