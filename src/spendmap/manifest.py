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

from spendmap import __version__, catalog
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

# The counter's own amount parser, minimal and strict, sharing nothing with sources/grants.py: a number
# cell, or text that is digits with '.' for decimals and ',' only between groups of three digits
# ('£1,234.50', '(1,000)', '-£50', 'GBP 7', '1.5e6'). Anything else ('25000,50', '1.234,50') is not
# counted as £ in. So a reader that took a decimal comma as a thousands one would accept £ that this
# count never saw, and the run would fail to reconcile instead of publishing a wrong total.
_PLAIN_NOISE = re.compile(r"(?i)gbp|£|\s")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def plain_amount(cell: object) -> float | None:
    """A cell as £ for counting: numbers, or text such as '£1,234' / '(1,000)'; None if not a finite one."""
    if isinstance(cell, bool) or cell is None:
        return None
    if isinstance(cell, int | float):
        value = float(cell)
    else:
        text = str(cell).strip()
        negative = text.startswith("(") and text.endswith(")")
        text = _PLAIN_NOISE.sub("", text[1:-1] if negative else text)
        if not _PLAIN_NUMBER.fullmatch(text):
            return None
        value = float(text.replace(",", ""))
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
    from spendmap.sources.threesixty import count_package, is_json_package

    if is_json_package(Path(path)):  # a 360Giving JSON package: its grants, not rows
        return count_package(Path(path))
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


def count_input_cached(info: dict, cache_dir: Path | str | None) -> dict:
    """count_input of one grants input, kept in the parsed-data cache under the file's content hash:
    the plain count is a function of the bytes alone (the written files are always read afresh)."""
    from spendmap.parsed_cache import parsed

    args = (info["path"], info["sheet"], info["header_row"], info["amount_header"])
    return parsed("plain-count", [info["path"]], args[1:], lambda: count_input(*args), cache_dir)


def plain_count_stored(info: dict, cache_dir: Path | str | None) -> bool:
    """Whether count_input_cached would find this input's count in the cache."""
    from spendmap.parsed_cache import stored

    return stored("plain-count", [info["path"]], (info["sheet"], info["header_row"], info["amount_header"]),
                  cache_dir)


def count_inputs(inputs: list[dict], cache_dir: Path | str | None) -> dict[str, dict]:
    """count_input_cached of each grants input, by input_id (what a run may take early, in another
    process, while its other steps go on: the counts depend on the inputs' bytes alone)."""
    return {info["input_id"]: count_input_cached(info, cache_dir) for info in inputs}


def reconcile_written(inputs: list[dict], out_dir: Path, cache_dir: Path | str | None = None,
                      counted: dict[str, dict] | None = None) -> dict:
    """Rows and £ of every grants input = rows and £ in awards.parquet + rejects.csv, as written.

    `inputs` are the manifest's grants entries (path, input_id, sheet, header_row, amount_header);
    `counted` holds plain counts already taken by `count_inputs` (the others are counted here).
    Written rows are matched to their input by `input_id` (position and sha256), never by file name: a
    name is not unique (two folders' `register.csv`) and rejects.csv neutralises one that starts '='.
    """
    awards = pd.read_parquet(out_dir / "awards.parquet", columns=["input_id", "amount_gbp"])
    rejects = pd.read_csv(out_dir / "rejects.csv", dtype=str, keep_default_na=False)
    per_input = []
    for info in inputs:
        read = (counted or {}).get(info["input_id"]) or count_input_cached(info, cache_dir)
        acc = awards[awards["input_id"] == info["input_id"]]
        rej = rejects[rejects["input_id"] == info["input_id"]]
        row = {
            "input_id": info["input_id"],
            "path": info["path"],
            "rows_read": read["rows"],
            "rows_accepted": len(acc),
            "rows_rejected": len(rej),
            "amount_in_gbp": read["amount_gbp"],
            "amount_accepted_gbp": math.fsum(acc["amount_gbp"]),
            "amount_rejected_gbp": math.fsum(_rejected_amount(v, [info["amount_header"]])
                                             for v in rej["original_values"]),
        }
        row["rows_reconcile"] = row["rows_read"] == row["rows_accepted"] + row["rows_rejected"]
        row["amounts_reconcile"] = _close(
            row["amount_in_gbp"], row["amount_accepted_gbp"] + row["amount_rejected_gbp"])
        per_input.append(row)
    # Rows written with the id of no grants input (a bug). Awards with no id are other readers' (none
    # yet): an award that lost its id is caught anyway, as a row short of its input's count.
    ids = awards["input_id"].dropna()
    stray = int((~ids.isin({i["input_id"] for i in inputs})).sum())
    total = {
        key: sum(i[key] for i in per_input)
        for key in ("rows_read", "rows_accepted", "rows_rejected", "amount_in_gbp", "amount_accepted_gbp",
                    "amount_rejected_gbp")
    }
    ok = stray == 0 and all(p["rows_reconcile"] and p["amounts_reconcile"] for p in per_input)
    return {
        "ok": ok,
        "method": "inputs counted by a plain read with its own amount parser; outputs counted from "
                  "awards.parquet and rejects.csv, matched to inputs by input_id",
        "totals": total,
        "awards_of_no_input": stray,
        "per_input": per_input,
    }


