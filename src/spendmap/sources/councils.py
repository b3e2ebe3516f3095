"""The bundled council reference: mySociety's current UK local authorities, names and former codes.

Produces one canonical `councils` table (one row per current council) and the lookups that bring old
codes and name variants to it. Combined authorities (COMB) and the Greater London Authority (SRA) are
not councils in spendmap's sense: they are recipients placed by address, never places.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from spendmap.paths import (
    MYSOCIETY_COUNCILS,
    MYSOCIETY_GSS,
    MYSOCIETY_NAMES,
    SPLIT_COUNCILS,
    reference_path,
)

REGION_CODES: dict[str, str] = {
    "North East": "E12000001",
    "North West": "E12000002",
    "Yorkshire and The Humber": "E12000003",
    "East Midlands": "E12000004",
    "West Midlands": "E12000005",
    "East of England": "E12000006",
    "London": "E12000007",
    "South East": "E12000008",
    "South West": "E12000009",
    "Scotland": "S92000003",
    "Wales": "W92000004",
    "Northern Ireland": "N92000002",
}
REGION_NAMES: dict[str, str] = {code: name for name, code in REGION_CODES.items()}
ENGLAND_CODE = "E92000001"

# mySociety authority types that are places (councils) in spendmap.
COUNCIL_TYPES = {"NMD", "UA", "MD", "LBO", "CC", "CTY", "SCO", "WPA", "NID"}
TIER_OF_TYPE = {
    "NMD": "district", "CTY": "county", "UA": "unitary", "MD": "unitary", "LBO": "unitary",
    "CC": "unitary", "SCO": "unitary", "WPA": "unitary", "NID": "unitary",
}

# The 13 Partnerships for People and Place pilots (docs/methodology). East Sussex is the county;
# the pilot worked in Hastings, so both are in the preset.
PFPP_CODES = [
    "E08000025", "E08000032", "E06000052", "E06000047", "E10000011", "E07000062", "E09000012",
    "E08000012", "E06000032", "E08000021", "E06000057", "E09000028", "E08000024", "E08000036",
]

COUNCIL_COLUMNS = [
    "la_code", "la_name", "official_name", "register_code", "la_type", "la_type_name", "tier",
    "nation", "region_name", "region_code", "county_code", "county_name", "combined_authority",
    "population_2020", "former_gss_codes",
]


# GSS codes changed since the bundled mySociety snapshot, old -> current, with the ONS change:
# boundary changes between Barnsley and Sheffield recoded both in April 2024. The ONS postcode
# directory (built in) uses the current codes, so the council table does too.
RECODED_GSS: dict[str, str] = {"E08000016": "E08000038", "E08000019": "E08000039"}


@lru_cache(maxsize=1)
def _authorities() -> pd.DataFrame:
    """mySociety's authorities, with RECODED_GSS applied (the old code kept among the former codes)."""
    la = pd.read_csv(reference_path(*MYSOCIETY_COUNCILS), dtype=str, keep_default_na=False)
    old = la["gss-code"].isin(list(RECODED_GSS))
    former = la.loc[old, "former-gss-codes"]
    la.loc[old, "former-gss-codes"] = former.where(former == "", former + ",") + la.loc[old, "gss-code"]
    la.loc[old, "gss-code"] = la.loc[old, "gss-code"].map(RECODED_GSS)
    return la


@lru_cache(maxsize=1)
def load_councils() -> pd.DataFrame:
    """One row per current UK council, with region, county and the mySociety 2020 population."""
    la = _authorities()
    current = la[(la["current-authority"] == "True") & la["local-authority-type"].isin(COUNCIL_TYPES)]
    by_register = la.set_index("local-authority-code")
    county_code = current["county-la"].map(lambda c: by_register["gss-code"].get(c, "") if c else "")
    county_name = current["county-la"].map(lambda c: by_register["nice-name"].get(c, "") if c else "")
    out = pd.DataFrame(
        {
            "la_code": current["gss-code"],
            "la_name": current["nice-name"],
            "official_name": current["official-name"],
            "register_code": current["local-authority-code"],
            "la_type": current["local-authority-type"],
            "la_type_name": current["local-authority-type-name"],
            "tier": current["local-authority-type"].map(TIER_OF_TYPE),
            "nation": current["nation"],
            "region_name": current["region"],
            "region_code": current["region"].map(REGION_CODES),
            "county_code": county_code,
            "county_name": county_name,
            "combined_authority": current["combined-authority"],
            "population_2020": pd.to_numeric(current["pop-2020"], errors="coerce"),
            "former_gss_codes": current["former-gss-codes"],
        }
    )
    out = out.replace({"": pd.NA}).sort_values("la_code").reset_index(drop=True)
    for col in out.columns:
        if col != "population_2020":
            out[col] = out[col].astype("string")
    return out[COUNCIL_COLUMNS]


