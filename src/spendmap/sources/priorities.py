"""Places' own priority outcomes (`--priorities FILE`, YAML), validated into typed priorities.

    places:
      - place: Wakefield            # a council name, variant or GSS code
        priorities:
          - id: ebsa                 # required, unique within the place
            title: Persistent absence from emotionally based school avoidance   # required
            policy_areas: [education, "children, young people and families"]   # spendmap's names
            keywords: [school absence, attendance]   # words/phrases in title, description, scheme title
            schemes: [SCH-123]                      # scheme codes
            cra_functions: [Education]               # CRA functions counted as context
            description: free text shown on the page (optional)

The bundled `pfpp` preset (reference/priorities/pfpp.yaml) holds the 13 PfPP pilots' priorities.
Every problem is one InputError paragraph naming the file, the entry (places[2].priorities[0]) and
what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spendmap.errors import InputError
from spendmap.paths import reference_path

PFPP_PRIORITIES = ("priorities", "pfpp.yaml")
LIST_FIELDS = ("policy_areas", "keywords", "schemes", "cra_functions")
PRIORITY_FIELDS = ("id", "title", *LIST_FIELDS, "description")


@dataclass(frozen=True)
class Priority:
    """One place's priority outcome and the rules that tie lines of money to it."""

    la_code: str
    la_name: str
    id: str
    title: str
    policy_areas: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    cra_functions: tuple[str, ...] = ()
    description: str = ""


def bundled_priorities_path() -> Path:
    return reference_path(*PFPP_PRIORITIES)


def _load_yaml(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"The priorities file '{path}' does not exist: check the path.") from None
    except UnicodeDecodeError:
        raise InputError(f"The priorities file '{path}' is not UTF-8 text: save it as UTF-8 YAML.") from None
    except OSError as err:
        raise InputError(f"The priorities file '{path}' cannot be read ({err.strerror}).") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(
            f"The priorities file '{path}' is not valid YAML{where} ({problem}). Expected "
            "'places:' followed by a list of '- place: NAME' entries, each with 'priorities:'; "
            "`spendmap priorities PLACE` prints a starter file."
        ) from None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool | list | dict):
        return None
    text = str(value).strip()
    return text or None


def load_priorities(
    path: Path | str,
    *,
    policy_areas: Iterable[str],
    find_council: Callable[[str], str],
    council_names: dict[str, str],
) -> list[Priority]:
    """Every priority in the file, in order.

    `policy_areas` are the valid names (sources.rules policy areas); `find_council` turns a name or
    code into a GSS code (InputError when none matches: transforms.council_names.CouncilIndex.find);
    `council_names` maps GSS code -> the council's name.
    """
    path = Path(path)
    data = _load_yaml(path)
    valid_areas = sorted(set(policy_areas))
    area_keys = {a.lower(): a for a in valid_areas}

    def fail(where: str, what: str) -> InputError:
        return InputError(f"The priorities file '{path}', {where}: {what}")

    if not isinstance(data, dict) or not isinstance(data.get("places"), list):
        found = f"keys {sorted(map(str, data))}" if isinstance(data, dict) else f"a {type(data).__name__}"
        raise fail("top level", f"expected 'places:' with a list of places; found {found}.")
    out: list[Priority] = []
    seen_places: dict[str, str] = {}
    for i, entry in enumerate(data["places"]):
        where = f"places[{i}]"
        if not isinstance(entry, dict) or _text(entry.get("place")) is None:
            raise fail(where, "each place needs 'place: NAME_OR_GSS' and 'priorities:' (a list).")
        query = _text(entry["place"])
        try:
            code = find_council(query)
        except InputError as err:
            raise fail(f"{where} (place '{query}')", str(err)) from None
        if code in seen_places:
            raise fail(where, f"'{query}' is the same council as {seen_places[code]}: list its priorities "
                              "once.")
        seen_places[code] = f"places[{i}]"
        extra = sorted(set(map(str, entry)) - {"place", "priorities"})
        if extra:
            raise fail(where, f"unknown key(s) {extra}; a place has 'place' and 'priorities'.")
        items = entry.get("priorities")
        if not isinstance(items, list) or not items:
            raise fail(f"{where} (place '{query}')", "'priorities:' must be a non-empty list.")
        ids: set[str] = set()
        for j, item in enumerate(items):
            pwhere = f"{where}.priorities[{j}] (place '{query}')"
            if not isinstance(item, dict):
                raise fail(pwhere, "each priority is a mapping with at least 'id' and 'title'.")
            unknown = sorted(set(map(str, item)) - set(PRIORITY_FIELDS))
            if unknown:
                raise fail(pwhere,
                           f"unknown field(s) {unknown}; the fields are {', '.join(PRIORITY_FIELDS)}.")
            pid, title = _text(item.get("id")), _text(item.get("title"))
            if pid is None or title is None:
                missing = [f for f, v in (("id", pid), ("title", title)) if v is None]
                raise fail(pwhere, f"'{' and '.join(missing)}' is required (text).")
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", pid):
                raise fail(pwhere, f"id '{pid}' must be letters, digits, '_', '-' or '.' (no spaces).")
            if pid in ids:
                raise fail(pwhere, f"id '{pid}' is used twice in this place.")
            ids.add(pid)
            lists: dict[str, tuple[str, ...]] = {}
            for field in LIST_FIELDS:
                value = item.get(field)
                if value is None:
                    lists[field] = ()
                    continue
                if not isinstance(value, list) or any(_text(v) is None for v in value):
                    raise fail(pwhere, f"'{field}' must be a list of text, e.g. {field}: [one, two]; "
                                       f"found {value!r}.")
                lists[field] = tuple(dict.fromkeys(_text(v) for v in value))
            bad = [a for a in lists["policy_areas"] if a.lower() not in area_keys]
            if bad:
                raise fail(pwhere, f"unknown policy area(s) {bad}; spendmap's policy areas are: "
                                   f"{'; '.join(valid_areas)} (quote a name that holds a comma).")
            lists["policy_areas"] = tuple(area_keys[a.lower()] for a in lists["policy_areas"])
            out.append(Priority(la_code=code, la_name=council_names.get(code, code), id=pid, title=title,
                                description=_text(item.get("description")) or "", **lists))
    return out


