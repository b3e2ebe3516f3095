"""The pipeline's nodes are declared against the catalog, and the runner holds each step to it."""

from dataclasses import dataclass

import pandas as pd
import pytest

from spendmap import catalog, pipeline
from spendmap.schemas import PLACE_SUMMARY_COLUMNS


def test_every_node_names_catalog_datasets():
    for step in pipeline.STEPS:
        unknown = [n for n in (*step.inputs, *step.outputs) if n not in catalog.DATASETS]
        assert not unknown, (step.name, unknown)
    written = [n for step in pipeline.STEPS for n in step.outputs]
    assert len(written) == len(set(written)), "a dataset is written by one step only"


def test_every_published_csv_is_written_by_a_step():
    writer = {n: s.name for s in pipeline.STEPS for n in s.outputs}
    assert {d.name for d in catalog.CSV_EXPORTS} <= set(writer)
    assert [catalog.exported_table(d) for d in catalog.CSV_EXPORTS][:3] == [
        "place_summary", "small_grants", "duplication"
    ]


@dataclass
class _Result:
    tables: dict

    def to_dict(self):
        return {"tables": self.tables}


def test_a_step_that_drops_a_declared_column_fails_the_run(tmp_path):
    path = catalog.PLACE_SUMMARY.at(tmp_path)
    frame = pd.DataFrame({c: [1] for c in PLACE_SUMMARY_COLUMNS})
    frame.to_parquet(path)
    pipeline.check_outputs(pipeline.ANALYTICS, _Result({"place_summary": str(path)}))  # complete: passes
    frame.drop(columns=["share_small", "n_schemes"]).to_parquet(path)
    with pytest.raises(RuntimeError, match="grant-analytics wrote place_summary .* n_schemes, share_small"):
        pipeline.check_outputs(pipeline.ANALYTICS, _Result({"place_summary": str(path)}))


def test_every_query_file_says_what_it_computes():
    """Each queries/*.sql opens with `-- <its name>: <what it computes>`, so an analyst can read it."""
    from importlib import resources

    files = [f for f in resources.files("spendmap.queries").iterdir() if f.name.endswith(".sql")]
    assert files
    for f in files:
        first = f.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(f"-- {f.name.removesuffix('.sql')}: ") and len(first) > 40, f.name
