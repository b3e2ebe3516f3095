"""Postcode hygiene and the vectorised lookup of award postcodes in a `PostcodeDirectory`.

Hygiene, in order (each postcode gets one `postcode_status`):
- case and spaces normalised; blanks are `blank`;
- placeholders (`AA1 1AA`, `ZZ99 …`, `N/A`, `TBC`, `UNKNOWN`, ...) are `placeholder`: counted, treated as
  no postcode;
- a letter O or I where the format requires a digit (the first character of the inward code) is read
  as 0 or 1 (`LS26 OUE` -> `LS26 0UE`); when the corrected postcode is found it is `corrected`;
- a postcode in the directory is `matched` (or `no_council` when the directory gives it no council:
  the Channel Islands, the Isle of Man and other pseudo codes);
- one not in the directory (or cut off, like `BD10 8D`) falls back to its sector (outward code + first
  inward digit) only when at least `SECTOR_SHARE` of the sector's postcodes lie in one council:
  `sector`; otherwise `not_found` (`incomplete` for a cut-off postcode);
- anything that is not a postcode's shape is `invalid`.

All work is on the distinct postcodes (a register repeats them), with pandas string methods and numpy
`searchsorted` on the directory's sorted 64-bit keys: no Python loop over awards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spendmap.sources.postcode_directory import PostcodeDirectory, encode_postcodes

SECTOR_SHARE = 0.9
POSTCODE_STATUSES = (
    "matched", "corrected", "sector", "no_council", "not_found", "incomplete", "invalid", "placeholder",
    "blank",
)
PLACED_STATUSES = ("matched", "corrected", "sector")
# Words and keys used in registers for "no postcode" (compared without spaces or punctuation).
PLACEHOLDER_WORDS = {
    "NA", "NONE", "NIL", "NULL", "TBC", "TBA", "UNKNOWN", "NOTKNOWN", "NOTAPPLICABLE", "NOPOSTCODE",
    "NOTPROVIDED", "REDACTED", "X", "XX", "XXX", "0", "00", "-",
}
PLACEHOLDER_KEYS = {"AA11AA", "AA00AA", "XX11XX", "XX00XX"}
PLACEHOLDER_PREFIXES = ("ZZ99",)  # NHS "no fixed abode" / unknown pseudo-postcodes
# Postcode areas outside UK councils: the directory gives them pseudo council codes.
OUTSIDE_UK_COUNCILS = {"GY": "Channel Islands", "JE": "Channel Islands", "IM": "Isle of Man"}
PSEUDO_PLACES = {"L": "Channel Islands", "M": "Isle of Man"}
_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_LOOKUP_COLUMNS = ["postcode_key", "sector_key", "postcode_status", "laua", "sector_share", "outside"]


def _split(text: pd.Series) -> pd.DataFrame:
    """Outward and inward parts of upper-cased postcodes (one space at most), O/I fixed in the inward
    code's first character; `corrected` says whether a fix was made."""
    has_space = text.str.contains(" ", regex=False)
    parts = text.str.split(" ", n=1, expand=True).reindex(columns=[0, 1]).astype("string")
    nospace = text.str.replace(" ", "", regex=False)
    # Without a space: a full postcode's inward code is its last three characters; a cut-off one
    # (outward + digit + at most one letter) is split by shape.
    cut = nospace.str.extract(rf"^({_OUTWARD})([0-9OI][A-Z]?)$")
    full_len = nospace.str.fullmatch(rf"{_OUTWARD}[0-9OI][A-Z]{{2}}").fillna(False) | cut[0].isna()
    outward = parts[0].where(has_space, nospace.str[:-3].where(full_len, cut[0]))
    inward = parts[1].where(has_space, nospace.str[-3:].where(full_len, cut[1]))
    first = inward.str[:1]
    fixed_first = first.replace({"O": "0", "I": "1"})
    corrected = (first != fixed_first).fillna(False).astype(bool)
    inward = fixed_first + inward.str[1:]
    return pd.DataFrame(
        {"outward": outward.astype("string"), "inward": inward.astype("string"), "corrected": corrected}
    )


