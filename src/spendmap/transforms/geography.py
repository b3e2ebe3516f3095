"""Placing awards in councils: a resolution ladder recorded per award in `geo_method`.

1. `council_match`: the recipient *is* a council: a 360Giving org-id (GB-LAE-/GB-LAS-/GB-LAW-/GB-PLA-), a
   name variant, or a misspelt/padded council name matched fuzzily (`geo_detail` `fuzzy_name`, kept only
   when the award's postcode, if any, lies in that council or its county). Checked first: the
   recipient's own identity is more specific than any location code, so an award to East Sussex County
   Council belongs to the county even when a location code names the district its offices are in.
   Abolished councils pass to their successor; a council split between several successors (Cumbria,
   Northamptonshire) passes to the successor holding the recipient's address: the award's postcode
   when it lies in one of them, else the abolished council's last headquarters (`split_successor`).
2. `geo_code`: a district, unitary or county ONS code in the Recipient/Beneficiary location fields.
3. `postcode`: the recipient postcode found in the ONS postcode directory (after hygiene, see
   `transforms.postcodes`; an O/I typo corrected is `geo_detail` `corrected`).
4. `postcode_sector`: a postcode not in the directory, placed by its sector when >= 90% of the sector's
   postcodes lie in one council.
5. `recipient_postcode`: an award with no postcode takes the one postcode of the same recipient's other
   awards in the run (same org id, or same normalised name); never when they carry different postcodes.
6. `unresolved`: kept, counted, listed in unplaced.csv with `unplaced_reason`; never dropped.
Former codes are brought to the current council (Aylesbury Vale -> Buckinghamshire, Barnsley's
E08000016 -> E08000038). Each rung is computed for every award at once (pandas joins and maps once per
distinct name, code or postcode, no loop over awards); the first rung that places an award wins, and the
council's name, region and county join on, in queries/placement_ladder.sql.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from spendmap.queries import run
from spendmap.schemas import COUNTY_AREA_COLUMNS, GEO_METHODS, UNPLACED_COLUMNS
from spendmap.text import on_distinct_rows
from spendmap.transforms.council_names import CouncilIndex
from spendmap.transforms.names import normalise_org_name
from spendmap.transforms.postcodes import PLACED_STATUSES

# ONS code types and code prefixes that denote a district, unitary, borough, county or council area.
COUNCIL_CODE_TYPES = {"LAD", "UA", "NMD", "MD", "LONB", "CTY", "LGD", "CA", "UTLA", "LTLA"}
COUNCIL_CODE_RE = re.compile(r"^(?:E06|E07|E08|E09|E10|W06|S12|N09)\d{6}$")

# Why an award stays unplaced (unplaced_reason), in the words unplaced.csv and the pages use.
UNPLACED_REASONS: dict[str, str] = {
    "redacted": "recipient redacted in the register",
    "no_postcode": "no postcode, no council name or ONS code",
    "placeholder_postcode": "placeholder postcode (e.g. AA1 1AA, ZZ99 …, N/A): treated as no postcode",
    "conflicting_recipient_postcodes": "no postcode; the recipient's other awards carry different postcodes",
    "invalid_postcode": "postcode field does not hold a UK postcode",
    "incomplete_postcode": "postcode cut off, and its sector is split between councils",
    "postcode_not_found": "postcode not in the ONS directory, and its sector is split between councils",
    "outside_uk_councils": "postcode outside UK councils (Channel Islands or Isle of Man)",
    "postcode_without_council": "postcode in the directory without a council (pseudo code)",
    "postcode_council_unknown": "the directory's council code is not a known council",
    "no_postcode_lookup": "no postcode directory was used",
    # issue 18 (set by transforms.location_codes.mark_wide_locations after placement)
    "region_or_country_code": "location is a region or country code, wider than any council: not shared out",
}
_STATUS_REASON = {
    "blank": "no_postcode", "placeholder": "placeholder_postcode", "invalid": "invalid_postcode",
    "incomplete": "incomplete_postcode", "not_found": "postcode_not_found",
    "no_council": "postcode_without_council",
}


def first_council_code(codes: pd.Series, code_types: pd.Series) -> pd.Series:
    """The first council-level ONS code in each "; "-joined list (by declared type or by pattern)."""
    frame = pd.DataFrame({"codes": codes, "types": code_types})
    found = on_distinct_rows(
        frame, lambda f: pd.DataFrame({"code": _first_council_code(f["codes"], f["types"])})
    )
    return found["code"].rename(codes.name)


def _first_council_code(codes: pd.Series, code_types: pd.Series) -> pd.Series:
    frame = pd.DataFrame(
        {
            "code": codes.fillna("").astype("string").str.split(";"),
            "ctype": code_types.fillna("").astype("string").str.split(";"),
        },
        index=codes.index,
    )
    # Pair each code with its declared type (types may be missing or shorter than codes).
    frame["ctype"] = [
        (t if isinstance(t, list) else []) + [""] * max(0, len(c) - len(t if isinstance(t, list) else []))
        for c, t in zip(frame["code"], frame["ctype"], strict=True)
    ]
    long = frame.explode(["code", "ctype"])
    long["code"] = long["code"].astype("string").str.strip().str.upper()
    long["ctype"] = long["ctype"].astype("string").str.strip().str.upper()
    council_level = long["ctype"].isin(COUNCIL_CODE_TYPES) | long["code"].str.match(COUNCIL_CODE_RE).fillna(
        False
    )
    hits = long[council_level & (long["code"].str.len() > 0)]
    first = hits[~hits.index.duplicated(keep="first")]["code"]
    return first.reindex(codes.index).astype("string")


def _to_current(codes: pd.Series, gss_to_current: dict[str, str]) -> pd.Series:
    return codes.map(gss_to_current).astype("string")


def _split_successor(council: pd.Series, by_postcode: pd.Series, index: CouncilIndex) -> pd.Series:
    """For awards to a split council: the successor holding the award's postcode, else the successor
    holding the council's last headquarters."""
    rows = council.notna()
    pairs = pd.DataFrame({"council": council[rows], "postcode": by_postcode[rows]})
    predecessor = {succ: old for old, (successors, _) in index.split.items() for succ in successors}
    default = pairs["council"].map({k: v[1] for k, v in index.split.items()}).astype("string")
    in_successor = (pairs["postcode"].map(predecessor) == pairs["council"]).fillna(False).astype(bool)
    chosen = pairs["postcode"].where(in_successor).fillna(default)
    return chosen.reindex(council.index).astype("string")


