"""The pipeline's steps as plain Python: each reads files, calls pure transforms, writes files.

The pipeline (`spendmap.pipeline`) runs them in-process or as Prefect tasks and passes only paths and
small typed results (`spendmap.step_results`) between them, so every step is testable without Prefect
and Prefect's caching never hashes a DataFrame. File names come from `spendmap.catalog`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from spendmap import catalog
from spendmap.errors import InputError
from spendmap.outputs.publish import (  # noqa: F401 - the flow calls these through steps
    WORK_DIR_NAME,
    check_out_dir,
    discard_staging,
    publish,
    start_staging,
)
from spendmap.run_config import RunConfig
from spendmap.schemas import REJECT_COLUMNS, conform_awards, empty_awards
from spendmap.sources.councils import PFPP_CODES, gss_to_current_gss, load_councils
from spendmap.step_results import (
    AnalyticsResult,
    ClassifyResult,
    CraResult,
    PlaceResult,
    PriorityResult,
    ReadResult,
    SiteFiles,
    TablesResult,
)
from spendmap.transforms.council_names import council_index, resolve_places
from spendmap.transforms.geography import geo_method_counts, place_awards


def resolve_place_codes(places: str | None) -> list[str] | None:
    """--places as GSS codes (None: every council). Raises InputError naming the nearest councils."""
    if not places:
        return None
    return resolve_places(places, council_index(), PFPP_CODES)


def preflight(config: RunConfig) -> None:
    """Fail fast, before any work: unknown council, a local input that is missing, a folder or
    unreadable, the same file given twice, or an --out that spendmap may not replace."""
    from spendmap.sources.fetch import is_url

    resolve_place_codes(config.places)
    named = [("--grants", g) for g in config.grants] + [("--funding", g) for g in config.funding] + [
        ("--priorities", config.priorities)] + [("--local", g) for g in config.local] + [
        ("--cra", config.cra), ("--population", config.population), ("--postcodes", config.postcodes)
    ]
    local = [(option, Path(src)) for option, src in named if src and not is_url(src)]
    for option, path in local:
        _check_readable(option, path)
    _refuse_same_file_twice([p for option, p in local if option in ("--grants", "--funding")])
    from spendmap.paths import reference_dir
    from spendmap.sources.fetch import default_cache_dir

    cache = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    check_out_dir(config.out_dir, [p for _, p in local] + [reference_dir(), cache])


def _check_readable(option: str, path: Path) -> None:
    if path.is_dir():
        raise InputError(
            f"The path given to {option} is a folder, not a file: {path}. Give the path of the file "
            "inside it, or an http(s) URL."
        )
    if not path.is_file():
        raise InputError(
            f"The file given to {option} does not exist: {path}. Give a path to a file, or an http(s) "
            "URL."
        )
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as err:
        raise InputError(
            f"The file given to {option} cannot be read: {path} ({err.strerror}). Check its permissions "
            "(e.g. chmod u+r) or give a copy you can read."
        ) from None


def _refuse_same_file_twice(paths: list[Path]) -> None:
    """The same register given twice (even under two names) would count every award twice."""
    from spendmap.sources.cache import sha256_of

    seen: dict[str, Path] = {}
    for path in paths:
        digest = sha256_of(path)  # in chunks: a 500 MB register is never one bytes object
        if digest in seen:
            raise InputError(
                f"--grants was given the same file twice: {seen[digest]} and {path} have identical "
                f"contents (sha256 {digest[:16]}...), so every award would be counted twice. Give each "
                "register once."
            )
        seen[digest] = path


# --- grants -------------------------------------------------------------------------------------------


def ingest_grants(paths: list[str], years: list[str], work_dir: Path,
                  funding_from: int | None = None) -> ReadResult:
    """Read every grants register: its content (`read_grants_content`), then the files as given
    (`label_grants`). The pipeline calls the two as separate steps, the first cached by content."""
    return label_grants(read_grants_content(paths, work_dir), paths, years, work_dir, funding_from)


def read_grants_content(paths: list[str], work_dir: Path) -> ReadResult:
    """Read every grants register's content; write raw awards and rejects; return per-input reading
    info. The read step's cache keys on the inputs' sha256 (in order), so nothing here may depend on
    the files as given (path, name, the year a name states): `label_grants` applies those after the
    cache, every run. Awards carry `fy` and `source_file` empty until then.
    """
    from spendmap.sources.grants import read_register

    _refuse_same_file_twice([Path(p) for p in paths])  # again: downloads are only known by now
    frames, rejects, infos = [], [], []
    known_ids: dict[str, str] = {}  # award id -> 'input ID row N': a repeat in a later input is rejected
    for position, path in enumerate(paths, start=1):
        read = read_register(path, known_ids=known_ids, position=position,
                             remember=position < len(paths))  # the last: no later input checks its ids
        frames.append(read.awards)
        rejects.append(read.rejects)
        infos.append(read.info)
    return _write_read(frames, rejects, infos, work_dir)


def label_grants(content: ReadResult, paths: list[str], years: list[str], work_dir: Path,
                 funding_from: int | None = None) -> ReadResult:
    """The files as given, applied to the (cached) content read: each input's path and name, its
    financial year (a year its file or sheet name states, else the one --year gives, else its award
    dates) and where that came from, and the paths beside input ids in reject reasons.

    A --year that contradicts a year stated in the file or sheet name is an error (the wrong file was
    given); when only award dates suggest a year (they can precede the year of payment), a single
    --year is used. `paths[funding_from:]` are --funding inputs (issue 18): each award's year is its own
    date's (undated ones take the run's single year, else the file's), and awards outside the run's years
    are rejected "outside the run's years" (transforms.run_years).
    """
    from spendmap.sources.grants import GrantsRead, apply_file_facts

    awards, rejects = pd.read_parquet(content.awards), pd.read_parquet(content.rejects)
    named = {info["input_id"]: str(path) for info, path in zip(content.inputs, paths, strict=True)}
    frames, reject_frames, infos = [], [], []
    n_grants = len(paths) if funding_from is None else funding_from
    funding_reads = []
    for i, (info, path) in enumerate(zip(content.inputs, paths, strict=True)):
        iid = info["input_id"]
        mine = awards["input_id"] == iid
        read = GrantsRead(awards=awards if mine.all() else awards[mine],  # one input: no copy of them all
                          rejects=rejects[rejects["input_id"] == iid], info=info)
        if i >= n_grants:
            funding_reads.append(_label_funding(read, path, years, named))
            continue
        read = apply_file_facts(read, path, years, inputs=named)
        frames.append(read.awards)
        reject_frames.append(read.rejects)
        infos.append(read.info)
    if funding_reads:  # issue 18: the run's years are --year, else the registers', else the funding files'
        from spendmap.transforms.run_years import split_outside_years

        run_years = years or sorted({i["fy"] for i in infos}) or sorted({r.info["fy"] for r in funding_reads})
        for read in funding_reads:
            kept, outside = split_outside_years(read.awards, run_years, read.info["amount_header"])
            if len(outside):
                outside = outside.assign(input_id=read.info["input_id"])
            frames.append(kept)
            reject_frames += [read.rejects, outside]
            infos.append({**read.info, "role": "funding", "fy_source": "each award's own date",
                          "rows_accepted": len(kept), "rows_rejected": len(read.rejects) + len(outside),
                          "rows_outside_run_years": len(outside)})
    return _write_read(frames, reject_frames, infos, work_dir)


def _label_funding(read, path: str, years: list[str], named: dict[str, str]):
    """A --funding input's file facts. Its grants keep their own dates' years (run_years); the file's own
    year (the run's single --year, else its name's, else its dates') is only what an undated grant takes."""
    from spendmap.sources.grants import apply_file_facts

    try:
        labelled = apply_file_facts(read, path, [], inputs=named)
    except InputError:
        if len(years) != 1:
            raise
        labelled = apply_file_facts(read, path, years, inputs=named)
    if len(years) == 1:
        labelled.awards["fy"] = years[0]
    return labelled


def _write_read(frames: list[pd.DataFrame], rejects: list[pd.DataFrame], infos: list[dict],
                work_dir: Path) -> ReadResult:
    from spendmap.schemas import REJECT_EXTRA_COLUMNS

    # Canonical dtypes: later layers of the award table join this one column by column (award_layers).
    awards = conform_awards(pd.concat(frames, ignore_index=True)) if frames else empty_awards()
    all_rejects = (pd.concat(rejects, ignore_index=True) if rejects
                   else pd.DataFrame(columns=REJECT_COLUMNS + REJECT_EXTRA_COLUMNS))
    awards_path = catalog.AWARDS_READ.at(work_dir)
    rejects_path = catalog.REJECTS_GRANTS.at(work_dir)
    awards.to_parquet(awards_path, index=False)
    all_rejects.to_parquet(rejects_path, index=False)
    fys = sorted(set(awards["fy"].dropna().unique()))  # distinct first: 1M Arrow strings iterate slowly
    return ReadResult(awards=str(awards_path), rejects=str(rejects_path), inputs=infos, fys=fys)


def load_postcode_directory(postcode_source: str | None):
    """The directory placement uses: a --postcodes file (NSPL/ONSPD layout), else the built-in ONS one."""
    if postcode_source:
        from spendmap.sources.postcodes import directory_from_lookup, read_postcode_lookup

        return directory_from_lookup(read_postcode_lookup(postcode_source), postcode_source)
    from spendmap.sources.postcode_directory import load_builtin_directory

    return load_builtin_directory()


# What placing reads of the labelled awards: the recipient, its postcode and location codes.
PLACE_READS = ["award_id", "is_redacted", "recipient_name", "recipient_id", "recipient_postcode",
               "location_codes", "location_code_types", "amount_gbp"]


def place_grants(awards_path: str, postcode_source: str | None, work_dir: Path) -> PlaceResult:
    """Place every award in a council (geo_method ladder); write the placement layer (award_id and
    schemas.PLACEMENT_COLUMNS: award_layers); return counts by method and postcode status, and which
    postcode directory was used. `awards_path` is the labelled awards.

    postcode_source None means the built-in ONS postcode directory (sources.postcode_directory).
    """
    from spendmap.award_layers import write_layer
    from spendmap.schemas import PLACEMENT_COLUMNS

    placed, directory = placed_frame(pd.read_parquet(awards_path, columns=PLACE_READS), postcode_source)
    path = write_layer(placed, PLACEMENT_COLUMNS, catalog.AWARDS_PLACED.at(work_dir))
    statuses = {str(k): int(v) for k, v in placed["postcode_status"].value_counts().items()}
    reasons = {str(k): int(v) for k, v in placed["unplaced_reason"].value_counts().items()}
    details = {str(k): int(v) for k, v in placed["geo_detail"].value_counts().items()}
    return PlaceResult(
        awards=str(path),
        geo_methods=geo_method_counts(placed),
        postcode_statuses=statuses,
        postcode_directory={**directory.info, "postcodes": len(directory)},
        placement={
            "postcode_statuses": statuses, "unplaced_reasons": reasons, "geo_details": details,
            "placeholder_postcodes": statuses.get("placeholder", 0),
            "councils_with_awards": int(placed["la_code"].nunique()),
            "split_council_rule": SPLIT_COUNCIL_RULE,
        },
    )


def placed_frame(awards: pd.DataFrame, postcode_source: str | None):
    """(awards with every PLACEMENT_COLUMNS column set, the postcode directory used): what place_grants
    computes, before it keeps only the columns it sets."""
    from spendmap.sources.area_lookups import area_to_council
    from spendmap.transforms.location_codes import expand_area_codes, mark_wide_locations
    from spendmap.transforms.postcodes import lookup_postcodes

    awards = awards.copy()
    # issue 18: LSOA/ward location codes place by their council; region/country codes say so unplaced.
    awards["location_codes"], awards["location_code_types"] = expand_area_codes(
        awards["location_codes"], awards["location_code_types"], area_to_council())
    directory = load_postcode_directory(postcode_source)
    found = lookup_postcodes(awards["recipient_postcode"], directory)
    placed = place_awards(awards, load_councils(), gss_to_current_gss(), council_index(), found)
    return mark_wide_locations(placed), directory


SPLIT_COUNCIL_RULE = (
    "An award to a council abolished and split between successors (Cumbria: Cumberland, Westmorland and "
    "Furness; Northamptonshire: North and West Northamptonshire) is placed, whole, in the successor "
    "holding the recipient's address: the award's postcode when it lies in one of them, else the "
    "abolished council's last headquarters (Carlisle: Cumberland; Northampton: West Northamptonshire)."
)


# --- departments and policy areas ---------------------------------------------------------------------


def classification_reference(cache_dir: str | None = None):
    """(departments, policy rules, scheme registers, classified schemes): all from reference/, parsed
    and classified once per code version when `cache_dir` is given (`spendmap.parsed_cache`)."""
    from spendmap.parsed_cache import parsed
    from spendmap.paths import reference_dir

    def build():
        from spendmap.sources.rules import load_departments, load_policy_rules
        from spendmap.sources.schemes import read_scheme_registers
        from spendmap.transforms.departments import apply_departments
        from spendmap.transforms.policy_areas import classify_policy_areas

        departments, rules = load_departments(), load_policy_rules()
        registers = read_scheme_registers()
        schemes = classify_policy_areas(apply_departments(registers.schemes, departments), rules)
        return departments, rules, registers, schemes

    return parsed("classification", [], {"reference": str(reference_dir())}, build, cache_dir)


# What classifying reads of the awards: the funder, scheme, texts and recipient (not the files, the
# managing body or the placement's names and reasons).
CLASSIFY_READS = [
    "award_id", "fy", "award_date", "amount_gbp", "department_raw", "funder_id", "funder_org_type",
    "scheme_code", "scheme_title", "title", "description", "recipient_id", "recipient_name",
    "recipient_postcode", "recipient_city", "recipient_charity_number", "recipient_company_number",
    "is_redacted", "is_council_recipient", "is_aggregated", "number_of_recipients", "la_code",
]


def classify_awards(awards: list[str], work_dir: Path, cache_dir: str | None = None) -> ClassifyResult:
    """Canonical departments and policy areas for every award (and for the national scheme registers),
    recipient organisations, recipient and funder types: the classification layer (award_id and
    schemas.CLASSIFICATION_COLUMNS). `awards` is the award layers so far (labelled, placed)."""
    from spendmap.award_layers import award_columns, read_awards, write_layer
    from spendmap.schemas import CLASSIFICATION_COLUMNS
    from spendmap.transforms.departments import unknown_funders
    from spendmap.transforms.funder_types import funder_type_counts
    from spendmap.transforms.policy_areas import unclassified_share, unclassified_totals

    held = set(award_columns(awards))
    awards = read_awards(awards, [c for c in CLASSIFY_READS if c in held])
    awards, identity, registers, schemes = classified_frame(awards, cache_dir)
    path, schemes_path = catalog.AWARDS_CLASSIFIED.at(work_dir), catalog.SCHEMES.at(work_dir)
    rejects_path = catalog.REJECTS_SCHEMES.at(work_dir)
    write_layer(awards, CLASSIFICATION_COLUMNS, path)
    identity.merges.to_parquet(catalog.RECIPIENT_MERGES.at(work_dir), index=False)
    schemes.to_parquet(schemes_path, index=False)
    registers.rejects.to_parquet(rejects_path, index=False)
    unknown = unknown_funders(awards)
    summary = {
        "unknown_funders": unknown.to_dict(orient="records"),
        "unclassified_by_department": unclassified_share(awards).to_dict(orient="records"),
        "policy_areas": {str(k): int(v) for k, v in awards["policy_area"].value_counts().items()},
        "policy_subareas": {str(k): int(v) for k, v in awards["policy_subarea"].value_counts().items()},
        "allocation_methods": {
            str(k): int(v) for k, v in awards["allocation_method"].fillna("not stated").value_counts().items()
        },
        "unclassified": unclassified_totals(awards),
        "recipient_types": {str(k): int(v) for k, v in awards["recipient_type"].value_counts().items()},
        "funder_types": funder_type_counts(awards),
        "scheme_registers": registers.stats,
        "scheme_register_rows_rejected": len(registers.rejects),
        "recipient_identity": identity.summary,
    }
    return ClassifyResult(
        awards=str(path), schemes=str(schemes_path), rejects=str(rejects_path), summary=summary
    )


def classified_frame(awards: pd.DataFrame, cache_dir: str | None = None):
    """(awards with every CLASSIFICATION_COLUMNS column set, recipient identity, scheme registers,
    classified schemes): what classify_awards computes, before it keeps only the columns it sets."""
    from spendmap.sources.funders import load_known_funders
    from spendmap.sources.rules import load_subarea_rules
    from spendmap.transforms.departments import apply_departments
    from spendmap.transforms.funder_types import add_funder_types
    from spendmap.transforms.policy_areas import allocation_methods, classify_policy_areas, classify_sub_areas
    from spendmap.transforms.recipient_types import add_recipient_types

    departments, rules, registers, schemes = classification_reference(cache_dir)
    subrules = load_subarea_rules(areas=set(rules["policy_area"]))
    awards = apply_departments(awards, departments)
    identity = identify_recipients(awards)
    awards = awards.assign(**{c: identity.organisations[c] for c in identity.organisations.columns})
    awards = classify_sub_areas(classify_policy_areas(awards, rules, schemes), subrules, schemes)
    awards = add_recipient_types(awards.assign(allocation_method=allocation_methods(awards, schemes)))
    # issue 18: funder_type on every award (after departments: a matched department is central government)
    return add_funder_types(awards, load_known_funders()), identity, registers, schemes


def identify_recipients(awards: pd.DataFrame):
    """transforms.recipient_identity with the councils' own org-ids (a predecessor council is itself)."""
    from spendmap.sources.councils import council_org_ids
    from spendmap.transforms.recipient_identity import council_lookup, resolve_recipients

    ids = council_org_ids()
    current = ids.dropna(subset=["la_code"])
    # The org-id of the current council itself, for a council recipient whose name is a variant only
    # the placement's fuzzy match knew.
    own = dict(zip(current["la_code"], current["org_id"], strict=True))
    return resolve_recipients(awards, council_lookup(ids), own)


# --- CRA ----------------------------------------------------------------------------------------------


def allocate_cra(
    cra_path: str, population_path: str, fys: list[str], units: str | None, work_dir: Path,
    cache_dir: str | None = None,
) -> CraResult:
    """CRA identifiable spend allocated to every council by population share, for each run year the CRA
    edition holds.

    With `cache_dir`, the CRA edition is parsed once (`spendmap.parsed_cache`, keyed by its content,
    the units, the years and the code version); an edition holding none of the run's years is read no
    further than its header.

    A run year the edition does not hold is not an error: the grants analysis still runs; the
    allocation has no rows for that year, and `summary["coverage"]` says which years the edition covers
    and how to give a newer one (pages and the manifest show it).
    """
    from spendmap.schemas import CRA_ALLOCATION_COLUMNS
    from spendmap.sources.population import bundled_companions, read_population
    from spendmap.transforms.allocation import CRA_ALLOCATION_EXTRA_COLUMNS, conservation_checks
    from spendmap.transforms.allocation import allocate_cra as allocate
    from spendmap.transforms.population import population_for_councils

    cra = read_cra_once(cra_path, units, fys, cache_dir)
    covered = [fy for fy in fys if fy in cra.years]
    missing = [fy for fy in fys if fy not in cra.years]
    population = read_population(population_path)
    companions = bundled_companions(population_path)  # issue 18: bundled mid-2022 beside mid-2020
    frames, vintages = [], {}
    for fy in fys:
        council_population = population_for_councils([population, *companions], fy)
        vintages[fy] = council_population.choice.as_dict()
        if fy in covered:
            frames.append(allocate(cra.frame, council_population.frame, fy))
    columns = CRA_ALLOCATION_COLUMNS + CRA_ALLOCATION_EXTRA_COLUMNS
    allocation = (
        pd.concat(frames, ignore_index=True) if frames
        else pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    )
    checks = conservation_checks(allocation, cra.frame) if frames else pd.DataFrame()
    path = catalog.CRA_ALLOCATION.at(work_dir)
    rejects = [catalog.REJECTS_CRA.at(work_dir), catalog.REJECTS_POPULATION.at(work_dir)]
    allocation.to_parquet(path, index=False)
    cra.rejects.to_parquet(rejects[0], index=False)
    pd.concat([population.rejects, *(c.rejects for c in companions)], ignore_index=True).to_parquet(
        rejects[1], index=False)
    coverage = {
        "used": bool(covered),
        "edition_years": list(cra.years),
        "run_years_allocated": covered,
        "run_years_not_in_edition": missing,
        "note": cra_coverage_note(cra_path, cra.years, missing),
    }
    if missing:
        print(f"Warning: {coverage['note']}")
    return CraResult(
        allocation=str(path),
        rejects=[str(r) for r in rejects],
        cra_years=cra.years,
        vintages=vintages,
        summary={**cra.summary(), "coverage": coverage},
        population_summary={**population.summary(), "also_bundled": [c.summary() for c in companions]},
        conservation=checks.to_dict(orient="records"),
    )


def read_cra_once(cra_path: str, units: str | None, fys: list[str], cache_dir: str | None):
    """read_cra, through the parsed-reference cache; the file's path is applied here, every run."""
    from dataclasses import replace

    from spendmap.parsed_cache import parsed
    from spendmap.sources.cra import read_cra

    cra = parsed("cra", [cra_path], {"units": units, "years": sorted(fys)},
                 lambda: read_cra(cra_path, units=units, years=fys), cache_dir)
    rejects = cra.rejects.assign(source_file=str(cra_path)) if len(cra.rejects) else cra.rejects
    return replace(cra, path=Path(cra_path), rejects=rejects)


def cra_coverage_note(cra_path: str, edition_years: list[str], missing: list[str]) -> str:
    """What the pages and the run say when run years fall outside the CRA edition ('' when none do)."""
    if not missing:
        return ""
    which = "that year" if len(missing) == 1 else "those years"
    return (
        f"The CRA edition given ({Path(cra_path).name}) covers {', '.join(edition_years)}; it has no "
        f"{', '.join(missing)}, so no CRA spend is allocated for {which} (the grants analysis is complete)."
        " HM Treasury's CRA published in year N covers about N-5 to N-1: give a newer edition with --cra"
        " (`spendmap fetch --list` shows where to find it)."
    )


# --- grant analytics ----------------------------------------------------------------------------------


# What the analytics read of the awards (the profiles, small grants and duplication findings, scheme and
# recipient keys included): not the descriptions, files and rules, a third of a million awards' bytes.
ANALYTICS_READS = [
    "award_id", "fy", "la_code", "la_name", "county_code", "geo_method", "amount_gbp", "is_redacted",
    "is_council_recipient", "department", "department_raw", "department_lineage", "funder_id",
    "funder_org_type", "funder_type", "funder_name", "scheme_code", "scheme_title", "title", "recipient_id",
    "recipient_name", "recipient_postcode", "recipient_city", "recipient_charity_number",
    "recipient_company_number", "organisation_id", "organisation_name", "policy_area", "policy_subarea",
    "allocation_method",
]


def grant_analytics(
    awards: list[str], schemes_path: str, fys: list[str], threshold: float, work_dir: Path
) -> AnalyticsResult:
    """Council profiles, small grants (both scopes), duplication findings and national scheme overlaps.
    `awards` is the award layers (spendmap.award_layers).

    Every council gets a row for every run year, with zeros where no award was placed in it.
    """
    from spendmap.award_layers import award_columns, read_awards
    from spendmap.transforms.duplication import find_duplication, national_scheme_overlaps
    from spendmap.transforms.profiles import award_counts, place_summaries, small_grants

    held = set(award_columns(awards))
    awards = read_awards(awards, [c for c in ANALYTICS_READS if c in held])
    councils = load_councils()
    # issue 18: the same profile per funder type, so central government stays separable (one pass)
    summary, by_funder_type = place_summaries(awards, councils, threshold, fys=fys)
    tables = {
        "place_summary": summary,
        "small_grants": small_grants(awards, councils, threshold, fys=fys),
        "duplication": find_duplication(awards),
        "national_scheme_overlaps": national_scheme_overlaps(pd.read_parquet(schemes_path)),
        "place_summary_by_funder_type": by_funder_type,
    }
    paths = {}
    for name, df in tables.items():
        paths[name] = str(catalog.DATASETS[name].at(work_dir))
        df.to_parquet(paths[name], index=False)
    summary = {**award_counts(awards, threshold), "duplication_findings": len(tables["duplication"])}
    return AnalyticsResult(tables=paths, summary=summary)


# --- issue 18: priority outcomes -------------------------------------------------------------------------


def match_priority_outcomes(
    awards: list[str], cra_allocation_path: str, priorities_path: str | None, local_paths: list[str],
    fys: list[str], work_dir: Path,
) -> PriorityResult:
    """The places' priorities (--priorities, else the bundled pfpp preset), --local spend, and every
    award or local line matched to a priority: priorities, priority_funding, priority_matches,
    priority_overlaps and local_spend tables (transforms.priority_matching)."""
    from spendmap.sources.local_spend import LOCAL_SPEND_COLUMNS, read_local_spend
    from spendmap.sources.priorities import bundled_priorities_path, load_run_priorities
    from spendmap.transforms.priority_matching import (
        check_cra_functions,
        match_priorities,
        priority_funding,
        priority_overlaps,
        priority_table,
    )

    priorities = load_run_priorities(priorities_path)
    cra = pd.read_parquet(cra_allocation_path)
    check_cra_functions(priorities, cra["function"].dropna().unique(),
                        priorities_path or str(bundled_priorities_path()))
    councils = load_councils()
    names = dict(zip(councils["la_code"], councils["la_name"], strict=True))
    reads = [read_local_spend(p, years=fys, find_council=council_index().find, council_names=names,
                              priorities=priorities) for p in local_paths]
    local = (pd.concat([r.lines for r in reads], ignore_index=True) if reads
             else pd.DataFrame(columns=LOCAL_SPEND_COLUMNS))
    rejects = collect_rejects([]) if not reads else pd.concat([r.rejects for r in reads], ignore_index=True)
    from spendmap.award_layers import award_columns, read_awards
    from spendmap.transforms.priority_matching import AWARD_FIELDS

    held = set(award_columns(awards))
    awards = read_awards(awards, [c for c in AWARD_FIELDS if c in held])
    matches = match_priorities(awards, priorities, local if reads else None)
    tables = {
        "priorities": priority_table(priorities),
        "priority_funding": priority_funding(matches, priorities, fys, cra, local_given=bool(reads)),
        "priority_matches": matches,
        "priority_overlaps": priority_overlaps(matches),
        "local_spend": local,
    }
    paths = {}
    for name, df in tables.items():
        paths[name] = str(catalog.DATASETS[name].at(work_dir))
        df.to_parquet(paths[name], index=False)
    rejects_path = catalog.REJECTS_LOCAL.at(work_dir)
    rejects.to_parquet(rejects_path, index=False)
    summary = {
        "priorities_file": priorities_path or "bundled pfpp preset",
        "places": len({p.la_code for p in priorities}), "priorities": len(priorities),
        "matches": len(matches), "overlaps": len(tables["priority_overlaps"]),
        "local_lines": len(local), "local_rejected": len(rejects),
    }
    return PriorityResult(tables=paths, rejects=str(rejects_path), inputs=[r.info for r in reads],
                          summary=summary)


# --- writing ------------------------------------------------------------------------------------------

def collect_rejects(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Every input row not accepted, from the readers' rejects files, in one table (REJECT_COLUMNS, then
    the grants input id, blank for other readers' rows)."""
    from spendmap.schemas import REJECT_EXTRA_COLUMNS

    columns = REJECT_COLUMNS + REJECT_EXTRA_COLUMNS
    frames = [pd.read_parquet(p) for p in paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)


def placement_tables(awards: pd.DataFrame | str | Path, fys: list[str]) -> dict[str, pd.DataFrame]:
    """unplaced (every unresolved award with its reason) and county_areas (two-tier figures).

    Given the awards' parquet file, only the columns these two tables use are read."""
    from spendmap.schemas import UNPLACED_COLUMNS
    from spendmap.transforms.geography import county_areas, unplaced_table

    if not isinstance(awards, pd.DataFrame):
        county = ["la_code", "county_code", "fy", "amount_gbp", "recipient_name"]
        columns = list(dict.fromkeys([*UNPLACED_COLUMNS, "geo_method", "unplaced_reason", *county]))
        awards = pd.read_parquet(awards, columns=[c for c in columns if c != "reason"])
    return {"unplaced": unplaced_table(awards), "county_areas": county_areas(awards, load_councils(), fys)}


def _export_csv(frame: pd.DataFrame, source: Path | None, target: Path) -> Path:
    """target CSV of `frame`. When the frame is a finished cached step's parquet file, its CSV is made once
    beside it in that (never again written) cache folder and copied: a warm run does not format the
    same 38,000 CRA rows again."""
    import shutil

    from spendmap.outputs.tables import write_csv
    from spendmap.pipeline import is_complete

    if source is None or not is_complete(source.parent):
        return write_csv(frame, target)
    kept = source.with_suffix(".csv")
    if not kept.is_file():
        part = kept.with_suffix(f".{os.getpid()}.part")
        write_csv(frame, part)
        part.replace(kept)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept, target)
    return target


def write_tables(
    awards: list[str], analytics: AnalyticsResult, cra_allocation_path: str, rejects: list[str],
    work_dir: Path,
) -> TablesResult:
    """awards.parquet, rejects.csv, the analytic CSVs and spendmap.duckdb into `work_dir`: the staging
    folder, or (the pipeline) a result-cache folder keyed by every table's content, which
    `copy_tables` then copies into the staging folder, so a warm run does not build the same database.

    `rejects` lists every reader's rejects file (the grants, scheme, CRA and population readers);
    `awards` the award layers, which become awards.parquet side by side (spendmap.award_layers).
    """
    import pyarrow.parquet as pq

    from spendmap.award_layers import write_awards
    from spendmap.outputs.tables import write_csv, write_duckdb

    # The award table is never loaded whole here: awards.parquet is written from the layers a slice at
    # a time, DuckDB reads it from disk, and the placement tables read only their columns.
    awards_out = write_awards(awards, catalog.AWARDS.at(work_dir))
    sources = {name: Path(p) for name, p in analytics.tables.items()}
    sources["cra_allocation"] = Path(cra_allocation_path)
    tables = {name: pd.read_parquet(p) for name, p in sources.items()}
    tables.update(placement_tables(awards_out, sorted(set(tables["place_summary"]["fy"]))))
    # written beside the classification layer
    merges = Path(awards[-1]).with_name(catalog.RECIPIENT_MERGES.path)
    if merges.is_file():
        tables["recipient_merges"] = pd.read_parquet(merges)
    if len(set(tables["place_summary"]["fy"])) > 1:
        from spendmap.transforms.trends import council_trends

        tables["trends"] = council_trends(tables["place_summary"], tables["cra_allocation"])
    all_rejects = collect_rejects(rejects)
    files = {
        catalog.AWARDS.path: awards_out,
        catalog.REJECTS.path: write_csv(all_rejects, catalog.REJECTS.at(work_dir)),
    }
    for csv in catalog.CSV_EXPORTS:
        name = catalog.exported_table(csv)
        if name in tables:
            files[csv.path] = _export_csv(tables[name], sources.get(name), csv.at(work_dir))
    in_duckdb = {"awards": awards_out, "rejects": all_rejects, "councils": load_councils(), **tables}
    files[catalog.DUCKDB.path] = write_duckdb(
        {name: in_duckdb[name] for name in catalog.DUCKDB_TABLES if name in in_duckdb},
        catalog.DUCKDB.at(work_dir),
    )
    return TablesResult(
        files={name: str(path.relative_to(work_dir)) for name, path in files.items()},
        rows={"awards": pq.ParquetFile(awards_out).metadata.num_rows, "rejects": len(all_rejects),
              **{name: len(df) for name, df in tables.items()}},
    )


def copy_tables(written: TablesResult, work_dir: Path, staging: Path) -> None:
    """The files `write_tables` wrote into `work_dir` (a cache folder), copied into the staging folder:
    copies, never links, so a user editing a published file cannot change the cache."""
    import shutil

    for relative in written.files.values():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work_dir / relative, target)