def clean_postcodes(postcodes: pd.Series) -> pd.DataFrame:
    """Per value: postcode_key (no space), sector_key, pre-status and whether an O/I was corrected.

    pre-status is `blank`, `placeholder`, `invalid`, `full` (a whole postcode) or `partial` (cut off,
    sector known). Well-formed postcodes (nearly all) take a fast path; only the rest are split apart.
    """
    text = (
        postcodes.astype("string").str.upper()
        .str.replace(r"[\s\u00a0\u200b\ufeff]+", " ", regex=True).str.strip()
    )
    squeezed = text.str.replace(" ", "", regex=False)
    # Spaces anywhere in a whole postcode do not matter (`W F1 2EB`); only a cut-off one needs them.
    well_formed = squeezed.str.fullmatch(rf"{_OUTWARD}[0-9][A-Z]{{2}}").fillna(False)
    key = squeezed.where(well_formed)
    sector = squeezed.str[:-2].where(well_formed)
    status = pd.Series("invalid", index=text.index, dtype="string").mask(well_formed, "full")
    corrected = pd.Series(False, index=text.index)
    rest = ~well_formed & text.notna()
    if rest.any():  # typos, cut-off postcodes, placeholders and non-postcodes: split them apart
        odd = text[rest]
        parts = _split(odd.where(odd.str.fullmatch(r"[A-Z0-9]+( [A-Z0-9]+)?").fillna(False)))
        outward_ok = parts["outward"].str.fullmatch(_OUTWARD).fillna(False)
        full = outward_ok & parts["inward"].str.fullmatch(r"[0-9][A-Z]{2}").fillna(False)
        partial = outward_ok & parts["inward"].str.fullmatch(r"[0-9][A-Z]?").fillna(False) & ~full
        key[rest] = (parts["outward"] + parts["inward"]).where(full)
        sector[rest] = (parts["outward"] + parts["inward"].str[:1]).where(full | partial)
        status[rest] = status[rest].mask(full, "full").mask(partial, "partial")
        corrected[rest] = parts["corrected"] & (full | partial)
        squeezed_odd = odd.str.replace(r"[^A-Z0-9]", "", regex=True)
        placeholder = (
            squeezed_odd.isin(PLACEHOLDER_WORDS | PLACEHOLDER_KEYS)
            | odd.str.replace(r"[^A-Z0-9/\-]", "", regex=True).isin({"N/A", "-", "--", "N/K"})
        ).fillna(False)
        status[rest] = status[rest].mask(placeholder, "placeholder")
    # Placeholders that have a postcode's shape (AA1 1AA, ZZ99 3VZ).
    shaped = (squeezed.isin(PLACEHOLDER_KEYS) | squeezed.str.startswith(PLACEHOLDER_PREFIXES)).fillna(False)
    status = status.mask(shaped, "placeholder").mask(text.isna() | (text == ""), "blank")
    keep = status.isin(["full", "partial"])
    outward = sector.str[:-1]
    return pd.DataFrame(
        {
            "postcode_key": key.where(keep & (status == "full")),
            "sector_key": sector.where(keep),
            "pre_status": status,
            "corrected": corrected & keep,
            "area": outward.str.extract(r"^([A-Z]+)", expand=False).where(keep),
        },
        index=postcodes.index,
    )


