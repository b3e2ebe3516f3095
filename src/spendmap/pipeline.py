"""The Prefect wiring: the main flow and its tasks. Thin: every task body is a function in `steps`.

Tasks pass file paths and small dicts, never DataFrames (Prefect's cache keys on DataFrames are
unstable). The flow writes into a staging folder and publishes it only when every step succeeded, so a
failed run never leaves a half-written output folder.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from spendmap import steps
from spendmap.manifest import build_manifest, now_iso
from spendmap.run_config import RunConfig
from spendmap.sources.fetch import default_cache_dir, resolve_source


@task(name="resolve-input", cache_policy=NO_CACHE)
def resolve_input(src: str, cache_dir: str, offline: bool, expect: str | None = None) -> dict:
    """A local path is hashed; a URL is downloaded (with retries) into the cache."""
    return resolve_source(src, cache_dir=Path(cache_dir), offline=offline, expect=expect).to_manifest()


@task(name="read-grants", cache_policy=NO_CACHE)
def read_grants_task(paths: list[str], years: list[str], work_dir: str) -> dict:
    return steps.ingest_grants(paths, years, Path(work_dir))


@task(name="place-awards", cache_policy=NO_CACHE)
def place_awards_task(awards_path: str, postcodes_path: str | None, work_dir: str) -> dict:
    return steps.place_grants(awards_path, postcodes_path, Path(work_dir))


@task(name="classify-awards", cache_policy=NO_CACHE)
def classify_awards_task(awards_path: str, work_dir: str) -> dict:
    return steps.classify_awards(awards_path, Path(work_dir))


@task(name="allocate-cra", cache_policy=NO_CACHE)
def allocate_cra_task(
    cra_path: str, population_path: str, fys: list[str], units: str | None, work_dir: str
) -> dict:
    return steps.allocate_cra(cra_path, population_path, fys, units, Path(work_dir))


@task(name="grant-analytics", cache_policy=NO_CACHE)
def analytics_task(awards_path: str, fys: list[str], threshold: float, work_dir: str) -> dict:
    return steps.grant_analytics(awards_path, fys, threshold, Path(work_dir))


@task(name="write-tables", cache_policy=NO_CACHE)
def write_tables_task(work: dict, staging: str) -> dict:
    return steps.write_tables(work, Path(staging))


@task(name="render-site", cache_policy=NO_CACHE)
def render_site_task(staging: str, context: dict, places: list[str] | None) -> dict:
    return steps.render_site(Path(staging), context, places)


@flow(name="spendmap-run", log_prints=True)
def spendmap_run(
    years: list[str] | None = None,
    grants: list[str] | None = None,
    cra: str | None = None,
    population: str | None = None,
    postcodes: str | None = None,
    places: str | None = None,
    small_threshold_gbp: float = 100_000.0,
    out_dir: str = "outputs",
    offline: bool = False,
    cra_units: str | None = None,
    cache_dir: str | None = None,
) -> dict:
    """One run of spendmap: grants register(s) + CRA + population -> the output folder."""
    config = RunConfig(
        years=list(years or []), grants=list(grants or []), cra=cra, population=population,
        postcodes=postcodes, places=places, small_threshold_gbp=small_threshold_gbp, out_dir=out_dir,
        offline=offline, cra_units=cra_units, cache_dir=cache_dir,
    )
    return _run(config)


def _run(config: RunConfig) -> dict:
    logger = get_run_logger()
    started = now_iso()
    place_codes = steps.resolve_place_codes(config.places)  # fail fast on an unknown council
    cache_dir = config.cache_dir or str(default_cache_dir())
    out_dir = Path(config.out_dir)
    staging = steps.start_staging(out_dir)
    work_dir = str(staging / steps.WORK_DIR_NAME)
    try:
        grants_files = [resolve_input(src, cache_dir, config.offline, "spreadsheet") for src in config.grants]
        cra_file = resolve_input(config.cra, cache_dir, config.offline, "spreadsheet")
        population_file = resolve_input(config.population, cache_dir, config.offline)
        postcodes_file = (
            resolve_input(config.postcodes, cache_dir, config.offline, "postcode lookup (CSV or zip)")
            if config.postcodes else None
        )

        read = read_grants_task([f["path"] for f in grants_files], config.years, work_dir)
        fys = config.years or read["fys"]
        print(f"Read {sum(i['rows_read'] for i in read['inputs']):,} award rows for {', '.join(fys)}")
        cra_future = allocate_cra_task.submit(
            cra_file["path"], population_file["path"], fys, config.cra_units, work_dir
        )
        postcodes_path = postcodes_file["path"] if postcodes_file else None
        placed = place_awards_task(read["awards"], postcodes_path, work_dir)
        geo = placed["geo_methods"]
        print("Placed awards: " + ", ".join(f"{m} {v['awards']:,}" for m, v in geo.items()))
        classified = classify_awards_task(placed["awards"], work_dir)
        analytics = analytics_task(classified["awards"], fys, config.small_threshold_gbp, work_dir)
        cra_result = cra_future.result()

        work = {"read": read, "classified": classified, "analytics": analytics, "cra": cra_result}
        written = write_tables_task(work, str(staging))
        manifest = build_manifest(
            config=config.to_dict(), started=started, fys=fys,
            inputs={"grants": grants_files, "cra": cra_file, "population": population_file,
                    "postcodes": postcodes_file},
            read=read, geo=geo, classified=classified, analytics=analytics, cra=cra_result,
            written=written,
        )
        context = steps.site_context(manifest)
        site = render_site_task(str(staging), context, place_codes)
        manifest["outputs"].update(site["files"])
        manifest["spendmap_run"]["finished"] = now_iso()
        steps.write_manifest(manifest, staging)
        published = steps.publish(staging, out_dir)
    except BaseException:
        steps.discard_staging(staging)
        raise
    index_html = published / "index.html"
    _artifacts(manifest, index_html)
    logger.info("Wrote %s", index_html)
    return {"out_dir": str(published), "index_html": str(index_html), "manifest": manifest}


def _artifacts(manifest: dict, index_html: Path) -> None:
    """Human-readable summaries in the Prefect UI."""
    rec = manifest["reconciliation"]["totals"]
    create_markdown_artifact(
        key="spendmap-run-summary",
        markdown=(
            f"# spendmap run {', '.join(manifest['financial_years'])}\n\n"
            f"- award rows read: {rec['rows_read']:,}; accepted {rec['rows_accepted']:,}; "
            f"rejected {rec['rows_rejected']:,}\n"
            f"- £ in {rec['amount_in_gbp']:,.0f}; accepted {rec['amount_accepted_gbp']:,.0f}; "
            f"rejected {rec['amount_rejected_gbp']:,.0f}\n"
            f"- reconciles: {manifest['reconciliation']['ok']}\n"
        ),
        description="Rows and £ in and out of the grants registers",
    )
    create_table_artifact(
        key="spendmap-geo-methods",
        table=[{"geo_method": m, **v} for m, v in manifest["geo_methods"].items()],
        description="How awards were placed in councils",
    )
    create_link_artifact(key="spendmap-index", link=index_html.as_uri(), description="The output folder")


def run_pipeline(config: RunConfig) -> dict:
    """Run the main flow for the CLI (progress printed plainly; Prefect's logs only with --debug).

    Cheap checks (council names, local files exist) run first, so a typo fails in a second rather
    than after Prefect's temporary server has started.
    """
    steps.preflight(config)
    params = config.to_dict()
    return spendmap_run.with_options(log_prints=False)(**params)
