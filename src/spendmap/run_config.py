"""The settings of one pipeline run, shared by the CLI, the Prefect flow and the deployments."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from spendmap.fiscal_year import fy_start_year
from spendmap.paths import BUNDLED_CRA, BUNDLED_GRANTS, BUNDLED_POPULATION, reference_path

DEFAULT_SMALL_THRESHOLD_GBP = 100_000.0


@dataclass
class RunConfig:
    """Everything `spendmap run` needs. Sources are paths or http(s) URLs; None means bundled."""

    years: list[str] = field(default_factory=list)  # empty: the year each grants file says it is
    grants: list[str] = field(default_factory=list)
    cra: str | None = None
    population: str | None = None
    postcodes: str | None = None
    places: str | None = None  # 'pfpp', codes or names; pages only (tables always cover all)
    small_threshold_gbp: float = DEFAULT_SMALL_THRESHOLD_GBP
    out_dir: str = "outputs"
    offline: bool = False
    cra_units: str | None = None  # None: the unit the CRA file states, else £ thousands
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        for fy in self.years:
            fy_start_year(fy)  # raises InputError for a malformed year
        if not self.grants:
            self.grants = [str(reference_path(*BUNDLED_GRANTS))]
        self.cra = self.cra or str(reference_path(*BUNDLED_CRA))
        self.population = self.population or str(reference_path(*BUNDLED_POPULATION))
        self.out_dir = str(Path(self.out_dir))

    def to_dict(self) -> dict:
        return asdict(self)
