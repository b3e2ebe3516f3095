"""The award table as layers (spendmap.award_layers): each step's narrow parquet, read and published
side by side."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from spendmap import award_layers, steps
from spendmap.award_layers import award_columns, read_awards, write_awards, write_layer
from spendmap.paths import BUNDLED_GRANTS, reference_path
from spendmap.schemas import CLASSIFICATION_COLUMNS, PLACEMENT_COLUMNS, conform_awards


def _labelled(n: int = 5) -> pd.DataFrame:
    return conform_awards(pd.DataFrame({
        "award_id": [f"A{i}" for i in range(n)], "fy": ["2016-17"] * n,
        "recipient_name": [f"Recipient {i}" for i in range(n)], "amount_gbp": [100.0 * i for i in range(n)],
        "award_date_outside_fy": [False] * n, "currency": ["GBP"] * n,
    }))


def _layers(tmp_path, n: int = 5) -> list[str]:
    labelled = _labelled(n)
    base = tmp_path / "awards_read.parquet"
    labelled.to_parquet(base, index=False)
    placed = labelled.assign(la_code=pd.Series([f"E0800003{i % 3}" for i in range(n)], dtype="string"),
                             is_council_recipient=pd.Series([i == 1 for i in range(n)], dtype="boolean"))
    placement = write_layer(placed, ["la_code", "is_council_recipient"], tmp_path / "awards_placed.parquet")
    classified = labelled.assign(department=pd.Series(["DfT"] * n, dtype="string"),
                                 recipient_type=pd.Series(["charity"] * n, dtype="string"))
    classification = write_layer(classified, ["department", "recipient_type"],
                                 tmp_path / "awards_classified.parquet")
    return [str(base), str(placement), str(classification)]


def test_each_column_comes_from_the_last_layer_holding_it(tmp_path):
    layers = _layers(tmp_path)
    awards = read_awards(layers)
    # la_code is empty in the labelled awards and set by the placement layer: the later layer wins.
    assert awards["la_code"].tolist() == ["E08000030", "E08000031", "E08000032", "E08000030", "E08000031"]
    assert awards["is_council_recipient"].tolist() == [False, True, False, False, False]
    assert awards["department"].tolist() == ["DfT"] * 5 and awards["amount_gbp"].sum() == 1_000.0
    # awards.parquet's order: the canonical columns, then the others as the layers first hold them.
    assert list(awards.columns)[-2:] == ["currency", "recipient_type"]
    assert list(awards.columns) == award_columns(layers)
    # Each column keeps the pandas dtype its step wrote.
    assert str(awards["la_code"].dtype) == "string" and str(awards["is_council_recipient"].dtype) == "boolean"
    assert str(awards["award_date_outside_fy"].dtype) == "boolean"


def test_only_the_columns_asked_for_are_read(tmp_path):
    layers = _layers(tmp_path)
    awards = read_awards(layers, ["amount_gbp", "la_code"])
    assert list(awards.columns) == ["amount_gbp", "la_code"] and awards["la_code"].iloc[2] == "E08000032"
    with pytest.raises(KeyError, match="no_such_column"):
        read_awards(layers, ["no_such_column"])


def test_the_whole_table_written_a_slice_at_a_time_is_the_table_read(tmp_path, monkeypatch):
    monkeypatch.setattr(award_layers, "BATCH_ROWS", 2)  # five awards: three slices
    layers = _layers(tmp_path)
    written = write_awards(layers, tmp_path / "out" / "awards.parquet")
    assert pq.ParquetFile(written).metadata.num_rows == 5
    pd.testing.assert_frame_equal(pd.read_parquet(written), read_awards(layers))


def test_layers_of_other_awards_are_refused(tmp_path, monkeypatch):
    layers = _layers(tmp_path)
    shuffled = pd.read_parquet(layers[1]).iloc[[1, 0, 2, 3, 4]]
    shuffled.to_parquet(layers[1], index=False)
    with pytest.raises(RuntimeError, match="does not hold the awards"):
        read_awards(layers)
    monkeypatch.setattr(award_layers, "BATCH_ROWS", 2)
    with pytest.raises(RuntimeError, match="does not hold the labelled awards"):
        write_awards(layers, tmp_path / "awards.parquet")
    pd.read_parquet(layers[1]).iloc[:4].to_parquet(layers[1], index=False)  # one award short
    with pytest.raises(RuntimeError):
        write_awards(layers, tmp_path / "awards.parquet")


def test_placing_and_classifying_set_only_their_layers_columns(tmp_path):
    """The bundled register: every column placing or classifying changes is one its layer declares, so
    keeping only those columns loses nothing (and placing reads only steps.PLACE_READS)."""
    read = steps.ingest_grants([str(reference_path(*BUNDLED_GRANTS))], ["2016-17"], tmp_path)
    labelled = pd.read_parquet(read.awards)
    placed, _ = steps.placed_frame(labelled, None)
    assert _changed(labelled, placed) <= set(PLACEMENT_COLUMNS)
    assert _changed(labelled, placed) >= {"la_code", "geo_method", "postcode_status", "unplaced_reason"}
    assert (placed["la_code"].notna().sum(), len(placed)) == (1978, 3351)
    classified, *_ = steps.classified_frame(placed)
    assert _changed(placed, classified) <= set(CLASSIFICATION_COLUMNS)
    assert _changed(placed, classified) == set(CLASSIFICATION_COLUMNS)  # each one set on this register
    # And placing from PLACE_READS alone, and classifying from CLASSIFY_READS alone, give the same
    # columns as from every column.
    narrow, _ = steps.placed_frame(labelled[steps.PLACE_READS], None)
    pd.testing.assert_frame_equal(narrow[PLACEMENT_COLUMNS], placed[PLACEMENT_COLUMNS])
    narrow, *_ = steps.classified_frame(placed[steps.CLASSIFY_READS])
    pd.testing.assert_frame_equal(narrow[CLASSIFICATION_COLUMNS], classified[CLASSIFICATION_COLUMNS])


def _changed(before: pd.DataFrame, after: pd.DataFrame) -> set[str]:
    """Columns of `after` that `before` lacks or holds other values in."""
    changed = set()
    for column in after.columns:
        if column not in before.columns:
            changed.add(column)
            continue
        old, new = before[column].astype(object), after[column].astype(object)
        same = (old.isna() == new.isna()) & ((old == new) | old.isna())
        if not same.all():
            changed.add(column)
    return changed


def test_analytics_and_matching_read_every_column_they_use(bundled_run, tmp_path):
    """grant_analytics and match_priority_outcomes read only their columns (steps.ANALYTICS_READS,
    priority_matching.AWARD_FIELDS): on the bundled run's awards their tables equal those computed from
    every column."""
    from spendmap.sources.councils import load_councils
    from spendmap.sources.priorities import load_run_priorities
    from spendmap.transforms.duplication import find_duplication
    from spendmap.transforms.priority_matching import match_priorities
    from spendmap.transforms.profiles import place_summaries, small_grants

    published = bundled_run / "awards.parquet"
    whole = pd.read_parquet(published)
    schemes = tmp_path / "schemes.parquet"
    pd.DataFrame({"fy": ["2016-17"], "policy_area": ["transport"], "department": ["DfT"],
                  "scheme_title": ["Buses"], "value_gbp": [1.0]}).to_parquet(schemes)
    result = steps.grant_analytics([str(published)], str(schemes), ["2016-17"], 100_000.0, tmp_path)
    councils = load_councils()
    summary, by_type = place_summaries(whole, councils, 100_000.0, fys=["2016-17"])
    expected = {"place_summary": summary, "place_summary_by_funder_type": by_type,
                "small_grants": small_grants(whole, councils, 100_000.0, fys=["2016-17"]),
                "duplication": find_duplication(whole)}
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(pd.read_parquet(result.tables[name]), frame, check_dtype=False)
    assert len(expected["duplication"]) == 151 and summary["n_awards"].sum() == 1978

    cra = bundled_run / "cra_allocation.csv"
    cra_parquet = tmp_path / "cra.parquet"
    pd.read_csv(cra, dtype={"la_code": "string", "function": "string"}).to_parquet(cra_parquet)
    prio = steps.match_priority_outcomes([str(published)], str(cra_parquet), None, [], ["2016-17"],
                                         tmp_path)
    matches = match_priorities(whole, load_run_priorities(None))
    pd.testing.assert_frame_equal(pd.read_parquet(prio.tables["priority_matches"]), matches,
                                  check_dtype=False)
    assert len(matches) == 2
