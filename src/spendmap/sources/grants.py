"""Read a government grants register into canonical awards and rejects.

Layouts: the 2016-17 GGIS awards workbook (360Giving flat columns), the modern yearly register (ODS or
XLSX, cover and notes sheets before `#Awards`/`Awards`, title rows above the header) and 360Giving flat
CSV/XLSX exports as GrantNav writes them. All are mapped through GRANT_COLUMN_ALIASES.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype

from spendmap import schemas
from spendmap.errors import InputError
from spendmap.fiscal_year import format_fy, fy_from_text, fy_of_dates, fy_start_year
from spendmap.sources.cache import sha256_of
from spendmap.sources.tabular import RawTable, normalise_header, paused_gc, read_table
from spendmap.text import CONTROLS_RE2, LINE_CONTROLS, is_blank

AWARD_SHEETS = ("#Awards", "Awards")
# One award above this (in absolute value) is implausible: the largest in the 2016-17 register is
# £1.42bn (a Dedicated Schools Grant). Such awards are kept but flagged and counted (docs/assumptions.md).
AMOUNT_CEILING_GBP = 10_000_000_000.0
MAX_LOCATION_INDEX = 10  # 360Giving flat exports number repeated locations :0:, :1:, ...


def _location_aliases() -> dict[str, str]:
    out: dict[str, str] = {
        "beneficiary location:geographic code": "beneficiary_location_code",
        "beneficiary location:geographic code type": "beneficiary_location_code_type",
        "beneficiary location:name": "beneficiary_location_name",
        "recipient org:location:geographic code": "recipient_location_code",
        "recipient org:location:geographic code type": "recipient_location_code_type",
        "recipient org:location:name": "recipient_location_name",
    }
    for i in range(MAX_LOCATION_INDEX):
        for prefix, stem in (("recipient org:location", "recipient_location"),
                             ("beneficiary location", "beneficiary_location")):
            out[f"{prefix}:{i}:geographic code"] = f"{stem}_{i}_code"
            out[f"{prefix}:{i}:geographic code type"] = f"{stem}_{i}_code_type"
            out[f"{prefix}:{i}:name"] = f"{stem}_{i}_name"
    return out


# Normalised header (see tabular.normalise_header) -> canonical column. The one place where column
# name variants of every supported layout are declared.
GRANT_COLUMN_ALIASES: dict[str, str] = {
    "identifier": "award_id",
    "award identifier": "award_id",
    "grant identifier": "award_id",
    "title": "title",
    "award title": "title",
    "description": "description",
    "currency": "currency",
    "amount awarded": "amount_gbp",
    "amount awarded (£)": "amount_gbp",
    "amount awarded £": "amount_gbp",
    "amount (£)": "amount_gbp",
    "amount": "amount_gbp",
    "award amount": "amount_gbp",
    "award date": "award_date",
    "date of award": "award_date",
    "planned dates:start date": "planned_start_date",
    "planned dates:end date": "planned_end_date",
    "planned dates:duration (months)": "planned_duration_months",
    "grant programme:code": "scheme_code",
    "grant programme:0:code": "scheme_code",
    "grant programme:title": "scheme_title",
    "grant programme:0:title": "scheme_title",
    "scheme code": "scheme_code",
    "scheme name": "scheme_title",
    "recipient org:identifier": "recipient_id",
    "recipient org:name": "recipient_name",
    "recipient name": "recipient_name",
    "recipient org:charity number": "recipient_charity_number",
    "recipient org:company number": "recipient_company_number",
    "recipient org:street address": "recipient_street_address",
    "recipient org:city": "recipient_city",
    "recipient org:country": "recipient_country",
    "recipient org:postal code": "recipient_postcode",
    "recipient org:postcode": "recipient_postcode",
    "recipient org:location:0:postal code": "recipient_postcode",
    "funding org:identifier": "funder_id",
    "funding org:0:identifier": "funder_id",
    "funding org:name": "department_raw",
    "funding org:0:name": "department_raw",
    "funding organisation": "department_raw",
    "funding org:department": "funder_department",
    "funding org:0:department": "funder_department",
    # GrantNav's funder classification (360Giving's TSGFundingOrgType): transforms.funder_types.
    "funding org:org type": "funder_org_type",
    "funding org:org type (additional data)": "funder_org_type",
    "managed by:organisation name": "managing_body",
    "managed by": "managing_body",
    "allocation method": "allocation_method",
    "from an open call?": "from_open_call",
    "award authority act:authority act name": "authority_act",
    "last modified": "last_modified",
    "award type": "award_type",
    "number of recipients": "number_of_recipients",
    "data source": "data_source",
    **_location_aliases(),
}
REQUIRED_COLUMNS = ("award_id", "amount_gbp", "recipient_name", "department_raw")

# Recipient fields that carry the word "Redacted" when an award's recipient is withheld.
_RECIPIENT_FIELDS = ("recipient_name", "recipient_id", "recipient_charity_number",
                     "recipient_company_number", "recipient_street_address", "recipient_city",
                     "recipient_postcode")
_NUMERIC_OR_DATE = {"amount_gbp", "award_date", "number_of_recipients"}
_LOCATION_COLUMNS = {c for c in GRANT_COLUMN_ALIASES.values() if c.endswith(("_code", "_code_type"))
                     and "location" in c}
# Text columns typed and kept: the schema's award columns (the output contract) plus the location
# columns that become location_codes/location_code_types. Other recognised columns (allocation
# method, authority act, street address, ...) are left out of awards; adding one to
# schemas.AWARD_EXTRA_DTYPES is enough for the reader to keep it.
_SCHEMA_TEXT = {c for c, t in {**schemas.AWARD_DTYPES, **schemas.AWARD_EXTRA_DTYPES}.items() if t == "string"}
_KEPT_TEXT = (_SCHEMA_TEXT | _LOCATION_COLUMNS) - _NUMERIC_OR_DATE
_LOCATION_RE = re.compile(r"^(recipient|beneficiary)_location(?:_(\d+))?_code$")


@dataclass
class GrantsRead:
    """The result of reading one grants register."""

    awards: pd.DataFrame  # schemas.AWARD_DTYPES + AWARD_EXTRA_DTYPES columns, via conform_awards
    rejects: pd.DataFrame  # schemas.REJECT_COLUMNS + REJECT_EXTRA_COLUMNS
    info: dict  # per-input facts for the run manifest


def input_id(position: int, sha256: str) -> str:
    """The id of a run's grants input: its 1-based position among them and its content's sha256 prefix
    ('1:3fa2b4c5d6e7'). Unlike a file name it is never neutralised in a CSV and never shared by two
    inputs, and it depends on nothing the read-step cache does not key on."""
    return f"{position}:{sha256[:12]}"


def read_grants(path: Path | str, *, year: str | None = None,
                known_ids: dict[str, str] | None = None, position: int = 1) -> GrantsRead:
    """Read a grants register (any supported layout) into accepted awards and reasoned rejects.

    `year` ('2016-17') is the financial year given (--year): it is used unless the file or sheet name
    states another (then InputError: the wrong file was given). `known_ids` maps award ids accepted
    from earlier inputs of the run to where they were ('input ID row N'): a repeat is rejected, and
    this file's accepted ids are added to it. `position` is the input's place among the run's inputs.
    Raises InputError for unreadable files, missing columns or an undeterminable financial year.
    """
    path = Path(path)
    years = [] if year is None else [format_fy(fy_start_year(year))]  # InputError unless 2016-17 style
    read = read_register(path, known_ids=known_ids, position=position)
    return apply_file_facts(read, path, years)


def read_register(path: Path | str, *, known_ids: dict[str, str] | None = None,
                  position: int = 1, remember: bool = True) -> GrantsRead:
    """What the file's content alone says: accepted awards and rejects, without anything about the
    file as given (its path and name, the year its name states). Those are applied, every run, by
    `apply_file_facts`: this half is what the read step caches, keyed on the content's sha256.

    known_ids: award id -> where it was accepted, from the run's earlier inputs (a repeat is rejected);
    this input's accepted ids are added to it unless `remember` is False (the run's last input: no later
    input is checked against them)."""
    path = Path(path)
    with paused_gc():
        return _read_grants(path, {} if known_ids is None else known_ids, position, remember)


def apply_file_facts(read: GrantsRead, path: Path | str, years: Sequence[str],
                     inputs: dict[str, str] | None = None) -> GrantsRead:
    """The facts of the file as given, applied to a content read: source file name, path, the financial
    year (see financial_year) and where it came from, the dates outside that year, and the path beside
    each input id its reject reasons cite (`inputs`: id -> path of the run's inputs; default this one).
    Never cached."""
    path = Path(path)
    info = dict(read.info)
    fy, fy_source = financial_year(path, info, years)
    awards = read.awards.assign(fy=pd.Series(fy, index=read.awards.index, dtype="string"),
                                source_file=pd.Series(path.name, index=read.awards.index, dtype="string"))
    awards["award_date_outside_fy"] = date_outside_year(awards["award_date"], fy).to_numpy()
    rejects = read.rejects.assign(
        source_file=pd.Series(path.name, index=read.rejects.index, dtype="string"),
        reason=name_inputs(read.rejects["reason"], inputs or {info["input_id"]: str(path)}))
    quality = {**info["data_quality"], "award_date_outside_fy": int(awards["award_date_outside_fy"].sum())}
    info.update(path=str(path), fy=fy, fy_source=fy_source, data_quality=quality)
    return GrantsRead(awards=awards, rejects=rejects, info=info)


def name_inputs(reasons: pd.Series, paths: dict[str, str]) -> pd.Series:
    """Reasons that cite an input by id ('also in input 1:3fa2... row 5') with its full path beside
    it. The cached reasons carry the id only (the path is not content); this adds the path every run."""
    out = reasons.astype("string")
    for iid, path in paths.items():
        out = out.str.replace(f"input {iid} row ", f"input {iid} ({path}) row ", regex=False)
    return out


def financial_year(path: Path, info: dict, years: Sequence[str]) -> tuple[str, str]:
    """(fy, source): the year stated by the file name or sheet name; else the year given (a single
    --year); else the modal year of the award dates. A stated year that is not one of `years` is an
    InputError (the wrong file was given), as is a register with no year anywhere and none given."""
    stated = [(fy, src) for fy, src in ((fy_from_text(path.name), "file name"),
                                        (info.get("fy_sheet"), "sheet name")) if fy]
    dates = info.get("fy_award_dates")
    where = f"The grants register {path}" + (f" (sheet '{info['sheet']}')" if info.get("sheet") else "")
    if stated:
        fy, src = stated[0]
        if years and fy not in years:
            raise InputError(
                f"{where} is for {fy} (from its {src}), but this run is for {', '.join(years)}. Pass "
                f"--year {fy}, or give the register of the year you want with --grants.")
        return fy, src
    if len(years) == 1:
        return years[0], "given"
    if dates and (not years or dates in years):
        return dates, "award dates"
    if dates:
        raise InputError(
            f"{where} states no financial year in its file or sheet name, and its award dates suggest "
            f"{dates}, which is not one of this run's years ({', '.join(years)}). Give it in a run of "
            "its own with --year.")
    raise InputError(
        f"{where} does not say which financial year it covers: no year in the file or sheet name and "
        "no readable award dates. Give it with --year, e.g. --year 2022-23.")


def date_outside_year(award_date: pd.Series, fy: str) -> pd.Series:
    """Award dates more than a year before the start or after the end of financial year `fy`: kept,
    flagged and warned about (a 2099 date in a 2016-17 register is a typo, not a forecast)."""
    start = pd.Timestamp(fy_start_year(fy), 4, 1)
    lo, hi = start - pd.DateOffset(years=1), start + pd.DateOffset(years=2) - pd.Timedelta(days=1)
    return ((award_date < lo) | (award_date > hi)).fillna(False).astype(bool)


def _read_grants(path: Path, known_ids: dict[str, str], position: int, remember: bool = True) -> GrantsRead:
    raw = _read_raw(path)
    sha = sha256_of(path)
    iid = input_id(position, sha)
    _refuse_repeated_headers(raw)
    df = _drop_whitespace_rows(raw)
    n = len(df)

    amount, amount_bad = parse_amounts(df["amount_gbp"])
    # Only the columns the checks need are typed for every row; the rest for accepted rows only.
    controls = {"cells": 0}
    key = {c: clean_text(df[c], controls) for c in ("award_id", "title", "recipient_name",
                                                   "department_raw", "currency") if c in df}

    # --- reasons, in order: the first that applies is recorded ---
    reason = pd.Series(pd.NA, index=df.index, dtype="string")
    # A footer ('Total' under the recipient column) has a name but neither identifier nor funder.
    no_funder = key["department_raw"].isna()
    not_award = no_funder & (key["recipient_name"].isna() | key["award_id"].isna())
    reason = reason.mask(not_award, _not_award_reasons(df, not_award))
    reason = reason.mask(reason.isna(), _total_row_reasons(key))
    amount_missing = amount.isna() & amount_bad.isna()
    reason = reason.mask(reason.isna() & amount_missing, "amount missing")
    reason = reason.mask(reason.isna() & amount_bad.notna(), amount_bad)
    infinite = np.isinf(amount.to_numpy())
    if infinite.any():  # the reason quotes the cell: made only when some amount is infinite
        reason = reason.mask(reason.isna() & infinite,
                             "amount is not a finite number: " + clean_text(df["amount_gbp"]).fillna(""))
    if "currency" in key:
        cur = key["currency"].str.upper()
        foreign = (cur.notna() & (cur != "GBP") & (cur != "£")).to_numpy(dtype=bool, na_value=False)
        if foreign.any():
            reason = reason.mask(reason.isna() & foreign, "currency is not GBP: " + key["currency"])
    reason = reason.mask(reason.isna(), _sum_row_reasons(amount, key["department_raw"], reason.isna()))
    reason = _reject_duplicate_ids(key["award_id"], reason, df["source_row"], iid, known_ids)

    ok = reason.isna()
    rejects = _build_rejects(df[~ok], reason[~ok], raw, iid)
    acc = df
    if not ok.all():
        keep = ok.to_numpy()
        acc = df[keep]
        key = {c: v[keep] for c, v in key.items()}
    del df  # from here on the accepted rows are the one copy of the table
    raw.frame = acc.iloc[0:0]
    # Each text column is cleaned and its raw cells let go at once: one copy of the table at a time.
    text = {}
    for c in [c for c in acc.columns if c in _KEPT_TEXT or c in key]:
        if c not in key:
            text[c] = clean_text(acc[c], controls)
        if c not in _NUMERIC_OR_DATE:
            del acc[c]
    text.update(key)
    award_date = parse_dates(acc["award_date"]) if "award_date" in acc else pd.Series(
        pd.NaT, index=acc.index, dtype="datetime64[ns]")
    # A date written but not a real one (31/02/2021) is kept as written, flagged, and counted.
    date_invalid = (clean_text(acc["award_date"]).where(award_date.isna()) if "award_date" in acc
                    else pd.Series(pd.NA, index=acc.index, dtype="string"))
    awards = _build_awards(acc, text, amount[ok], award_date, raw, iid)
    awards["award_date_invalid"] = date_invalid.to_numpy()
    awards["amount_over_ceiling"] = (awards["amount_gbp"].abs() > AMOUNT_CEILING_GBP).to_numpy()
    awards = schemas.conform_awards(awards.reset_index(drop=True))
    if remember:  # a later input's repeats of these ids are rejected, citing this row
        accepted_ids = awards["award_id"].dropna()
        where = f"input {iid} row " + awards.loc[accepted_ids.index, "source_row"].astype("string")
        # tolist() converts Arrow strings in C; iterating the Series makes each one in Python (1 s at 1M).
        known_ids.update(zip(accepted_ids.tolist(), where.tolist(), strict=True))

    amount_ok = amount.where(np.isfinite(amount), 0.0)
    over = awards["amount_over_ceiling"]
    info = {
        "input_id": iid,
        "sha256": sha,
        "bytes": path.stat().st_size,
        "sheet": raw.sheet,
        "header_row": raw.header_row,
        "amount_header": raw.original_headers["amount_gbp"],
        "rows_read": n,
        "rows_accepted": int(ok.sum()),
        "rows_rejected": int((~ok).sum()),
        "amount_in_gbp": float(amount_ok.sum()),
        "amount_accepted_gbp": float(amount_ok[ok].sum()),
        "amount_rejected_gbp": float(amount_ok[~ok].sum()),
        # What the content says about the year; financial_year() decides with the file as given.
        "fy_sheet": fy_from_text(raw.sheet) if raw.sheet else None,
        "fy_award_dates": _modal_year(award_date),
        "n_redacted": int(awards["is_redacted"].sum()),
        "n_aggregated": int(awards["is_aggregated"].sum()),
        "n_zero_value": int((awards["amount_gbp"] == 0).sum()),
        "blank_rows_skipped": raw.blank_rows_skipped,
        "rows_rejected_as_totals": int(reason.str.startswith(TOTAL_ROW).fillna(False).sum()),
        "data_quality": {
            "award_date_invalid": int(awards["award_date_invalid"].notna().sum()),
            "amount_over_ceiling": int(over.sum()),
            "amount_over_ceiling_gbp": float(awards.loc[over, "amount_gbp"].sum()),
            "amount_ceiling_gbp": AMOUNT_CEILING_GBP,
            "amount_not_finite": int(infinite.sum()),
            "amount_ambiguous_decimal": int(reason.str.startswith(AMBIGUOUS_DECIMAL).fillna(False).sum()),
            "text_cells_with_control_characters": controls["cells"],
        },
    }
    return GrantsRead(awards=awards, rejects=rejects, info=info)


def _modal_year(dates: pd.Series) -> str | None:
    """The financial year most award dates fall in (ties: the later year); None without dates."""
    counts = dates.dropna().value_counts()
    if not len(counts):
        return None
    # Modal year: award dates can precede the register's year (multi-year awards). Years are computed
    # per distinct date, then weighted by how often each date occurs.
    by_year = counts.groupby(fy_of_dates(pd.Series(counts.index)).to_numpy()).sum()
    return str(by_year.sort_index(ascending=False).idxmax())


def _refuse_repeated_headers(raw: RawTable) -> None:
    """Two columns that both mean one canonical column (two 'Amount Awarded'): which one holds the
    amounts cannot be guessed, so the file is refused, naming both."""
    for canonical, headers in raw.repeated_headers.items():
        if canonical in REQUIRED_COLUMNS or canonical in _KEPT_TEXT or canonical in _NUMERIC_OR_DATE:
            where = f"sheet '{raw.sheet}'" if raw.sheet else "the file"
            shown = (f"'{headers[0]}', {len(headers)} times" if len(set(headers)) == 1
                     else " and ".join(f"'{h}'" for h in headers))
            raise InputError(
                f"The grants register '{raw.path}' ({where}, header on row {raw.header_row}) has "
                f"{len(headers)} columns that all mean '{canonical}': {shown}. spendmap will not guess "
                "which one holds the figures: delete or rename the others and give the file again.")


def _read_raw(path: Path) -> RawTable:
    """The register's table: a 360Giving JSON package flattened to its flat titles
    (sources/threesixty.py), else the spreadsheet or CSV as found."""
    from spendmap.sources import threesixty

    if threesixty.is_json_package(path):
        return threesixty.read_json_package(path, aliases=GRANT_COLUMN_ALIASES, required=REQUIRED_COLUMNS,
                                            what="grants register")
    return read_table(path, aliases=GRANT_COLUMN_ALIASES, required=REQUIRED_COLUMNS,
                      preferred_sheets=AWARD_SHEETS, what="grants register", arrow_csv=True)


def _drop_whitespace_rows(raw: RawTable) -> pd.DataFrame:
    """Rows of whitespace-only cells that read_table's fast blank test let through are blank too."""
    df = raw.frame
    cells = df.drop(columns=["source_row"])
    # Only rows with no recipient and no funder can be such rows; the exact test runs on those alone.
    no_one = clean_text(df["recipient_name"]).isna() & clean_text(df["department_raw"]).isna()
    suspects = _object_cells(cells[no_one.to_numpy()])
    blank = [i for i, row in zip(suspects.index, suspects.itertuples(index=False), strict=True)
             if all(is_blank(c) for c in row)]
    if not blank:
        return df
    raw.blank_rows_skipped += len(blank)
    return df.drop(index=blank)


def _reject_duplicate_ids(ids: pd.Series, reason: pd.Series, source_row: pd.Series, iid: str,
                          known_ids: dict[str, str]) -> pd.Series:
    """'duplicate award id (also in input ID row N)' for an id accepted earlier in this or another
    input (apply_file_facts adds the input's path beside its id)."""
    candidate = ids.notna() & reason.isna()
    if known_ids:  # the run's first input has no earlier ids to look up (a million-row lookup saved)
        earlier = ids.where(candidate).map(known_ids).astype("string")
        reason = reason.mask(candidate & earlier.notna(), "duplicate award id (also in " + earlier + ")")
    candidate &= reason.isna()
    within = candidate & ids.where(candidate).duplicated(keep="first")
    if not within.any():  # the usual register: no id twice, no first rows to look up
        return reason
    first_row = source_row.where(candidate).groupby(ids.where(candidate)).transform("first")
    where = f"input {iid} row " + first_row.astype("Int64").astype("string")
    return reason.mask(within, "duplicate award id (also in " + where + ")")


# ----------------------------------------------------------------------------- totals and subtotals

TOTAL_ROW = "subtotal or total row"
# 'Total', 'Sub-total', 'Grand total', 'Total for DfT', 'DfT total', 'Totals:' - a word of its own at
# the start (followed by nothing, 'for'/'of' or punctuation) or at the end. 'Total Fitness Ltd' and
# 'Totally Active' are names, not totals.
_TOTAL_TEXT = (r"(?i)^\W*(?:grand\s+|sub[\s-]?)?totals?(?:\W*$|\s+(?:for|of|in|to)\b|\s*[:(\-–])"
               r"|\b(?:grand\s+|sub[\s-]?)?totals?\W*$")
# A funder that is every funder: 'All departments', 'All government departments', 'Total funders'.
_ALL_FUNDERS = (r"(?i)^\W*(?:all|total)\s+(?:(?:central\s+)?government\s+)?"
                r"(?:departments?|funders?|funding\s+org(?:anisation)?s?|organisations?|bodies)\W*$")
PENNY = 0.01  # "equal within a penny": |a - b| <= £0.01


def _total_row_reasons(key: dict[str, pd.Series]) -> pd.Series:
    """TOTAL_ROW for rows shaped as totals: a funder but neither identifier nor recipient; 'total' as a
    word of its own in the identifier, title or recipient; an 'all departments' funder."""
    funder = key["department_raw"]
    out = pd.Series(pd.NA, index=funder.index, dtype="string")
    shape = funder.notna() & key["award_id"].isna() & key["recipient_name"].isna()
    out = out.mask(shape, TOTAL_ROW + " (a funder, but no identifier and no recipient)")
    for col, what in (("award_id", "identifier"), ("title", "title"), ("recipient_name", "recipient")):
        if col in key:
            out = _said_total(out, _matches(key[col], _TOTAL_TEXT), key[col], what)
    return _said_total(out, _matches(funder, _ALL_FUNDERS), funder, "funder")


def _said_total(out: pd.Series, said: pd.Series, text: pd.Series, what: str) -> pd.Series:
    """TOTAL_ROW, quoting `text`, on the rows not yet rejected whose text says so (the message is made
    for those rows only: a million awards have none)."""
    hit = (out.isna() & said).to_numpy(dtype=bool)
    if not hit.any():
        return out
    out = out.copy()
    out[hit] = TOTAL_ROW + f" ({what} '" + text[hit].str.slice(0, 60) + "')"
    return out


def _sum_row_reasons(amount: pd.Series, funder: pd.Series, candidate: pd.Series) -> pd.Series:
    """TOTAL_ROW for a row whose amount equals, within a penny, the sum of the other rows of its funder
    or of the whole file (at least two other rows, and not zero): a subtotal written as a row.

    Passes repeat with the rows found taken out, so a grand total below funders' subtotals is found
    once the subtotals are gone (it equals the awards, not awards plus subtotals)."""
    out = pd.Series(pd.NA, index=amount.index, dtype="string")
    a = amount.where(candidate & np.isfinite(amount) & (amount != 0))
    funder = funder.fillna("")
    for _ in range(3):
        if a.count() < 3:
            break
        group = a.groupby(funder)
        by_funder = (((group.transform("sum") - a) - a).abs() <= PENNY) & (group.transform("count") >= 3)
        by_file = (((a.sum() - a) - a).abs() <= PENNY) & ~by_funder
        found = by_funder | by_file
        if not found.any():
            break
        out = out.mask(by_funder, TOTAL_ROW + " (its amount is the sum of its funder's other rows)")
        out = out.mask(by_file, TOTAL_ROW + " (its amount is the sum of the file's other rows)")
        a = a.mask(found)
    return out


# ----------------------------------------------------------------------------- value parsing

# Cell types are found with np.frompyfunc(type): one C call per cell, no Python-level loop.
_type_of = np.frompyfunc(type, 1, 1)
_NUMBER_KINDS = (float, int, np.float64, np.int64)
_DATE_KINDS = (date, datetime, pd.Timestamp)
_NONE = type(None)


def _kind_mask(kinds: np.ndarray, wanted: tuple[type, ...]) -> np.ndarray:
    mask = np.zeros(len(kinds), dtype=bool)
    for k in wanted:
        # A 1-element object array, so numpy compares type objects rather than treating a numpy
        # scalar type (np.float64) as something to broadcast.
        mask |= np.equal(kinds, np.array([k], dtype=object)).astype(bool)
    return mask


def _is_arrow_text(s: pd.Series) -> bool:
    """A column read_table's Arrow CSV reader made: text cells, nulls for blanks."""
    return isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"


def _matches(s: pd.Series, pattern: str) -> pd.Series:
    """Whether each cell of Arrow-backed text matches `pattern` (RE2, searched anywhere; False for
    missing). Run in Arrow: pandas runs patterns with \\b or \\W in Python, once per cell."""
    hit = pc.fill_null(pc.match_substring_regex(pa.array(s.array), pattern), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=s.index, dtype=bool)


def _object_cells(df: pd.DataFrame) -> pd.DataFrame:
    """A few rows as object cells with None for blanks, whichever reader made them."""
    if not any(_is_arrow_text(df[c]) for c in df.columns):
        return df
    return pd.DataFrame({c: df[c].to_numpy(dtype=object, na_value=None) for c in df.columns},
                        index=df.index, dtype=object)


def _values(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    # Cells from tabular.read_table: object dtype, blanks already None (or Arrow text, nulls for blanks).
    values = s.to_numpy(dtype=object, na_value=None) if _is_arrow_text(s) else s.to_numpy(dtype=object)
    return values, _type_of(values) if len(values) else np.empty(0, dtype=object)


AMBIGUOUS_DECIMAL = "ambiguous decimal separator"
# A UK register writes decimals with '.', thousands with ','. A comma before exactly one or two final
# digits ('25000,50', '1.234,50') is a decimal comma, and '.' between groups of three digits
# ('1.234.567', '25.000,00') a thousands dot: what was meant cannot be known, so such amounts are
# rejected, never guessed. Commas elsewhere must group thousands ('1,234,567'); '1,2345' is not a number.
_DECIMAL_COMMA = r",\d{1,2}$"
_THOUSANDS_DOT = r"^[-+]?\d{1,3}(?:\.\d{3}){2,}(?:,\d*)?$|^[-+]?\d{1,3}(?:\.\d{3})+,\d*$"
_GROUPED = r"^[-+]?\d{1,3}(?:,\d{3})*(?:\.\d*)?(?:[eE][-+]?\d+)?$"


_PLAIN_NUMBER = r"^-?\d+(?:\.\d+)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _plain_arrow(s: pd.Series, pattern: str, kind: pa.DataType) -> pa.ChunkedArray | None:
    """Arrow text whose every cell, trimmed, matches `pattern` (RE2), cast to `kind`; None when the
    column is not Arrow text, a cell does not match, or one does not cast (the general path then reads
    it cell by kind, with its reasons): a million CSV amounts or ISO dates in one Arrow pass."""
    if not _is_arrow_text(s) or not len(s):
        return None
    text = pc.utf8_trim_whitespace(s.array._pa_array)
    if not pc.all(pc.fill_null(pc.match_substring_regex(text, pattern), True)).as_py():
        return None
    try:
        return pc.cast(text, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # '2021-02-31': the general path says NaT
        return None


def parse_amounts(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts as float (NaN where missing or unparseable) and, where unparseable, the reason:
    'amount not a number: ...' or AMBIGUOUS_DECIMAL (see above).

    Accepts numbers and strings such as '£1,234.50', '1234', '(1,000)' (= -1000), '-£50', 'GBP 10'.
    """
    plain = _plain_arrow(s, _PLAIN_NUMBER, pa.float64())
    if plain is not None:  # every cell a plain decimal: Arrow parses them (correctly rounded, as float())
        values = plain.to_numpy(zero_copy_only=False)
        return (pd.Series(np.where(pd.isna(values), np.nan, values), index=s.index, dtype="float64"),
                pd.Series(pd.NA, index=s.index, dtype="string"))
    values, kinds = _values(s)
    is_num = _kind_mask(kinds, _NUMBER_KINDS)
    out = np.full(len(values), np.nan)
    if is_num.any():
        out[is_num] = values[is_num].astype("float64")
    is_text = ~_kind_mask(kinds, (_NONE,)) & ~is_num
    bad = pd.Series(pd.NA, index=s.index, dtype="string")
    if is_text.any():
        # Arrow-backed text: the patterns below run in Arrow (RE2), not once per cell in Python.
        t = pd.Series(values[is_text], dtype="string[pyarrow]").str.strip()
        negative = _matches(t, r"^\(.*\)$").to_numpy()
        cleaned = t.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.replace("£", "", regex=False)
        if _matches(cleaned, r"(?i)gbp|\s").any():  # rare: the regex is the slow part of this function
            cleaned = cleaned.str.replace(r"(?i)gbp|\s", "", regex=True)
        # '-£50' and '£-50' both end up as '-50' once '£' is gone.
        ambiguous = _matches(cleaned, _DECIMAL_COMMA) | _matches(cleaned, _THOUSANDS_DOT)
        grouped = ~_matches(cleaned, ",") | _matches(cleaned, _GROUPED)
        cleaned = cleaned.str.replace(",", "", regex=False)
        numeric = _matches(cleaned, r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$") & grouped & ~ambiguous
        value = pd.to_numeric(cleaned.where(numeric), errors="coerce").to_numpy(dtype="float64",
                                                                                   na_value=np.nan)
        value = np.where(negative, -np.abs(value), value)
        out[is_text] = value
        empty = (t == "").to_numpy(dtype=bool, na_value=True)  # whitespace only: missing, not bad
        wrong = np.isnan(value) & ~empty
        if wrong.any():  # the reasons are written for the unreadable cells only
            shown = "'" + t[wrong] + "'"
            why = ("amount not a number: " + shown).mask(ambiguous[wrong], AMBIGUOUS_DECIMAL + ": " + shown)
            where = np.flatnonzero(is_text)[wrong]
            bad.iloc[where] = why.to_numpy(dtype=object, na_value=None)
    return pd.Series(out, index=s.index, dtype="float64"), bad


_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Excel serials for 1950-01-01 .. 2099-12-31: other numbers are not dates an award could have.
_SERIAL_MIN, _SERIAL_MAX = 18264, 73050


def _from_serial(serial: pd.Series) -> pd.Series:
    serial = serial.where((serial >= _SERIAL_MIN) & (serial <= _SERIAL_MAX))
    return (_EXCEL_EPOCH + pd.to_timedelta(serial, unit="D")).astype("datetime64[ns]")


def _plausible(ts: pd.Series) -> np.ndarray:
    """Dates in 1950-2099 as datetime64[ns]; anything else (year 20 from '06/04/20' read as %Y, a
    typo'd 2106) is not an award date and becomes NaT (also avoids nanosecond overflow)."""
    ts = pd.Series(ts)
    ok = (ts.dt.year >= 1950) & (ts.dt.year <= 2099)
    return ts.where(ok).astype("datetime64[ns]").to_numpy()


def parse_dates(s: pd.Series) -> pd.Series:
    """Dates from date/datetime cells, Excel serial numbers, ISO strings or dd/mm/yyyy; NaT otherwise."""
    iso = _plain_arrow(s, _ISO_DATE, pa.timestamp("ns"))
    if iso is not None:  # every cell an ISO date (a CSV register): Arrow parses and checks them
        dates = pd.Series(iso.to_numpy(zero_copy_only=False), index=s.index, dtype="datetime64[ns]")
        return pd.Series(_plausible(dates), index=s.index).dt.normalize()
    values, kinds = _values(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    is_dt = _kind_mask(kinds, _DATE_KINDS)
    if is_dt.any():
        out[is_dt] = _plausible(pd.to_datetime(pd.Series(values[is_dt], dtype=object), errors="coerce"))
    is_num = _kind_mask(kinds, _NUMBER_KINDS)
    if is_num.any():
        out[is_num] = _from_serial(pd.Series(values[is_num].astype("float64"))).to_numpy()
    is_text = ~_kind_mask(kinds, (_NONE,)) & ~is_dt & ~is_num
    if is_text.any():
        t = pd.Series(values[is_text], dtype="string").str.strip()
        # ISO dates, with or without a time and zone: the calendar date as written (converting a
        # '+01:00' midnight to UTC would move it to the day before).
        iso = t.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", expand=False)
        parsed = pd.Series(_plausible(pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")),
                           index=t.index)
        for fmt in ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y"):
            todo = parsed.isna()
            if not todo.any():
                break
            parsed[todo] = _plausible(pd.to_datetime(t[todo], format=fmt, errors="coerce"))
        # A bare number typed as text in a CSV ('42826') is an Excel serial too.
        todo = parsed.isna() & t.str.fullmatch(r"\d{5}(\.\d+)?").fillna(False)
        if todo.any():
            parsed[todo] = _from_serial(pd.to_numeric(t[todo], errors="coerce"))
        out[is_text] = parsed.to_numpy()
    return out.dt.normalize()


def clean_text(s: pd.Series, controls: dict[str, int] | None = None) -> pd.Series:
    """Cells as trimmed strings (NA when blank); whole numbers lose their '.0' (ids, charity numbers
    stored as numbers), dates are written yyyy-mm-dd. Terminal escapes, bidirectional controls and
    control characters are removed (line breaks and tabs become spaces: spendmap.text); the cells
    changed are added to `controls["cells"]` when given."""
    # Arrow text (the Arrow CSV reader) is trimmed as it is; object cells are made text first.
    arr = s.array._pa_array if _is_arrow_text(s) else _text_array(s.to_numpy(dtype=object))
    if pc.any(pc.match_substring_regex(arr, f"{CONTROLS_RE2}|{LINE_CONTROLS}")).as_py():
        if controls is not None:  # a line break in a description is ordinary: only removals count
            controls["cells"] += pc.sum(pc.match_substring_regex(arr, CONTROLS_RE2)).as_py() or 0
        arr = pc.replace_substring_regex(arr, LINE_CONTROLS, " ")
        arr = pc.replace_substring_regex(arr, CONTROLS_RE2, "")
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=s.index)


def clean_text_columns(df: pd.DataFrame, columns: Sequence[str]) -> dict[str, pd.Series]:
    """clean_text for each of `columns`."""
    return {c: clean_text(df[c]) for c in columns}


def _text_array(values: np.ndarray) -> pa.Array:
    """An Arrow string array of object cells. Text goes straight to Arrow; numbers are formatted by
    Arrow (no Python string per number)."""
    # infer_dtype is a cheap Cython scan: columns of text only go straight to Arrow.
    if infer_dtype(values, skipna=True) in ("string", "empty"):
        return pa.array(values, type=pa.string(), from_pandas=True)
    kinds = _type_of(values)
    is_num = _kind_mask(kinds, _NUMBER_KINDS)
    is_dt = _kind_mask(kinds, _DATE_KINDS)
    other = ~_kind_mask(kinds, (str, _NONE)) & ~is_num & ~is_dt
    texts = np.where(is_num, None, values)
    if is_dt.any():
        texts[is_dt] = pd.to_datetime(pd.Series(values[is_dt], dtype=object)).dt.strftime(
            "%Y-%m-%d").to_numpy(dtype=object)
    if other.any():
        texts[other] = np.frompyfunc(str, 1, 1)(values[other])
    out = pa.array(texts, type=pa.string(), from_pandas=True)
    if is_num.any():
        f = np.zeros(len(values))
        f[is_num] = values[is_num].astype("float64")
        whole = is_num & (np.mod(f, 1) == 0) & (np.abs(f) < 1e15)
        frac = is_num & ~whole
        as_int = pc.cast(pa.array(f.astype("int64"), mask=~whole), pa.string())
        as_float = pc.cast(pa.array(f, mask=~frac), pa.string())
        out = pc.coalesce(out, as_int, as_float)
    return out


def _is_redacted(s: pd.Series) -> np.ndarray:
    """'Redacted' (any case, possibly followed by more words) in a cleaned text column."""
    hit = pc.starts_with(pa.array(s.array), "redacted", ignore_case=True)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def _not_award_reasons(df: pd.DataFrame, mask: pd.Series) -> pd.Series:
    """Reason text for rows with neither recipient nor funder: footnotes, notes, totals."""
    out = pd.Series(pd.NA, index=df.index, dtype="string")
    if not mask.any():
        return out
    cells = _object_cells(df.loc[mask].drop(columns=["source_row"]))
    # The first text cell ('Total', 'Source: ...') says what the row is better than a number does.
    text = cells.map(lambda c: c if isinstance(c, str) and c.strip() else None)
    first = text.bfill(axis=1).iloc[:, 0].fillna(cells.bfill(axis=1).iloc[:, 0])
    first = first.astype("string").str.slice(0, 80)
    out[mask] = ("not an award row (no funder, and no recipient or identifier; looks like a note, "
                 "footnote or total: '" + first.fillna("") + "')")
    return out


# ----------------------------------------------------------------------------- assembly

def _build_awards(df: pd.DataFrame, text: dict[str, pd.Series], amount: pd.Series,
                  award_date: pd.Series, raw: RawTable, iid: str) -> pd.DataFrame:
    cols: dict[str, pd.Series] = {c: v for c, v in text.items() if not _LOCATION_RE.match(c)
                                  and not c.endswith("_code_type")}
    redacted = np.zeros(len(df), dtype=bool)
    for c in _RECIPIENT_FIELDS:
        if c in cols:
            redacted |= _is_redacted(cols[c])
    if redacted.any():
        # Redacted recipients keep the name "Redacted" and lose every other identifying field, so
        # no later step can place them by a name or postcode that is not theirs.
        for c in _RECIPIENT_FIELDS:
            if c in cols:
                cols[c] = cols[c].mask(redacted)
        cols["recipient_name"] = cols["recipient_name"].mask(redacted, "Redacted")
    redacted = pd.Series(redacted, index=df.index)
    cols["amount_gbp"] = amount
    cols["award_date"] = award_date
    cols["fy"] = pd.Series(pd.NA, index=df.index, dtype="string")  # apply_file_facts sets it
    cols["is_redacted"] = redacted
    cols["is_council_recipient"] = pd.Series(pd.NA, index=df.index, dtype="boolean")
    if "number_of_recipients" in df:
        nrec = parse_amounts(df["number_of_recipients"])[0]
        nrec = nrec.where(nrec % 1 == 0).astype("Int64")  # a fraction is not a count: left unknown
    else:
        nrec = pd.Series(pd.NA, index=df.index, dtype="Int64")
    cols["number_of_recipients"] = nrec
    cols["is_aggregated"] = (nrec > 1).fillna(False).astype(bool)
    codes, types = _collect_locations(text, df.index)
    cols["location_codes"] = codes
    cols["location_code_types"] = types
    cols["source_file"] = pd.Series(pd.NA, index=df.index, dtype="string")  # as fy
    cols["input_id"] = pd.Series(iid, index=df.index, dtype="string")
    cols["source_sheet"] = pd.Series(raw.sheet, index=df.index, dtype="string")
    cols["source_row"] = df["source_row"].astype("Int64")
    return pd.DataFrame(cols, index=df.index)


def _collect_locations(text: dict[str, pd.Series], index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """All location codes of a row and their types, '; '-joined and aligned (type '' when unknown)."""
    parts = []
    order = 0
    for c in sorted(text, key=_location_sort_key):
        if not _LOCATION_RE.match(c):
            continue
        code = text[c]
        ctype = text.get(c + "_type", pd.Series(pd.NA, index=index, dtype="string"))
        has = code.notna()
        if not has.any():
            continue
        parts.append(pd.DataFrame({"row": index[has.to_numpy()], "order": order,
                                   "code": code[has], "type": ctype[has].fillna("")}))
        order += 1
    empty = pd.Series(pd.NA, index=index, dtype="string")
    if not parts:
        return empty, empty.copy()
    long = pd.concat(parts, ignore_index=True)
    # One cell may list several codes ('E08000036; E08000037'): each gets the cell's type.
    long["code"] = long["code"].str.split(r"\s*[;,]\s*", regex=True)
    long = long.explode("code")
    long["code"] = long["code"].str.strip().str.upper()
    long = long[long["code"].notna() & (long["code"] != "")]
    long = long.drop_duplicates(["row", "code", "type"]).sort_values(["row", "order"], kind="stable")
    grouped = long.groupby("row", sort=False)
    codes = grouped["code"].agg("; ".join)
    types = grouped["type"].agg("; ".join)
    return (codes.reindex(index).astype("string"), types.reindex(index).astype("string"))


def _location_sort_key(c: str) -> tuple[int, int, str]:
    m = _LOCATION_RE.match(c)
    if not m:
        return (9, 0, c)
    return (0 if m.group(1) == "recipient" else 1, int(m.group(2) or -1), c)


def _build_rejects(df: pd.DataFrame, reason: pd.Series, raw: RawTable, iid: str) -> pd.DataFrame:
    columns = schemas.REJECT_COLUMNS + schemas.REJECT_EXTRA_COLUMNS
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns}).astype({"source_row": "Int64"})
    originals = []
    headers = raw.original_headers
    for rec in _object_cells(df.drop(columns=["source_row"])).to_dict(orient="records"):
        originals.append(json.dumps({headers.get(k, k): v for k, v in rec.items() if v is not None},
                                    default=str, ensure_ascii=False))
    out = pd.DataFrame({
        "source_file": pd.Series(pd.NA, index=df.index, dtype="string"),  # apply_file_facts sets it
        "source_sheet": pd.Series(raw.sheet, index=df.index, dtype="string"),
        "source_row": df["source_row"].astype("Int64"),
        "reason": reason.astype("string"),
        "original_values": pd.Series(originals, index=df.index, dtype="string"),
        "input_id": pd.Series(iid, index=df.index, dtype="string"),
    })
    return out.reset_index(drop=True)


__all__ = ["GRANT_COLUMN_ALIASES", "REQUIRED_COLUMNS", "GrantsRead", "apply_file_facts", "input_id",
           "read_grants", "read_register", "parse_amounts",
           "parse_dates", "clean_text", "clean_text_columns", "normalise_header"]
