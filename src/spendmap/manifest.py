"""run_manifest.json: what went in, what came out, and the checks that the two reconcile."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata

from spendmap import __version__

PACKAGES = (
    "prefect", "pandas", "pyarrow", "python-calamine", "duckdb", "networkx", "plotly", "openpyxl",
    "rapidfuzz", "fastapi",
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    versions = {"spendmap": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def reconcile_grants(inputs: list[dict]) -> dict:
    """Rows and £ in = accepted + rejected, per input and overall; `ok` is False if anything is lost."""
    per_input = []
    for info in inputs:
        rows_ok = info["rows_read"] == info["rows_accepted"] + info["rows_rejected"]
        gbp_ok = abs(info["amount_in_gbp"] - info["amount_accepted_gbp"] - info["amount_rejected_gbp"]) < 0.01
        per_input.append({"path": info["path"], "rows_reconcile": rows_ok, "amounts_reconcile": gbp_ok})
    total = {
        key: sum(i[key] for i in inputs)
        for key in ("rows_read", "rows_accepted", "rows_rejected", "amount_in_gbp", "amount_accepted_gbp",
                    "amount_rejected_gbp")
    }
    ok = all(p["rows_reconcile"] and p["amounts_reconcile"] for p in per_input)
    return {"ok": ok, "totals": total, "per_input": per_input}


def reconcile_other_inputs(cra: dict, population: dict, scheme_registers: list[dict]) -> list[dict]:
    """Rows (or CRA value cells) read = accepted + rejected for the CRA, population and scheme files."""
    checks = [
        {"input": cra["path"], "unit": "value cells", "read": cra["cells_read"],
         "accepted": cra["cells_accepted"], "rejected": cra["cells_rejected"]},
        {"input": population["path"], "unit": "rows", "read": population["rows_read"],
         "accepted": population["rows_accepted"], "rejected": population["rows_rejected"]},
    ]
    checks += [
        {"input": s["source_file"], "unit": "non-blank rows", "read": s["rows_read"] - s["blank_rows"],
         "accepted": s["rows_accepted"], "rejected": s["rows_rejected"]}
        for s in scheme_registers
    ]
    for check in checks:
        check["reconciles"] = check["read"] == check["accepted"] + check["rejected"]
    return checks


def build_manifest(
    *, config: dict, started: str, fys: list[str], inputs: dict, read: dict, geo: dict,
    classified: dict, analytics: dict, cra: dict, written: dict,
) -> dict:
    """run_manifest.json from the flow's step results (inputs: the resolved files by kind)."""
    return {
        "spendmap_run": {"started": started, "config": config},
        "financial_years": fys,
        "inputs": {
            "grants": [{**f, **info} for f, info in zip(inputs["grants"], read["inputs"], strict=True)],
            "cra": {**inputs["cra"], "reading": cra["summary"]},
            "population": {**inputs["population"], "reading": cra["population_summary"]},
            "postcodes": inputs["postcodes"],
        },
        "reconciliation": {
            **reconcile_grants(read["inputs"]),
            "other_inputs": reconcile_other_inputs(
                cra["summary"], cra["population_summary"], classified["summary"]["scheme_registers"]
            ),
        },
        "geo_methods": geo,
        "classification": classified["summary"],
        "analytics": analytics["summary"],
        "assumptions": {
            "small_threshold_gbp": config["small_threshold_gbp"],
            "population_vintages": cra["vintages"],
            "cra_units": cra["summary"]["units"],
            "cra_scope": "identifiable spend only, allocated to councils by population share",
        },
        "outputs": written["files"],
        "package_versions": package_versions(),
    }