def _find(sorted_keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found mask, position) of each wanted key in a sorted unique key array."""
    if len(sorted_keys) == 0:
        return np.zeros(len(wanted), bool), np.zeros(len(wanted), np.int64)
    pos = np.searchsorted(sorted_keys, wanted)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == wanted, pos


def lookup_postcodes(
    postcodes: pd.Series, directory: PostcodeDirectory, *, sector_share: float = SECTOR_SHARE
) -> pd.DataFrame:
    """Each award's postcode looked up: postcode_key, sector_key, postcode_status, laua (the directory's
    council code, pseudo codes excluded), sector_share (for `sector`), outside (Channel Islands, Isle
    of Man: the place named). Aligned to `postcodes.index`."""
    codes, uniques = pd.factorize(postcodes.astype("string"), use_na_sentinel=True)
    distinct = pd.Series(uniques, dtype="string")
    clean = clean_postcodes(distinct)
    n = len(distinct)
    status = clean["pre_status"].to_numpy(dtype=object).copy()
    area_idx = np.full(n, -1, dtype=np.int64)
    share = np.full(n, np.nan)

    is_full = (clean["pre_status"] == "full").to_numpy()
    found = np.zeros(n, bool)
    if is_full.any():
        hit, pos = _find(directory.keys, encode_postcodes(clean["postcode_key"][is_full].to_numpy(dtype=str)))
        idx = np.flatnonzero(is_full)
        found[idx[hit]] = True
        area_idx[idx[hit]] = directory.area[pos[hit]]
    code_of = np.append(directory.codes, None)  # index -1 -> None
    found_code = pd.Series(code_of[area_idx], dtype="string")
    pseudo = found_code.str.endswith("99999999").fillna(False).to_numpy()
    corrected = clean["corrected"].to_numpy(dtype=bool)
    status[found] = np.where(corrected[found], "corrected", "matched")
    status[found & (pseudo | (area_idx < 0))] = "no_council"

    # Sector fallback for postcodes not found and cut-off ones.
    try_sector = ~found & np.isin(clean["pre_status"].to_numpy(dtype=object), ["full", "partial"])
    if try_sector.any():
        idx = np.flatnonzero(try_sector)
        sectors = encode_postcodes(clean["sector_key"][try_sector].to_numpy(str))
        hit, pos = _find(directory.sector_keys, sectors)
        ok = hit & (directory.sector_share[pos] >= sector_share)
        area_idx[idx[ok]] = directory.sector_area[pos[ok]]
        share[idx[ok]] = directory.sector_share[pos[ok]]
        status[idx[ok]] = "sector"
        miss = idx[~ok]
        status[miss] = np.where(clean["pre_status"].to_numpy(dtype=object)[miss] == "partial", "incomplete",
                                "not_found")
    # Channel Islands / Isle of Man: by the directory's pseudo code, or by postcode area when not found.
    outside = pd.Series(pd.NA, index=distinct.index, dtype="string")
    outside = outside.mask(pd.Series(pseudo), found_code.str[:1].map(PSEUDO_PLACES))
    by_area = clean["area"].map(OUTSIDE_UK_COUNCILS).astype("string")
    unplaced = ~pd.Series(status).isin(PLACED_STATUSES + ("no_council",))
    outside = outside.fillna(by_area.where(unplaced))
    status[outside.notna().to_numpy()] = "no_council"
    laua = pd.Series(code_of[area_idx], dtype="string")
    laua = laua.where(pd.Series(status).isin(PLACED_STATUSES))

    per_value = pd.DataFrame(
        {
            "postcode_key": clean["postcode_key"].astype("string"),
            "sector_key": clean["sector_key"].astype("string"),
            "postcode_status": pd.Series(status, dtype="string"),
            "laua": laua,
            "sector_share": share,
            "outside": outside,
        }
    )
    blank_row = pd.DataFrame(
        {"postcode_key": [pd.NA], "sector_key": [pd.NA], "postcode_status": ["blank"], "laua": [pd.NA],
         "sector_share": [np.nan], "outside": [pd.NA]}
    ).astype(per_value.dtypes.to_dict())
    table = pd.concat([per_value, blank_row], ignore_index=True)  # code -1 (missing) -> last row
    out = table.iloc[np.where(codes < 0, len(table) - 1, codes)].reset_index(drop=True)
    out.index = postcodes.index
    return out[_LOOKUP_COLUMNS]
