"""What each pipeline step returns: paths of the datasets it wrote (see `spendmap.catalog`) and small,
JSON-ready facts for the run manifest. Plain dataclasses, so Prefect can persist them as task results
and a step's caller reads named fields instead of digging in nested dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StepResult:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReadResult(StepResult):
    """steps.ingest_grants: raw awards and rejects; one reading summary per register."""

    awards: str
    rejects: str
    inputs: list[dict[str, Any]]
    fys: list[str]


@dataclass
class PlaceResult(StepResult):
    """steps.place_grants: placed awards; awards and £ by geo_method; postcode lookup outcomes; the
    postcode directory used and the placement record (both go into the run manifest)."""

    awards: str
    geo_methods: dict[str, dict[str, Any]]
    postcode_statuses: dict[str, int] = field(default_factory=dict)
    postcode_directory: dict[str, Any] = field(default_factory=dict)
    placement: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClassifyResult(StepResult):
    """steps.classify_awards: awards with departments and policy areas; the classified scheme registers."""

    awards: str
    schemes: str
    rejects: str
    summary: dict[str, Any]


@dataclass
class CraResult(StepResult):
    """steps.allocate_cra: the allocation table, the readers' rejects and what the manifest reports."""

    allocation: str
    rejects: list[str]
    cra_years: list[str]
    vintages: dict[str, Any]
    summary: dict[str, Any]
    population_summary: dict[str, Any]
    conservation: list[dict[str, Any]]


@dataclass
class AnalyticsResult(StepResult):
    """steps.grant_analytics: one parquet per analytic table (catalog.ANALYTIC_TABLES), and counts."""

    tables: dict[str, str]
    summary: dict[str, Any]


@dataclass
class TablesResult(StepResult):
    """steps.write_tables: published file names (relative to the output folder) and row counts."""

    files: dict[str, str]
    rows: dict[str, int]


@dataclass
class SiteFiles(StepResult):
    """steps.render_site: what the pages step wrote."""

    files: dict[str, str]
    seconds: float
    bytes: int
    councils: int = 0  # council folders written


@dataclass
class PriorityResult(StepResult):
    """steps.match_priority_outcomes (issue 18): one parquet per priority table (priorities,
    priority_funding, priority_matches, priority_overlaps, local_spend), the local-spend rejects, one
    reading summary per --local file, and counts."""

    tables: dict[str, str]
    rejects: str
    inputs: list[dict[str, Any]]
    summary: dict[str, Any]
