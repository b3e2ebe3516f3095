"""Find a table in a spreadsheet or CSV file: the right sheet, the header row below any preamble,
and the columns renamed to canonical names through a declared alias table.

Every workbook format (.xlsx, .xlsm, .xls, .xlsb, .ods) is read with python-calamine; CSV is decoded
as UTF-8 (with or without BOM) or, failing that, Windows-1252, with any line ending.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import itertools
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from python_calamine import CalamineWorkbook

from spendmap.errors import InputError
from spendmap.text import is_blank, normalise_label

WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}

# Headers need at least this many alias matches to count as a header row (one match is too easily
# a coincidence: a notes sheet mentioning "Identifier").
MIN_HEADER_MATCHES = 2


@dataclass
class RawTable:
    """One table as read, before any typing of values."""

    frame: pd.DataFrame  # data rows (object cells, blanks as None), canonical column names + source_row
    path: Path
    sheet: str | None  # sheet name, None for CSV
    header_row: int  # 1-based row number of the header
    sheet_names: list[str]  # all sheets in the workbook ([] for CSV)
    headers_found: list[str]  # the original header strings
    blank_rows_skipped: int = 0  # fully blank rows below the header, not counted as data
    original_headers: dict[str, str] = field(default_factory=dict)  # frame column -> header as found
    # canonical column -> every header meaning it, where more than one does (the first is the one read)
    repeated_headers: dict[str, list[str]] = field(default_factory=dict)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a sheet is turned into objects.

    A 63,000-row sheet makes ~1.6 million cell objects and 63,000 row lists; none form reference
    cycles, but their allocation triggers repeated full collections that cost ~0.1 s per read.
    Reference counting still frees everything; the collector is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def normalise_header(text: object) -> str:
    """Lower-case, trimmed, single-spaced header text without a leading '#' or spaces around ':'."""
    s = normalise_label(text).lstrip("#").strip()
    return re.sub(r"\s*:\s*", ":", s)


def _sheet_key(name: str) -> str:
    return normalise_label(name).lstrip("#").strip()


_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
# An Office workbook saved with a password is an OLE container holding this stream instead of the zip.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def is_password_protected(path: Path) -> bool:
    """An encrypted .xlsx (OLE container with an EncryptedPackage) or .ods (manifest encryption-data)."""
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(_OLE_MAGIC):
        return _ENCRYPTED_STREAM in path.read_bytes()
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                return b"encryption-data" in z.read("META-INF/manifest.xml")
        except (KeyError, zipfile.BadZipFile, OSError):
            return False
    return False


def _describe_content(path: Path) -> str:
    """What a file that could not be read as a spreadsheet looks like, in words."""
    with path.open("rb") as f:
        head = f.read(2048)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16 text"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive that is not a readable spreadsheet (it may be truncated or damaged)"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old-style Office file that could not be read as a spreadsheet (it may be damaged)"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n").lower()
    if text.startswith(("<!doctype html", "<html")) or "<html" in text[:500]:
        return "an HTML web page (perhaps an error or login page saved under a spreadsheet name)"
    if text.startswith("<?xml") or text.startswith("<"):
        return "an XML/markup document, not a spreadsheet"
    if text.startswith("%pdf"):
        return "a PDF document"
    if b"\x00" in head:
        return "binary data of an unknown kind"
    return "plain text (not a spreadsheet workbook)"


def _is_workbook(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return True
    return path.suffix.lower() in WORKBOOK_SUFFIXES


def _decode_csv(path: Path, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export: UTF-16 with a byte-order mark.
        return data.decode("utf-16", errors="replace")
    head = data[:512]
    if len(head) >= 4 and not any(head[1::2]) and all(head[0::2]):
        return data.decode("utf-16-le", errors="replace")  # UTF-16 without a mark: ASCII text, every
    if len(head) >= 4 and not any(head[0::2]) and all(head[1::2]):
        return data.decode("utf-16-be", errors="replace")  # other byte zero
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Files saved from Excel on Windows are cp1252 (e.g. '£' is byte 0xA3).
        return data.decode("cp1252", errors="replace")


def _read_csv_rows(path: Path, what: str) -> list[list[object]]:
    data = path.read_bytes()
    head = data[:2048]
    text = _decode_csv(path, data)
    looks_html = text.lstrip().lower().startswith(("<!doctype html", "<html"))
    if head.startswith(b"PK\x03\x04") or "\x00" in text[:2048] or looks_html:
        raise InputError(
            f"The {what} '{path}' has a CSV name but looks like {_describe_content(path)}: "
            "download the file again or export it as CSV."
        )
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    # newline='' keeps csv's own handling of CR, LF and CRLF (and of line breaks inside quotes).
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    # A field of any length is read (csv's default limit, 131,072 characters, is process-wide: restored).
    limit = csv.field_size_limit(sys.maxsize)
    try:
        return [row for row in reader]
    except csv.Error as err:
        raise InputError(
            f"The {what} '{path}' is not a well-formed CSV file at line {reader.line_num} ({err}): "
            "export it again as CSV."
        ) from None
    finally:
        csv.field_size_limit(limit)


def _count_matches(row: Sequence[object], aliases: Mapping[str, str]) -> int:
    return len({aliases[h] for h in (normalise_header(c) for c in row) if h in aliases})


def _best_header(rows: Sequence[Sequence[object]], aliases: Mapping[str, str], limit: int) -> tuple[int, int]:
    """(index, matches) of the first row with the most alias matches within the first `limit` rows."""
    best_i, best_n = -1, 0
    for i, row in enumerate(rows[:limit]):
        n = _count_matches(row, aliases)
        if n > best_n:
            best_i, best_n = i, n
    return best_i, best_n


_type_of = np.frompyfunc(type, 1, 1)
_isspace = np.frompyfunc(str.isspace, 1, 1)


def _header_text(value: object) -> str:
    """A header cell as text: numbers typed as headers (a year column 2016) lose the '.0'."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _build_frame(
    rows: list[list[object]], header_idx: int, aliases: Mapping[str, str]
) -> tuple[pd.DataFrame, list[str], dict[str, str], int]:
    header_cells = rows[header_idx]
    data_rows = rows[header_idx + 1:]
    width = max([len(header_cells)] + [len(r) for r in data_rows]) if data_rows else len(header_cells)
    # A rectangular object array; ragged rows (CSV) are padded with None.
    padded = False
    if data_rows and set(map(len, data_rows)) == {width}:
        # fromiter skips np.array's shape discovery over 63,000 row lists (about 2x faster).
        cells = itertools.chain.from_iterable(data_rows)
        arr = np.fromiter(cells, dtype=object, count=len(data_rows) * width).reshape(len(data_rows), width)
    else:
        padded = True
        arr = np.empty((len(data_rows), width), dtype=object)
        for i, r in enumerate(data_rows):
            arr[i, : len(r)] = r
    # Blank cells: '' (calamine's empty cell), ' ', None (padding). Elementwise comparisons are cheap;
    # per-cell type checks over a 63,000 x 25 sheet are not, so the exact whitespace-only test runs
    # only on sparse rows (at most half the cells filled), the only rows it can turn blank in practice.
    blank = (arr == "") | (arr == " ")
    if padded:
        blank |= arr == None  # noqa: E711 - elementwise comparison on an object array
    if arr.size:
        sparse = (~blank).sum(axis=1) * 2 <= width
        if sparse.any():
            sub = arr[sparse]
            is_str = _type_of(sub) == str  # noqa: E721 - elementwise on an array of types
            ws = np.zeros(sub.shape, dtype=bool)
            ws[is_str] = _isspace(sub[is_str]).astype(bool)
            blank[sparse] |= ws
        arr[blank] = None
        non_blank_rows = ~blank.all(axis=1)
        col_has_data = ~blank.all(axis=0)
    else:
        non_blank_rows = np.zeros(0, dtype=bool)
        col_has_data = np.zeros(width, dtype=bool)

    headers, names, original, keep = _column_names(header_cells, width, col_has_data, aliases)
    source_row = np.arange(header_idx + 2, header_idx + 2 + len(data_rows))
    data = arr if non_blank_rows.all() else arr[non_blank_rows]
    if len(keep) < width:
        data = data[:, keep]
    frame = pd.DataFrame(data, columns=names, dtype=object, copy=False)
    frame["source_row"] = source_row[non_blank_rows]
    blank_rows = int((~non_blank_rows).sum())
    return frame, [h for h in headers if h], original, blank_rows


