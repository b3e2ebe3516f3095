"""Column names and dtypes of spendmap's canonical tables, declared once.

Every module that builds or reads one of these tables uses the names here; the output contract
(`docs/outputs.md`) is generated from the same lists.
"""

from __future__ import annotations

import pandas as pd

# Canonical awards (awards.parquet). dtype strings are pandas dtypes.
AWARD_DTYPES: dict[str, str] = {
    "award_id": "string",
    "fy": "string",  # financial year, written 2016-17
    "funder_id": "string",
    "department": "string",  # canonical short name (DfT, MoJ, ...), filled by transforms.departments
    "department_raw": "string",  # funder name as published
    "managing_body": "string",
    "scheme_code": "string",
    "scheme_title": "string",
    "title": "string",
    "recipient_id": "string",
    "recipient_name": "string",
    "recipient_postcode": "string",
    "is_redacted": "boolean",
    "is_council_recipient": "boolean",
    "la_code": "string",  # GSS code of the current council the award is placed in
    "la_name": "string",
    "region_code": "string",  # ONS region (E12...) or nation (S92/W92/N92) code
    "geo_method": "string",  # one of GEO_METHODS
    "amount_gbp": "float64",
    "award_date": "datetime64[ns]",
    "policy_area": "string",
    "policy_rule": "string",
    "source_file": "string",
    "source_sheet": "string",
    "source_row": "Int64",  # 1-based row number in the source sheet, header included
}
AWARD_COLUMNS: list[str] = list(AWARD_DTYPES)

# Extra per-award columns the reader keeps for placement and analytics (not in the contract list,
# kept in awards.parquet after the canonical ones).
AWARD_EXTRA_DTYPES: dict[str, str] = {
    "recipient_charity_number": "string",
    "recipient_company_number": "string",
    "recipient_city": "string",
    "description": "string",
    "award_type": "string",
    "number_of_recipients": "Int64",
    "is_aggregated": "boolean",  # Number of recipients > 1: an award to many individuals
    "location_codes": "string",  # "; "-joined ONS codes found in Recipient/Beneficiary location fields
    "location_code_types": "string",
    "county_code": "string",  # GSS of the county council when la_code is a two-tier district
    "award_date_invalid": "string",  # the Award Date as written when it is not a real date (31/02/2021)
    "amount_over_ceiling": "boolean",  # |amount| above grants.AMOUNT_CEILING_GBP: implausible, kept
    # More than a year before the start or after the end of the award's financial year: kept, flagged.
    "award_date_outside_fy": "boolean",
    # The grants input the award came from: its 1-based position in the run and its sha256 prefix
    # ('1:3fa2b4c5d6e7'); run_manifest.json's inputs.grants[] gives its full path.
    "input_id": "string",
    # How the council rung matched (org_id, name, fuzzy_name, split_successor) or corrected (an O/I typo
    # fixed in the postcode); empty otherwise.
    "geo_detail": "string",
    # What the postcode lookup found: transforms.postcodes.POSTCODE_STATUSES.
    "postcode_status": "string",
    # Why an unresolved award is unplaced: a key of transforms.geography.UNPLACED_REASONS.
    "unplaced_reason": "string",
    # The policy sub-area (transforms.policy_areas.classify_sub_areas, reference/policy_subareas.csv)
    # and the rule that decided it; the scheme's allocation method from the scheme register.
    "policy_subarea": "string",
    "policy_subrule": "string",
    "allocation_method": "string",
    # The organisation the recipient is (transforms.recipient_identity): one id and one name for the
    # same body under several ids, names and postcodes; <NA> for redacted or unnamed recipients.
    "organisation_id": "string",
    "organisation_name": "string",
}

# The placement ladder, in order (transforms.geography).
GEO_METHODS = (
    "council_match", "geo_code", "postcode", "postcode_sector", "recipient_postcode", "unresolved",
)
# unplaced.csv: every unresolved award, with its reason in words.
UNPLACED_COLUMNS = [
    "award_id", "fy", "department", "scheme_title", "recipient_id", "recipient_name", "recipient_postcode",
    "postcode_status", "amount_gbp", "unplaced_reason", "reason", "source_file", "source_sheet",
    "source_row",
]
# county_areas.csv: two-tier areas, the county council's own awards beside those in its districts.
COUNTY_AREA_COLUMNS = [
    "la_code", "la_name", "fy", "n_awards_county_council", "total_gbp_county_council",
    "n_awards_in_districts", "total_gbp_in_districts", "n_recipients_in_districts",
    "n_awards_county_area", "total_gbp_county_area",
]

PLACE_SUMMARY_COLUMNS = [
    "la_code", "la_name", "fy", "n_schemes", "n_recipients", "n_awards", "total_gbp",
    "n_small_awards", "share_small",
]
SMALL_GRANTS_COLUMNS = [
    "la_code", "la_name", "fy", "scope", "n_awards", "n_small", "share_small", "threshold_gbp",
]
SMALL_GRANT_SCOPES = ("all_recipients", "council")
CRA_ALLOCATION_COLUMNS = [
    "fy", "la_code", "la_name", "region", "department", "function", "population",
    "region_population", "allocated_gbp",
]
DUPLICATION_COLUMNS = [
    "fy", "la_code", "la_name", "policy_area", "kind", "departments", "n_departments", "schemes",
    "n_schemes", "recipients", "n_recipients", "n_awards", "total_gbp",
]
# After the contract's columns: the finding's sub-area, the allocation methods of its schemes (from the
# scheme register), formula allocations to the council itself (left out of within-department
# findings), its rank score (schemes × recipients) and the finding in one sentence
# (transforms.duplication.explain_finding).
DUPLICATION_EXTRA_COLUMNS = [
    "policy_subarea", "allocation_methods", "n_formula_to_council", "score", "explanation",
]
DUPLICATION_KINDS = ("cross_department", "within_department")

REJECT_COLUMNS = ["source_file", "source_sheet", "source_row", "reason", "original_values"]
# After them in rejects.csv: the grants input's id (as awards' input_id; blank for other readers' rejects).
REJECT_EXTRA_COLUMNS = ["input_id"]


def empty_awards() -> pd.DataFrame:
    """An awards table with no rows and the canonical dtypes."""
    dtypes = {**AWARD_DTYPES, **AWARD_EXTRA_DTYPES}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


def conform_awards(df: pd.DataFrame) -> pd.DataFrame:
    """Add missing canonical columns, cast dtypes, and order canonical columns first."""
    dtypes = {**AWARD_DTYPES, **AWARD_EXTRA_DTYPES}
    out = df.copy()
    for col, dtype in dtypes.items():
        if col not in out.columns:
            out[col] = pd.Series(None, index=out.index, dtype=dtype)
        else:
            out[col] = out[col].astype(dtype)
    ordered = list(dtypes) + [c for c in out.columns if c not in dtypes]
    return out[ordered]