# --- pages and manifest -------------------------------------------------------------------------------

OGL = "Open Government Licence v3.0"


def site_context(manifest: dict, coverage_notes: list[str] | None = None) -> dict:
    """What every page and workbook says about the run (RunContext fields), from the manifest.

    coverage_notes: extra sentences every page states under "What these figures cover" (e.g. which
    postcode directory placed the awards); site_context adds none of its own beyond the manifest's.
    """
    from spendmap.sources.postcode_directory import builtin_info
    from spendmap.transforms.funder_types import describe_funding

    fy = manifest["financial_years"][-1]
    geo = manifest["geo_methods"]
    cra_note = manifest["assumptions"]["population_vintages"][fy]["description"]
    inputs = manifest["inputs"]
    sources = [
        {"kind": "grants", "licence": OGL,
         "name": f"Cabinet Office, Government Grants Information System: {Path(g['path']).name}"}
        if g.get("role") != "funding" else
        # issue 18: other funders' 360Giving data keeps the licence each publisher gave it.
        {"kind": "grants", "licence": "as each funder published it (360Giving: usually CC BY 4.0 or OGL)",
         "name": f"Other funders' grants (360Giving) given with --funding: {Path(g['path']).name}"}
        for g in inputs["grants"]
    ]
    sources += [
        {"kind": "cra", "licence": OGL,
         "name": f"HM Treasury, Country and Regional Analysis: {Path(inputs['cra']['path']).name}"},
        {"kind": "population", "licence": OGL,
         "name": "ONS population estimates: " + "; ".join(  # issue 18: with the bundled mid-2022
             Path(p).name for p in [inputs["population"]["path"], *(
                 a["path"] for a in (inputs["population"].get("reading") or {}).get("also_bundled", []))])},
        {"kind": "reference", "name": "mySociety uk_local_authority_names_and_codes", "licence": "CC BY 4.0"},
    ]
    directory = manifest.get("postcode_directory") or (
        {"name": "ONS postcode lookup given with --postcodes", "vintage": "as published in that file",
         "source_file": Path(inputs["postcodes"]["path"]).name, "builtin": False}
        if inputs["postcodes"] else builtin_info()
    )
    sources.append({
        "kind": "reference", "licence": OGL,
        "name": f"{directory['name']}, {directory['vintage']}"
        + (f" ({directory['package']} {directory['package_version']})" if directory.get("builtin") else
           f" ({directory.get('source_file', '')})"),
    })
    placed = sum(v["awards"] for m, v in geo.items() if m != "unresolved")
    total = placed + geo["unresolved"]["awards"]
    coverage = inputs["cra"].get("reading", {}).get("coverage", {})
    assumptions = [
        "Awards are placed at the recipient's registered address (or the council itself when the recipient "
        "is a council); that is not necessarily where the money is spent.",
        f"{placed:,} of {total:,} awards were placed in a council: "
        + "; ".join(f"{GEO_METHOD_WORDS[m]} {v['awards']:,}" for m, v in geo.items() if m != "unresolved")
        + f". {geo['unresolved']['awards']:,} awards (£{geo['unresolved']['amount_gbp']:,.0f}) could not be "
        "placed; unplaced.csv lists each with its reason, and they are counted in no council.",
        f"Postcodes are looked up in the {directory['name']} ({directory['vintage']}), current council "
        "boundaries: case and spaces normalised, a letter O or I read as 0 or 1 where the format needs a "
        "digit, placeholders such as AA1 1AA or ZZ99 treated as no postcode, and a postcode not in the "
        "directory placed by its sector only when at least 90% of the sector's postcodes lie in one council. "
        "Channel Islands and Isle of Man postcodes stay unplaced. An award with no postcode takes its "
        "recipient's postcode from the recipient's other awards, only when they all agree.",
        SPLIT_COUNCIL_RULE,
        "Two-tier areas: an award is placed in one council only (the district, or the county council when "
        "the county council is the recipient); a county's page adds its districts' awards beside the county "
        "council's own (county_areas.csv), so national totals still count each award once.",
        f"Small grants are awards under £{manifest['assumptions']['small_threshold_gbp']:,.0f}; zero-value "
        "and redacted awards are excluded from the small-grant test.",
        "CRA figures are identifiable spending only, allocated to councils by their share of the "
        "region's population: as accurate as the departments' own regional attribution, and no more.",
        cra_note,
    ]
    if coverage.get("note"):
        assumptions.append(coverage["note"])
    if directory.get("attribution"):
        assumptions.append(f"Postcode directory: {directory['attribution']}")
    return {
        "fy": fy,
        "sources": sources,
        "small_threshold_gbp": manifest["assumptions"]["small_threshold_gbp"],
        "population_vintage": cra_note.rstrip("."),
        "assumptions": assumptions,
        "n_unresolved_awards": geo["unresolved"]["awards"],
        "unresolved_gbp": geo["unresolved"]["amount_gbp"],
        "years": list(manifest["financial_years"]),
        "geo_methods": geo,
        "n_awards_read": sum(int(v["awards"]) for v in geo.values()),
        "amount_read_gbp": sum(float(v["amount_gbp"]) for v in geo.values()),
        "cra_years": list(inputs["cra"].get("reading", {}).get("years", [])),
        "coverage_notes": list(coverage_notes or []),
        "unclassified": dict(manifest.get("classification", {}).get("unclassified") or {}),
        "funding_words": describe_funding([t for t, v in (manifest.get("classification", {}).get(
            "funder_types") or {}).items() if v.get("n_awards")]),
    }


