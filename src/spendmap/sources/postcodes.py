"""Read an ONS postcode lookup (NSPL / ONSPD layout) given with --postcodes, as a `PostcodeDirectory`.

The real NSPL is a zip of about 2.5 million rows and 40+ columns; only the six columns spendmap needs
are parsed, with pyarrow's multi-threaded CSV reader, so the table fits in a few hundred MB. Column
names vary by edition (`laua`, `oslaua`, `lad23cd`, ...): they are found by the patterns in
`COLUMN_PATTERNS`, declared once here.

Pseudo codes (`E99999999`, `W99999999`, `S99999999`, `N99999999`, `L99999999` Channel Islands,
`M99999999` Isle of Man) mean "no area of this kind": they become missing values here; the directory
(`directory_from_lookup`) marks Channel Islands and Isle of Man postcodes again by their country code,
so a lookup (`transforms.postcodes`) can say why they place no award.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from spendmap.errors import InputError

if TYPE_CHECKING:
    from spendmap.sources.fetch import FetchedFile
    from spendmap.sources.postcode_directory import PostcodeDirectory

POSTCODE_COLUMNS = ["postcode_key", "laua", "cty", "rgn", "ctry", "is_terminated"]

# Canonical field -> header patterns (case-insensitive, whole name), in order of preference.
COLUMN_PATTERNS: dict[str, list[str]] = {
    "postcode": [r"pcds", r"pcd", r"pcd7", r"pcd8", r"pcd2", r"postcode"],
    "laua": [r"laua", r"oslaua", r"lad\d{2}cd"],
    "cty": [r"cty", r"oscty", r"cty\d{2}cd"],
    "rgn": [r"rgn", r"gor", r"rgn\d{2}cd"],
    "ctry": [r"ctry", r"ctry\d{2}cd"],
    "doterm": [r"doterm"],
}
REQUIRED_FIELDS = ("postcode", "laua")
# RE2's \s is ASCII only: add Unicode separators (NBSP from spreadsheets) and zero-width spaces/BOM.
_WHITESPACE = r"[\s\p{Z}\x{200B}\x{FEFF}]+"
_STRING = pd.StringDtype()  # pandas "string" (Arrow-backed, <NA> for missing), as in spendmap.schemas

PSEUDO_CODE = re.compile(r"^[A-Z]99999999$")


def _postcode_keys(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The one implementation of the postcode key, in Arrow compute (fast on 2.5M rows)."""
    keys = pc.replace_substring(pc.utf8_upper(values), pattern=" ", replacement="")
    # Fast path: NSPL keys are letters and digits once the one space is gone; only if something else
    # is left (tabs, NBSP, zero-width spaces, blanks) does the slower regex run.
    if not pc.all(pc.utf8_is_alnum(keys)).as_py():
        keys = pc.replace_substring_regex(keys, pattern=_WHITESPACE, replacement="")
    return _blank_to_null(keys)


