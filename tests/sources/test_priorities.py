"""Priorities files: every field, each error as one paragraph, the pfpp preset, the starter file."""

from __future__ import annotations

from pathlib import Path

import pytest

from spendmap.cli import main
from spendmap.errors import InputError
from spendmap.sources.councils import PFPP_CODES
from spendmap.sources.priorities import load_run_priorities, starter_for

FULL = """
places:
  - place: City of Wakefield MDC
    priorities:
      - id: ebsa
        title: Persistent absence from emotionally based school avoidance
        description: The pilot's outcome, in its words.
        policy_areas: [Education, "children, young people and families"]
        keywords: [school absence, EBSA]
        schemes: [SCH-000001]
        cra_functions: [Education]
      - id: second.one
        title: Another
  - place: E09000028
    priorities:
      - id: food
        title: Food insecurity in Walworth
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "priorities.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_field_is_read(tmp_path: Path):
    ps = load_run_priorities(_write(tmp_path, FULL))
    assert [(p.la_code, p.id) for p in ps] == [("E08000036", "ebsa"), ("E08000036", "second.one"),
                                               ("E09000028", "food")]
    p = ps[0]
    assert p.la_name == "Wakefield"
    # Policy area names are matched in any case and given back as spendmap spells them.
    assert p.policy_areas == ("education", "children, young people and families")
    assert p.keywords == ("school absence", "EBSA")
    assert p.schemes == ("SCH-000001",)
    assert p.cra_functions == ("Education",)
    assert p.description == "The pilot's outcome, in its words."
    assert ps[1].keywords == () and ps[1].description == ""
    assert ps[2].la_name == "Southwark"


@pytest.mark.parametrize("text, expected", [
    ("places: [", "not valid YAML at line"),
    ("- a\n- b\n", "expected 'places:' with a list of places; found a list"),
    ("place: x\n", "found keys ['place']"),
    ("places:\n  - priorities: []\n", "places[0]: each place needs 'place: NAME_OR_GSS'"),
    ("places:\n  - place: Nowhereshire\n    priorities: [{id: a, title: b}]\n",
     "places[0] (place 'Nowhereshire'): No council matches 'Nowhereshire'"),
    ("places:\n  - place: Luton\n    priorities: []\n", "'priorities:' must be a non-empty list"),
    ("places:\n  - place: Luton\n    priority: []\n", "unknown key(s) ['priority']"),
    ("places:\n  - place: Luton\n    priorities: [{title: b}]\n", "'id' is required"),
    ("places:\n  - place: Luton\n    priorities: [{id: a}]\n", "'title' is required"),
    ("places:\n  - place: Luton\n    priorities: [{id: a b, title: t}]\n", "id 'a b' must be letters"),
    ("places:\n  - place: Luton\n    priorities: [{id: a, title: t}, {id: a, title: u}]\n",
     "places[0].priorities[1] (place 'Luton'): id 'a' is used twice"),
    ("places:\n  - place: Luton\n    priorities: [{id: a, title: t, keyword: [x]}]\n",
     "unknown field(s) ['keyword']; the fields are id, title, policy_areas"),
    ("places:\n  - place: Luton\n    priorities: [{id: a, title: t, keywords: crime}]\n",
     "'keywords' must be a list of text"),
    ("places:\n  - place: Luton\n    priorities: [{id: a, title: t, policy_areas: [crime]}]\n",
     "unknown policy area(s) ['crime']; spendmap's policy areas are: agriculture, food and rural; "
     "business support;"),
    ("places:\n  - place: Luton\n    priorities: [{id: a, title: t}]\n"
     "  - place: E06000032\n    priorities: [{id: b, title: u}]\n", "'E06000032' is the same council as"),
])
def test_each_error_is_one_paragraph_naming_the_file(tmp_path: Path, text: str, expected: str):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_run_priorities(path)
    message = str(err.value)
    assert expected in message
    assert str(path) in message and "\n" not in message


def test_unknown_policy_area_lists_every_valid_one(tmp_path: Path):
    from spendmap.sources.rules import load_policy_rules

    path = _write(tmp_path,
                  "places:\n  - place: Luton\n    priorities: [{id: a, title: t, policy_areas: [x]}]\n")
    with pytest.raises(InputError) as err:
        load_run_priorities(path)
    for area in load_policy_rules()["policy_area"].unique():
        assert area in str(err.value)


def test_the_pfpp_preset_covers_the_13_pilots():
    ps = load_run_priorities(None)
    # East Sussex's pilot worked in Hastings: its priority is on Hastings (the district).
    assert {p.la_code for p in ps} == set(PFPP_CODES) - {"E10000011"}
    assert len(ps) == 13
    assert all(p.policy_areas and p.keywords and p.cra_functions for p in ps)
    by_code = {p.la_code: p for p in ps}
    assert "emotionally based school avoidance" in by_code["E08000036"].keywords
    assert "fuel poverty" in by_code["E07000062"].policy_areas
    assert "Walworth" in by_code["E09000028"].keywords
    assert "begging" in by_code["E06000032"].keywords


def test_starter_file_loads_back(tmp_path: Path, capsys):
    assert main(["priorities", "Leeds"]) == 0
    text = capsys.readouterr().out
    ps = load_run_priorities(_write(tmp_path, text))
    assert [(p.la_code, p.id) for p in ps] == [("E08000035", "my-priority")]
    # A pilot's starter holds its preset priorities, which load back the same.
    again = load_run_priorities(_write(tmp_path, starter_for("Wakefield")))
    assert again == [p for p in load_run_priorities(None) if p.la_code == "E08000036"]


def test_unknown_place_exits_2(capsys):
    assert main(["priorities", "Nowhereshire"]) == 2
    assert "No council matches 'Nowhereshire'" in capsys.readouterr().err