GEO_METHOD_WORDS = {
    "council_match": "the recipient is the council", "geo_code": "by an ONS council code",
    "postcode": "by postcode", "postcode_sector": "by postcode sector",
    "recipient_postcode": "by the recipient's postcode on its other awards",
}

# Maps a one-council render function over the councils' jobs, e.g. the builtin `map` (in-process) or
# Prefect's task map on the flow's task runner (threads or Dask).
CouncilMapper = Callable[[Callable[[Any], Any], list[Any]], Iterable[Any]]


def render_site(
    staging: Path, analytics: AnalyticsResult, cra_allocation_path: str, context: dict,
    places: list[str] | None, map_councils: CouncilMapper = map, progress=None,
) -> SiteFiles:
    """index.html, assets/ and the council pages, Sankeys and workbooks, from the written tables.

    progress: optional `outputs.site.Progress` callback, called as progress(stage, done, total, label) with
    stage "council" once per council folder written and "index" once at the end.
    """
    from spendmap.outputs.site import SiteTables
    from spendmap.outputs.site import render_site as render

    tables = analytics.tables
    awards, register = page_awards(catalog.AWARDS.at(staging), places)
    if not context.get("departments"):  # the departments the register holds, stated on every page
        context = {**context, "departments": register_departments(catalog.AWARDS.at(staging))}
    site_tables = SiteTables.from_datasets(
        load_councils(), awards, {**tables, catalog.CRA_ALLOCATION.name: cra_allocation_path}, register)
    result = render(staging, site_tables, context, places, map_councils=map_councils, progress=progress)
    return SiteFiles(
        files={catalog.INDEX_HTML.path: catalog.INDEX_HTML.path,
               "councils/": f"{len(result.profiles)} council folders"},
        seconds=round(result.seconds, 2),
        bytes=result.bytes_written,
        councils=len(result.profiles),
    )