def _blank_to_null(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def _codes(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """GSS codes: trimmed, uppercase; blank and pseudo codes (E99999999, L99999999, ...) -> null.

    A code column has a few hundred distinct values in 2.5 million rows, so the clean-up runs on the
    dictionary of distinct values and is mapped back with `take`.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    distinct = _blank_to_null(pc.utf8_upper(pc.utf8_trim_whitespace(encoded.dictionary)))
    pseudo = pc.match_substring_regex(distinct, PSEUDO_CODE.pattern)
    distinct = pc.if_else(pseudo, pa.scalar(None, distinct.type), distinct)
    return distinct.take(encoded.indices)


def find_columns(headers: list[str]) -> dict[str, str]:
    """Canonical field -> header in this file, for the fields COLUMN_PATTERNS declares."""
    stripped = {h.strip().lstrip("\ufeff").lower(): h for h in headers}
    found: dict[str, str] = {}
    for field, patterns in COLUMN_PATTERNS.items():
        for pattern in patterns:
            hits = sorted(k for k in stripped if re.fullmatch(pattern, k))
            if hits:
                found[field] = stripped[hits[-1]]  # lad23cd and lad24cd: the newest
                break
    return found


def read_postcode_lookup(src: str | Path) -> pd.DataFrame:
    """Read an NSPL/ONSPD-layout postcode lookup (CSV, or a zip holding one) into the canonical table.

    Returns one row per postcode: postcode_key (upper case, no whitespace), laua, cty, rgn, ctry (GSS
    codes, pseudo codes as <NA>), is_terminated. `attrs` records the file/member read, rows read,
    rows without a postcode, and duplicate postcodes dropped (a live row is kept over a terminated one).
    """
    path = Path(src)
    if not path.is_file():
        raise InputError(f"The postcode lookup {path} does not exist or is not a file.")
    with _open_data_csv(path) as (handle, label, columns):
        table = _read_columns(handle, label, columns)
    rows_read = table.num_rows
    empty = pa.nulls(rows_read, pa.string())
    arrays = {"postcode_key": _postcode_keys(table[columns["postcode"]])}
    for field in ("laua", "cty", "rgn", "ctry"):
        arrays[field] = _codes(table[columns[field]]) if field in columns else empty
    if "doterm" in columns:
        doterm = pc.utf8_trim_whitespace(table[columns["doterm"]])
        arrays["is_terminated"] = pc.fill_null(pc.not_equal(doterm, ""), False)
    else:  # the file does not say (e.g. a live-only extract): treat every postcode as live
        arrays["is_terminated"] = pa.array([False] * rows_read, pa.bool_())
    del table
    result = pa.table(arrays)
    blank = result["postcode_key"].null_count
    if blank:
        result = result.filter(pc.is_valid(result["postcode_key"]))
    has_duplicates = pc.count_distinct(result["postcode_key"]).as_py() < result.num_rows
    out = result.to_pandas(types_mapper={pa.string(): _STRING, pa.bool_(): pd.BooleanDtype()}.get)
    del result
    if has_duplicates:  # none in a real NSPL: the sort below is skipped on 2.5M rows
        # A live row wins over a terminated one for the same postcode; otherwise the first in the file.
        out = out.sort_values("is_terminated", kind="stable").drop_duplicates("postcode_key", keep="first")
    duplicates = rows_read - blank - len(out)
    out = out.reset_index(drop=True)
    out.attrs.update(
        source=label,
        rows_read=rows_read,
        rows_without_postcode=blank,
        duplicate_postcodes_dropped=duplicates,
        columns_used={k: v for k, v in columns.items()},
    )
    return out


def directory_from_lookup(table: pd.DataFrame, source: str) -> PostcodeDirectory:
    """A table from read_postcode_lookup as the compact directory every placement uses.

    Postcodes whose district is a pseudo code keep where they are: the Channel Islands and the Isle of
    Man (by country code) become L99999999 / M99999999, as in the built-in directory.
    """
    from spendmap.sources.postcode_directory import ATTRIBUTION, LICENCE, PostcodeDirectory

    country = table["ctry"].astype("string").str[:1]
    pseudo = country.map({"L": "L99999999", "M": "M99999999"}).astype("string")
    laua = table["laua"].astype("string").fillna(pseudo)
    short = table["postcode_key"].astype("string").str.len().between(5, 7)
    info = {
        "name": "ONS postcode lookup given with --postcodes", "source_file": Path(source).name,
        "vintage": "as published in that file", "licence": LICENCE, "attribution": ATTRIBUTION,
        "builtin": False, "rows_read": int(table.attrs.get("rows_read", len(table))),
    }
    return PostcodeDirectory.from_codes(table.loc[short, "postcode_key"], laua[short], info)


def load_postcode_lookup(
    src: str | Path,
    *,
    cache_dir: Path | None = None,
    offline: bool = False,
    **fetch_options: object,
) -> tuple[pd.DataFrame, FetchedFile]:
    """`--postcodes SRC` (path or URL) -> (lookup table, the FetchedFile for the run manifest)."""
    from spendmap.sources.fetch import resolve_source

    fetched = resolve_source(
        src, cache_dir=cache_dir, offline=offline, expect="postcode lookup (CSV or zip)", **fetch_options
    )
    return read_postcode_lookup(fetched.path), fetched


# --------------------------------------------------------------------------------------------------
# File handling


def _first_line(raw: IO[bytes]) -> list[str]:
    line = raw.readline(1 << 16).decode("utf-8-sig", errors="replace")
    return next(csv.reader([line]), []) if line.strip() else []


def _check_columns(headers: list[str], label: str) -> dict[str, str]:
    if not headers:
        raise InputError(f"The postcode lookup {label} is empty: expected a CSV in NSPL/ONSPD layout.")
    columns = find_columns(headers)
    missing = [f for f in REQUIRED_FIELDS if f not in columns]
    if missing:
        wanted = {
            "postcode": "postcode column (pcds, pcd, pcd7 or pcd8)",
            "laua": "district column (laua, oslaua or ladNNcd)",
        }
        shown = ", ".join(h.strip() for h in headers[:40]) + (" ..." if len(headers) > 40 else "")
        raise InputError(
            f"The postcode lookup {label} has no {' and no '.join(wanted[m] for m in missing)}: expected "
            f"the ONS NSPL/ONSPD layout. Headers found: {shown}."
        )
    return columns


@contextmanager
def _open_data_csv(path: Path) -> Iterator[tuple[IO[bytes], str, dict[str, str]]]:
    """Yield (binary handle at the start of the data CSV, label for messages, columns found)."""
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            columns = _check_columns(_first_line(fh), str(path))
            fh.seek(0)
            yield fh, str(path), columns
        return
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"The postcode lookup {path} is not a readable zip file ({exc}).") from None
    with zf:
        members = [i for i in zf.infolist() if not i.is_dir() and i.filename.lower().endswith(".csv")]
        # The NSPL zip holds Data/NSPL*_UK.csv (the whole UK), Data/multi_csv/ (the same rows split
        # by postcode area) and Documents/ (code lists): read the biggest main file only.
        main = [
            i
            for i in members
            if "multi_csv" not in i.filename.lower() and not i.filename.lower().startswith("documents/")
        ]
        candidates = sorted(main or members, key=lambda i: i.file_size, reverse=True)
        if not candidates:
            names = ", ".join(i.filename for i in zf.infolist()[:15]) or "nothing"
            raise InputError(
                f"The zip {path} holds no CSV file: expected an ONS postcode lookup such as the NSPL "
                f"(Data/NSPL*_UK.csv). It contains: {names}."
            )
        first_error: InputError | None = None
        for info in candidates[:5]:
            label = f"{path} (member {info.filename})"
            with zf.open(info) as head:
                try:
                    columns = _check_columns(_first_line(head), label)
                except InputError as exc:
                    first_error = first_error or exc
                    continue
            with zf.open(info) as fh:
                yield fh, label, columns
            return
        assert first_error is not None
        raise first_error


def _read_columns(handle: IO[bytes], label: str, columns: dict[str, str]) -> pa.Table:
    """Parse only the wanted columns, all as strings, with pyarrow's CSV reader."""
    wanted = list(dict.fromkeys(columns.values()))
    convert = pacsv.ConvertOptions(
        include_columns=wanted,
        column_types={c: pa.string() for c in wanted},
        strings_can_be_null=True,
        null_values=[""],
    )
    data = handle.read() if not hasattr(handle, "seekable") or not handle.seekable() else None
    for encoding in ("utf8", "cp1252"):  # ONS files are ASCII; cp1252 rescues a re-saved copy
        source = io.BytesIO(data) if data is not None else handle
        if data is None:
            handle.seek(0)
        try:
            table = pacsv.read_csv(
                source, read_options=pacsv.ReadOptions(encoding=encoding), convert_options=convert
            )
            break
        except pa.ArrowInvalid as exc:
            if encoding == "utf8" and "utf8" in str(exc).lower():
                continue
            raise InputError(
                f"Could not read the postcode lookup {label} as CSV: {str(exc).splitlines()[0]}. Expected "
                f"a comma-separated file in the ONS NSPL/ONSPD layout."
            ) from None
    # pyarrow strips a BOM from the first name, the header we matched did too; rename by position anyway
    # so that a stray difference (e.g. surrounding spaces) cannot lose a column.
    return table.rename_columns(wanted)