@lru_cache(maxsize=1)
def register_to_current_gss() -> dict[str, str]:
    """Register code (current or abolished authority) -> GSS code of the current council it became.

    Abolished districts follow `replaced-by` (Aylesbury Vale -> Buckinghamshire). An abolished county
    that split into several unitaries (Cumbria, Northamptonshire) has no single successor and is left out.
    """
    la = _authorities()
    replaced_by = dict(zip(la["local-authority-code"], la["replaced-by"], strict=True))
    gss_of = dict(zip(la["local-authority-code"], la["gss-code"], strict=True))
    current = set(load_councils()["register_code"])
    result: dict[str, str] = {}
    for reg in la["local-authority-code"]:
        seen, code = set(), reg
        while code not in current and code not in seen:
            seen.add(code)
            successors = [s for s in replaced_by.get(code, "").split(",") if s]
            if len(successors) != 1:
                break
            code = successors[0]
        if code in current:
            result[reg] = gss_of[code]
    return result


@lru_cache(maxsize=1)
def split_councils() -> pd.DataFrame:
    """Abolished councils split between several successors (Cumbria, Northamptonshire).

    One row each: register_code, gss_code (the abolished council's), name, successors (current GSS
    codes from mySociety's `replaced-by`, comma-joined) and successor_by_address: the successor holding
    the council's last headquarters (reference/council_successors/split_councils.csv), which takes an
    award that carries no postcode of its own (docs/assumptions.md).
    """
    table = pd.read_csv(reference_path(*SPLIT_COUNCILS), dtype=str, keep_default_na=False)
    la = _authorities().set_index("local-authority-code")
    reg_to_gss = register_to_current_gss()
    table["successors"] = [
        ",".join(sorted(reg_to_gss[s] for s in la.at[reg, "replaced-by"].split(",") if s in reg_to_gss))
        for reg in table["register_code"]
    ]
    return table


@lru_cache(maxsize=1)
def gss_to_current_gss() -> dict[str, str]:
    """Any known GSS code (current, former, or of an abolished authority) -> current council GSS."""
    reg_to_gss = register_to_current_gss()
    lookup = pd.read_csv(reference_path(*MYSOCIETY_GSS), dtype=str, keep_default_na=False)
    # Plain column lists, not iterrows: this runs in every process that places or allocates.
    result = {
        gss: reg_to_gss[reg]
        for gss, reg in zip(lookup["gss-code"], lookup["local-authority-code"], strict=True)
        if reg in reg_to_gss and gss
    }
    la = _authorities()
    columns = (la["local-authority-code"], la["gss-code"], la["former-gss-codes"])
    for reg, gss, former in zip(*columns, strict=True):
        target = reg_to_gss.get(reg)
        if not target:
            continue
        result.setdefault(gss, target)
        for old in filter(None, former.split(",")):
            result.setdefault(old.strip(), target)
    return result


