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
_REGISTER_ID = r"^(?:" + "|".join(re.escape(p) for p in REGISTER_PREFIXES) + r")-\S+$"

# Legal-form words that do not distinguish organisations ("Acme Ltd" is "Acme Limited").
# Patterns are kept as text (not compiled) so pandas can run them in Arrow rather than in Python.
_LEGAL_SUFFIXES = r"\b(?:limited|ltd|plc|llp|lp|cic|cio|inc|incorporated|company limited by guarantee|co)\s*$"


def _normalise_org_name(text: pd.Series) -> pd.Series:
    text = normalise_words(text).str.replace(r"^the\s+", "", regex=True)
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
    text = text.str.replace(r"\.0+$", "", regex=True).str.replace(r"\s+", "", regex=True)
    return text.where(~text.isin(["", "0", "NA", "N/A", "NONE", "-"]), pd.NA)


def recipient_key(awards: pd.DataFrame) -> pd.Series:
    """One key per recipient organisation: the council it is (for council recipients placed by
    geography), else register id, else charity/company number, else normalised name.

    Keys look like `COUNCIL:E08000025`, `GB-CHC-1079327`, `GB-COH-03861209` or `NAME:change grow live`;
    redacted awards
    and awards with no recipient at all get <NA> (they cannot be counted as a distinct recipient).
    """
    if "recipient_key" in awards.columns:  # computed once for the whole table, then sliced per page
        return awards["recipient_key"].astype("string")
    index = awards.index
    # A council recipient placed by geography is that council, whatever name variant the data used.
    is_council = (
        awards.get("is_council_recipient", pd.Series(False, index=index)).astype("boolean").fillna(False)
    )
    council = awards.get("la_code", pd.Series(pd.NA, index=index)).astype("string")
    key = ("COUNCIL:" + council).where(is_council.to_numpy())

    rid = awards.get("recipient_id", pd.Series(pd.NA, index=index)).astype("string").str.strip()
    key = key.fillna(rid.where(rid.str.upper().str.match(_REGISTER_ID).fillna(False)).str.upper())

    charity = _clean_number(awards.get("recipient_charity_number", pd.Series(pd.NA, index=index)))
    scottish = charity.str.startswith("SC").fillna(False)
    charity_key = ("GB-CHC-" + charity).where(~scottish, "GB-SC-" + charity)
    key = key.fillna(charity_key)

    company = _clean_number(awards.get("recipient_company_number", pd.Series(pd.NA, index=index)))
    # Companies House numbers are 8 characters; spreadsheets drop the leading zeros of numeric ones.
    numeric = company.str.fullmatch(r"\d{1,8}").fillna(False)
    company = company.where(~numeric, company.str.zfill(8))
    key = key.fillna("GB-COH-" + company)

    name = normalise_org_name(awards.get("recipient_name", pd.Series(pd.NA, index=index)))
    key = key.fillna("NAME:" + name)

    redacted = awards.get("is_redacted", pd.Series(False, index=index)).astype("boolean").fillna(False)
    return key.where(~redacted.to_numpy(), pd.NA).astype("string")
