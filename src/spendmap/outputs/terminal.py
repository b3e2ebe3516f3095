"""Terminal views: the council list (`spendmap places`) and a council's profile (`spendmap profile`)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from spendmap.errors import InputError
from spendmap.outputs.money import format_gbp, format_per_head
from spendmap.sources.councils import PFPP_CODES, load_councils


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=110)


def find_places(query: str | None) -> pd.DataFrame:
    """Councils whose name, code, region or county contains query ('pfpp': the 13 pilot places)."""
    councils = load_councils()
    if not query:
        return councils
    if query.strip().lower() == "pfpp":
        return councils[councils["la_code"].isin(PFPP_CODES)]
    q = query.strip().lower()
    searchable = councils[["la_name", "official_name", "la_code", "register_code", "county_name"]]
    text = searchable.fillna("").astype(str).agg("|".join, axis=1).str.lower()
    found = councils[text.str.contains(q, regex=False)]
    if found.empty:
        from spendmap.transforms.council_names import council_index

        return councils[councils["la_code"] == council_index().find(query)]
    return found


def print_places(query: str | None) -> None:
    """List/search councils: name, GSS code, type, region, county."""
    found = find_places(query)
    table = Table(title=f"{len(found)} council{'s' if len(found) != 1 else ''}")
    for col in ("Council", "GSS code", "Type", "Region", "County"):
        table.add_column(col)
    for row in found.itertuples():
        county = "" if pd.isna(row.county_name) else row.county_name
        table.add_row(row.la_name, row.la_code, row.la_type_name, row.region_name, county)
    _console().print(table)


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pd.DataFrame:
    return con.execute(sql, params).fetch_df()


def print_profile(council: str, *, out_dir: str | Path = "outputs", year: str | None = None) -> None:
    """A council's grant profile from the last run's DuckDB database."""
    from spendmap.transforms.council_names import council_index

    db = Path(out_dir) / "spendmap.duckdb"
    if not db.is_file():
        raise InputError(
            f"No run found in {out_dir}/ (expected {db}). Run `spendmap run` (or `make run`) first, or "
            "point --out at the folder of an earlier run."
        )
    code = council_index().find(council)
    councils = load_councils().set_index("la_code")
    info = councils.loc[code]
    with duckdb.connect(str(db), read_only=True) as con:
        years = _query(con, "SELECT DISTINCT fy FROM place_summary ORDER BY fy", [])["fy"].tolist()
        if year is None:
            year = years[-1] if years else None
        elif year not in years:
            have = ", ".join(years) or "none"
            raise InputError(f"The run in {out_dir}/ has no year {year}; it has {have}.")
        summary = _query(con, "SELECT * FROM place_summary WHERE la_code = ? AND fy = ?", [code, year])
        where = "WHERE la_code = ? AND fy = ?"
        small = _query(con, f"SELECT * FROM small_grants {where} ORDER BY scope", [code, year])
        dup = _query(
            con, f"SELECT * FROM duplication {where} ORDER BY n_schemes * n_recipients DESC, total_gbp DESC",
            [code, year],
        )
        depts = _query(
            con,
            "SELECT coalesce(department, department_raw) AS department, count(*) AS n, "
            "sum(amount_gbp) AS gbp "
            "FROM awards WHERE la_code = ? AND fy = ? GROUP BY 1 ORDER BY n DESC",
            [code, year],
        )
        cra = _query(
            con,
            "SELECT sum(allocated_gbp) AS gbp, max(population) AS pop, bool_or(is_aggregate) AS agg, "
            "max(region_population) AS region_pop, any_value(region) AS region FROM cra_allocation "
            "WHERE la_code = ? AND fy = ?",
            [code, year],
        )
        # England's per head: all lower-tier/unitary English councils, each population counted once.
        england = _query(
            con,
            "WITH c AS (SELECT la_code, sum(allocated_gbp) AS gbp, max(population) AS pop "
            "FROM cra_allocation WHERE fy = ? AND NOT is_aggregate AND la_code LIKE 'E%' GROUP BY la_code) "
            "SELECT sum(gbp) / sum(pop) AS per_head FROM c",
            [year],
        )
        unresolved = _query(
            con, "SELECT count(*) AS n FROM awards WHERE fy = ? AND geo_method = 'unresolved'", [year]
        )
        priority_tables = _priority_tables(con, code)

    console = _console()
    county = f", in {info['county_name']}" if pd.notna(info["county_name"]) else ""
    console.print(
        f"[bold]{info['la_name']}[/bold] ({code}) — {info['la_type_name']}{county}, "
        f"{info['region_name']} — financial year {year}"
    )
    if summary.empty or int(summary["n_awards"].iloc[0]) == 0:
        console.print(
            "No grant awards in this run were placed in this council (see unresolved awards in "
            "run_manifest.json: awards are placed by council name, ONS code or postcode)."
        )
    else:
        s = summary.iloc[0]
        table = Table(show_header=False)
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("Grant schemes reaching the place", f"{int(s['n_schemes']):,}")
        table.add_row("Recipients located there", f"{int(s['n_recipients']):,}")
        table.add_row("Awards", f"{int(s['n_awards']):,}")
        table.add_row("Total awarded", format_gbp(float(s["total_gbp"])))
        table.add_row("Small awards (share)", f"{int(s['n_small_awards']):,} ({float(s['share_small']):.0%})")
        console.print(table)
    if not small.empty:
        table = Table(title="Small grants")
        for col in ("scope", "awards", "small", "share small", "threshold"):
            table.add_column(col, justify="right" if col != "scope" else "left")
        for r in small.itertuples():
            share = "—" if pd.isna(r.share_small) else f"{r.share_small:.0%}"
            table.add_row(r.scope, f"{r.n_awards:,}", f"{r.n_small:,}", share, format_gbp(r.threshold_gbp))
        console.print(table)
    if not depts.empty:
        table = Table(title="Awards by department")
        for col in ("department", "awards", "£"):
            table.add_column(col, justify="left" if col == "department" else "right")
        for r in depts.itertuples():
            table.add_row(str(r.department), f"{r.n:,}", format_gbp(r.gbp))
        console.print(table)
    if dup.empty:
        console.print("Duplication: no policy area funded by several departments or schemes here.")
    else:
        table = Table(title="Duplication findings")
        # "funders" once other funders' data is in the findings (duplication.csv's funder_types)
        kinds = set("; ".join(dup.get("funder_types", pd.Series(dtype=str)).dropna()).split("; ")) - {""}
        who = "departments" if kinds <= {"central_government"} else "funders"
        for col in ("policy area", "kind", who, "schemes", "recipients", "£"):
            table.add_column(col, justify="right" if col == "£" else "left")
        for r in dup.itertuples():
            table.add_row(
                r.policy_area,
                r.kind,
                r.departments,
                str(r.n_schemes),
                str(r.n_recipients),
                format_gbp(r.total_gbp),
            )
        console.print(table)
        if "explanation" in dup.columns:  # the same sentence as the page and duplication.csv
            for sentence in dup["explanation"].dropna():
                console.print(f"- {sentence}", markup=False, soft_wrap=True)
    if not cra.empty and pd.notna(cra["gbp"].iloc[0]):
        c = cra.iloc[0]
        gbp, pop = float(c["gbp"]), float(c["pop"])
        aggregate = " (the sum of its districts)" if bool(c["agg"]) else ""
        console.print(
            f"CRA identifiable spend allocated by population share{aggregate}: {format_gbp(gbp)}, "
            f"{format_per_head(gbp / pop)} per head for {int(pop):,} people — by construction the same per "
            f"head as {c['region']}; England {format_per_head(float(england['per_head'].iloc[0]))} per head."
        )
    else:
        console.print(f"CRA: no allocation for {year} (the CRA edition used does not cover that year).")
    place_total = 0.0 if summary.empty else float(summary["total_gbp"].iloc[0])
    _print_priorities(console, priority_tables, code, str(info["la_name"]), year, place_total, out_dir)
    n_unresolved = int(unresolved["n"].iloc[0])
    if n_unresolved:
        console.print(
            f"Note: {n_unresolved:,} awards in this run could not be placed in any council; unplaced.csv "
            "lists each with its reason (no postcode, placeholder, postcode not found, ...)."
        )
    from spendmap.outputs.site import council_slugs

    slug = council_slugs(councils.reset_index())[code]
    page = Path(out_dir) / "councils" / slug / "index.html"
    console.print(f"Page: {page}   Workbook: {page.parent / f'{slug}_grant_profile.xlsx'}")


def _priority_tables(con: duckdb.DuckDBPyConnection, code: str) -> dict[str, pd.DataFrame]:
    """The run's priority tables (outputs.priorities_section.TABLE_NAMES) for one council; {} when the
    run had no priorities or none for this council."""
    from spendmap.outputs.priorities_section import TABLE_NAMES

    have = set(_query(con, "SELECT table_name FROM duckdb_tables()", [])["table_name"])
    if not set(TABLE_NAMES) <= have:
        return {}
    return {name: _query(con, f"SELECT * FROM {name} WHERE la_code = ?", [code]) for name in TABLE_NAMES}


def _funding_words(out_dir: str | Path) -> str:
    """What the run's grants are, as the pages say it (RunContext.funding_words, from the manifest)."""
    import json

    from spendmap.transforms.funder_types import describe_funding

    path = Path(out_dir) / "run_manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    types = (manifest.get("classification", {}).get("funder_types") or {}).items()
    return describe_funding([t for t, v in types if v.get("n_awards")])


