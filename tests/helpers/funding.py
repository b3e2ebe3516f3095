"""A crafted 360Giving package of other funders' grants in pilot places, and a priorities file for it,
for the run-level and browser tests of issue 18."""

from __future__ import annotations

import json
from pathlib import Path

HOSTILE = "<img src=x onerror=alert(1)>"

# 2016-17 grants (the bundled register's year) from four kinds of funder, placed by beneficiary
# location codes (no postcodes), plus one grant of 2015-16 that a 2016-17 run must leave out.
FUNDING_GRANTS = [
    {"id": "360G-T-1", "title": "Attendance mentors for anxious pupils", "amountAwarded": 12000,
     "awardDate": "2016-09-01", "recipientOrganization": [{"id": "GB-CHC-1", "name": "Calder Schools Trust"}],
     "fundingOrganization": [{"id": "GB-GOR-PB188", "name": "The National Lottery Community Fund"}],
     "grantProgramme": [{"code": "AFA", "title": "Awards for All"}],
     "beneficiaryLocation": [{"geoCode": "E08000036", "geoCodeType": "MD", "name": "Wakefield"}]},
    {"id": "360G-T-2", "title": "School avoidance family support", "amountAwarded": 30000,
     "awardDate": "2017-01-15T10:00:00Z", "recipientOrganization": [{"id": "GB-CHC-2", "name": HOSTILE}],
     "fundingOrganization": [{"id": "GB-CHC-200", "name": "A Yorkshire Foundation"}],
     "beneficiaryLocation": [{"geoCode": "E08000036", "geoCodeType": "MD", "name": "Wakefield"}]},
    {"id": "360G-T-3", "title": "Warm homes for private tenants", "amountAwarded": "£8,500",
     "awardDate": "05/05/2016", "recipientOrganization": [{"id": "GB-CHC-3", "name": "Hastings Energy"}],
     "fundingOrganization": [{"id": "GB-LAE-ESX", "name": "East Sussex County Council"}],
     "beneficiaryLocation": [{"geoCode": "E07000062", "geoCodeType": "NMD", "name": "Hastings"}]},
    {"id": "360G-T-4", "title": "Earlier warm homes", "amountAwarded": 999,
     "awardDate": "2015-06-01", "recipientOrganization": [{"id": "GB-CHC-3", "name": "Hastings Energy"}],
     "fundingOrganization": [{"id": "GB-LAE-ESX", "name": "East Sussex County Council"}],
     "beneficiaryLocation": [{"geoCode": "E07000062", "geoCodeType": "NMD", "name": "Hastings"}]},
    {"id": "360G-T-5", "title": "Regional fund", "amountAwarded": 5000, "awardDate": "2016-07-01",
     "recipientOrganization": [{"id": "GB-CHC-5", "name": "South East Network"}],
     "fundingOrganization": [{"id": "GB-CHC-200", "name": "A Yorkshire Foundation"}],
     "beneficiaryLocation": [{"geoCode": "E12000008", "geoCodeType": "RGN/GOR", "name": "South East"}]},
    {"id": "360G-T-6", "title": "Bad amount", "amountAwarded": "n/a", "awardDate": "2016-07-01",
     "recipientOrganization": [{"id": "GB-CHC-6", "name": "Somebody"}],
     "fundingOrganization": [{"id": "GB-CHC-200", "name": "A Yorkshire Foundation"}]},
]

PRIORITIES_YAML = f"""
places:
  - place: Wakefield
    priorities:
      - id: ebsa
        title: "Persistent absence from emotionally based school avoidance {HOSTILE}"
        policy_areas: [education]
        keywords: [school avoidance, attendance]
        cra_functions: [Education]
      - id: transport
        title: Buses that get people to work
        policy_areas: [transport]
      - id: nothing
        title: A priority nothing funds
        keywords: [zeppelin]
  - place: Hastings
    priorities:
      - id: warm
        title: Fuel poverty in private rented homes
        keywords: [warm homes]
"""


def write_funding(folder: Path) -> tuple[Path, Path]:
    """(the 360Giving package, the priorities file) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    package = folder / "other_funders.json"
    package.write_text(json.dumps({"grants": FUNDING_GRANTS}), encoding="utf-8")
    priorities = folder / "priorities.yaml"
    priorities.write_text(PRIORITIES_YAML, encoding="utf-8")
    return package, priorities