def load_run_priorities(path: Path | str | None) -> list[Priority]:
    """The run's priorities: `path`, else the bundled pfpp preset; validated against the bundled
    policy areas and council list."""
    from spendmap.sources.councils import load_councils
    from spendmap.sources.rules import load_policy_rules
    from spendmap.transforms.council_names import council_index

    councils = load_councils()
    return load_priorities(
        path or bundled_priorities_path(),
        policy_areas=load_policy_rules()["policy_area"].unique(),
        find_council=council_index().find,
        council_names=dict(zip(councils["la_code"], councils["la_name"], strict=True)),
    )


def starter_for(place: str) -> str:
    """`spendmap priorities PLACE`: the starter file, with the pfpp preset's priorities when the place
    is one of the 13 pilots."""
    from spendmap.sources.councils import load_councils
    from spendmap.sources.rules import load_policy_rules
    from spendmap.transforms.council_names import council_index

    code = council_index().find(place)
    councils = load_councils()
    name = dict(zip(councils["la_code"], councils["la_name"], strict=True)).get(code, code)
    preset = [p for p in load_run_priorities(None) if p.la_code == code]
    return starter_file(code, name, load_policy_rules()["policy_area"].unique(), preset)


def _yaml_list(values: Iterable[str]) -> str:
    import json

    # JSON strings are YAML flow scalars: a name holding a comma or colon stays one item.
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def starter_file(la_code: str, la_name: str, policy_areas: Iterable[str],
                 preset: Iterable[Priority] = ()) -> str:
    """A commented priorities file for one place, for `spendmap priorities PLACE`."""
    import textwrap

    areas = "\n# ".join(textwrap.wrap("; ".join(sorted(set(policy_areas))), 96))
    return f"""# Priority outcomes for {la_name} ({la_code}), for `spendmap run --priorities FILE`.
# Each priority needs an id (letters, digits, - _ .) and a title; the other fields are optional lists.
# A line of money (a grant, or a line of --local spend) is matched to a priority when ANY rule holds:
#   policy_areas  - the award's policy area is one of these (spendmap's names, listed below)
#   keywords      - a word or phrase appears in its title, description or scheme title (any case)
#   schemes       - its scheme (grant programme) code is one of these
#   priority_id   - a --local line names this priority's id
# cra_functions: HM Treasury CRA functions (e.g. Education, Social protection) whose spend allocated
# to the place is shown beside the priority as context, never added to the grants.
# Policy areas (quote a name that holds a comma):
# {areas}.
places:
  - place: {la_code}   # {la_name}
    priorities:
""" + "".join(_priority_yaml(p) for p in preset or [_EXAMPLE])


_EXAMPLE = Priority(la_code="", la_name="", id="my-priority",
                    title="Describe the outcome the place wants, in a line")


def _priority_yaml(p: Priority) -> str:
    import json

    lines = [f"      - id: {p.id}", f"        title: {json.dumps(p.title, ensure_ascii=False)}"]
    if p.description:
        lines.append(f"        description: {json.dumps(p.description, ensure_ascii=False)}")
    lines += [f"        {f}: {_yaml_list(getattr(p, f))}" for f in LIST_FIELDS]
    return "\n".join(lines) + "\n"


__all__ = ["Priority", "starter_for", "load_priorities", "load_run_priorities", "bundled_priorities_path",
           "starter_file"]