def _print_priorities(console: Console, tables: dict[str, pd.DataFrame], code: str, name: str, year: str,
                      place_total_gbp: float, out_dir: str | Path) -> None:
    """Per priority, lines and £ by source, the gap and overlap sentences: the page's section
    (outputs.priorities_section.section), figures and words alike."""
    from spendmap.outputs.priorities_section import section

    found = section(tables, code, name, year, place_total_gbp, _funding_words(out_dir)) if tables else None
    if found is None:
        return
    console.print(f"[bold]Funding against {name}'s priorities[/bold], {year} (priority_matches.csv lists "
                  "every match and its rule; a line matching several priorities counts in each)")
    for item in found["items"]:
        # Text, not markup: a priority's title is the user's own words, brackets and all.
        table = Table(title=Text(f"{item['title']} ({item['id']})"), title_justify="left")
        for col in ("source", "lines", "£"):
            table.add_column(col, justify="left" if col == "source" else "right")
        for src in item["sources"]:
            table.add_row(src["label"], f"{src['n']:,}", format_gbp(src["gbp"]))
        table.add_row("All grants matched", f"{item['grant_n']:,}", format_gbp(item["grant_gbp"]))
        console.print(table, markup=False)
        for sentence in (item["gap"], item["overlap"]):
            if sentence:
                console.print(f"- {sentence}", markup=False, soft_wrap=True)


