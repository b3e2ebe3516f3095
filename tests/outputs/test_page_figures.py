"""The pages' figures and names: organisation keys (never two councils under one name), amount bands,
coverage per department, former councils, and the award finder's data chunks."""

import json

import pandas as pd
import pytest

from spendmap import schemas
from spendmap.outputs.council_page import former_councils_note
from spendmap.outputs.sankey import grants_sankey
from spendmap.outputs.search_page import ROW_COLUMNS, chunk, finder_frame, write_chunk
from spendmap.transforms.geography import UNPLACED_REASONS
from spendmap.transforms.names import recipient_key
from spendmap.transforms.page_figures import (
    amount_band,
    amount_bands,
    council_search_names,
    department_coverage,
    organisation_keys,
    predecessors,
)

NORTH_YORKSHIRE = "E06000065"


def _awards(rows: list[dict]) -> pd.DataFrame:
    base = {"fy": "2016-17", "department": "DfT", "scheme_code": "S1", "scheme_title": "Scheme",
            "title": "Award", "is_redacted": False, "geo_method": "postcode", "la_code": NORTH_YORKSHIRE,
            "la_name": "North Yorkshire"}
    frame = pd.DataFrame([{**base, "award_id": f"A{i}", **r} for i, r in enumerate(rows)])
    return schemas.conform_awards(frame)


def _north_yorkshire() -> pd.DataFrame:
    council = {"is_council_recipient": True, "geo_method": "council_match"}
    return _awards([
        {"recipient_name": "North Yorkshire County Council", "amount_gbp": 27_182_000.0, **council},
        {"recipient_name": "NORTH YORKSHIRE COUNTY COUNCIL", "amount_gbp": 9_033_208.0, **council},
        {"recipient_name": "HARROGATE BOROUGH COUNCIL", "amount_gbp": 615_000.0, **council},
        {"recipient_name": "Harrogate Borough Council", "amount_gbp": 5_000.0, **council},
        {"recipient_name": "Craven DC", "amount_gbp": 1_000.0, **council},  # a name the register lacks
        {"recipient_name": "Harrogate & District Travel Ltd", "amount_gbp": 342_012.0},
    ])


def test_predecessor_councils_keep_their_own_key_and_name():
    awards = _north_yorkshire()
    # recipient_key makes every council placed as itself its current council: one key for all five.
    assert recipient_key(awards)[:5].nunique() == 1
    keys, names = organisation_keys(awards)
    assert keys.tolist()[:4] == ["COUNCIL:NYK", "COUNCIL:NYK", "COUNCIL:HAG", "COUNCIL:HAG"]
    assert keys[4] == f"COUNCIL:{NORTH_YORKSHIRE}:craven dc"  # its own name-based key, never merged
    assert keys[5] == recipient_key(awards)[5]  # other organisations as before
    assert names[2] == "HARROGATE BOROUGH COUNCIL"
    labels = grants_sankey(awards, "North Yorkshire", "2016-17").figure["data"][0]["node"]["label"]
    recipients = [lbl for lbl in labels if not lbl.startswith(("DfT", "Scheme"))]
    # Each council one node under its own name, its label from its largest award's spelling.
    assert recipients == [
        "North Yorkshire County Council · £36.2m",
        "HARROGATE BOROUGH COUNCIL · £620k",
        "Harrogate &amp; District Travel Ltd · £342k",
        "Craven DC · £1k",
    ]


def test_the_identity_columns_win_when_present():
    awards = _north_yorkshire().assign(organisation_id=["O1", "O1", "O2", "O2", "O3", "O4"],
                                       organisation_name=["NYCC", "NYCC", "HBC", "HBC", "CDC", "HDT"])
    keys, names = organisation_keys(awards)
    assert keys.tolist() == ["O1", "O1", "O2", "O2", "O3", "O4"] and names[0] == "NYCC"


def test_former_councils_and_search_names():
    gone = predecessors(NORTH_YORKSHIRE)
    assert list(gone["official_name"]) == [
        "Craven District Council", "Hambleton District Council", "Harrogate Borough Council",
        "North Yorkshire County Council", "Richmondshire District Council", "Ryedale District Council",
        "Scarborough Borough Council", "Selby District Council",
    ]
    note = former_councils_note(NORTH_YORKSHIRE, "North Yorkshire", _north_yorkshire(), "2016-17")
    assert note.startswith("North Yorkshire replaced Craven District Council, Hambleton District Council")
    assert "and Selby District Council in 2023." in note
    assert ("Harrogate Borough Council (2 awards, £620,000); North Yorkshire County Council (2 awards, "
            "£36,215,208)") in note
    assert former_councils_note("E08000036", "Wakefield", _north_yorkshire(), "2016-17") == ""
    names = council_search_names()
    assert {"Harrogate", "Harrogate Borough Council", "North Yorkshire County Council"} <= set(
        names[NORTH_YORKSHIRE]
    )
    assert "Harrogate" not in names["E08000036"]


