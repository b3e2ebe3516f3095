"""Placing awards in councils: a resolution ladder recorded per award in `geo_method`.

1. `council_match`: the recipient *is* a council (360Giving org-id GB-LAE-/GB-LAS-/GB-LAW-/GB-PLA-, or a
   name variant). Checked first: the recipient's own identity is more specific than any location code,
   so an award to East Sussex County Council belongs to the county even when a location code names the
   district its offices are in.
2. `geo_code`: a district, unitary or county ONS code in the Recipient/Beneficiary location fields.
3. `postcode`: the recipient postcode through an ONS postcode lookup (NSPL/ONSPD layout), when given.
4. `unresolved`: kept, counted and shown; never dropped.
Former codes are brought to the current council (Aylesbury Vale -> Buckinghamshire).
"""

from __future__ import annotations

import re

import pandas as pd

from spendmap.transforms.council_names import CouncilIndex

# ONS code types and code prefixes that denote a district, unitary, borough, county or council area.
COUNCIL_CODE_TYPES = {"LAD", "UA", "NMD", "MD", "LONB", "CTY", "LGD", "CA", "UTLA", "LTLA"}
COUNCIL_CODE_RE = re.compile(r"^(?:E06|E07|E08|E09|E10|W06|S12|N09)\d{6}$")


def first_council_code(codes: pd.Series, code_types: pd.Series) -> pd.Series:
    """The first council-level ONS code in each "; "-joined list (by declared type or by pattern)."""
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


def place_awards(
    awards: pd.DataFrame,
    councils: pd.DataFrame,
    gss_to_current: dict[str, str],
    index: CouncilIndex,
    postcode_district: pd.Series | None = None,
) -> pd.DataFrame:
    """Fill la_code, la_name, region_code, county_code, geo_method and is_council_recipient.

    postcode_district is, per award (same index), the district GSS code of the recipient postcode from
    an ONS postcode lookup (`sources.postcodes.lookup_postcodes`); without it the postcode rung places
    nothing.
    """
    out = awards.copy()
    redacted = out["is_redacted"].fillna(False).astype(bool)

    council = index.match_recipients(out["recipient_name"], out["recipient_id"]).where(~redacted)
    council = council.map(lambda c: gss_to_current.get(c, c) if pd.notna(c) else pd.NA).astype("string")

    raw_code = first_council_code(out["location_codes"], out["location_code_types"])
    by_code = raw_code.map(gss_to_current).astype("string")

    by_postcode = pd.Series(pd.NA, index=out.index, dtype="string")
    if postcode_district is not None:
        district = postcode_district.reindex(out.index).astype("string")
        by_postcode = district.map(gss_to_current).astype("string").where(~redacted)

    method = pd.Series("unresolved", index=out.index, dtype="string")
    method = method.mask(by_postcode.notna(), "postcode")
    method = method.mask(by_code.notna(), "geo_code")
    method = method.mask(council.notna(), "council_match")
    la_code = council.fillna(by_code).fillna(by_postcode)

    info = councils.set_index("la_code")
    out["la_code"] = la_code
    out["la_name"] = la_code.map(info["la_name"]).astype("string")
    out["region_code"] = la_code.map(info["region_code"]).astype("string")
    out["county_code"] = la_code.map(info["county_code"]).astype("string")
    out["geo_method"] = method
    out["is_council_recipient"] = council.notna()
    return out


def geo_method_counts(awards: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Awards and £ by geo_method, every method present (zeros included), for the manifest."""
    grouped = awards.groupby("geo_method", dropna=False)["amount_gbp"].agg(["size", "sum"])
    return {
        m: {
            "awards": int(grouped["size"].get(m, 0)),
            "amount_gbp": round(float(grouped["sum"].get(m, 0.0)), 2),
        }
        for m in ("council_match", "geo_code", "postcode", "unresolved")
    }
