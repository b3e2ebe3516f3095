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
    # --- funder types (transforms.funder_types) ---
    "funder_org_type": "string",  # GrantNav's "Funding Org:Org Type" as published, when the file has it
    "funder_type": "string",  # one of transforms.funder_types.FUNDER_TYPES
    # which rule decided it: known_list, grantnav, department, org_id_prefix, unknown
    "funder_type_rule": "string",
    "funder_name": "string",  # as pages show it: the known name, canonical department, else as published
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
# (transforms.duplication.explain_finding), then the kinds of funder in it (issue 18: central-government
# findings stay separable when other funders' data is in the run).
DUPLICATION_EXTRA_COLUMNS = [
    "policy_subarea", "allocation_methods", "n_formula_to_council", "score", "explanation", "funder_types",
]
DUPLICATION_KINDS = ("cross_department", "within_department")
# national_scheme_overlaps: policy areas with schemes from several departments (transforms.duplication).
NATIONAL_OVERLAP_COLUMNS = [
    "fy", "policy_area", "departments", "n_departments", "n_schemes", "value_gbp", "department_values",
]
# recipient_merges: every edge that joined two identifiers of one organisation, or was refused
# (transforms.recipient_identity).
RECIPIENT_MERGE_COLUMNS = [
    "organisation_id", "organisation_name", "identifier", "joined_to", "rule", "merged", "award_id",
    "explanation",
]

# --- issue 18: priority outcomes (transforms.priority_matching) ---
PRIORITY_FUNDING_COLUMNS = ["fy", "la_code", "la_name", "priority_id", "priority_title", "source", "n_items",
                            "amount_gbp"]
PRIORITY_MATCH_COLUMNS = [
    "fy", "la_code", "la_name", "priority_id", "priority_title", "line_kind", "line_id", "source",
    "funder_type", "funder_name", "department", "scheme_code", "scheme_title", "title", "recipient_name",
    "amount_gbp", "rules", "matched_on", "n_priorities_matched", "source_file", "source_sheet", "source_row",
]
PRIORITY_OVERLAP_COLUMNS = ["fy", "la_code", "la_name", "priority_id", "n_funders", "funders",
                            "n_funder_types", "funder_types", "n_items", "amount_gbp"]

REJECT_COLUMNS = ["source_file", "source_sheet", "source_row", "reason", "original_values"]
# The columns placing sets (steps.place_grants) and classifying sets (steps.classify_awards): each step
# writes only these, beside award_id, as its layer of the award table (spendmap.award_layers).
PLACEMENT_COLUMNS = [
    "la_code", "la_name", "region_code", "county_code", "geo_method", "geo_detail", "postcode_status",
    "is_council_recipient", "unplaced_reason", "location_codes", "location_code_types",
]
CLASSIFICATION_COLUMNS = [
    "department", "department_lineage", "policy_area", "policy_rule", "policy_basis", "policy_subarea",
    "policy_subrule", "allocation_method", "organisation_id", "organisation_name", "recipient_type",
    "recipient_type_rule", "funder_type", "funder_type_rule", "funder_name",
]

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