def test_amount_bands_edges_and_denominators():
    amounts = [9_999.99, 10_000.0, 99_999.0, 100_000.0, 999_999.0, 1_000_000.0, 0.0, -5.0]
    awards = _awards([{"recipient_name": "X", "amount_gbp": a} for a in amounts])
    assert amount_band(awards["amount_gbp"]).tolist() == [
        "under_10k", "10k_100k", "10k_100k", "100k_1m", "100k_1m", "1m_plus", "zero_or_negative",
        "zero_or_negative",
    ]
    bands = amount_bands(awards).set_index("band")
    assert bands["n_awards"].to_dict() == {
        "under_10k": 1, "10k_100k": 2, "100k_1m": 2, "1m_plus": 1, "zero_or_negative": 2,
    }
    assert bands.loc["10k_100k", "total_gbp"] == 109_999.0
    assert bands.loc["zero_or_negative", "total_gbp"] == 0.0  # a negative adds to no band's £
    assert bands["share_awards"].sum() == pytest.approx(1.0) and bands.loc["1m_plus", "share_awards"] == 1 / 8
    national = amount_bands(awards, by=None)
    assert list(national["scope"].unique()) == ["all"] and national["n_awards"].sum() == 8


def test_department_coverage_states_the_main_reason():
    awards = _awards(
        [{"department": "MoJ", "recipient_name": "X", "amount_gbp": 100.0, "la_code": pd.NA,
          "unplaced_reason": "no_postcode"}] * 3
        + [{"department": "MoJ", "recipient_name": "Y", "amount_gbp": 50.0, "la_code": pd.NA,
            "unplaced_reason": "redacted"}]
        + [{"department": "MoJ", "recipient_name": "Z", "amount_gbp": 7.0}]
        + [{"department": "DfT", "recipient_name": "W", "amount_gbp": 1.0}]
    )
    rows = department_coverage(awards, UNPLACED_REASONS)
    assert rows[0] == {
        "department": "MoJ", "n_read": 5, "gbp_read": 357.0, "n_placed": 1, "gbp_placed": 7.0,
        "n_unplaced": 4, "gbp_unplaced": 350.0, "main_reason": UNPLACED_REASONS["no_postcode"],
        "n_main_reason": 3,
    }
    assert rows[1]["department"] == "DfT" and rows[1]["n_unplaced"] == 0 and rows[1]["main_reason"] == ""
    from spendmap.outputs.context import department_line

    assert department_line(rows[0]) == (
        "MoJ: 1 of 5 awards placed (£7 of £357) — 3 of the 4 unplaced: no postcode, no council name or "
        "ONS code."
    )


def test_finder_chunk_round_trips_every_award(tmp_path):
    awards = _north_yorkshire()
    awards.loc[5, ["la_code", "la_name"]] = pd.NA
    awards.loc[5, "unplaced_reason"] = "no_postcode"
    awards.loc[1, "recipient_name"] = "</script><script>alert(1)</script>"
    meta = {NORTH_YORKSHIRE: ["North Yorkshire", "Yorkshire and The Humber", "councils/ny/index.html",
                              ["Harrogate"]]}
    data = chunk(finder_frame(awards), meta)
    assert data["columns"] == ROW_COLUMNS and len(data["rows"]) == len(awards)
    d = data["dicts"]
    decoded = [(r[0], d["recipient"][r[2]], d["council"][r[7]][0], r[8], d["reason"][r[11]])
               for r in data["rows"]]
    assert decoded[1] == ("A1", "</script><script>alert(1)</script>", NORTH_YORKSHIRE, 9_033_208.0, "")
    assert decoded[5] == ("A5", "Harrogate & District Travel Ltd", "", 342_012.0,
                          UNPLACED_REASONS["no_postcode"])
    assert d["council"][data["rows"][0][7]] == [NORTH_YORKSHIRE, *meta[NORTH_YORKSHIRE]]
    text = write_chunk(tmp_path / "x.js", data).read_text(encoding="utf-8")
    assert "<" not in text and text.startswith("spendmapAwards(") and text.endswith(");\n")
    assert json.loads(text[len("spendmapAwards("):-3]) == json.loads(json.dumps(data))  # rows: tuples


def test_large_chunk_columns_encode_as_small_ones_do(monkeypatch):
    """Above _FACTORIZE_FROM values a chunk's dictionaries come from pandas' factorize: the same sorted
    values and indexes as the plain-Python way (text of every kind: empty, accents, case, digits)."""
    from spendmap.outputs import search_page

    words = ["", "Zebra", "apple", "Äpfel", "apple ", "10", "9", "éclair", "Eclair", "\u2028x"]
    values = [words[(i * 7) % len(words)] + ("" if i % 3 else str(i % 11)) for i in range(12_000)]
    large = search_page._dictionary(values)
    monkeypatch.setattr(search_page, "_FACTORIZE_FROM", 10**9)
    assert search_page._dictionary(values) == large
    assert large[1] == sorted(set(values))


def test_funder_type_filter_only_when_the_awards_carry_it():
    awards = _north_yorkshire()
    assert "funder_type" not in finder_frame(awards).columns
    with_type = finder_frame(awards.assign(funder_type="central government"))
    data = chunk(with_type, {})
    assert data["dicts"]["funder_type"] == ["central government"]
    assert chunk(finder_frame(awards), {})["dicts"]["funder_type"] == [""]