def page_awards(path: Path, places: list[str] | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The awards the pages show: (awards, register).

    Without --places, every award whole, and no register (the awards are the register). With --places,
    the rendered councils' awards whole, and every award in the index's columns only (REGISTER_COLUMNS):
    the coverage per department, amount bands and finder stay over the whole register while a million
    awards are never all held with every column."""
    import pyarrow.parquet as pq

    from spendmap.outputs.context import REGISTER_COLUMNS

    if places is None:
        return pd.read_parquet(path), None
    names = set(pq.read_schema(path).names)
    register = pd.read_parquet(path, columns=[c for c in REGISTER_COLUMNS if c in names])
    awards = pd.read_parquet(path, filters=[("la_code", "in", list(places))]) if places else (
        pd.read_parquet(path).iloc[0:0])
    return awards, register


def register_departments(path: Path) -> list[str]:
    """The distinct departments of the whole register (one column read)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=["department"]).column("department")
    return sorted(str(d) for d in pc.unique(column.drop_null()).to_pylist())


def write_manifest(manifest: dict, staging: Path, cache_dir: Path | None = None,
                   counted: dict[str, dict] | None = None) -> Path:
    """run_manifest.json, its grants reconciliation counted from the files written in staging.

    The placement step's record (the postcode directory used, statuses, reasons) joins it here unless
    the flow already put it in. A run that does not reconcile raises ReconciliationError (exit 1) after
    writing the manifest into the staging folder, which is then discarded: nothing is published.
    `counted`: the inputs' plain counts if the run took them early (pipeline.PlainCounts).
    """
    from spendmap.manifest import check_reconciled, finite_json, listed_outputs, reconcile_written
    from spendmap.outputs.tables import write_json

    manifest["outputs"] = listed_outputs(staging)
    grants = reconcile_written(manifest["inputs"]["grants"], staging, cache_dir, counted)
    manifest["reconciliation"] = {**grants, **manifest.get("reconciliation", {})}
    path = write_json(finite_json(manifest), catalog.MANIFEST.at(staging))
    check_reconciled(grants)
    return path
