"""Every CRA/PESA region label in the bundled PESAParser name list normalises to its ONS code."""

import pandas as pd

from spendmap.paths import reference_path
from spendmap.sources.cra import normalise_region

NUTS1_TO_ONS = {
    "UKC": "E12000001", "UKD": "E12000002", "UKE": "E12000003", "UKF": "E12000004", "UKG": "E12000005",
    "UKH": "E12000006", "UKI": "E12000007", "UKJ": "E12000008", "UKK": "E12000009", "UKM": "S92000003",
    "UKL": "W92000004", "UKN": "N92000002",
}


def test_region_labels_match_independent_name_list():
    names = pd.read_csv(reference_path("hmt_cra", "StandardGeographyNames_PESAParser.csv"), dtype=str)
    with_code = names[names["GeoCode"].isin(NUTS1_TO_ONS)]
    assert len(with_code) == 23
    for label, nuts in zip(with_code["Name"], with_code["GeoCode"], strict=True):
        assert normalise_region(label) == (NUTS1_TO_ONS[nuts], "regional"), label
    assert normalise_region("Outside the UK")[0] is None
    assert normalise_region("NON-REGIONAL") == (None, "non_regional")