class RenderProgress:
    """A rich progress bar, council by council, while pages are written: use as a context manager and
    pass the instance as `render_site(..., progress=bar)` (it is an `outputs.site.Progress` callable).

    Drawn only when stdout is a terminal; in a log or a pipe the run's plain step lines say enough.
    """

    def __init__(self, console: Console | None = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console or Console(highlight=False)
        self.live = self.console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[label]}"),
            console=self.console,
            transient=True,  # the step line that follows says how many and how long
        )
        self._task = None

    def __enter__(self) -> RenderProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress.live.is_started:  # a run that failed while pages were being written
            self._progress.stop()

    def __call__(self, stage: str, done: int, total: int, label: str) -> None:
        if stage != "council" or not self.live:
            return
        # Drawn only while pages are written, so the step lines before and after print as they are.
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task("Council pages", total=total, label="")
        self._progress.update(self._task, completed=done, label=label)
        if done >= total and self._progress.live.is_started:
            self._progress.stop()


def run_summary(manifest: dict, out_dir: str | Path, n_councils: int) -> str:
    """The closing lines of a run: awards read, share placed, councils rendered, what to open.

    The last line is the path of index.html alone (scripts and `make run` rely on it).
    """
    totals = manifest.get("reconciliation", {}).get("totals", {})
    geo = manifest.get("geo_methods", {})
    accepted = sum(int(v.get("awards", 0)) for v in geo.values())
    unplaced = geo.get("unresolved", {})
    placed = accepted - int(unplaced.get("awards", 0))
    gbp = sum(float(v.get("amount_gbp", 0.0)) for v in geo.values())
    placed_gbp = gbp - float(unplaced.get("amount_gbp", 0.0))
    years = ", ".join(manifest.get("financial_years", []))
    rows = int(totals.get("rows_read", accepted))
    rejected = int(totals.get("rows_rejected", 0))
    out = Path(out_dir).resolve()
    return "\n".join(
        [
            f"Awards read: {rows:,} rows for {years}; {accepted:,} accepted ({format_gbp(gbp)}), "
            f"{rejected:,} rejected (rejects.csv says why).",
            *(f"Warning: {w}" for w in manifest.get("warnings", [])),
            f"Placed in a council: {placed:,} of {accepted:,} awards ({_share(placed, accepted)}), "
            f"{format_gbp(placed_gbp)} of {format_gbp(gbp)} ({_share(placed_gbp, gbp)}); "
            f"unplaced.csv lists the other {accepted - placed:,} with reasons.",
            f"Councils rendered: {n_councils:,} page{'s' if n_councils != 1 else ''}, each with its Sankeys, "
            "CSV extract and workbook.",
            f"Tables: {out / 'spendmap.duckdb'} and the CSV files beside it; run record: "
            f"{out / 'run_manifest.json'}",
            "Open in a browser:",
            str(out / "index.html"),
        ]
    )


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "none"