# What each table and column of spendmap.duckdb means (written there as COMMENT ON; docs/outputs.md).
# A column means the same in every table it appears in, unless "table.column" says otherwise.
TABLE_DESCRIPTIONS: dict[str, str] = {
    "awards": "Every grant award read, placed in a council or not (la_code empty when not placed); rows "
              "in no set order (ORDER BY input_id, source_sheet, source_row for the registers' own order).",
    "rejects": "Input rows not accepted, each with its reason, file, sheet and row.",
    "councils": "One row per current UK council (mySociety register), with type, region and county.",
    "place_summary": "Per council and financial year: awards, schemes, recipients and GBP placed there.",
    "small_grants": "Per council, year and scope: awards tested against the small-grant threshold.",
    "duplication": "Duplication findings: several schemes or departments funding one policy area here.",
    "cra_allocation": "HM Treasury CRA identifiable spending allocated to councils by population share.",
    "national_scheme_overlaps": "Policy areas with grant schemes from several departments, nationally.",
    "unplaced": "Every award that could not be placed in a council, with its reason in words.",
    "county_areas": "Two-tier areas: the county council's own awards beside those placed in its districts.",
    "trends": "Per council, year-on-year change of the place summary (runs of several years).",
    "recipient_merges": "Each recipient record joined into an organisation, with the identifier and rule "
                        "that joined it (transforms.recipient_identity).",
    "place_summary_by_funder_type": "Per council, year and funder type: awards, recipients, GBP and small "
                                    "awards, so central-government figures stay separable.",
    "priority_funding": "Per place, year, priority and source: matched items and GBP (CRA as context, "
                        "never added to grant totals).",
    "priority_matches": "Every award or local-spend line matched to a priority, with the rule that matched.",
    "priority_overlaps": "Priorities funded by two or more funders in a place and year.",
    "priorities": "The places' priority outcomes the run matched against (--priorities or the pfpp preset).",
    "local_spend": "Accepted lines of the councils' own spend files (--local), placed in their council.",
}
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "funder_org_type": "The funder's organisation type as a 360Giving file gives it (additional data).",
    "funder_type": "central_government, arms_length_body, lottery_distributor, local_government, "
                   "charitable_funder or other (transforms.funder_types; never guessed).",
    "funder_type_rule": "The rule that set funder_type: known list, GrantNav type, department table or "
                        "org-id prefix.",
    "funder_name": "The funder's name as the file gives it.",
    "policy_subarea": "The purpose within the policy area (reference/policy_subareas.csv), else the area.",
    "policy_subrule": "The sub-area rule that matched (blank where the award keeps its area).",
    "allocation_method": "How the scheme is allocated, from the scheme register where it says.",
    "organisation_id": "The recipient organisation (transforms.recipient_identity): records joined by "
                       "ids, names and postcodes; recipient_merges.csv explains each merge.",
    "organisation_name": "The organisation's name, from its records.",
    "allocation_methods": "The schemes' allocation methods, from the scheme register.",
    "n_formula_to_council": "Formula allocations to the council itself left out of the finding.",
    "score": "Schemes x recipients: the rank pages use.",
    "funders": "The funders, '; '-joined.",
    "n_funders": "Number of distinct funders.",
    "funder_types": "The funder types, '; '-joined.",
    "n_funder_types": "Number of distinct funder types.",
    "n_items": "Number of awards or local-spend lines.",
    "priority_id": "The priority's id in the priorities file.",
    "priority_title": "The priority's title in the priorities file.",
    "source": "central_government_grants, other_public_grants, charitable_grants, local_spend or "
              "cra_allocated (context, never added to grant totals).",
    "input_id": "The grants input the row came from: its position in the run and the first 12 hex digits of "
                "its sha256 (run_manifest.json lists each input with its full path).",
    "award_date_outside_fy": "True where the award date is more than a year outside the register's "
                             "financial year (kept, flagged and warned about).",
    "award_id": "Identifier of the award as published in the grants register.",
    "fy": "Financial year, written 2016-17.",
    "funder_id": "Identifier of the funding organisation as published.",
    "department": "Funding department, canonical short name (DfT, MoJ, ...).",
    "department_raw": "Funder name as published.",
    "managing_body": "Body managing the scheme for the department, as published.",
    "scheme_code": "Grant scheme code as published.",
    "scheme_title": "Grant scheme title as published.",
    "title": "Award title as published.",
    "recipient_id": "Recipient identifier as published (an org-id such as GB-CHC-... when it is one).",
    "recipient_name": "Recipient name as published.",
    "recipient_postcode": "Recipient postcode as published.",
    "is_redacted": "True when the register redacts the recipient.",
    "is_council_recipient": "True when the recipient is a council (placed as that council).",
    "la_code": "GSS code of the current council (for awards: the council the award is placed in).",
    "la_name": "Name of the current council.",
    "region_code": "ONS region (E12...) or nation (S92/W92/N92) code.",
    "geo_method": "How the award was placed: council_match, geo_code, postcode, postcode_sector, "
    "recipient_postcode or unresolved.",
    "amount_gbp": "Amount awarded, GBP.",
    "award_date": "Award date.",
    "policy_area": "Policy area given by the classification rules (reference/policy_rules.csv).",
    "policy_rule": "The classification rule that matched.",
    "source_file": "Input file the row came from.",
    "source_sheet": "Sheet of the input file.",
    "source_row": "1-based row number in the source sheet, header included.",
    "recipient_charity_number": "Recipient charity number as published.",
    "recipient_company_number": "Recipient Companies House number as published.",
    "recipient_city": "Recipient town or city as published.",
    "description": "Award description as published.",
    "award_type": "Award type as published.",
    "number_of_recipients": "Number of recipients the award covers, as published.",
    "is_aggregated": "True when one row aggregates awards to several recipients (individuals).",
    "location_codes": "ONS codes found in the recipient or beneficiary location fields, '; '-joined.",
    "location_code_types": "Kinds of the location codes, in the same order.",
    "county_code": "GSS code of the county council when the council is a two-tier district.",
    "award_date_invalid": "The award date as written when it is not a real date.",
    "amount_over_ceiling": "True when the amount is implausibly large (kept, flagged).",
    "geo_detail": "How the council rung matched (org_id, name, fuzzy_name, split_successor) or a "
    "postcode correction.",
    "postcode_status": "What the postcode lookup found.",
    "unplaced_reason": "Why an unplaced award is unplaced (a key of transforms.geography.UNPLACED_REASONS).",
    "currency": "Currency of the amount as published.",
    "department_lineage": "The department's predecessor or successor names that led to its short name.",
    "policy_basis": "What the policy-area classification was based on (scheme or award title).",
    "recipient_type": "Inferred recipient type (council, charity, company, ...; unknown when unsure).",
    "recipient_type_rule": "The rule that inferred the recipient type.",
    "official_name": "The council's official name.",
    "register_code": "mySociety register code of the council.",
    "la_type": "mySociety council type code (UA, MD, NMD, CTY, LBO, ...).",
    "la_type_name": "Council type in words.",
    "tier": "unitary, district or county.",
    "nation": "England, Scotland, Wales or Northern Ireland.",
    "region_name": "ONS region (England) or nation.",
    "county_name": "Name of the county council of a two-tier district.",
    "combined_authority": "Register code of the combined authority the council belongs to.",
    "population_2020": "Population in 2020 (mySociety register).",
    "former_gss_codes": "Earlier GSS codes of the council, comma-separated.",
    "n_awards_county_council": "Awards placed on the county council itself.",
    "total_gbp_county_council": "GBP of the awards placed on the county council itself.",
    "n_awards_in_districts": "Awards placed in the county's districts.",
    "total_gbp_in_districts": "GBP of the awards placed in the county's districts.",
    "n_recipients_in_districts": "Distinct recipients of the awards placed in the county's districts.",
    "n_awards_county_area": "Awards of the county council and its districts together.",
    "total_gbp_county_area": "GBP of the county council and its districts together.",
    "region": "Region of the council (CRA region).",
    "function": "CRA function (COFOG), as published.",
    "population": "Council population used for the allocation.",
    "region_population": "Region population used for the allocation.",
    "allocated_gbp": "CRA spending allocated to the council, GBP.",
    "is_aggregate": "True for a county council: the sum of its districts' allocations.",
    "per_head_gbp": "Allocated GBP per head of the council's population.",
    "region_per_head_gbp": "The region's identifiable spending per head.",
    "england_per_head_gbp": "England's identifiable spending per head.",
    "uk_per_head_gbp": "The UK's identifiable spending per head.",
    "population_vintage": "Which population estimate was used.",
    "population_source": "File the population came from.",
    "allocated_pence": "Allocated amount in whole pence (exact sums).",
    "kind": "cross_department or within_department.",
    "departments": "Departments involved, '; '-joined.",
    "n_departments": "Number of departments involved.",
    "schemes": "Schemes involved, '; '-joined.",
    "n_schemes": "Number of distinct grant schemes.",
    "recipients": "Recipients involved, '; '-joined.",
    "n_recipients": "Number of distinct recipients.",
    "n_awards": "Number of awards.",
    "small_grants.n_awards": "Awards tested against the threshold (zero-value, negative and redacted "
    "awards are not tested).",
    "total_gbp": "Total GBP of the awards.",
    "explanation": "The finding in one sentence.",
    "value_gbp": "The schemes' stated value for the year, GBP.",
    "department_values": "Value per department, '; '-joined.",
    "n_small_awards": "Awards under the small-grant threshold.",
    "share_small": "Small awards / awards tested (zero-value, negative and redacted awards not tested).",
    "reason": "The reason in words.",
    "original_values": "The rejected row's values as read.",
    "scope": "all_recipients (every award placed in the council) or council (awards to the council itself).",
    "n_small": "Awards under the small-grant threshold.",
    "threshold_gbp": "The small-grant threshold, GBP.",
    "n_all_awards": "Every award in the scope, tested or not.",
    "n_zero_value": "Zero-value awards (not tested).",
    "n_negative": "Negative awards (not tested).",
    "n_redacted": "Redacted awards (not tested).",
}


def column_description(table: str, column: str) -> str:
    """The description of `column` in `table` ('' when none is declared)."""
    return COLUMN_DESCRIPTIONS.get(f"{table}.{column}", COLUMN_DESCRIPTIONS.get(column, ""))
