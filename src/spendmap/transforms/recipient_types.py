"""Recipient types inferred the way 360Giving publishers do: from identifiers first, then names.

Evidence, strongest first (the first that decides wins; `recipient_type_rule` records which):
1. a 360Giving org-id prefix in recipient_id (GB-LAE/LAS/LAW/LANI/PLA council, GB-CHC/SC/NIC charity,
   GB-COH company, GB-EDU/GB-UKPRN/GB-NHS/GB-GOR other public body, GB-MPR mutual);
2. the register's own flags: is_council_recipient, is_aggregated (awards to many individuals);
3. registered numbers: a charity number (or a Scottish SC number as the id) → charity; a company
   number → company;
4. rules on the name (combined authority, council, NHS/police/fire/university/school..., CIC/co-operative,
   Ltd/PLC/LLP).
Anything else is `unknown`: a name that merely sounds charitable is not evidence.
"""

from __future__ import annotations

import pandas as pd

from spendmap.sources.grants import clean_text

COUNCIL = "council"
COMBINED_AUTHORITY = "combined authority"
PUBLIC_BODY = "other public body"
CHARITY = "charity"
COMPANY = "company"
CIC_MUTUAL = "community interest company or mutual"
INDIVIDUALS = "individuals or aggregated awards"
UNKNOWN = "unknown"
RECIPIENT_TYPES = (
    COUNCIL,
    COMBINED_AUTHORITY,
    PUBLIC_BODY,
    CHARITY,
    COMPANY,
    CIC_MUTUAL,
    INDIVIDUALS,
    UNKNOWN,
)

# org-id prefix (upper case, up to the second hyphen) -> type
ORG_ID_PREFIXES = {
    "GB-LAE": COUNCIL,
    "GB-LAS": COUNCIL,
    "GB-LAW": COUNCIL,
    "GB-LANI": COUNCIL,
    "GB-PLA": COUNCIL,
    "GB-CHC": CHARITY,
    "GB-SC": CHARITY,
    "GB-NIC": CHARITY,
    "GB-COH": COMPANY,
    "GB-EDU": PUBLIC_BODY,
    "GB-UKPRN": PUBLIC_BODY,
    "GB-NHS": PUBLIC_BODY,
    "GB-GOR": PUBLIC_BODY,
    "GB-MPR": CIC_MUTUAL,
}

# Name rules in order: (rule id, type, regex). Charity-sounding bodies named "council" (councils for
# voluntary service) and combined authorities come before the plain council rule.
NAME_RULES: tuple[tuple[str, str, str], ...] = (
    ("name:combined-authority", COMBINED_AUTHORITY, r"\bcombined authority\b|\bGreater London Authority\b"),
    (
        "name:cic-mutual",
        CIC_MUTUAL,
        r"\bC\.?I\.?C\.?$|community interest company|co-?operative|\bmutual\b|\bcommunity benefit society\b",
    ),
    (
        "name:voluntary-service",
        CHARITY,
        r"council (?:for |of )?(?:voluntary|community) (?:service|action)|\bCVS\b",
    ),
    # Local Age UKs are independent registered charities (the brand is licensed only to charities).
    ("name:age-uk-partner", CHARITY, r"^age uk\b"),
    (
        "name:public-body",
        PUBLIC_BODY,
        r"\bNHS\b|NHSFT$|ambulance service|clinical commissioning|\bhospitals?\b|\bpolice\b|\bPCC\b"
        r"|crime commissioner|\bconstabulary\b|\bfire\b"
        r"|\buniversity\b|\bcollege\b|\bschool\b|\bacademy\b|transport for |passenger transport executive"
        r"|integrated transport authority|^merseytravel$"
        r"|youth offending (?:team|service)|\bYOT\b|\bDVSA\b|^department (?:for|of)\b|^ministry of\b"
        r"|^(?:foreign and commonwealth|home|cabinet) office$"
        r"|^(?:hm|her majesty'?s) (?:revenue|treasury|courts)"
        r"|^innovate uk\b|technology strategy board"
        r"|^(?:the )?(?:environment|vehicle certification|driving standards|driver and vehicle (?:standards|"
        r"licensing)|highways|maritime and coastguard) agency$",
    ),
    # The national bus groups' operating companies, which publishers name without Ltd.
    (
        "name:bus-operator",
        COMPANY,
        r"^(?:arriva|stagecoach|transdev|go north east|go-ahead|national express|first (?:bus|group))\b",
    ),
    (
        "name:council",
        COUNCIL,
        r"\b(?:borough|county|city|district|metropolitan|parish|town|unitary) council\b|^council of\b"
        r"|\bcouncil$|^(?:london )?borough of\b|^royal borough\b|^city of .* council",
    ),
    ("name:company", COMPANY, r"\b(?:ltd|limited|plc|llp)\.?$|\b(?:ltd|limited)\b"),
)


