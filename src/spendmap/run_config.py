"""The parameters of one pipeline run, declared once.

`RunParams` is the single declaration: `spendmap run` builds its options from these fields (the `cli`
entry of each field's schema extras), the Prefect flow takes a `RunParams` as its one parameter (so the
Prefect UI shows the same form), and deployments pass the same fields as `{"params": {...}}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spendmap.errors import InputError
from spendmap.fiscal_year import fy_start_year
from spendmap.paths import BUNDLED_CRA, BUNDLED_GRANTS, BUNDLED_POPULATION, reference_path

DEFAULT_SMALL_THRESHOLD_GBP = 100_000.0


def _cli(flag: str, metavar: str | None = None, **more: Any) -> dict[str, Any]:
    """Schema extras that tell cli.py how to expose a field as a `spendmap run` option."""
    return {"cli": {"flag": flag, "metavar": metavar, **more}}


class RunParams(BaseModel):
    """Everything one `spendmap run` needs. Sources are paths or http(s) URLs; None means bundled."""

    model_config = ConfigDict(extra="forbid")

    years: list[str] = Field(
        default_factory=list,
        description="financial years, e.g. 2016-17 (empty: the year each grants register says it is)",
    )
    grants: list[str] = Field(
        default_factory=list,
        description="grants register file or URL (repeatable; default: the bundled 2016-17 register)",
        json_schema_extra=_cli("--grants", "SRC", action="append"),
    )
    # --- issue 18: other funders, local spend, priorities ---
    funding: list[str] = Field(
        default_factory=list,
        description="other funders' grants: 360Giving JSON/CSV/XLSX or a GrantNav export (repeatable); "
        "each grant counts in the year of its own award date",
        json_schema_extra=_cli("--funding", "SRC", action="append"),
    )
    local: list[str] = Field(
        default_factory=list,
        description="a council's own spend or funding in the CSV template of docs/local_spend_template.csv "
        "(repeatable)",
        json_schema_extra=_cli("--local", "FILE", action="append"),
    )
    priorities: str | None = Field(
        None, description="places' priority outcomes (YAML; default: the bundled pfpp preset)",
        json_schema_extra=_cli("--priorities", "FILE"),
    )
    cra: str | None = Field(
        None, description="HMT CRA database (default: bundled CRA 2018)",
        json_schema_extra=_cli("--cra", "SRC"),
    )
    cra_units: Literal["thousands", "millions", "pounds"] | None = Field(
        None,
        description="units of the CRA values (default: as the file's notes say, else £ thousands)",
        json_schema_extra=_cli("--cra-units"),
    )
    population: str | None = Field(
        None, description="ONS population (default: bundled mid-2020)",
        json_schema_extra=_cli("--population", "SRC"),
    )
    postcodes: str | None = Field(
        None, description="ONS postcode lookup (NSPL/ONSPD layout)",
        json_schema_extra=_cli("--postcodes", "SRC"),
    )
    places: str | None = Field(
        None, description="councils to render pages for ('pfpp', codes, names); tables always cover all",
        json_schema_extra=_cli("--places", "P,..."),
    )
    small_threshold_gbp: float = Field(
        DEFAULT_SMALL_THRESHOLD_GBP, gt=0, allow_inf_nan=False,
        description="awards under this are 'small' (default 100000)",
        json_schema_extra=_cli("--small-threshold", "GBP"),
    )
    out_dir: str = Field(
        "outputs", description="output folder (default: outputs)", json_schema_extra=_cli("--out", "DIR")
    )
    offline: bool = Field(
        False, description="never download; URLs must be in the cache",
        json_schema_extra=_cli("--offline", action="store_true"),
    )
    cache_dir: str | None = Field(
        None, description="download and step-result cache (default: $SPENDMAP_CACHE or ~/.cache/spendmap)"
    )
    task_runner: Literal["default", "dask"] = Field(
        "default",
        description="where mapped work (one task per council page) runs: Prefect's thread pool, or Dask",
        json_schema_extra=_cli("--task-runner"),
    )
    dask_address: str | None = Field(
        None, description="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 "
        "(with --task-runner dask; default: a local cluster on this machine)",
        json_schema_extra=_cli("--dask-address", "ADDR"),
    )

    @field_validator("years")
    @classmethod
    def _valid_years(cls, years: list[str]) -> list[str]:
        for fy in years:
            fy_start_year(fy)  # raises InputError for a malformed year
        return years

    @model_validator(mode="after")
    def _bundled_defaults(self) -> RunParams:
        if self.dask_address and self.task_runner != "dask":
            raise InputError(
                f"--dask-address {self.dask_address} was given without --task-runner dask. Add "
                "--task-runner dask to run the council pages on that Dask scheduler."
            )
        if not self.grants and not self.funding:  # --funding alone is a whole run
            self.grants = [str(reference_path(*BUNDLED_GRANTS))]
        self.cra = self.cra or str(reference_path(*BUNDLED_CRA))
        self.population = self.population or str(reference_path(*BUNDLED_POPULATION))
        self.out_dir = str(Path(self.out_dir))
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


# The name the rest of the code used before the parameters became one pydantic model.
RunConfig = RunParams


def cli_options() -> list[tuple[str, dict[str, Any]]]:
    """(field name, its `cli` extras and help text) for every field `spendmap run` exposes as an option."""
    options = []
    for name, info in RunParams.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if "cli" in extra:
            options.append((name, {**extra["cli"], "help": info.description}))  # type: ignore[dict-item]
    return options