@lru_cache(maxsize=1)
def council_name_variants() -> pd.DataFrame:
    """Every known name variant of a council (mySociety lookup + official, nice and alt names)."""
    reg_to_gss = register_to_current_gss()
    names = pd.read_csv(reference_path(*MYSOCIETY_NAMES), dtype=str, keep_default_na=False)
    la = _authorities()
    extra = []
    for reg, official, nice, alt in zip(la["local-authority-code"], la["official-name"], la["nice-name"],
                                        la["alt-names"], strict=True):
        for name in [official, nice, *alt.split(",")]:
            if name.strip():
                extra.append({"la-name": name.strip(), "local-authority-code": reg})
    allnames = pd.concat([names, pd.DataFrame(extra)], ignore_index=True)
    # A split council's names lead to its own (former) code, resolved per award by the split rule.
    split = split_councils().set_index("register_code")["gss_code"].to_dict()
    allnames["la_code"] = allnames["local-authority-code"].map({**split, **reg_to_gss})
    allnames = allnames.dropna(subset=["la_code"])
    return (
        allnames.rename(columns={"la-name": "name"})[["name", "la_code"]]
        .drop_duplicates()
        .reset_index(drop=True)
    )


# 360Giving org-id prefix of a council register code, by nation (org-id.guide).
COUNCIL_ORG_ID_PREFIX = {
    "England": "GB-LAE", "Scotland": "GB-LAS", "Wales": "GB-PLA", "Northern Ireland": "GB-LAN",
}


@lru_cache(maxsize=1)
def council_org_ids() -> pd.DataFrame:
    """Every known name of every council, current or abolished, with that council's OWN org-id
    (Harrogate Borough Council: GB-LAE-HAG, not its successor North Yorkshire's), so a predecessor
    council stays an organisation of its own (transforms.recipient_identity).

    Columns: name, org_id, la_code (the current council's GSS code where the council is current).
    """
    la = _authorities()
    prefix = la["nation"].map(COUNCIL_ORG_ID_PREFIX).fillna("GB-LAE")
    own = dict(zip(la["local-authority-code"], prefix + "-" + la["local-authority-code"], strict=True))
    names = pd.read_csv(reference_path(*MYSOCIETY_NAMES), dtype=str, keep_default_na=False)
    rows = [names.rename(columns={"la-name": "name", "local-authority-code": "code"})[["name", "code"]]]
    for col in ("official-name", "nice-name"):
        rows.append(la[[col, "local-authority-code"]].set_axis(["name", "code"], axis=1))
    alt = la[["alt-names", "local-authority-code"]].set_axis(["name", "code"], axis=1)
    rows.append(alt.assign(name=alt["name"].str.split(",")).explode("name"))
    out = pd.concat(rows, ignore_index=True)
    out["name"] = out["name"].str.strip()
    out = out[(out["name"] != "") & out["code"].isin(own)]
    current = load_councils().set_index("register_code")["la_code"]
    out = out.assign(org_id=out["code"].map(own), la_code=out["code"].map(current))
    return out[["name", "org_id", "la_code"]].drop_duplicates().reset_index(drop=True).astype("string")


@lru_cache(maxsize=1)
def authority_names() -> pd.DataFrame:
    """Every authority the bundled register knows, current or abolished, with each of its name variants.

    Columns: register_code, official_name, end_date ('' while current), la_code (the current council it
    is or became; NA for one that split), name (one variant per row). Pages use it to keep a predecessor
    council's awards under its own name and to find a council by a former name.
    """
    la = _authorities()
    reg_to_gss = register_to_current_gss()
    lookup = pd.read_csv(reference_path(*MYSOCIETY_NAMES), dtype=str, keep_default_na=False)
    rows = [
        {"register_code": r, "name": n.strip()}
        for r, official, nice, alt in zip(
            la["local-authority-code"], la["official-name"], la["nice-name"], la["alt-names"], strict=True
        )
        for n in [official, nice, *alt.split(",")]
        if n.strip()
    ]
    names = pd.concat(
        [pd.DataFrame(rows),
         lookup.rename(columns={"la-name": "name", "local-authority-code": "register_code"})],
        ignore_index=True,
    )
    info = la.set_index("local-authority-code")
    names = names[names["register_code"].isin(info.index)].drop_duplicates()
    names["official_name"] = names["register_code"].map(info["official-name"])
    names["end_date"] = names["register_code"].map(info["end-date"])
    names["la_code"] = names["register_code"].map(reg_to_gss).astype("string")
    return names[["register_code", "official_name", "end_date", "la_code", "name"]].reset_index(drop=True)
