"""Small-area codes -> current councils, for placing awards by their 360Giving location codes.

- LSOA (E01/W01): mySociety's `lookup_lsoa_to_registry.csv` (LSOA -> the council's register code, CC BY
  4.0), then the register code's current council;
- electoral ward (E05/W05/S13/N08): the ONS ward -> district lookup of December 2019 (OGL v3), then
  the district's current council (a district abolished since follows its successor).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from spendmap.paths import reference_path
from spendmap.sources.councils import gss_to_current_gss, register_to_current_gss

LSOA_LOOKUP = ("mysociety_la", "lookup_lsoa_to_registry.csv")
WARD_LOOKUP = ("ons_lookups", "WD19_LAD19_CTY19_RGN19_CTRY19_Dec2019_lookup_UK.csv")


@lru_cache(maxsize=1)
def area_to_council() -> dict[str, str]:
    """LSOA and ward GSS codes -> the current council's GSS code (areas whose council split are left out)."""
    reg = register_to_current_gss()
    lsoa = pd.read_csv(reference_path(*LSOA_LOOKUP), dtype=str, keep_default_na=False)
    out = {a: reg[r] for a, r in zip(lsoa["lsoa"], lsoa["local-authority-code"], strict=True) if r in reg}
    current = gss_to_current_gss()
    wards = pd.read_csv(reference_path(*WARD_LOOKUP), dtype=str, keep_default_na=False,
                        usecols=["WD19CD", "LAD19CD"])
    out.update({w: current[d] for w, d in zip(wards["WD19CD"], wards["LAD19CD"], strict=True)
                if d in current})
    return out
