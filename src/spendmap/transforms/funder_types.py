"""Funder types: who kind of body gave each award (central government, a lottery distributor, ...).

The rules, first that applies wins (the rule is kept in `funder_type_rule`):
1. `known_list`: the funder's name or org-id is in the bundled, user-editable
   `reference/funders/known_funders.csv` (distributors and arm's-length bodies whose org-ids do not say
   what they are);
2. `grantnav`: the file carries GrantNav's own funder classification ("Funding Org:Org Type", 360Giving's
   TSGFundingOrgType: Central Government, Devolved Government, Local Government, Lottery Distributor,
   Grantmaking Organisation);
3. `department`: the funder matched spendmap's department table (ministerial departments): central
   government;
4. `org_id_prefix`: the funder's org-id prefix as org-id.guide defines the registers (GB-GOR-D*: a
   ministerial department; other GB-GOR: a public body on the government organisation register;
   GB-LAE/LAS/LAW/LANI: local authorities; GB-CHC/GB-SC/GB-NIC: registered charities);
5. otherwise `other` (rule `unknown`): never guessed from words in the name.
"""

from __future__ import annotations

import pandas as pd

from spendmap.text import normalise_text

FUNDER_TYPES = ("central_government", "arms_length_body", "lottery_distributor", "local_government",
                "charitable_funder", "other")
FUNDER_TYPE_LABELS = {
    "central_government": "central government",
    "arms_length_body": "arm's-length bodies",
    "lottery_distributor": "lottery distributors",
    "local_government": "local government",
    "charitable_funder": "charitable funders",
    "other": "other or unknown funders",
}

# GrantNav's TSGFundingOrgType vocabulary -> spendmap's. Devolved governments are national
# governments: counted with central government (docs/assumptions.md).
GRANTNAV_TYPES = {
    "central government": "central_government",
    "devolved government": "central_government",
    "local government": "local_government",
    "lottery distributor": "lottery_distributor",
    "grantmaking organisation": "charitable_funder",
    "arms length body": "arms_length_body",
    "arm's length body": "arms_length_body",
}
# org-id.guide register prefixes -> funder type. Longest prefix first.
ORG_ID_PREFIXES = (
    ("GB-GOR-D", "central_government"),  # a ministerial department's GOV.UK id (D9 = DfT)
    ("GB-GOR-", "arms_length_body"),  # any other body on the government organisation register
    ("GB-LAE-", "local_government"),
    ("GB-LAS-", "local_government"),
    ("GB-LAW-", "local_government"),
    ("GB-LANI-", "local_government"),
    ("GB-PLA-", "local_government"),  # principal local authorities (the Local Government Boundary list)
    ("GB-CHC-", "charitable_funder"),
    ("GB-SC-", "charitable_funder"),
    ("GB-NIC-", "charitable_funder"),
)


def known_funder_keys(values: pd.Series, key_type: pd.Series | str) -> pd.Series:
    by_name = normalise_text(values.astype("string"))
    by_id = values.astype("string").str.strip().str.upper()
    if isinstance(key_type, str):
        return by_name if key_type == "name" else by_id
    return by_name.where(key_type == "name", by_id)


def _first_text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].astype("string")
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def classify_funders(awards: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """`funder_type`, `funder_type_rule` and `funder_name` for each award (same index as `awards`).

    Reads `department_raw`, `funder_id`, `department` (from transforms.departments) and, when
    present, `funder_org_type` (GrantNav's classification). `funder_name` is the known list's name,
    else the canonical department, else the name as published.
    """
    idx = awards.index
    raw = _first_text(awards, "department_raw")
    fid = _first_text(awards, "funder_id").str.strip().str.upper()
    dept = _first_text(awards, "department")
    ftype = pd.Series(pd.NA, index=idx, dtype="string")
    rule = pd.Series(pd.NA, index=idx, dtype="string")
    name = pd.Series(pd.NA, index=idx, dtype="string")

    def assign(mask: pd.Series, value: pd.Series | str, why: str) -> None:
        todo = mask.fillna(False).astype(bool) & ftype.isna()
        if isinstance(value, str):
            ftype[todo] = value
        else:
            ftype[todo] = value[todo]
        rule[todo] = why

    names = known[known["key_type"] == "name"].drop_duplicates("match_key").set_index("match_key")
    ids = known[known["key_type"] == "org_id"].drop_duplicates("match_key").set_index("match_key")
    by_name = normalise_text(raw)
    hit_type = by_name.map(names["funder_type"]).astype("string")
    hit_name = by_name.map(names["funder_name"]).astype("string")
    id_type = fid.map(ids["funder_type"]).astype("string")
    id_name = fid.map(ids["funder_name"]).astype("string")
    hit_type, hit_name = hit_type.fillna(id_type), hit_name.fillna(id_name)
    assign(hit_type.notna(), hit_type, "known_list")
    name = name.fillna(hit_name.where(rule == "known_list"))

    if "funder_org_type" in awards.columns:
        gn = awards["funder_org_type"].astype("string").str.strip().str.lower().map(GRANTNAV_TYPES)
        gn = gn.astype("string")
        assign(gn.notna(), gn, "grantnav")
    assign(dept.notna(), "central_government", "department")
    for prefix, value in ORG_ID_PREFIXES:
        assign(fid.str.startswith(prefix), value, "org_id_prefix")
    assign(pd.Series(True, index=idx), "other", "unknown")
    name = name.fillna(dept).fillna(raw.str.strip()).fillna("(funder not named)")
    return pd.DataFrame({"funder_type": ftype, "funder_type_rule": rule, "funder_name": name}, index=idx)


def add_funder_types(awards: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """`awards` with funder_type, funder_type_rule and funder_name columns (see classify_funders);
    `known` is sources.funders.load_known_funders()."""
    out = awards.copy()
    out[["funder_type", "funder_type_rule", "funder_name"]] = classify_funders(out, known)
    return out


def describe_funding(types: list[str]) -> str:
    """What the run's grants are, in words for page headers: 'central-government grants' only when
    that is all the data holds, else the funder types present ('grants from central government,
    lottery distributors and charitable funders')."""
    present = [t for t in FUNDER_TYPES if t in set(types)]
    if not present or present == ["central_government"]:
        return "central-government grants"
    words = [FUNDER_TYPE_LABELS[t] for t in present]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"grants from {listed}"


def funder_type_counts(awards: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{funder_type: {n_awards, amount_gbp}} for the run manifest, every type listed."""
    g = awards.groupby("funder_type", dropna=False)["amount_gbp"].agg(["size", "sum"])
    return {t: {"n_awards": int(g.loc[t, "size"]) if t in g.index else 0,
                "amount_gbp": float(g.loc[t, "sum"]) if t in g.index else 0.0} for t in FUNDER_TYPES}


__all__ = ["FUNDER_TYPES", "FUNDER_TYPE_LABELS", "known_funder_keys", "describe_funding",
           "classify_funders", "add_funder_types", "funder_type_counts"]
