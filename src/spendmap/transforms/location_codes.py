"""360Giving location codes finer or wider than a council.

Placement (transforms.geography) uses the first council-level code among an award's location codes
(Recipient Org:Location first, then Beneficiary Location, in the order published), before the
recipient's postcode. Here, before placement, each LSOA or ward code gets its council's code inserted
right after it (so it places the award by the council it lies in); afterwards, an award left unplaced
whose only location codes are regions or countries is given that reason: such an area is wider than any
council and spendmap does not share it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

from spendmap.text import on_distinct_rows

AREA_TYPES = {"LSOA", "WD", "OA", "MSOA"}  # finer than a council; only LSOA and ward codes are looked up
WIDE_TYPES = {"RGN", "GOR", "RGN/GOR", "CTRY", "COUNTRY"}
WIDE_RE = re.compile(r"^(?:E12|E92|W92|S92|N92|K02|K03|K04)\d{6}$")
WIDE_REASON = "region_or_country_code"  # a key of transforms.geography.UNPLACED_REASONS


def expand_area_codes(codes: pd.Series, types: pd.Series, area_to_council: Mapping[str, str]
                      ) -> tuple[pd.Series, pd.Series]:
    """location_codes / location_code_types with each known LSOA or ward code followed by its council's
    code (type '': geography recognises a council by its code)."""
    def one(c: object, t: object) -> tuple[object, object]:
        if not isinstance(c, str) or not c:
            return c, t
        cs = [x.strip() for x in c.split(";")]
        ts = [x.strip() for x in t.split(";")] if isinstance(t, str) else []
        ts += [""] * (len(cs) - len(ts))
        out_c, out_t = [], []
        for code, ctype in zip(cs, ts, strict=True):
            out_c.append(code)
            out_t.append(ctype)
            council = area_to_council.get(code.upper())
            if council and council not in cs:
                out_c.append(council)
                out_t.append("")
        return "; ".join(out_c), "; ".join(out_t)

    def expand(frame: pd.DataFrame) -> pd.DataFrame:
        pairs = [one(c, t) for c, t in zip(frame["c"].astype(object), frame["t"].astype(object), strict=True)]
        return pd.DataFrame(pairs, columns=["c", "t"], dtype="string")

    new = on_distinct_rows(pd.DataFrame({"c": codes, "t": types}), expand)
    return new["c"].rename(codes.name), new["t"].rename(types.name)


def only_wide_codes(codes: pd.Series, types: pd.Series) -> pd.Series:
    """True where every location code is a region or country (by declared type or by pattern)."""
    def wide(c: object, t: object) -> bool:
        if not isinstance(c, str) or not c.strip():
            return False
        cs = [x.strip().upper() for x in c.split(";")]
        ts = [x.strip().upper() for x in t.split(";")] if isinstance(t, str) else []
        ts += [""] * (len(cs) - len(ts))
        return all(ct in WIDE_TYPES or WIDE_RE.match(cc) for cc, ct in zip(cs, ts, strict=True))

    def all_wide(frame: pd.DataFrame) -> pd.Series:
        pairs = zip(frame["c"].astype(object), frame["t"].astype(object), strict=True)
        return pd.Series([wide(c, t) for c, t in pairs], dtype=bool)

    return on_distinct_rows(pd.DataFrame({"c": codes, "t": types}), all_wide)


def mark_wide_locations(placed: pd.DataFrame) -> pd.DataFrame:
    """Unplaced awards with only region/country codes and no postcode get unplaced_reason WIDE_REASON."""
    out = placed.copy()
    wide = only_wide_codes(out["location_codes"], out["location_code_types"])
    no_postcode = (out["unplaced_reason"] == "no_postcode").fillna(False)
    hit = wide & (out["geo_method"] == "unresolved") & no_postcode
    out.loc[hit, "unplaced_reason"] = WIDE_REASON
    return out
