"""The command line as users meet it: exit codes, one-paragraph errors, no half-written output."""

import hashlib
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from spendmap.cli import main


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
    err = capsys.readouterr().err
    assert "No council matches 'Wakefeld'" in err and "Wakefield (E08000036)" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_malformed_year_is_exit_2(capsys):
    assert main(["run", "--year", "2016/17"]) == 2
    assert "write it as 2016-17" in capsys.readouterr().err


def test_missing_file_is_exit_2(capsys, tmp_path):
    assert main(["run", "--grants", str(tmp_path / "none.xlsx"), "--out", str(tmp_path / "o")]) == 2
    assert "--grants does not exist" in capsys.readouterr().err


def test_profile_before_any_run(capsys, tmp_path):
    assert main(["profile", "Wakefield", "--out", str(tmp_path)]) == 2
    assert "No run found" in capsys.readouterr().err


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "spendmap", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("spendmap ")


@pytest.mark.flow
def test_html_saved_as_ods_fails_cleanly(capsys, tmp_path, prefect_harness):
    fake = tmp_path / "Government_Grants_Register_2022_to_2023.ods"
    fake.write_text("<!DOCTYPE html><html><body>Sign in to GOV.UK</body></html>")
    out = tmp_path / "outputs"
    assert main(["run", "--grants", str(fake), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fake.name in err and "HTML" in err and "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


@pytest.mark.flow
def test_wrong_year_for_register_fails_cleanly(capsys, tmp_path, prefect_harness):
    out = tmp_path / "outputs"
    assert main(["run", "--year", "2020-21", "--out", str(out)]) == 2
    err = capsys.readouterr().err
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
def test_sources_over_http_and_postcode_placement(tmp_path, prefect_harness, httpserver, monkeypatch):
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
    monkeypatch.setenv("SPENDMAP_CACHE", str(tmp_path / "cache"))
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
