"""The bundled, user-editable list of known funders (reference/funders/known_funders.csv)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from spendmap.errors import InputError
from spendmap.paths import reference_path
from spendmap.sources.rules import _read_csv, _require_columns
from spendmap.transforms.funder_types import FUNDER_TYPES, known_funder_keys

KNOWN_FUNDERS_FILE = ("funders", "known_funders.csv")
KNOWN_FUNDER_COLUMNS = ["key_type", "key", "funder_type", "funder_name", "source"]
KNOWN_FUNDER_KEY_TYPES = ("name", "org_id")


def load_known_funders(path: Path | str | None = None) -> pd.DataFrame:
    """The known-funders list, validated: key_type, key, funder_type, funder_name, source, match_key."""
    path = Path(path) if path is not None else reference_path(*KNOWN_FUNDERS_FILE)
    df = _read_csv(path, "known funders")
    _require_columns(df, KNOWN_FUNDER_COLUMNS, path, "known funders")
    df = df.apply(lambda s: s.str.strip())
    for i, row in enumerate(df.itertuples(index=False), start=2):
        if row.key_type not in KNOWN_FUNDER_KEY_TYPES or row.funder_type not in FUNDER_TYPES or not row.key:
            raise InputError(
                f"The known funders file {path}, row {i}: key_type must be one of "
                f"{', '.join(KNOWN_FUNDER_KEY_TYPES)}, key must not be empty and funder_type one of "
                f"{', '.join(FUNDER_TYPES)}; found key_type '{row.key_type}', key '{row.key}', "
                f"funder_type '{row.funder_type}'."
            )
    df["match_key"] = known_funder_keys(df["key"].astype("string"), df["key_type"])
    return df