def _text(frame: pd.DataFrame, col: str) -> pd.Series:
    """A column as trimmed text ('' when missing or blank), cleaned as the register reader cleans it."""
    if col not in frame.columns:
        return pd.Series("", index=frame.index, dtype="string")
    return clean_text(frame[col]).fillna("")


def _flag(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[col].astype("boolean").fillna(False).astype(bool)


def infer_recipient_types(awards: pd.DataFrame) -> pd.DataFrame:
    """Two columns aligned to `awards`: recipient_type (one of RECIPIENT_TYPES) and recipient_type_rule."""
    rid = _text(awards, "recipient_id").str.upper()
    name = _text(awards, "recipient_name")
    # Name rules run once per distinct name (a million awards go to far fewer recipients).
    codes, names = pd.factorize(name)
    distinct = pd.Series(names, dtype="string")

    def matches(pattern: str) -> pd.Series:
        hit = distinct.str.contains(pattern, case=False, regex=True).fillna(False).to_numpy()
        return pd.Series(hit[codes] if len(names) else False, index=awards.index)

    kind = pd.Series(pd.NA, index=awards.index, dtype="string")
    rule = pd.Series(pd.NA, index=awards.index, dtype="string")

    def decide(mask: pd.Series, value: str, why: str) -> None:
        take = mask & kind.isna()
        kind[take] = value
        rule[take] = why

    prefix = rid.str.extract(r"^(GB-[A-Z]+)-", expand=False)
    for pre, value in ORG_ID_PREFIXES.items():
        decide(prefix == pre, value, f"org-id:{pre}")
    decide(_flag(awards, "is_redacted"), UNKNOWN, "redacted")
    decide(matches(NAME_RULES[0][2]), COMBINED_AUTHORITY, NAME_RULES[0][0])
    decide(_flag(awards, "is_council_recipient"), COUNCIL, "register:council-recipient")
    aggregated = _flag(awards, "is_aggregated") | (
        pd.to_numeric(awards.get("number_of_recipients"), errors="coerce").fillna(0) > 1
        if "number_of_recipients" in awards.columns
        else False
    )
    decide(aggregated, INDIVIDUALS, "register:aggregated")
    decide(_text(awards, "recipient_charity_number") != "", CHARITY, "number:charity")
    decide(rid.str.fullmatch(r"SC0\d{5}"), CHARITY, "number:charity")
    cic = matches(NAME_RULES[1][2])
    has_company = _text(awards, "recipient_company_number") != ""
    decide(has_company & cic, CIC_MUTUAL, "number:company+name:cic")
    decide(has_company, COMPANY, "number:company")
    for rule_id, value, pattern in NAME_RULES[1:]:
        decide(matches(pattern), value, rule_id)
    decide(pd.Series(True, index=awards.index), UNKNOWN, "no evidence")
    return pd.DataFrame({"recipient_type": kind, "recipient_type_rule": rule}, index=awards.index)


def add_recipient_types(awards: pd.DataFrame) -> pd.DataFrame:
    """The awards with recipient_type and recipient_type_rule set (replacing any already there)."""
    return awards.drop(columns=["recipient_type", "recipient_type_rule"], errors="ignore").join(
        infer_recipient_types(awards)
    )


def type_counts(awards: pd.DataFrame) -> dict[str, int]:
    """Distinct recipients per type, in RECIPIENT_TYPES order (types with none left out)."""
    from spendmap.transforms.names import recipient_key

    if awards.empty or "recipient_type" not in awards.columns:
        return {}
    frame = pd.DataFrame({"key": recipient_key(awards), "type": awards["recipient_type"]}).dropna()
    counts = frame.drop_duplicates("key")["type"].value_counts()
    return {t: int(counts[t]) for t in RECIPIENT_TYPES if t in counts.index}
