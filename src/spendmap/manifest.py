"""run_manifest.json: what went in, what came out, and the checks that the two reconcile."""

from __future__ import annotations

import codecs
import csv
import json
import math
import platform
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from spendmap import __version__
from spendmap.errors import SpendmapError
from spendmap.text import is_blank

PACKAGES = (
    "prefect", "pandas", "pyarrow", "python-calamine", "duckdb", "networkx", "plotly", "openpyxl",
    "xlsxwriter", "rapidfuzz", "fastapi",
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    versions = {"spendmap": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# --- reconciliation from the written files -------------------------------------------------------------
#
# Rows and £ in each grants input are counted here by a plain read (calamine cells or the csv module)
# that shares nothing with the reader in sources/, and compared with awards.parquet + rejects.csv as
# written. The reader's own figures are not trusted for this: that would make the check unable to fail.

_AMOUNT_NOISE = re.compile(r"(?i)gbp|£|,|\s")


def plain_amount(cell: object) -> float | None:
    """A cell as £ for counting: numbers, or text such as '£1,234' / '(1,000)'; None if not a finite one."""
    if isinstance(cell, bool) or cell is None:
        return None
    if isinstance(cell, int | float):
        value = float(cell)
    else:
        text = str(cell).strip()
        negative = text.startswith("(") and text.endswith(")")
        try:
            value = float(_AMOUNT_NOISE.sub("", text.strip("()")))
        except ValueError:
            return None
        value = -abs(value) if negative else value
    return value if math.isfinite(value) else None


def _plain_rows(path: Path, sheet: str | None) -> Iterator[list[object]]:
    """The rows one at a time (a million-row CSV is never held as Python rows)."""
    if sheet is not None:
        from python_calamine import CalamineWorkbook

        yield from CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(
            skip_empty_area=False)
        return
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in head:  # UTF-16 without a byte-order mark: the zero bytes say which end
        encoding = "utf-16-be" if head[:1] == b"\x00" else "utf-16-le"
    else:
        encoding = "utf-8-sig" if _is_utf8(path) else "cp1252"
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    limit = csv.field_size_limit(sys.maxsize)
    # Decoded as it is read: the whole file is never one string (a 500 MB CSV would be 1-2 GB of text).
    try:
        with path.open(encoding=encoding, errors="replace", newline="") as text:
            yield from csv.reader(text, delimiter=delimiter)
    finally:
        csv.field_size_limit(limit)


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def count_input(path: Path | str, sheet: str | None, header_row: int, amount_header: str) -> dict:
    """Non-blank rows below the header and the sum of their finite amounts, read plainly."""
    rows = _plain_rows(Path(path), sheet)
    for _ in range(header_row - 1):
        next(rows)
    header = [str(c).strip() if c is not None else "" for c in next(rows)]
    col = header.index(amount_header)
    n, amounts = 0, []
    for r in rows:
        if all(is_blank(c) for c in r):
            continue
        n += 1
        a = plain_amount(r[col]) if col < len(r) else None
        if a is not None:
            amounts.append(a)
    return {"rows": n, "amount_gbp": math.fsum(amounts)}


def _rejected_amount(original_values: str, amount_headers: list[str]) -> float:
    """The £ of a rejected row, from the first of the inputs' amount columns it holds."""
    values = json.loads(original_values)
    header = next((h for h in amount_headers if h in values), None)
    return (plain_amount(values.get(header)) if header else None) or 0.0


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(0.01, 1e-9 * max(abs(a), abs(b)))


def reconcile_written(inputs: list[dict], out_dir: Path) -> dict:
    """Rows and £ of every grants input = rows and £ in awards.parquet + rejects.csv, as written.

    `inputs` are the manifest's grants entries (path, sheet, header_row, amount_header).
    """
    awards = pd.read_parquet(out_dir / "awards.parquet", columns=["source_file", "amount_gbp"])
    rejects = pd.read_csv(out_dir / "rejects.csv", dtype=str, keep_default_na=False)
    # awards and rejects name their file by its base name, so inputs sharing a base name and sheet (two
    # folders' `register.csv`) are reconciled together: their rows read against their rows written.
    groups: dict[tuple[str, str], list[dict]] = {}
    for info in inputs:
        groups.setdefault((Path(info["path"]).name, info["sheet"] or ""), []).append(info)
    per_input = []
    for (name, sheet), infos in groups.items():
        reads = [count_input(i["path"], i["sheet"], i["header_row"], i["amount_header"]) for i in infos]
        acc = awards[awards["source_file"] == name]
        rej = rejects[(rejects["source_file"] == name) & (rejects["source_sheet"] == sheet)]
        row = {
            "path": "; ".join(i["path"] for i in infos),
            "rows_read": sum(r["rows"] for r in reads),
            "rows_accepted": len(acc),
            "rows_rejected": len(rej),
            "amount_in_gbp": math.fsum(r["amount_gbp"] for r in reads),
            "amount_accepted_gbp": math.fsum(acc["amount_gbp"]),
            "amount_rejected_gbp": math.fsum(
                _rejected_amount(v, [i["amount_header"] for i in infos]) for v in rej["original_values"]),
        }
        row["rows_reconcile"] = row["rows_read"] == row["rows_accepted"] + row["rows_rejected"]
        row["amounts_reconcile"] = _close(
            row["amount_in_gbp"], row["amount_accepted_gbp"] + row["amount_rejected_gbp"])
        per_input.append(row)
    total = {
        key: sum(i[key] for i in per_input)
        for key in ("rows_read", "rows_accepted", "rows_rejected", "amount_in_gbp", "amount_accepted_gbp",
                    "amount_rejected_gbp")
    }
    ok = all(p["rows_reconcile"] and p["amounts_reconcile"] for p in per_input)
    return {
        "ok": ok,
        "method": "inputs counted by a plain read; outputs counted from awards.parquet and rejects.csv",
        "totals": total,
        "per_input": per_input,
    }


class ReconciliationError(SpendmapError):
    """Rows or £ went missing or were invented between the inputs and the written files: exit 1."""


def check_reconciled(reconciliation: dict) -> None:
    bad = [p for p in reconciliation["per_input"] if not (p["rows_reconcile"] and p["amounts_reconcile"])]
    if bad:
        detail = "; ".join(
            f"{p['path']}: {p['rows_read']:,} rows and £{p['amount_in_gbp']:,.2f} read, but "
            f"{p['rows_accepted']:,} accepted + {p['rows_rejected']:,} rejected rows and "
            f"£{p['amount_accepted_gbp']:,.2f} + £{p['amount_rejected_gbp']:,.2f} written"
            for p in bad
        )
        raise ReconciliationError(
            f"The run does not reconcile, so nothing was published: {detail}. This is a bug in spendmap; "
            "please report it with the input file."
        )


def finite_json(value: object) -> object:
    """The manifest with NaN and infinities as null, so it is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def reconcile_other_inputs(cra: dict, population: dict, scheme_registers: list[dict]) -> list[dict]:
    """Rows (or CRA value cells) read = accepted + rejected for the CRA, population and scheme files."""
    checks = [
        {"input": cra["path"], "unit": "value cells", "read": cra["cells_read"],
         "accepted": cra["cells_accepted"], "rejected": cra["cells_rejected"]},
        {"input": population["path"], "unit": "rows", "read": population["rows_read"],
         "accepted": population["rows_accepted"], "rejected": population["rows_rejected"]},
    ]
    checks += [
        {"input": s["source_file"], "unit": "non-blank rows", "read": s["rows_read"] - s["blank_rows"],
         "accepted": s["rows_accepted"], "rejected": s["rows_rejected"]}
        for s in scheme_registers
    ]
    for check in checks:
        check["reconciles"] = check["read"] == check["accepted"] + check["rejected"]
    return checks


def build_manifest(
    *, config: dict, started: str, fys: list[str], inputs: dict, read: dict, geo: dict,
    classified: dict, analytics: dict, cra: dict, written: dict,
) -> dict:
    """run_manifest.json from the flow's step results (inputs: the resolved files by kind)."""
    return {
        "spendmap_run": {"started": started, "config": config},
        "financial_years": fys,
        "inputs": {
            "grants": [{**f, **info} for f, info in zip(inputs["grants"], read["inputs"], strict=True)],
            "cra": {**inputs["cra"], "reading": cra["summary"]},
            "population": {**inputs["population"], "reading": cra["population_summary"]},
            "postcodes": inputs["postcodes"],
        },
        # The grants reconciliation is filled in from the written files by steps.write_manifest.
        "reconciliation": {
            "other_inputs": reconcile_other_inputs(
                cra["summary"], cra["population_summary"], classified["summary"]["scheme_registers"]
            ),
        },
        "geo_methods": geo,
        "classification": classified["summary"],
        "analytics": analytics["summary"],
        "assumptions": {
            "small_threshold_gbp": config["small_threshold_gbp"],
            "population_vintages": cra["vintages"],
            "cra_units": cra["summary"]["units"],
            "cra_scope": "identifiable spend only, allocated to councils by population share",
        },
        "outputs": written["files"],
        "package_versions": package_versions(),
    }
