"""A crafted award set at real placement volume: 1,000 recipients in one council, 9 departments, 60 schemes.

Used by the browser tests (and by hand for screenshots) to check that pages stay readable at the volume
real postcode placement brings. The analytics tables are derived with the pipeline's own transforms.
"""

from __future__ import annotations

import pandas as pd

from spendmap import schemas
from spendmap.outputs.site import SiteTables
from spendmap.sources.councils import load_councils
from spendmap.sources.rules import load_departments, load_policy_rules
from spendmap.transforms.departments import apply_departments
from spendmap.transforms.duplication import find_duplication
from spendmap.transforms.policy_areas import classify_policy_areas
from spendmap.transforms.profiles import place_summary, small_grants
from spendmap.transforms.recipient_types import add_recipient_types

DEPARTMENTS = [
    "Department for Transport",
    "Ministry of Justice",
    "Department for Education",
    "Home Office",
    "Department of Health",
    "Department for Communities and Local Government",
    "Department for Work and Pensions",
    "Department for Culture, Media & Sport",
    "Department for Environment, Food & Rural Affairs",
]
SCHEME_WORDS = [
    "Bus Service Operators Grant",
    "Victims Services",
    "Adult Skills Budget",
    "Police Innovation Fund",
    "Public Health Grant",
    "Housing Infrastructure Fund",
    "Troubled Families",
    "Cultural Development Fund",
    "Flood Defence Grant",
    "Community Transport Fund",
    "Homelessness Prevention Grant",
    "Rough Sleeping Initiative",
]
SUFFIXES = [
    "Ltd",
    "Limited",
    "CIC",
    "Trust",
    "Council",
    "Community Transport",
    "Academy",
    "NHS Foundation Trust",
]


def stress_awards(
    la_code: str, fy: str = "2016-17", n_recipients: int = 1000, n_schemes: int = 60
) -> pd.DataFrame:
    """n_recipients recipients placed in one council, each with 1-3 awards from n_schemes schemes."""
    rows = []
    for r in range(n_recipients):
        name = f"Stress Recipient {r:04d} {SUFFIXES[r % len(SUFFIXES)]}"
        for k in range(1 + r % 3):
            s = (r * 7 + k * 13) % n_schemes
            dept = DEPARTMENTS[s % len(DEPARTMENTS)]
            rows.append(
                {
                    "award_id": f"STRESS-{r:04d}-{k}",
                    "fy": fy,
                    "department_raw": dept,
                    "scheme_code": f"STRESS{s:03d}",
                    "scheme_title": f"{SCHEME_WORDS[s % len(SCHEME_WORDS)]} round {1 + s // 12}",
                    "title": f"Award {k} to recipient {r}",
                    "recipient_id": f"STRESS-R{r:04d}",
                    "recipient_name": name,
                    "recipient_charity_number": str(1_100_000 + r) if r % 5 == 0 else None,
                    "is_redacted": r % 97 == 0,
                    "is_council_recipient": False,
                    "la_code": la_code,
                    "geo_method": "postcode",
                    "amount_gbp": float(5_000 + (r * 7919 + k * 104_729) % 400_000),
                    "source_file": "stress",
                    "source_sheet": "stress",
                    "source_row": len(rows) + 2,
                }
            )
    frame = schemas.conform_awards(pd.DataFrame(rows))
    names = load_councils().set_index("la_code")["la_name"]
    frame["la_name"] = frame["la_code"].map(names)
    return frame


def stress_tables(
    base: SiteTables, la_code: str, fy: str = "2016-17", threshold: float = 100_000.0
) -> SiteTables:
    """`base` with the stress awards added to one council and every analytics table derived again."""
    extra = classify_policy_areas(
        apply_departments(stress_awards(la_code, fy), load_departments()), load_policy_rules()
    )
    awards = add_recipient_types(pd.concat([schemas.conform_awards(base.awards), extra], ignore_index=True))
    councils = load_councils()
    return SiteTables(
        councils=councils,
        awards=awards,
        place_summary=place_summary(awards, councils, threshold, fys=[fy]),
        small_grants=small_grants(awards, councils, threshold, fys=[fy]),
        duplication=find_duplication(awards),
        cra_allocation=base.cra_allocation,
        national_overlaps=base.national_overlaps,
    )