def _recipient_postcode(
    awards: pd.DataFrame, postcodes: pd.DataFrame, by_postcode: pd.Series, wanted: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """(council, conflict) for `wanted` awards from the same recipient's postcode-placed awards.

    A recipient is its org id, or its normalised name; its postcode is the cleaned postcode (or the
    sector, for sector-placed awards). Inferred only when every source agrees on one postcode.
    """
    ident = postcodes["postcode_key"].fillna("sector:" + postcodes["sector_key"])
    source = by_postcode.notna() & ident.notna()
    relevant = source | wanted  # only these awards' recipients matter
    rid = awards["recipient_id"].astype("string").str.strip().str.upper().where(relevant)
    keys = {
        "id": rid.where(rid != ""),
        "name": normalise_org_name(awards["recipient_name"].where(relevant)),
    }
    found = []
    for key in keys.values():  # two group-bys, one per kind of recipient key
        src = pd.DataFrame({"key": key[source], "ident": ident[source], "la": by_postcode[source]}).dropna()
        per = src.groupby("key").agg(n=("ident", "nunique"), la=("la", "first"))
        wanted_key = key[wanted]
        n = wanted_key.map(per["n"])
        found.append((n, wanted_key.map(per["la"]).where(n == 1).astype("string")))
    (n_id, by_id), (n_name, by_name) = found
    conflict = (n_id > 1).fillna(False) | (n_name > 1).fillna(False)
    conflict |= (by_id.notna() & by_name.notna() & (by_id != by_name)).fillna(False)
    council = by_id.fillna(by_name).where(~conflict)
    return (
        council.reindex(awards.index).astype("string"),
        conflict.reindex(awards.index, fill_value=False).astype(bool),
    )


def place_awards(
    awards: pd.DataFrame,
    councils: pd.DataFrame,
    gss_to_current: dict[str, str],
    index: CouncilIndex,
    postcodes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fill la_code, la_name, region_code, county_code, geo_method, geo_detail, postcode_status,
    unplaced_reason and is_council_recipient.

    `postcodes` is `transforms.postcodes.lookup_postcodes(awards["recipient_postcode"], directory)`
    (same index); None means no postcode directory, so the postcode rungs place nothing.
    """
    out = awards.copy()
    redacted = out["is_redacted"].fillna(False).astype(bool)
    if postcodes is None:
        status = pd.Series(pd.NA, index=out.index, dtype="string")
        by_pc_any = pd.Series(pd.NA, index=out.index, dtype="string")
    else:
        postcodes = postcodes.reindex(out.index)
        status = postcodes["postcode_status"].astype("string")
        placed_pc = status.isin(PLACED_STATUSES) & ~redacted
        by_pc_any = _to_current(postcodes["laua"].where(placed_pc), gss_to_current)
    county_of = councils.set_index("la_code")["county_code"]

    # 1. The recipient is a council: exact, then fuzzy names confirmed by the postcode.
    names = on_distinct_rows(
        out[["recipient_name", "recipient_id"]],
        lambda f: index.match_names(f["recipient_name"], f["recipient_id"]),
    )
    by_org = names["org"].where(~redacted)
    exact = names["exact"].where(~redacted)
    fuzzy = names["fuzzy"].where(~redacted & exact.isna())
    confirmed = by_pc_any.isna() | (by_pc_any == fuzzy) | (by_pc_any.map(county_of) == fuzzy)
    fuzzy = fuzzy.where(confirmed.fillna(False))
    council = exact.fillna(fuzzy).astype("string")
    is_split = council.isin(list(index.split))
    council = council.where(~is_split, _split_successor(council.where(is_split), by_pc_any, index))
    council = council.map(lambda c: gss_to_current.get(c, c), na_action="ignore").astype("string")
    detail = pd.Series(pd.NA, index=out.index, dtype="string")
    detail = detail.mask(council.notna(), "name").mask(by_org.notna(), "org_id")
    detail = detail.mask(fuzzy.notna(), "fuzzy_name").mask(is_split, "split_successor")

    # 2-4. Location codes, then the postcode and its sector.
    location = first_council_code(out["location_codes"], out["location_code_types"])
    by_code = _to_current(location, gss_to_current)
    by_postcode = by_pc_any.where(status.isin(["matched", "corrected"]))
    by_sector = by_pc_any.where(status == "sector")

    # 5. The recipient's postcode from its other awards, for awards without one of their own.
    placed_so_far = council.notna() | by_code.notna() | by_pc_any.notna()
    wanted = status.isin(["blank", "placeholder"]).fillna(False) & ~redacted & ~placed_so_far
    by_recipient, conflict = (
        _recipient_postcode(out, postcodes, by_pc_any, wanted)
        if postcodes is not None
        else (pd.Series(pd.NA, index=out.index, dtype="string"), pd.Series(False, index=out.index))
    )

    rungs = pd.DataFrame(
        {"position": np.arange(len(out)), "council_match": council, "geo_code": by_code,
         "postcode": by_postcode, "postcode_sector": by_sector, "recipient_postcode": by_recipient}
    ).reset_index(drop=True)
    info = councils[["la_code", "la_name", "region_code", "county_code"]].astype("string")
    placed = run("placement_ladder", {"rungs": rungs, "councils": info}).astype("string")
    placed.index = out.index
    method = placed["geo_method"]
    detail = detail.where(method == "council_match")
    detail = detail.mask((method == "postcode") & (status == "corrected"), "corrected")
    for col in ("la_code", "la_name", "region_code", "county_code"):
        out[col] = placed[col]
    out["geo_method"] = method
    out["geo_detail"] = detail
    out["postcode_status"] = status
    out["is_council_recipient"] = (method == "council_match").to_numpy()
    out["unplaced_reason"] = _unplaced_reasons(method, status, redacted, conflict, postcodes, by_pc_any)
    return out


def _unplaced_reasons(
    method: pd.Series,
    status: pd.Series,
    redacted: pd.Series,
    conflict: pd.Series,
    postcodes: pd.DataFrame | None,
    by_pc_any: pd.Series,
) -> pd.Series:
    """unplaced_reason (a UNPLACED_REASONS key) for unresolved awards; <NA> for placed ones."""
    reason = status.map(_STATUS_REASON).astype("string")
    if postcodes is None:
        reason = pd.Series("no_postcode_lookup", index=method.index, dtype="string")
    else:
        outside = postcodes["outside"].notna()
        reason = reason.mask(outside, "outside_uk_councils")
        reason = reason.mask(status.isin(PLACED_STATUSES) & by_pc_any.isna(), "postcode_council_unknown")
        reason = reason.mask(conflict, "conflicting_recipient_postcodes")
    reason = reason.mask(redacted, "redacted").fillna("postcode_council_unknown")
    return reason.where(method == "unresolved").astype("string")


def geo_method_counts(awards: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Awards and £ by geo_method, every method present (zeros included), for the manifest."""
    grouped = awards.groupby("geo_method", dropna=False)["amount_gbp"].agg(["size", "sum"])
    return {
        m: {
            "awards": int(grouped["size"].get(m, 0)),
            "amount_gbp": round(float(grouped["sum"].get(m, 0.0)), 2),
        }
        for m in GEO_METHODS
    }


def unplaced_table(awards: pd.DataFrame) -> pd.DataFrame:
    """Every unresolved award with its reason, in words (UNPLACED_COLUMNS)."""
    rows = awards[awards["geo_method"] == "unresolved"]
    out = rows.assign(reason=rows["unplaced_reason"].map(UNPLACED_REASONS).astype("string"))
    return out[UNPLACED_COLUMNS].reset_index(drop=True)


def county_areas(awards: pd.DataFrame, councils: pd.DataFrame, fys: list[str]) -> pd.DataFrame:
    """Two-tier areas: per county and year, awards to the county council itself beside awards to
    recipients anywhere in its districts (COUNTY_AREA_COLUMNS): queries/county_areas.sql. Each award is
    still placed in one council only; this table just adds the districts up, so national totals count
    it once. Recipients are counted by normalised name."""
    from spendmap.queries import run

    counties = councils.loc[councils["tier"] == "county", ["la_code", "la_name"]].astype("string")
    grid = counties.merge(pd.DataFrame({"fy": list(fys)}, dtype="string"), how="cross")
    frame = pd.DataFrame(
        {"la_code": awards["la_code"], "county_code": awards["county_code"], "fy": awards["fy"],
         "amount_gbp": pd.to_numeric(awards["amount_gbp"], errors="coerce").astype("float64"),
         "recipient": normalise_org_name(awards["recipient_name"])}
    )
    out = run("county_areas", {"awards": frame, "grid": grid})
    text = {c: "string" for c in COUNTY_AREA_COLUMNS[:3]}
    counts = {c: "int64" for c in COUNTY_AREA_COLUMNS if c.startswith("n_")}
    return out[COUNTY_AREA_COLUMNS].astype({**text, **counts}).reset_index(drop=True)
