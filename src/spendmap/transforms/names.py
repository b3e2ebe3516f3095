"""Normalised organisation names and recipient keys, so one organisation counts once.

A recipient is identified by a real register id where the data gives one (charity, company, council,
school, NHS body, government organisation: the 360Giving org-id prefixes), else by its charity or
company number, else by its normalised name. Internal ids such as `GGIS_ID_296` or bare VAT-like
numbers are not register ids and fall through to the name.
"""

from __future__ import annotations

import re

import pandas as pd

from spendmap.text import normalise_text, normalise_words, on_distinct  # noqa: F401 - normalise_text re-exported

# 360Giving / org-id.guide prefixes of public registers (an id under one of these names one legal body).
REGISTER_PREFIXES = (
    "GB-CHC",  # Charity Commission for England and Wales
    "GB-SC",  # Scottish Charity Regulator
    "GB-NIC",  # Charity Commission for Northern Ireland
    "GB-COH",  # Companies House
    "GB-LAE",  # English local authorities (mySociety register codes)
    "GB-LAS",  # Scottish local authorities
    "GB-LAN",  # Northern Irish local authorities
    "GB-PLA",  # Welsh principal local authorities
    "GB-GOR",  # UK government organisation register
    "GB-EDU",  # Department for Education establishments (schools)
    "GB-UKPRN",  # UK register of learning providers
    "GB-NHS",  # NHS organisation codes
    "GB-MPR",  # Mutuals public register
    "GB-SHPE",  # Scottish Housing Regulator / registered social landlords
    "GB-REB",  # Regulator of social housing
)
# What Python's `\s` matches (str.isspace), spelt out. pandas runs a pattern with `\s` or `\S` in Python's
# re (RE2's \s misses some of these); a class of the characters themselves it runs in Arrow, 5-10x faster.
WHITESPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_REGISTER_ID = r"^(?:" + "|".join(re.escape(p) for p in REGISTER_PREFIXES) + f")-[^{WHITESPACE}]+$"

# Legal-form words that do not distinguish organisations ("Acme Ltd" is "Acme Limited").
# Patterns are kept as text (not compiled) so pandas can run them in Arrow rather than in Python. They
# run on normalise_words' output ([0-9a-z] words, single spaces), so a space is the only whitespace:
# written `\s`, pandas would hand them to Python's re (RE2's \s differs on other whitespace), 10x slower.
_LEGAL_SUFFIXES = r"\b(?:limited|ltd|plc|llp|lp|cic|cio|inc|incorporated|company limited by guarantee|co) *$"


def _normalise_org_name(text: pd.Series) -> pd.Series:
    text = normalise_words(text).str.replace(r"^the +", "", regex=True)
    # Twice: "Acme Trading Co Ltd" has two legal-form words.
    for _ in range(2):
        text = text.str.replace(_LEGAL_SUFFIXES, "", regex=True).str.strip()
    return text.where(text != "", pd.NA)


def normalise_org_name(values: pd.Series) -> pd.Series:
    """normalise_text, then a leading "the" and trailing legal-form words dropped."""
    return on_distinct(values, _normalise_org_name)


def _clean_number(values: pd.Series) -> pd.Series:
    """Charity/company numbers as text: spaces removed, a spreadsheet float's '.0' dropped, upper case."""
    text = values.astype("string").str.strip().str.upper()
    text = text.str.replace(r"\.0+$", "", regex=True).str.replace(f"[{WHITESPACE}]+", "", regex=True)
    return text.where(~text.isin(["", "0", "NA", "N/A", "NONE", "-"]), pd.NA)


# The kinds of identifier a recipient record can carry, strongest first: a council (by its own org-id),
# a register org-id, a charity number, a company number, then only its normalised name.
IDENTIFIER_KINDS = ("council", "register_id", "charity_number", "company_number", "name")


def recipient_identifiers(awards: pd.DataFrame) -> pd.DataFrame:
    """Per award, each identifier it carries (IDENTIFIER_KINDS columns, <NA> where absent).

    council `COUNCIL:E08000025` (a council recipient placed by geography, as its current council),
    register_id `GB-CHC-1079327` (an org-id under a public register's prefix), charity_number
    `GB-CHC-…`/`GB-SC-…`, company_number `GB-COH-03861209` (8 digits), name `NAME:change grow live`.
    Redacted awards carry none.
    """
    index = awards.index
    is_council = (
        awards.get("is_council_recipient", pd.Series(False, index=index)).astype("boolean").fillna(False)
    )
    council = awards.get("la_code", pd.Series(pd.NA, index=index)).astype("string")
    rid = awards.get("recipient_id", pd.Series(pd.NA, index=index)).astype("string").str.strip()
    charity = _clean_number(awards.get("recipient_charity_number", pd.Series(pd.NA, index=index)))
    scottish = charity.str.startswith("SC").fillna(False)
    company = _clean_number(awards.get("recipient_company_number", pd.Series(pd.NA, index=index)))
    # Companies House numbers are 8 characters; spreadsheets drop the leading zeros of numeric ones.
    numeric = company.str.fullmatch(r"\d{1,8}").fillna(False)
    company = company.where(~numeric, company.str.zfill(8))
    name = normalise_org_name(awards.get("recipient_name", pd.Series(pd.NA, index=index)))
    out = pd.DataFrame(
        {
            "council": ("COUNCIL:" + council).where(is_council.to_numpy()),
            "register_id": rid.where(rid.str.upper().str.match(_REGISTER_ID).fillna(False)).str.upper(),
            "charity_number": ("GB-CHC-" + charity).where(~scottish, "GB-SC-" + charity),
            "company_number": "GB-COH-" + company,
            "name": "NAME:" + name,
        },
        index=index,
    ).astype("string")
    redacted = awards.get("is_redacted", pd.Series(False, index=index)).astype("boolean").fillna(False)
    out.loc[redacted.to_numpy(), :] = pd.NA
    return out


def recipient_key(awards: pd.DataFrame, ids: pd.DataFrame | None = None) -> pd.Series:
    """One key per recipient organisation.

    Where transforms.recipient_identity has run, its `organisation_id` (the same organisation under
    several ids, names and postcodes is one). Otherwise the first identifier the award carries
    (recipient_identifiers, strongest first). Keys look like `GB-LAE-BIR`, `COUNCIL:E08000025`,
    `GB-CHC-1079327`, `GB-COH-03861209` or `NAME:change grow live`; redacted awards and awards with no
    recipient at all get <NA> (they cannot be counted as a distinct recipient). `ids`: the awards'
    recipient_identifiers where the caller has them already (they are the costly part).
    """
    if "recipient_key" in awards.columns:  # computed once for the whole table, then sliced per page
        return awards["recipient_key"].astype("string")
    if "organisation_id" in awards.columns and awards["organisation_id"].notna().any():
        return awards["organisation_id"].astype("string")
    ids = recipient_identifiers(awards) if ids is None else ids
    key = ids[IDENTIFIER_KINDS[0]]
    for kind in IDENTIFIER_KINDS[1:]:
        key = key.fillna(ids[kind])
    return key.astype("string")
