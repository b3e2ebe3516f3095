"""The command line as users meet it: exit codes, one-paragraph errors, no half-written output."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from spendmap.cli import main
from spendmap.testing.reference_cache import seed_reference


def _err(capsys) -> str:
    """stderr as one line: where the paragraph wraps depends on the length of the paths in it."""
    return " ".join(capsys.readouterr().err.split())


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_places_search_and_preset(capsys):
    assert main(["places", "wakef"]) == 0
    out = capsys.readouterr().out
    assert "Wakefield" in out and "E08000036" in out and "Metropolitan district" in out
    assert main(["places", "pfpp"]) == 0
    assert "14 councils" in capsys.readouterr().out  # 13 pilots, East Sussex with Hastings


def test_unknown_council_suggests_nearest(capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--places", "Wakefeld", "--out", str(out)]) == 2
    err = _err(capsys)
    assert "No council matches 'Wakefeld'" in err and "Wakefield (E08000036)" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_malformed_year_is_exit_2(capsys):
    assert main(["run", "--year", "2016/17"]) == 2
    assert "write it as 2016-17" in _err(capsys)


def test_missing_file_is_exit_2(capsys, tmp_path):
    assert main(["run", "--grants", str(tmp_path / "none.xlsx"), "--out", str(tmp_path / "o")]) == 2
    assert "--grants does not exist" in _err(capsys)


def test_profile_before_any_run(capsys, tmp_path):
    assert main(["profile", "Wakefield", "--out", str(tmp_path)]) == 2
    assert "No run found" in _err(capsys)


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "spendmap", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("spendmap ")


@pytest.mark.flow
def test_html_saved_as_ods_fails_cleanly(capsys, tmp_path, prefect_harness):
    fake = tmp_path / "Government_Grants_Register_2022_to_2023.ods"
    fake.write_text("<!DOCTYPE html><html><body>Sign in to GOV.UK</body></html>")
    out = tmp_path / "outputs"
    assert main(["run", "--grants", str(fake), "--out", str(out)]) == 2
    err = _err(capsys)
    assert fake.name in err and "HTML" in err and "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.flow
def test_wrong_year_for_register_fails_cleanly(capsys, tmp_path, prefect_harness):
    out = tmp_path / "outputs"
    assert main(["run", "--year", "2020-21", "--out", str(out)]) == 2
    err = _err(capsys)
    assert "is for 2016-17 (from its file name)" in err
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.flow
def test_year_missing_from_cra_still_runs(capsys, tmp_path, prefect_harness):
    """A 2022-23 register with the bundled CRA 2018 edition (2013-14 to 2017-18): exit 0 with a warning,
    the grants analysis and pages produced, no CRA rows, and the manifest and pages say why."""
    register = tmp_path / "grants_2022-23.csv"
    register.write_text(
        "Identifier,Title,Amount Awarded,Award Date,Recipient Org:Name,Funding Org:Name\r\n"
        "A1,Bus grant,\"£1,000\",01/05/2022,Wakefield Council,Department for Transport\r\n"
    )
    out = tmp_path / "outputs"
    assert main(["run", "--grants", str(register), "--places", "Wakefield", "--out", str(out)]) == 0
    assert "Warning: The CRA edition given" in capsys.readouterr().out
    manifest = json.loads((out / "run_manifest.json").read_text())
    coverage = manifest["inputs"]["cra"]["reading"]["coverage"]
    assert coverage["used"] is False and coverage["run_years_not_in_edition"] == ["2022-23"]
    assert coverage["edition_years"][0] == "2013-14" and coverage["edition_years"][-1] == "2017-18"
    assert len(pd.read_csv(out / "cra_allocation.csv")) == 0
    summary = pd.read_csv(out / "place_summary.csv").set_index("la_code")
    assert summary.loc["E08000036", "n_awards"] == 1
    page = (out / "councils" / "wakefield" / "index.html").read_text()
    assert "it has no 2022-23" in page and "give a newer edition with --cra" in page
    assert _leftovers(tmp_path) == []


@pytest.mark.flow
def test_profile_of_wakefield_after_run(capsys, bundled_run):
    awards = pd.read_parquet(bundled_run / "awards.parquet")
    wakefield = awards[awards["la_code"] == "E08000036"]
    assert main(["profile", "City of Wakefield MDC", "--out", str(bundled_run)]) == 0
    out = capsys.readouterr().out
    assert "Wakefield" in out and "E08000036" in out and "2016-17" in out
    assert re.search(rf"│ Awards\s+│\s+{len(wakefield)} │", out)
    # Ten DfT awards: two to the council, eight to bus and community-transport operators placed by postcode.
    assert len(wakefield) == 10 and wakefield["recipient_name"].nunique() == 9
    assert re.search(r"│ Recipients located there\s+│\s+9 │", out)
    assert re.search(r"│ Total awarded\s+│\s+£4\.8m │", out)
    assert round(wakefield["amount_gbp"].sum(), -5) == 4_800_000
    assert "CRA identifiable spend allocated by population share" in out
    assert "councils/wakefield/index.html" in out
    # The finding's sentence, as on the page and in duplication.csv.
    findings = pd.read_csv(bundled_run / "duplication.csv").set_index("la_code")
    sentence = findings.loc["E08000036", "explanation"]
    # Buses and community transport only: the council's own formula bus grant and its road PFI credit are
    # not programmes (5 schemes to 8 recipients when they were counted as "transport").
    assert sentence.startswith("3 DfT schemes to 7 recipients in Wakefield: buses and community transport")
    assert f"- {sentence}" in out
    assert main(["profile", "Wakefield", "--year", "2019-20", "--out", str(bundled_run)]) == 2


@pytest.mark.flow
def test_several_years_write_trends(tmp_path, prefect_harness):
    header = "Identifier,Title,Amount Awarded,Award Date,Recipient Org:Name,Funding Org:Name\r\n"
    (tmp_path / "grants_2015-16.csv").write_text(
        header + 'A1,Bus grant,"£1,000",01/05/2015,Wakefield Council,Department for Transport\r\n'
        'A2,Victims,"2,500",01/06/2015,Wakefield Council,Ministry of Justice\r\n'
    )
    (tmp_path / "grants_2016-17.csv").write_text(
        header + 'B1,Bus grant,"£3,000",01/05/2016,Wakefield Council,Department for Transport\r\n'
    )
    out = tmp_path / "outputs"
    args = ["run", "--years", "2015-16,2016-17", "--places", "Wakefield", "--out", str(out)]
    for year in ("2015-16", "2016-17"):
        args += ["--grants", str(tmp_path / f"grants_{year}.csv")]
    assert main(args) == 0
    trends = pd.read_csv(out / "trends.csv").set_index(["la_code", "fy"])
    wakefield = trends.loc["E08000036"]
    assert wakefield.loc["2015-16", "total_gbp"] == 3500 and wakefield.loc["2016-17", "total_gbp"] == 3000
    assert wakefield.loc["2016-17", "change_total_gbp"] == -500
    assert wakefield["cra_allocated_gbp"].gt(3e9).all()  # both years allocated from the CRA edition
    assert len(trends) == 2 * 382
    assert [p.name for p in (out / "councils").iterdir()] == ["wakefield"]  # pages for --places only


@pytest.mark.flow
def test_sources_over_http_and_postcode_placement(tmp_path, prefect_harness, httpserver, fresh_cache):
    """A register and an NSPL-layout lookup served by a real local HTTP server; awards placed by postcode."""
    from pathlib import Path

    header = "Identifier,Title,Amount Awarded,Award Date,Recipient Org:Name,Recipient Org:Postal Code,"
    register = header + "Funding Org:Name\r\n" + "".join(
        f"{i},{title},{amount},01/05/2016,{name},{postcode},Ministry of Justice\r\n"
        for i, (title, amount, name, postcode) in enumerate([
            ("Victims", "5000", "Hastings Women's Aid", "tn34 3uy"),   # district of East Sussex
            ("Victims", "7000", "Wakefield Rape Crisis", "WF1 2EB"),
            ("Victims", "9000", "Aylesbury Centre", "HP198FF"),        # Buckinghamshire
            ("Victims", "1000", "Island Trust", "GY1 1AA"),            # Guernsey: no UK council
            ("Victims", "2000", "Nowhere Ltd", ""),
        ])
    )
    nspl = (Path(__file__).parent / "fixtures" / "postcodes" / "nspl_sample.csv").read_bytes()
    httpserver.expect_request("/grants_2016-17.csv").respond_with_data(register, content_type="text/csv")
    httpserver.expect_request("/nspl.csv").respond_with_data(nspl, content_type="text/csv")
    out = tmp_path / "outputs"
    args = ["run", "--grants", httpserver.url_for("/grants_2016-17.csv"),
            "--postcodes", httpserver.url_for("/nspl.csv"), "--places", "Hastings", "--out", str(out)]
    assert main(args) == 0
    awards = pd.read_parquet(out / "awards.parquet").set_index("award_id")
    assert awards["geo_method"].to_dict() == {
        "0": "postcode", "1": "postcode", "2": "postcode", "3": "unresolved", "4": "unresolved",
    }
    assert awards.loc["3", "unplaced_reason"] == "outside_uk_councils"
    assert awards["la_code"].iloc[:3].tolist() == ["E07000062", "E08000036", "E06000060"]
    assert awards.loc["0", "county_code"] == "E10000011"
    manifest = json.loads((out / "run_manifest.json").read_text())
    assert manifest["inputs"]["grants"][0]["url"] == httpserver.url_for("/grants_2016-17.csv")
    assert manifest["inputs"]["postcodes"]["sha256"] == hashlib.sha256(nspl).hexdigest()
    assert manifest["geo_methods"]["postcode"] == {"awards": 3, "amount_gbp": 21000.0}
    summary = pd.read_csv(out / "place_summary.csv").set_index("la_code")
    assert summary.loc["E07000062", "n_awards"] == 1 and summary.loc["E10000011", "n_awards"] == 0


def test_fetch_list_names_the_releases(capsys):
    assert main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert "grants-register (for --grants)" in out and "nspl (for --postcodes)" in out
    assert "2022 covers 2017-18 to 2021-22" in out


# ------------------------------------------------------------------- issue 9: never lose, never inflate

REGISTER_HEADER = ("Identifier", "Title", "Amount Awarded", "Award Date", "Recipient Org:Name",
                   "Funding Org:Name")


def _register(path, rows, header=REGISTER_HEADER):
    import csv as _csv

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = _csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_same_file_twice_is_exit_2_naming_both(capsys, tmp_path):
    from spendmap.paths import BUNDLED_GRANTS, reference_path

    original = reference_path(*BUNDLED_GRANTS)
    copy = tmp_path / "copy_of_a.xlsx"
    copy.write_bytes(original.read_bytes())
    out = tmp_path / "outputs"
    assert main(["run", "--grants", str(original), "--grants", str(copy), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert str(original) in err and str(copy) in err and "same file twice" in err
    assert captured.out == "" and not out.exists()  # refused before the run: nothing read


@pytest.mark.parametrize("value", ["nan", "-5", "0", "inf", "-inf", "lots"])
def test_small_threshold_must_be_positive_and_finite(capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--small-threshold", value])
    assert exit_.value.code == 2
    assert "--small-threshold" in _err(capsys)


def test_out_refusals_are_instant_and_touch_nothing(capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("years of work")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    grants_dir = tmp_path / "data"
    grants_dir.mkdir()
    register = _register(grants_dir / "grants_2016-17.csv", [
        ["A1", "Bus", "1000", "01/05/2016", "Wakefield Council", "Department for Transport"]])
    cases = [
        (["--out", str(mine)], "spendmap did not make"),
        (["--out", str(a_file)], "is not a folder"),
        (["--out", "/"], "root of the file system"),
        (["--out", str(Path.home())], "home folder"),
        (["--grants", str(register), "--out", str(grants_dir)], "holds an input"),
        (["--grants", str(register), "--out", str(tmp_path)], "holds an input"),
    ]
    for args, why in cases:
        assert main(["run", *args]) == 2, args
        captured = capsys.readouterr()
        assert why in " ".join(captured.err.split()) and "Traceback" not in captured.err
        assert captured.out == ""  # nothing was read: refused before the run
    assert (mine / "thesis.docx").read_text() == "years of work" and a_file.read_text() == "keep"
    assert register.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["data", "mine", "notes.txt"]


@pytest.mark.flow
def test_bad_rows_are_rejected_and_the_run_reconciles_from_its_files(tmp_path, prefect_harness):
    """Duplicate ids across inputs, a Total footer, infinite amounts, a bad date and a £40bn typo."""
    first = _register(tmp_path / "grants_a_2016-17.csv", [
        ["A1", "Bus", "1000", "01/05/2016", "Wakefield Council", "Department for Transport"],
        ["A2", "Victims", "2,500", "31/02/2017", "Wakefield Council", "Ministry of Justice"],
        ["A3", "Typo", "40000000000", "01/06/2016", "Leeds City Council", "Home Office"],
        ["", "", "40000003500", "", "Total", ""],
    ])
    second = _register(tmp_path / "grants_b_2016-17.csv", [
        ["B1", "Roads", "1e400", "01/05/2016", "Leeds City Council", "Department for Transport"],
        ["B2", "Roads", "inf", "01/05/2016", "Leeds City Council", "Department for Transport"],
        ["A2", "Victims", "2500", "01/05/2016", "Wakefield Council", "Ministry of Justice"],
        ["B3", "Roads", "700", "01/05/2016", "Leeds City Council", "Department for Transport"],
    ])
    out = tmp_path / "outputs"
    assert main(["run", "--grants", str(first), "--grants", str(second), "--places", "Wakefield",
                 "--out", str(out)]) == 0
    manifest = _strict_json((out / "run_manifest.json").read_text())
    rec = manifest["reconciliation"]
    assert rec["ok"] is True and "plain read" in rec["method"]
    assert rec["totals"] == {"rows_read": 8, "rows_accepted": 4, "rows_rejected": 4,
                             "amount_in_gbp": 80_000_010_200.0, "amount_accepted_gbp": 40_000_004_200.0,
                             "amount_rejected_gbp": 40_000_006_000.0}  # the footer and the repeat
    rejects = pd.read_csv(out / "rejects.csv").set_index(["source_file", "source_row"])["reason"]
    first_id = manifest["inputs"]["grants"][0]["input_id"]
    assert rejects[("grants_b_2016-17.csv", 4)] == (
        f"duplicate award id (also in input {first_id} ({first}) row 3)")
    assert rejects[("grants_a_2016-17.csv", 5)].startswith("not an award row")
    assert rejects[("grants_b_2016-17.csv", 2)] == "amount is not a finite number: 1e400"
    assert rejects[("grants_b_2016-17.csv", 3)] == "amount not a number: 'inf'"
    quality = {g["path"]: g["data_quality"] for g in manifest["inputs"]["grants"]}
    assert quality[str(first)]["award_date_invalid"] == 1 and quality[str(first)]["amount_over_ceiling"] == 1
    assert quality[str(second)]["amount_not_finite"] == 1
    awards = pd.read_parquet(out / "awards.parquet").set_index("award_id")
    assert awards.loc["A2", "award_date_invalid"] == "31/02/2017"
    assert bool(awards.loc["A3", "amount_over_ceiling"])
    assert "£inf" not in (out / "index.html").read_text()


@pytest.mark.flow
def test_a_run_that_does_not_reconcile_exits_1_and_publishes_nothing(capsys, tmp_path, prefect_harness,
                                                                     monkeypatch, reference_cache):
    """Fault injected in the plain count (one row more read than written): exit 1, old output kept."""
    import spendmap.manifest as manifest_module

    register = _register(tmp_path / "grants_2016-17.csv", [
        ["A1", "Bus", "1000", "01/05/2016", "Wakefield Council", "Department for Transport"]])
    out = tmp_path / "outputs"
    args = ["run", "--grants", str(register), "--places", "Wakefield", "--out", str(out)]
    assert main(args) == 0
    before = (out / "run_manifest.json").read_text()
    real = manifest_module.count_input

    def one_row_lost(*a, **k):
        counted = real(*a, **k)
        return {**counted, "rows": counted["rows"] + 1}

    monkeypatch.setattr(manifest_module, "count_input", one_row_lost)
    # A cache of its own: the plain count is cached by content, and this run must count afresh.
    monkeypatch.setenv("SPENDMAP_CACHE", str(seed_reference(reference_cache, tmp_path / "fresh-cache")))
    capsys.readouterr()
    assert main(args) == 1
    err = _err(capsys)
    assert "does not reconcile" in err and "2 rows" in err and "nothing was published" in err
    assert (out / "run_manifest.json").read_text() == before and _leftovers(tmp_path) == []


def test_unreadable_file_is_exit_2(capsys):
    import shutil

    import spendmap.pipeline  # noqa: F401 - imported while the venv is readable
    from tests.helpers.users import open_folder, without_root

    folder = open_folder()
    try:
        locked = folder / "grants_2016-17.csv"
        _register(locked, [["A1", "Bus", "1000", "01/05/2016", "Wakefield Council", "DfT"]])
        locked.chmod(0)
        with without_root():
            code = main(["run", "--grants", str(locked), "--out", str(folder / "o")])
        err = _err(capsys)
        assert code == 2 and str(locked) in err and "cannot be read" in err and "Traceback" not in err
        assert sorted(p.name for p in folder.iterdir()) == ["grants_2016-17.csv"]
    finally:
        shutil.rmtree(folder)


def test_run_prints_step_lines_a_summary_and_ends_with_the_index(tmp_path, fresh_cache):
    """The bundled data, in-process, two councils' pages: a line per step with its seconds, then the
    summary (figures from the bundled register), then the path of index.html as the last line."""
    import os

    out = tmp_path / "outputs"
    env = {**os.environ, "SPENDMAP_CACHE": str(fresh_cache)}
    done = subprocess.run(
        [sys.executable, "-m", "spendmap", "run", "--offline", "--places", "Wakefield,Leeds",
         "--out", str(out)],
        capture_output=True, text=True, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"Read 3,351 award rows from 1 register \(\d+\.\d s\)", lines[3])
    assert re.fullmatch(r"Financial year of each register: government-grant-awards-2016-17.xlsx: 2016-17 "
                        r"\(file name\) \(\d+\.\d s\)", lines[4])
    assert re.fullmatch(
        r"Placed 1,978 of 3,351 awards in a council \(council_match 469, postcode 1,494, postcode_sector 11, "
        r"recipient_postcode 4\); 1,373 unplaced \(\d+\.\d s\)", lines[5])
    assert re.fullmatch(r"Rendered 2 council pages and index.html \(\d+\.\d s\)", lines[-7])
    assert lines[-6:-3] == [
        "Awards read: 3,351 rows for 2016-17; 3,351 accepted (£3.9bn), 0 rejected (rejects.csv says why).",
        "Placed in a council: 1,978 of 3,351 awards (59.0%), £3.6bn of £3.9bn (92.8%); unplaced.csv lists "
        "the other 1,373 with reasons.",
        "Councils rendered: 2 pages, each with its Sankeys, CSV extract and workbook.",
    ]
    assert lines[-1] == str(out.resolve() / "index.html") and (out / "index.html").is_file()
    geo = json.loads((out / "run_manifest.json").read_text())["geo_methods"]
    assert sum(v["awards"] for m, v in geo.items() if m != "unresolved") == 1_978
    assert "\x1b[" not in done.stdout  # no progress bar drawn into a pipe


def _serve_in_turn(httpserver, path, bodies):
    """Serve `path` with bodies[0] the first time, bodies[1] the second, ... (the last one thereafter)."""
    from werkzeug import Response

    served = []

    def handler(_request):
        body = bodies[min(len(served), len(bodies) - 1)]
        served.append(body)
        return Response(body, content_type="text/csv")

    httpserver.expect_request(path).respond_with_handler(handler)
    return served


BAD_REGISTER = "Name,Value\r\nnot,a register\r\n"  # a CSV that decodes, but no register columns


def test_a_download_that_does_not_read_is_fetched_again_once(capsys, tmp_path, httpserver, fresh_cache):
    award = ["A1", "Bus grant", "1000", "01/05/2016", "Wakefield Council", "Department for Transport"]
    good = "".join(f"{','.join(r)}\r\n" for r in [REGISTER_HEADER, award])
    served = _serve_in_turn(httpserver, "/grants_2016-17.csv", [BAD_REGISTER, good])
    url = httpserver.url_for("/grants_2016-17.csv")
    out = tmp_path / "outputs"
    assert main(["run", "--grants", url, "--places", "Wakefield", "--out", str(out)]) == 0
    assert served == [BAD_REGISTER, good]
    assert f"Could not read {url}; downloading again once" in capsys.readouterr().out
    manifest = json.loads((out / "run_manifest.json").read_text())
    assert manifest["inputs"]["grants"][0]["sha256"] == hashlib.sha256(good.encode()).hexdigest()
    assert pd.read_csv(out / "place_summary.csv").set_index("la_code").loc["E08000036", "total_gbp"] == 1000


def test_a_download_that_stays_unreadable_is_exit_2_and_leaves_nothing(capsys, tmp_path, httpserver,
                                                                        fresh_cache):
    served = _serve_in_turn(httpserver, "/grants_2016-17.csv", [BAD_REGISTER])
    cache = fresh_cache
    url = httpserver.url_for("/grants_2016-17.csv")
    out = tmp_path / "outputs"
    assert main(["run", "--grants", url, "--places", "Wakefield", "--out", str(out)]) == 2
    err = _err(capsys)
    assert len(served) == 2 and "Traceback" not in err
    assert f"Downloaded again from {url}: still unreadable, so removed from spendmap's download cache" in err
    assert "nothing was published" in err
    assert not out.exists() and _leftovers(tmp_path) == []
    assert not [p for p in (cache / "downloads").rglob("*") if p.is_file()]