class ReconciliationError(SpendmapError):
    """Rows or £ went missing or were invented between the inputs and the written files: exit 1."""


def check_reconciled(reconciliation: dict) -> None:
    bad = [p for p in reconciliation["per_input"] if not (p["rows_reconcile"] and p["amounts_reconcile"])]
    if reconciliation.get("awards_of_no_input"):
        raise ReconciliationError(
            f"The run does not reconcile, so nothing was published: {reconciliation['awards_of_no_input']:,} "
            "awards written carry the id of no input. This is a bug in spendmap; please report it.")
    if bad:
        detail = "; ".join(
            f"{p['path']} (input {p['input_id']}): {p['rows_read']:,} rows and "
            f"£{p['amount_in_gbp']:,.2f} read, but "
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
    checks += [  # issue 18: bundled vintages read beside the population file (mid-2022)
        {"input": p["path"], "unit": "rows", "read": p["rows_read"], "accepted": p["rows_accepted"],
         "rejected": p["rows_rejected"]} for p in population.get("also_bundled", [])
    ]
    checks += [
        {"input": s["source_file"], "unit": "non-blank rows", "read": s["rows_read"] - s["blank_rows"],
         "accepted": s["rows_accepted"], "rejected": s["rows_rejected"]}
        for s in scheme_registers
    ]
    for check in checks:
        check["reconciles"] = check["read"] == check["accepted"] + check["rejected"]
    return checks


def run_warnings(grants: list[dict], others: list[dict | None] = ()) -> list[str]:
    """What the run summary (and the manifest's `warnings`) must say about the grants inputs: awards
    above the plausibility ceiling, award dates far outside the register's year, text with control
    characters removed, rows rejected as totals or for an ambiguous decimal separator, and downloads
    whose completeness could not be checked (`others`: the CRA, population and postcode files)."""
    out = []
    for g in [*grants, *(o for o in others if o)]:
        name, q = g.get("path", "?"), g.get("data_quality", {})
        if q.get("amount_over_ceiling"):
            out.append(f"{name}: {q['amount_over_ceiling']:,} award(s) above the plausibility ceiling of "
                       f"£{q['amount_ceiling_gbp']:,.0f} (£{q.get('amount_over_ceiling_gbp', 0):,.0f} in "
                       "all), kept but flagged (awards.parquet amount_over_ceiling): check them before "
                       "using the totals.")
        if q.get("award_date_outside_fy"):
            out.append(f"{name}: {q['award_date_outside_fy']:,} award date(s) more than a year outside "
                       f"{g.get('fy')}, kept but flagged (award_date_outside_fy).")
        if q.get("amount_ambiguous_decimal"):
            out.append(f"{name}: {q['amount_ambiguous_decimal']:,} amount(s) with an ambiguous decimal "
                       "separator rejected (rejects.csv).")
        if g.get("rows_rejected_as_totals"):
            out.append(f"{name}: {g['rows_rejected_as_totals']:,} subtotal or total row(s) rejected "
                       "(rejects.csv).")
        if q.get("text_cells_with_control_characters"):
            out.append(f"{name}: control or bidirectional characters removed from "
                       f"{q['text_cells_with_control_characters']:,} text cell(s).")
        if g.get("url") and g.get("verified") is False:
            how = g.get("verification") or "the download could not be checked as whole"
            cached = " (served from the download cache)" if g.get("from_cache") else ""
            out.append(f"{g['url']}: {how}{cached}")
    return out


def listed_outputs(out_dir: Path) -> dict[str, str]:
    """The manifest's `outputs`: each of catalog.MANIFEST_OUTPUTS found in the folder as written, in the
    catalog's order; a folder of folders as how many it holds ("382 council folders"), a folder of files
    as how many files ("assets/": "6 files")."""
    listed = {}
    for dataset in catalog.MANIFEST_OUTPUTS:
        path = dataset.at(out_dir)
        if dataset.format == "folder" and path.is_dir():
            if catalog.declares_inside(dataset):  # councils/: its files are declared one by one
                n = sum(1 for p in path.iterdir() if p.is_dir())
                listed[dataset.path] = f"{n} {dataset.name.replace('_', ' ')}"
            else:
                n = sum(1 for p in path.rglob("*") if p.is_file())
                listed[dataset.path] = f"{n} file{'s' if n != 1 else ''}"
        elif path.is_file():
            listed[dataset.path] = dataset.path
    return listed


def build_manifest(
    *, config: dict, started: str, fys: list[str], inputs: dict, read: dict, geo: dict,
    classified: dict, analytics: dict, cra: dict,
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
        "outputs": {},  # listed from the written folder by steps.write_manifest (listed_outputs)
        "package_versions": package_versions(),
        "warnings": run_warnings(
            [{**f, **info} for f, info in zip(inputs["grants"], read["inputs"], strict=True)],
            [inputs["cra"], inputs["population"], inputs["postcodes"]]),
    }
