"""Where bundled reference data lives, whether spendmap runs from a clone or an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def reference_dir() -> Path:
    """The bundled `reference/` folder: $SPENDMAP_REFERENCE, else inside the wheel, else the clone's."""
    override = os.environ.get("SPENDMAP_REFERENCE")
    if override:
        return Path(override)
    packaged = _PACKAGE_DIR / "reference"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parents[1] / "reference"


def reference_path(*parts: str) -> Path:
    """Path of one bundled reference file, e.g. reference_path("hmt_cra", "CRA_....xlsx")."""
    return reference_dir().joinpath(*parts)


# The bundled real inputs the main job uses by default.
BUNDLED_GRANTS = ("ggis_2016_17", "government-grant-awards-2016-17.xlsx")
BUNDLED_CRA = ("hmt_cra", "CRA_2018_Database_for_Publication_rvsd.xlsx")
BUNDLED_POPULATION = ("ons_population", "ons_mid2020_population_by_lad.csv")
BUNDLED_SCHEMES = (
    ("ggis_2016_17", "government-grant-schemes-2013-14.csv"),
    ("ggis_2016_17", "government-grant-schemes-2014-15.csv"),
    ("ggis_2016_17", "government-grant-schemes-2016-17.csv"),
)
MYSOCIETY_COUNCILS = ("mysociety_la", "uk_local_authorities_current.csv")
MYSOCIETY_NAMES = ("mysociety_la", "lookup_name_to_registry.csv")
MYSOCIETY_GSS = ("mysociety_la", "lookup_gss_to_registry.csv")
SPLIT_COUNCILS = ("council_successors", "split_councils.csv")
