"""Recognising councils by name or code: the recipient-is-a-council rung and the CLI's COUNCIL argument.

Names are compared after one normalisation (`normalise_council_name`) and, for recipients, after removing
the words that say *what kind* of council it is ("Metropolitan Borough Council", "MDC", "City of", ...),
so "WAKEFIELD MDC", "Wakefield Metropolitan District Council" and "City of Wakefield" meet at "wakefield".
Parish, town and community councils and "council for voluntary service" never reduce to a council key,
so they are not matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from rapidfuzz import process

from spendmap.errors import InputError
from spendmap.text import normalise_text

# Kind-of-council words, removed from the start or end of a name (longest first).
_PREFIXES = [
    "metropolitan borough of", "royal borough of", "london borough of", "city and county of", "county of",
    "city of", "borough of", "the",
]
_SUFFIXES = [
    "metropolitan borough council", "metropolitan district council", "county borough council",
    "borough council", "city council", "county council", "district council", "unitary authority",
    "council", "mbc", "mdc", "cbc", "bc", "dc", "cc", "ua", "corporation", "metropolitan district",
    "city", "borough", "district", "county",
]
_PREFIX_RE = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")\s+")
_SUFFIX_RE = re.compile(r"\s+(?:" + "|".join(re.escape(s) for s in _SUFFIXES) + r")$")
# Words that mark a name as an authority rather than, say, a bus company named after a town.
_COUNCIL_WORD_RE = re.compile(
    r"\b(?:council|mbc|mdc|cbc|bc|dc|corporation|unitary authority)\b"
    r"|^(?:city of|city and county of|london borough of|royal borough of|metropolitan borough of|borough of) "
)
# Compass abbreviations in published names ("Bath & NE Somerset").
_ABBREVIATIONS = {
    r"\bne\b": "north east", r"\bnw\b": "north west", r"\bse\b": "south east", r"\bsw\b": "south west",
}
# Bodies with "council" in the name that are not principal councils.
_NOT_A_COUNCIL_RE = re.compile(
    r"\b(?:parish|town council|community council|voluntary|councils|council of|council for|"
    r"combined authority|research council|arts council|sports council)\b"
)


def normalise_council_name(names: pd.Series) -> pd.Series:
    """text.normalise_text (lower case, '&' as 'and', no punctuation), compass abbreviations spelt out."""
    text = normalise_text(names).fillna("")
    for pattern, replacement in _ABBREVIATIONS.items():
        text = text.str.replace(pattern, replacement, regex=True)
    return text


def _strip_kind_words(normalised: pd.Series) -> pd.Series:
    """Remove kind-of-council prefixes and suffixes repeatedly ("city of x council" -> "x")."""
    current = normalised
    for _ in range(3):
        stripped = current.str.replace(_PREFIX_RE, "", regex=True).str.replace(_SUFFIX_RE, "", regex=True)
        if stripped.equals(current):
            break
        current = stripped
    return current.str.strip()


@dataclass(frozen=True)
class CouncilIndex:
    """Lookups from normalised names and codes to current council GSS codes."""

    by_full_name: dict[str, str]  # normalised variant -> la_code
    by_core_name: dict[str, str]  # variant with kind-of-council words removed -> la_code (unambiguous)
    by_register: dict[str, str]  # three-letter register code (GB-LAE-XXX) -> la_code
    councils: pd.DataFrame  # load_councils()

    @classmethod
    def build(
        cls, councils: pd.DataFrame, variants: pd.DataFrame, register_to_gss: dict[str, str]
    ) -> CouncilIndex:
        """variants has columns name, la_code (every known name of every council)."""
        full = normalise_council_name(variants["name"])
        core = _strip_kind_words(full)
        frame = pd.DataFrame({"full": full, "core": core, "la_code": variants["la_code"]}).dropna()
        by_full = _unambiguous(frame["full"], frame["la_code"])
        by_core = _unambiguous(frame["core"], frame["la_code"])
        return cls(by_full, by_core, dict(register_to_gss), councils)

    def match_recipients(self, names: pd.Series, org_ids: pd.Series | None = None) -> pd.Series:
        """la_code of recipients that are councils (by org-id, else by name); <NA> for the rest."""
        result = pd.Series(pd.NA, index=names.index, dtype="string")
        if org_ids is not None:
            result = self.match_org_ids(org_ids)
        full = normalise_council_name(names.fillna(""))
        excluded = full.str.contains(_NOT_A_COUNCIL_RE, regex=True).fillna(False)
        by_full = full.map(self.by_full_name).astype("string")
        has_council_word = full.str.contains(_COUNCIL_WORD_RE, regex=True).fillna(False)
        by_core = _strip_kind_words(full).map(self.by_core_name).astype("string").where(has_council_word)
        by_name = by_full.fillna(by_core).where(~excluded)
        return result.fillna(by_name)

    def match_org_ids(self, org_ids: pd.Series) -> pd.Series:
        """360Giving local-authority org-ids (GB-LAE-WKF, GB-LAS-ABD, GB-LAW-CRF, GB-PLA-...) -> la_code."""
        ids = org_ids.astype("string").str.strip().str.upper()
        register = ids.str.extract(r"^GB-(?:LAE|LAS|LAW|LANI|PLA)-([A-Z]{3,4})$", expand=False)
        return register.map(self.by_register).astype("string")

    def find(self, query: str) -> str:
        """One council's GSS code from a code, register code or any name variant; InputError if none."""
        text = query.strip()
        codes = set(self.councils["la_code"])
        if text.upper() in codes:
            return text.upper()
        if text.upper() in self.by_register:
            return self.by_register[text.upper()]
        full = normalise_council_name(pd.Series([text])).iloc[0]
        if full in self.by_full_name:
            return self.by_full_name[full]
        core = _strip_kind_words(pd.Series([full])).iloc[0]
        if core in self.by_core_name:
            return self.by_core_name[core]
        suggestions = self.suggest(text)
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        raise InputError(
            f"No council matches '{query}'. A council is given by its GSS code (e.g. E08000036), its name "
            f"or a common variant (e.g. 'Wakefield', 'City of Wakefield MDC'), or the preset 'pfpp'.{hint} "
            "`spendmap places QUERY` lists councils."
        )

    def suggest(self, text: str, limit: int = 5) -> list[str]:
        """The nearest council names to text, for error messages."""
        names = self.councils["la_name"].tolist()
        matches = process.extract(text, names, limit=limit, score_cutoff=50)
        return [f"{m[0]} ({self.councils['la_code'].iloc[m[2]]})" for m in matches]


def _unambiguous(keys: pd.Series, codes: pd.Series) -> dict[str, str]:
    """key -> code for keys that name exactly one council."""
    pairs = pd.DataFrame({"key": keys, "code": codes}).drop_duplicates()
    pairs = pairs[pairs["key"].str.len() > 0]
    counts = pairs.groupby("key")["code"].transform("nunique")
    unique = pairs[counts == 1]
    return dict(zip(unique["key"], unique["code"], strict=True))


def resolve_places(spec: str | Iterable[str] | None, index: CouncilIndex, pfpp_codes: list[str]) -> list[str]:
    """'pfpp', codes and names (comma-separated or a list) -> GSS codes, in order, without repeats."""
    if spec is None:
        return []
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    codes: list[str] = []
    for item in items:
        found = pfpp_codes if item.lower() == "pfpp" else [index.find(item)]
        codes.extend(c for c in found if c not in codes)
    return codes
