"""Benchmark: departments, policy areas, profiles, small grants and duplication on a 63,000-award year.

Run: .venv/bin/python benchmarks/bench_analytics.py   (prints a markdown section for RESULTS.md)

The synthetic year is deterministic (seed 20260): 63,000 awards from 12 departments through 1,500 schemes
to 29,000 recipients spread over every council in load_councils(); a third of award titles are unique
(scheme title + recipient), as in the real register, so the rules run over many distinct texts.
Target (issue 4): classification + profiles + small grants + duplication under 10 s.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import pandas as pd

from spendmap.schemas import conform_awards
from spendmap.sources.councils import load_councils
from spendmap.sources.rules import load_departments, load_policy_rules
from spendmap.transforms.departments import apply_departments
from spendmap.transforms.duplication import find_duplication
from spendmap.transforms.policy_areas import classify_policy_areas
from spendmap.transforms.profiles import place_summary, scheme_key, small_grants

N_AWARDS, N_SCHEMES, N_RECIPIENTS, SEED = 63_000, 1_500, 29_000, 20260
TARGET_SECONDS = 10.0

DEPARTMENTS = [
    ("Department for Levelling Up, Housing and Communities", None),
    ("Department for Business, Energy and Industrial Strategy", "GB-GOR-D1198"),
    ("Department for Transport", "GB-GOR-D9"),
    ("Ministry of Justice", "GB-GOR-D18"),
    ("Department for Education", "GB-GOR-D6"),
    ("Department of Health and Social Care", None),
    ("Department for Digital, Culture, Media and Sport", "GB-GOR-D5"),
    ("Home Office", "GB-GOR-D16"),
    ("Department for Work and Pensions", "GB-GOR-D10"),
    ("Cabinet Office", "GB-GOR-D2"),
    ("Department for Environment, Food and Rural Affairs", "GB-GOR-D7"),
    ("HM Treasury", "GB-GOR-D15"),
]
TOPICS = [
    "Bus Service Operator Grant",
    "Affordable Homes Programme",
    "Rough Sleeping Initiative",
    "Growth Hub",
    "Public Sector Decarbonisation",
    "Adult Education Budget",
    "Youth Justice Grant",
    "Public Health Grant",
    "Better Care Fund",
    "Supporting Families",
    "Towns Fund",
    "Gigabit Broadband Voucher",
    "Cultural Recovery Fund",
    "Kickstart Scheme",
    "Careers Hub",
    "Drug and Alcohol Treatment",
    "Safer Streets Fund",
    "Victims Services",
    "Urban Tree Challenge",
    "Warm Homes Fund",
    "Dedicated Schools Grant",
    "Highways Maintenance",
    "Community Ownership Fund",
    "Local Authority Support",
    "Miscellaneous Programme",
]


def synthetic_awards(councils: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    codes = councils["la_code"].to_numpy()
    names = councils["la_name"].to_numpy()

    scheme_dept = rng.integers(0, len(DEPARTMENTS), N_SCHEMES)
    scheme_title = np.array(
        [
            f"{TOPICS[i % len(TOPICS)]} {2022 - (i // 400)}/{(23 - i // 400) % 100:02d} round {i}"
            for i in range(N_SCHEMES)
        ]
    )
    scheme_code = np.array([f"SCH-{i:09d}" if i % 10 else "" for i in range(N_SCHEMES)])

    rec_place = rng.integers(0, len(codes), N_RECIPIENTS)
    rec_kind = rng.choice(["charity", "company", "name"], N_RECIPIENTS, p=[0.4, 0.3, 0.3])
    rec_name = np.array([f"Organisation {i} of {names[p]}" for i, p in enumerate(rec_place)])

    s = rng.integers(0, N_SCHEMES, N_AWARDS)
    r = rng.integers(0, N_RECIPIENTS, N_AWARDS)
    to_council = rng.random(N_AWARDS) < 0.10
    award_place = np.where(to_council, rng.integers(0, len(codes), N_AWARDS), rec_place[r])
    amount = np.round(rng.lognormal(10.5, 2.0, N_AWARDS), 2)
    amount[rng.random(N_AWARDS) < 0.01] = 0.0
    redacted = rng.random(N_AWARDS) < 0.02
    unique_title = rng.random(N_AWARDS) < 0.33
    dept = scheme_dept[s]
    frame = pd.DataFrame(
        {
            "award_id": [f"A{i}" for i in range(N_AWARDS)],
            "fy": "2022-23",
            "department_raw": [DEPARTMENTS[d][0] for d in dept],
            "funder_id": [DEPARTMENTS[d][1] for d in dept],
            "scheme_code": pd.Series(scheme_code[s]).replace("", pd.NA),
            "scheme_title": scheme_title[s],
            "title": np.where(
                unique_title, pd.Series(scheme_title[s]) + " - " + pd.Series(rec_name[r]), scheme_title[s]
            ),
            "recipient_name": np.where(to_council, names[award_place] + " Council", rec_name[r]),
            "recipient_charity_number": np.where(
                (rec_kind[r] == "charity") & ~to_council, (1_000_000 + r).astype(str), None
            ),
            "recipient_company_number": np.where(
                (rec_kind[r] == "company") & ~to_council, (r + 1).astype(str), None
            ),
            "is_redacted": redacted,
            "is_council_recipient": to_council,
            "la_code": codes[award_place],
            "la_name": names[award_place],
            "amount_gbp": amount,
        }
    )
    return conform_awards(frame)


def main() -> None:
    councils = load_councils()
    departments, rules = load_departments(), load_policy_rules()
    awards = synthetic_awards(councils)

    timings: list[tuple[str, float]] = []

    def timed(label, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        timings.append((label, time.perf_counter() - start))
        return result

    awards = timed("departments (apply_departments)", apply_departments, awards, departments)
    awards = timed("policy areas (classify_policy_areas)", classify_policy_areas, awards, rules)
    summary = timed("place_summary", place_summary, awards, councils)
    small = timed("small_grants", small_grants, awards, councils)
    findings = timed("duplication findings (DuckDB)", find_duplication, awards)
    total = sum(t for _, t in timings)

    print("## Grant analytics (bench_analytics.py)\n")
    print(
        f"Synthetic year: {len(awards):,} awards, {scheme_key(awards).nunique():,} schemes, "
        f"{N_RECIPIENTS:,} recipients, {len(councils):,} councils; seed {SEED}. "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"pandas {pd.__version__}; load average {os.getloadavg()[0]:.1f} (other jobs share the CPUs).\n"
    )
    print("| step | seconds |\n|---|---:|")
    for label, seconds in timings:
        print(f"| {label} | {seconds:.2f} |")
    verdict = "meets" if total < TARGET_SECONDS else "MISSES"
    print(f"| **total** | **{total:.2f}** |\n")
    print(
        f"Target < {TARGET_SECONDS:.0f} s: {verdict}. Outputs: {len(summary):,} place_summary rows, "
        f"{len(small):,} small_grants rows, {len(findings):,} duplication findings "
        f"({(findings['kind'] == 'cross_department').sum():,} cross-department); "
        f"unclassified awards {(awards['policy_area'] == 'unclassified').mean():.1%}.\n"
    )


if __name__ == "__main__":
    main()