def _column_names(
    header_cells: Sequence[object], width: int, col_has_data: np.ndarray, aliases: Mapping[str, str]
) -> tuple[list[str], list[str], dict[str, str], list[int]]:
    """(headers as text, frame column names, name -> header as found, kept column positions)."""
    headers = [_header_text(c) for c in header_cells]
    headers += [""] * (width - len(header_cells))
    names: list[str] = []
    original: dict[str, str] = {}
    keep: list[int] = []
    used: set[str] = {"source_row"}
    for j, h in enumerate(headers):
        if not h and not col_has_data[j]:
            continue  # an empty column beyond the table
        canonical = aliases.get(normalise_header(h)) if h else None
        name = canonical if canonical and canonical not in used else (h or f"unnamed column {j + 1}")
        base, k = name, 2
        while name in used:
            name, k = f"{base} ({k})", k + 1
        used.add(name)
        names.append(name)
        original[name] = h or f"(column {j + 1}, no header)"
        keep.append(j)
    return headers, names, original, keep


def _read_csv_arrow(
    path: Path, aliases: Mapping[str, str], max_header_scan: int
) -> tuple[pa.Table, int] | None:
    """The CSV as an Arrow table of text columns (every line a row, the header among them) and the
    header's row index; None when the file needs the row-by-row reader: not plain UTF-8 (UTF-16,
    cp1252), ragged rows (titles above the header), a field longer than a block, or no header found
    in the first rows (that reader says why). Both readers give the same cells and row numbers."""
    with path.open("rb") as f:
        head = f.read(4096)
    if (head.startswith((b"PK\x03\x04", codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head
            or head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower().startswith((b"<!doctype html", b"<html"))):
        return None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 24),
            # Quoted line breaks stay inside their field, and blank lines are rows (as csv.reader
            # gives them), so row numbers are the same as the row-by-row reader's.
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types=_ALL_TEXT, strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # ragged rows, invalid UTF-8 (cp1252), an overlong field
    if table.num_columns > len(_ALL_TEXT) or any(t != pa.string() for t in table.schema.types):
        return None
    top = [list(r.values()) for r in table.slice(0, max_header_scan).to_pylist()]
    header_idx, n = _best_header(top, aliases, max_header_scan)
    if n < min(MIN_HEADER_MATCHES, len(set(aliases.values()))):
        return None
    return table, header_idx


def _arrow_columns(fast: list) -> list[pa.ChunkedArray]:
    """The read table's columns, the table itself let go (so each column is freed once replaced)."""
    table = fast.pop()
    return [table.column(j) for j in range(table.num_columns)]


_ALL_TEXT = {f"f{i}": pa.string() for i in range(4096)}


def _build_frame_arrow(
    columns: list[pa.ChunkedArray], header_idx: int, aliases: Mapping[str, str]
) -> tuple[pd.DataFrame, list[str], dict[str, str], int]:
    """_build_frame for a CSV read by Arrow: the same cells (blanks null), columns as Arrow-backed
    text, never as Python objects. `columns` is consumed: each is replaced by its successor, so no
    more than one copy of the table is held."""
    header_cells = [c[header_idx].as_py() for c in columns]
    width = len(columns)
    n_rows = len(columns[0]) - header_idx - 1 if columns else 0
    null = pa.scalar(None, pa.string())
    filled = np.zeros(n_rows, dtype=np.int64)
    for j in range(width):
        col = columns[j].slice(header_idx + 1)
        columns[j] = None
        col = pc.if_else(pc.or_(pc.equal(col, ""), pc.equal(col, " ")), null, col)
        columns[j] = col
        filled += pc.is_valid(col).to_numpy(zero_copy_only=False)
    # Whitespace-only cells are blank too; as in _build_frame the exact test runs on sparse rows only.
    sparse = filled * 2 <= width
    if sparse.any():
        mask = pa.array(sparse)
        for j, col in enumerate(columns):
            ws = pc.and_(pc.fill_null(pc.utf8_is_space(col), False), mask)
            if pc.any(ws).as_py():
                columns[j] = pc.if_else(ws, null, col)
    valid = np.column_stack([pc.is_valid(c).to_numpy(zero_copy_only=False) for c in columns]) \
        if width and n_rows else np.zeros((n_rows, width), dtype=bool)
    non_blank_rows = valid.any(axis=1) if width else np.zeros(n_rows, dtype=bool)
    col_has_data = valid.any(axis=0) if n_rows else np.zeros(width, dtype=bool)
    del valid
    headers, names, original, keep = _column_names(header_cells, width, col_has_data, aliases)
    rows = None if non_blank_rows.all() else pa.array(non_blank_rows)
    frame = {}
    for name, j in zip(names, keep, strict=True):
        col = columns[j] if rows is None else pc.filter(columns[j], rows)
        frame[name] = pd.Series(pd.arrays.ArrowStringArray(col), copy=False)
        columns[j] = None  # one copy of each column at a time
    out = pd.DataFrame(frame, copy=False)
    source_row = np.arange(header_idx + 2, header_idx + 2 + n_rows)
    out["source_row"] = source_row[non_blank_rows]
    blank_rows = int((~non_blank_rows).sum())
    return out, [h for h in headers if h], original, blank_rows


@paused_gc()
def read_table(
    path: Path | str,
    *,
    aliases: Mapping[str, str],
    required: Iterable[str],
    preferred_sheets: Sequence[str] = (),
    what: str = "table",
    max_header_scan: int = 40,
    arrow_csv: bool = False,
) -> RawTable:
    """Read the table of a CSV or workbook whose header best matches `aliases`.

    `aliases` maps normalised header text (see normalise_header) to canonical column names.
    Raises InputError (one paragraph) for a missing, empty or unreadable file, a workbook with no
    sheet holding a recognisable header, or a header lacking any of the `required` canonical columns.
    With `arrow_csv`, a plain UTF-8 rectangular CSV is read by Arrow and its columns are Arrow-backed
    text (nulls for blanks) instead of object cells: a million-row register without Python rows.
    """
    path = Path(path)
    aliases = {normalise_header(k): v for k, v in aliases.items()}
    required = list(required)
    expected_headers = _example_headers(aliases, required)
    if not path.exists():
        raise InputError(f"The {what} '{path}' does not exist: check the path.")
    if path.is_dir():
        raise InputError(f"The {what} '{path}' is a folder, not a file: give the file inside it.")
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise InputError(
            f"The {what} '{path}' cannot be read ({err.strerror}): check its permissions."
        ) from None
    if path.stat().st_size == 0:
        raise InputError(f"The {what} '{path}' is empty (0 bytes): download or export it again.")
    if is_password_protected(path):
        raise InputError(
            f"The {what} '{path}' is password-protected (encrypted), so it cannot be read: open it in "
            "a spreadsheet program and save an unprotected copy (without a password), then give that."
        )

    sheet_names: list[str] = []
    if _is_workbook(path):
        try:
            wb = CalamineWorkbook.from_path(str(path))
            sheet_names = list(wb.sheet_names)
        except Exception as exc:  # calamine raises several error types for unreadable files
            raise InputError(
                f"The {what} '{path}' could not be read as a spreadsheet: it looks like "
                f"{_describe_content(path)} ({type(exc).__name__}: {str(exc)[:200]}). "
                f"Download the file again or save it as .xlsx, .ods or .csv."
            ) from None
        rows, sheet, header_idx = _choose_sheet(wb, path, sheet_names, aliases, preferred_sheets,
                                                what, max_header_scan, expected_headers)
    elif arrow_csv and (fast := _read_csv_arrow(path, aliases, max_header_scan)) is not None:
        header_idx = fast[1]
        columns = _arrow_columns([fast[0]])
        del fast
        sheet = None
        rows = None
    else:
        rows = _read_csv_rows(path, what)
        sheet = None
        if not any(any(not is_blank(c) for c in r) for r in rows):
            raise InputError(f"The {what} '{path}' has no rows: it contains only blank lines.")
        header_idx, n = _best_header(rows, aliases, max_header_scan)
        if n < min(MIN_HEADER_MATCHES, len(set(aliases.values()))):
            first = next((r for r in rows if any(not is_blank(c) for c in r)), [])
            raise InputError(
                f"The {what} '{path}' has no recognisable header row in its first {max_header_scan} "
                f"lines: expected columns such as {expected_headers}; the first non-blank line is "
                f"{[str(c) for c in first if not is_blank(c)][:30]}."
            )

    if rows is None:
        frame, headers_found, original, blank_rows = _build_frame_arrow(columns, header_idx, aliases)
        del columns
    else:
        frame, headers_found, original, blank_rows = _build_frame(rows, header_idx, aliases)
        del rows
    missing = [c for c in required if c not in frame.columns]
    if missing:
        where = f"sheet '{sheet}'" if sheet is not None else "the file"
        raise InputError(
            f"The {what} '{path}' ({where}, header on row {header_idx + 1}) lacks required "
            f"column(s) {', '.join(_describe_missing(c, aliases) for c in missing)}; the headers "
            f"found are {headers_found}."
        )
    meaning: dict[str, list[str]] = {}
    for h in headers_found:
        if (canonical := aliases.get(normalise_header(h))) is not None:
            meaning.setdefault(canonical, []).append(h)
    return RawTable(
        frame=frame,
        path=path,
        sheet=sheet,
        header_row=header_idx + 1,
        sheet_names=sheet_names,
        headers_found=headers_found,
        blank_rows_skipped=blank_rows,
        original_headers=original,
        repeated_headers={c: hs for c, hs in meaning.items() if len(hs) > 1},
    )


def _example_headers(aliases: Mapping[str, str], required: Sequence[str]) -> str:
    """The first declared header variant of each required column (what users will recognise)."""
    wanted = required or list(dict.fromkeys(aliases.values()))
    first = {}
    for variant, canonical in aliases.items():
        first.setdefault(canonical, variant)
    return ", ".join(f"'{first.get(c, c)}'" for c in wanted)


def _describe_missing(canonical: str, aliases: Mapping[str, str]) -> str:
    variants = [k for k, v in aliases.items() if v == canonical]
    if not variants:
        return f"'{canonical}'"
    shown = " / ".join(f"'{v}'" for v in variants[:3])
    return f"'{canonical}' (a header such as {shown})"


def _choose_sheet(
    wb: CalamineWorkbook,
    path: Path,
    sheet_names: list[str],
    aliases: Mapping[str, str],
    preferred_sheets: Sequence[str],
    what: str,
    max_header_scan: int,
    expected_headers: str,
) -> tuple[list[list[object]], str, int]:
    """The rows of the chosen sheet, its name, and the 0-based index of its header row."""
    if not sheet_names:
        raise InputError(f"The {what} '{path}' is a workbook with no sheets.")
    threshold = min(MIN_HEADER_MATCHES, len(set(aliases.values())))
    loaded: dict[str, object] = {}

    def load(name: str):
        if name not in loaded:
            try:
                loaded[name] = wb.get_sheet_by_name(name)
            except Exception as exc:
                raise InputError(
                    f"The {what} '{path}': sheet '{name}' could not be read ({type(exc).__name__}: "
                    f"{str(exc)[:200]}); the file may be damaged."
                ) from None
        return loaded[name]

    wanted = {_sheet_key(p) for p in preferred_sheets}
    candidates = [n for n in sheet_names if _sheet_key(n) in wanted]
    # Preferred sheets first (in workbook order), then every other sheet by its header.
    scores: list[tuple[int, str, int]] = []
    all_empty = True
    for name in candidates + [n for n in sheet_names if n not in candidates]:
        # skip_empty_area=False keeps row 0 as the sheet's row 1, so source rows are real ones.
        head = load(name).to_python(skip_empty_area=False, nrows=max_header_scan)
        if any(any(not is_blank(c) for c in r) for r in head):
            all_empty = False
        idx, n = _best_header(head, aliases, max_header_scan)
        if n >= threshold and name in candidates:
            scores = [(n, name, idx)]
            break
        if n >= threshold:
            scores.append((n, name, idx))
    if not scores:
        if all_empty:
            raise InputError(f"The {what} '{path}' has no rows: every sheet ({sheet_names}) is empty.")
        raise InputError(
            f"The {what} '{path}' has no sheet with a recognisable header: its sheets are "
            f"{sheet_names}, and none has a row (in its first {max_header_scan}) with columns such "
            f"as {expected_headers}."
            + (f" The sheet expected by name ({', '.join(preferred_sheets)}) was not found or has "
               "no such header." if preferred_sheets else "")
        )
    # Most matches wins; ties go to the earlier sheet.
    n, name, idx = max(scores, key=lambda t: (t[0], -sheet_names.index(t[1])))
    rows = load(name).to_python(skip_empty_area=False)
    return rows, name, idx
