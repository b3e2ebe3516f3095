"""The HTML pages and CSV extracts: contents, links, escaping, offline assets, slugs, empty input."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from spendmap import schemas
from spendmap.errors import InputError
from spendmap.outputs.money import format_gbp, format_per_head, format_share
from spendmap.outputs.pages import safe_json
from spendmap.outputs.site import SiteTables, council_slugs, render_site
from spendmap.sources.councils import PFPP_CODES, load_councils

from .conftest import FORMULA, HOSTILE, LUTON, RUTLAND, WAKEFIELD, make_context


def test_index_lists_every_council_and_links_only_rendered_profiles(rendered_site):
    out, result, tables = rendered_site
    html = (out / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-search="', html)
    placed = int((tables.place_summary["n_awards"] > 0).sum())
    assert len(rows) == placed == 4  # a row for each council with placed awards...
    # ...and every other council listed once, compactly, with why it has no row (not rows of zeros).
    listed = html[html.index('<p id="no-award-councils"') :]
    listed = listed[: listed.index("</p>")]
    assert f"{382 - placed} of the 382 councils have" in listed
    assert ">Rutland</a>" in listed and "Hartlepool" in listed and "Wakefield" not in listed
    assert len(load_councils()) == 382
    assert 'href="councils/wakefield/index.html"' in html
    assert 'href="councils/rutland/index.html"' in html
    assert "councils/luton/index.html" not in html  # Luton's profile was not rendered
    assert set(result.profiles) == {WAKEFIELD, RUTLAND, "E10000011", "E07000062"}
    # The unresolved awards are stated on the entry page.
    assert "12 awards (£346k) could not be placed" in html


def test_index_key_figures_for_wakefield(rendered_site):
    out, _, tables = rendered_site
    html = (out / "index.html").read_text(encoding="utf-8")
    table = html[html.index('<table id="councils"') :]
    row = table[table.index('href="councils/wakefield/index.html"') :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'data-sort="([^"]*)"', row)
    ps = tables.place_summary.set_index("la_code").loc[WAKEFIELD]
    # Money first: (council,) total £, awards, £ per head, recipients, schemes.
    assert cells[0:2] == [str(ps.total_gbp), str(ps.n_awards)]
    assert cells[3:5] == [str(ps.n_recipients), str(ps.n_schemes)]
    assert ps.n_awards == 16 and ps.total_gbp == 3_723_500  # net of the -£2,000 award
    assert format_gbp(ps.total_gbp) == "£3.7m" and "£3.7m" in row
    assert format_share(10 / 16) in row  # 10 of 16 awards are small (under £100k, over £0, not redacted)
    assert '<td class="num" data-sort="2">2</td>' in row  # two duplication findings


def test_chart_data_embedded_safely(rendered_site):
    out, _, _ = rendered_site
    html = (out / "index.html").read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="small-grants-data">(.*?)</script>', html, re.S)
    data = json.loads(m.group(1))
    wake = next(c for c in data["councils"] if c["la_code"] == WAKEFIELD)
    assert wake["scopes"]["all_recipients"] == {"n_awards": 16, "n_small": 10, "share_small": 0.625}
    assert wake["scopes"]["council"] == {"n_awards": 2, "n_small": 0, "share_small": 0.0}
    assert wake["pilot"] is True
    # All 13 pilots are offered; those with no award in the crafted data say why they have no bar.
    # (14 codes: the East Sussex pilot worked in Hastings, so both are offered.)
    assert len(re.findall(r'name="sg-pilot" value="', html)) == len(PFPP_CODES) == 14
    for code in PFPP_CODES:
        assert f'name="sg-pilot" value="{code}"' in html
    missing = re.findall(r'<li data-code="([^"]+)" data-scope="all_recipients">([^<]*)</li>', html)
    present = {"E10000011", "E07000062", LUTON, WAKEFIELD}
    assert {c for c, _ in missing} == set(PFPP_CODES) - present
    reasons = [html_lib.unescape(t) for _, t in missing]
    assert "Hackney has no bar: no award in this run's register was placed here." in reasons


def test_index_opens_on_most_money_with_a_hex_map(rendered_site):
    out, _, tables = rendered_site
    html = (out / "index.html").read_text(encoding="utf-8")
    table = html[html.index('<table id="councils"') :]
    order = re.findall(
        r'<tr data-search="[^"]*" data-region="[^"]*" data-tier="([^"]*)">\s*<th scope="row" '
        r'data-sort="([^"]*)"',
        table,
    )
    gbp = tables.place_summary.set_index("la_name")["total_gbp"]
    firsts = [name for _, name in order[:4]]
    assert gbp[firsts].is_monotonic_decreasing and gbp[firsts[0]] == gbp.max()
    assert [name for _, name in order[:4]] == ["Wakefield", "East Sussex", "Luton", "Hastings"]
    # One type vocabulary: Wakefield is a metropolitan district on the index as on its page.
    tiers = dict((name, tier) for tier, name in order)
    assert tiers["Wakefield"] == "Metropolitan district" and "unitary" not in set(tiers.values())
    # Hex map: 361 hexagons, Barnsley on its 2024 code, Wakefield linked, the licence shipped.
    assert html.count("<polygon ") == 361
    # The map opens coloured by £ per head, its legend in £.
    assert re.search(
        r'href="councils/wakefield/index.html" aria-label="Wakefield: £[\d.,]+ per head; £3\.7m in 16 awards',
        html,
    )
    assert re.search(r'<select id="hex-figure">\s*<option value="grants_per_head">', html)
    legend = html[html.index('<ul class="hex-legend" data-figure="grants_per_head">') :]
    assert "per head</li>" in legend[: legend.index("</ul>")]
    assert (out / "assets" / "hexmap-LICENSE.txt").read_text().startswith("MIT License")
    assert "Open Innovations" in html


def test_profile_contents(rendered_site):
    out, result, _ = rendered_site
    html = " ".join(result.profiles[WAKEFIELD].read_text(encoding="utf-8").split())
    assert "16 grant awards worth £3.7m from" in html and "5 grant schemes reached" in html
    assert 'src="sankey_grants.html"' in html and 'src="sankey_cra.html"' in html
    assert 'href="wakefield_awards.csv"' in html and 'href="wakefield_grant_profile.xlsx"' in html
    assert "Within a department" in html and "Across departments" in html
    assert (
        "the spending in Yorkshire and The Humber to Wakefield in proportion to population (ONS mid-2020"
        in html
    )
    assert "Yorkshire and The Humber per head" in html
    assert "No grant awards in the" not in html


def test_profile_without_awards_states_it_and_shows_cra(rendered_site):
    out, result, tables = rendered_site
    html = " ".join(result.profiles[RUTLAND].read_text(encoding="utf-8").split())
    assert "No grant awards in the 2016-17 grants register were placed in Rutland." in html
    assert "Public order and safety" in html  # CRA table still there
    grants = (result.profiles[RUTLAND].parent / "sankey_grants.html").read_text(encoding="utf-8")
    assert "No grant awards were placed in Rutland for 2016-17." in grants
    assert 'id="sankey-data"' not in grants
    csv = pd.read_csv(result.profiles[RUTLAND].parent / "rutland_awards.csv", encoding="utf-8-sig")
    assert len(csv) == 0 and list(csv.columns)[:3] == ["award_id", "fy", "funder_id"]


def test_hostile_text_is_escaped_in_html_and_embedded_json(rendered_site):
    out, result, _ = rendered_site
    folder = result.profiles[WAKEFIELD].parent
    for page in [out / "index.html", out / "search.html", *folder.glob("*.html")]:
        text = page.read_text(encoding="utf-8")
        assert "<script>alert(1)</script>" not in text, page.name
        assert "<b>bold</b>" not in text, page.name
        # Every <script ...> element is one of ours.
        scripts = re.findall(r"<script[^>]*>", text)
        assert all(
            s
            in (
                '<script type="application/json" id="small-grants-data">',
                '<script type="application/json" id="sankey-data">',
                '<script src="../../assets/plotly.min.js">',
                '<script src="../../assets/spendmap.js">',
                '<script src="assets/plotly.min.js">',
                '<script src="assets/spendmap.js">',
                '<script type="application/json" id="finder-config" data-root="../../">',
                '<script type="application/json" id="finder-config" data-root="">',
                '<script src="../../assets/search.js">',
                '<script src="assets/search.js">',
            )
            for s in scripts
        ), scripts
    profile = (folder / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in profile
    # The award finder's data files are scripts too: names inside them cannot end or open an element.
    for data in (folder / "awards_data.js", out / "search" / "awards.js"):
        text = data.read_text(encoding="utf-8")
        assert text.startswith("spendmapAwards({") and "<" not in text and ">" not in text, data
    sankey = (folder / "sankey_grants.html").read_text(encoding="utf-8")
    payload = re.search(r'id="sankey-data">(.*?)</script>', sankey, re.S).group(1)
    assert "<" not in payload and ">" not in payload and "&" not in payload
    figure = json.loads(payload)
    assert any(
        lbl.startswith("Victims Services &lt;b&gt;bold&lt;/b&gt;")
        for lbl in figure["data"][0]["node"]["label"]
    )


def test_safe_json_escapes_script_breakers():
    text = str(safe_json({"a": "</script><script>alert(1)</script>&\u2028", "n": float("nan")}))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>&\u2028", "n": None}


def test_assets_written_once_and_pages_work_offline(rendered_site):
    out, _, _ = rendered_site
    plotly = [p for p in out.rglob("*.js") if "plotly" in p.name]
    assert plotly == [out / "assets" / "plotly.min.js"]
    assert (out / "assets" / "plotly.min.js").stat().st_size > 3_000_000
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'(src|href)="(https?:)?//', text), page
        assert "@import" not in text and "fonts.googleapis" not in text
        for ref in re.findall(r'(?:src|href)="([^"#:]+)"', text):
            assert (page.parent / ref).resolve().exists(), (page, ref)
    assert "url(" not in (out / "assets" / "style.css").read_text()


def test_csv_extract_is_formula_neutralised(rendered_site):
    out, result, tables = rendered_site
    path = result.profiles[WAKEFIELD].parent / "wakefield_awards.csv"
    csv = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(csv) == 16
    names = set(csv["recipient_name"])
    assert "'" + FORMULA in names and "'+44 Cycling CIC" in names and "'@Law Centre" in names
    assert "'-Minus Trust" in names and HOSTILE in names  # HTML-ish text is harmless in a CSV
    text_cols = [
        c for c, t in {**schemas.AWARD_DTYPES, **schemas.AWARD_EXTRA_DTYPES}.items() if t == "string"
    ]
    assert not any(v.startswith(("=", "+", "-", "@")) for col in text_cols for v in csv[col])
    assert pd.to_numeric(csv["amount_gbp"]).sum() == 3_723_500  # numbers stay numbers (incl. -2,000)


def test_council_slugs_are_safe_unique_and_bounded():
    councils = pd.DataFrame(
        {
            "la_code": ["E1", "E2", "E3", "E4", "E5", "E6"],
            "la_name": ["../../etc/passwd", "a/b\\c", "Wakefield", "Wakefield", "x" * 300, "<script>"],
        }
    )
    slugs = council_slugs(councils)
    assert len(set(slugs.values())) == 6
    for slug in slugs.values():
        assert ".." not in slug and "/" not in slug and "\\" not in slug
        assert 0 < len(slug) <= 60 and re.fullmatch(r"[a-z0-9-]+", slug)
    assert slugs["E3"] == "wakefield" and slugs["E4"] == "wakefield-2"


def test_unknown_place_is_an_input_error(tmp_path, site_tables, run_context):
    with pytest.raises(InputError, match="E99999999"):
        render_site(tmp_path, site_tables, run_context, places=["E99999999"])


def test_empty_tables_still_render(tmp_path):
    councils = load_councils()
    tables = SiteTables(
        councils=councils,
        awards=schemas.empty_awards(),
        place_summary=pd.DataFrame(),
        small_grants=pd.DataFrame(),
        duplication=pd.DataFrame(),
        cra_allocation=pd.DataFrame(),
    )
    result = render_site(tmp_path, tables, make_context(), places=[WAKEFIELD])
    html = " ".join(result.profiles[WAKEFIELD].read_text(encoding="utf-8").split())
    assert "No grant awards in the 2016-17 grants register were placed in Wakefield." in html
    assert "No CRA allocation is available for Wakefield in 2016-17." in html
    assert (result.profiles[WAKEFIELD].parent / "wakefield_grant_profile.xlsx").exists()
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<tr data-search="', index)) == 0
    assert f"{len(councils)} of the {len(councils)} councils have" in " ".join(index.split())


def test_other_years_are_ignored(tmp_path, site_tables, run_context):
    other = site_tables.place_summary.assign(fy="2017-18", n_awards=999)
    site_tables.place_summary = pd.concat([site_tables.place_summary, other])
    render_site(tmp_path, site_tables, run_context, places=[WAKEFIELD])
    html = (tmp_path / "councils" / "wakefield" / "index.html").read_text(encoding="utf-8")
    assert "16 grant awards" in html and "999" not in html


def test_rendering_in_a_process_pool_gives_the_same_pages(tmp_path, rendered_site):
    from concurrent.futures import ProcessPoolExecutor

    out, result, tables = rendered_site
    with ProcessPoolExecutor(max_workers=2) as pool:  # any map-like callable renders the councils
        again = render_site(
            tmp_path, tables, make_context(), places=list(result.profiles), map_councils=pool.map
        )
    for code, page in result.profiles.items():
        a = page.read_text(encoding="utf-8")
        b = again.profiles[code].read_text(encoding="utf-8")
        assert a == b
    assert isinstance(again.index_path, Path)


def test_small_grant_exclusions_and_plurals_are_stated(tmp_path, site_tables, run_context):
    sg = site_tables.small_grants
    site_tables.small_grants = sg.assign(n_zero_value=1, n_negative=1, n_redacted=0)
    result = render_site(tmp_path, site_tables, run_context, places=["E07000062"])  # Hastings
    html = " ".join(result.profiles["E07000062"].read_text(encoding="utf-8").split())
    assert "Not counted in these scopes: 1 zero-value award, 1 negative award." in html
    assert "1 grant award worth £25k from 1 grant scheme reached 1 recipient located in Hastings: 1 " in html


def test_every_page_states_its_coverage(rendered_site):
    out, result, _ = rendered_site
    folder = result.profiles[WAKEFIELD].parent
    for page in (
        out / "index.html",
        folder / "index.html",
        folder / "sankey_grants.html",
        folder / "sankey_cra.html",
    ):
        text = " ".join(html_lib.unescape(page.read_text(encoding="utf-8")).split())
        assert "holds awards from 2 departments: DfT, MoJ." in text, page
        assert (
            "25 of the 37 awards read (68%), worth £4.1m of £4.5m, were placed in a council: 21 by the "
            "recipient's postcode; 4 as the council itself" in text
        ), page
        assert (
            "Years used: grants register 2016-17; Country and Regional Analysis 2016-17 (from an edition "
            "covering 2013-14 to 2017-18); population: ONS mid-2020 estimates." in text
        ), page
        assert "Postcodes: a crafted note from the runner." in text, page
        assert "2 awards read (£322m) have no policy area: no rule recognised their scheme" in text, page


def test_few_awards_say_why_and_grants_per_head_compare(rendered_site):
    out, result, tables = rendered_site
    html = " ".join(html_lib.unescape(result.profiles[WAKEFIELD].read_text(encoding="utf-8")).split())
    assert (
        "Only 16 awards could be shown for Wakefield. The register holds only DfT, MoJ awards. Only 68% of"
        in html
    )
    assert "A low count here is not evidence that the council area receives few grants." in html
    pop = tables.cra_allocation.drop_duplicates("la_code").set_index("la_code")["population"][WAKEFIELD]
    assert format_per_head(3_723_500 / pop) in html
    assert (
        "beside its region, England and all councils of its type (Metropolitan district: 1 with a "
        "population figure)" in html
    )
    # CRA functions without source numbering.
    assert "Transport (part of Economic affairs)" in html or "Public order and safety" in html
    assert "4. of which" not in html


def test_several_years_show_a_trend_per_council(tmp_path, site_tables, run_context):
    earlier = site_tables.place_summary.assign(fy="2015-16", n_awards=7, n_recipients=5, total_gbp=1_000.0)
    site_tables.place_summary = pd.concat([earlier, site_tables.place_summary], ignore_index=True)
    run_context.years = ["2015-16", "2016-17"]
    result = render_site(tmp_path, site_tables, run_context, places=[WAKEFIELD])
    html = " ".join(result.profiles[WAKEFIELD].read_text(encoding="utf-8").split())
    assert "Year by year" in html
    assert '<th scope="row">2015-16</th><td class="num">7</td><td class="num">5</td>' in html
    assert '<th scope="row">2016-17</th><td class="num">16</td><td class="num">15</td>' in html
    # A single-year run shows no trend table.
    run_context.years = ["2016-17"]
    single = render_site(tmp_path / "one", site_tables, run_context, places=[WAKEFIELD])
    assert "Year by year" not in single.profiles[WAKEFIELD].read_text(encoding="utf-8")


def test_amount_bands_coverage_per_department_and_denominators_on_the_pages(rendered_site):
    out, result, tables = rendered_site
    profile = " ".join(result.profiles[WAKEFIELD].read_text(encoding="utf-8").split())
    bands = profile[profile.index('<table class="data bands">') :]
    bands = bands[: bands.index("</table>")]
    cells = re.findall(r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td>', bands)
    # Wakefield's 16 awards: £5k and £8k; nine from £12.5k to £60k; £150k and £750k; £2.5m; -£2k and £0.
    assert cells == [("Under £10k", "2"), ("£10k to under £100k", "9"), ("£100k to under £1m", "2"),
                     ("£1m or more", "1"), ("Zero or negative", "2")]
    assert "£100k small-grant threshold" in bands and "Shares are of all 16 awards" in bands
    # The crafted small-grant table tested all 16 awards: the share needs no denominator of its own.
    assert "tested (zero-value and redacted awards are not)" not in profile
    index = " ".join((out / "index.html").read_text(encoding="utf-8").split())
    dft = tables.awards[tables.awards["department"] == "DfT"]
    assert f"DfT: {len(dft)} of {len(dft)} awards placed" in index
    national = index[index.index('<table class="data bands">') :]
    assert f"Shares are of all {len(tables.awards)} awards" in national
    # Every page links the award finder; the finder's data holds every award of the year.
    assert 'href="search.html"' in index and 'href="../../search.html#council=E08000036"' in profile
    data = (out / "search" / "awards.js").read_text(encoding="utf-8")
    payload = json.loads(data[len("spendmapAwards("):-3])
    assert len(payload["rows"]) == len(tables.awards)


def test_a_share_of_fewer_awards_than_counted_says_so(tmp_path, site_tables, run_context):
    small = site_tables.small_grants
    mine = (small["la_code"] == WAKEFIELD) & (small["scope"] == "all_recipients")
    site_tables.small_grants = small.assign(
        n_awards=small["n_awards"].mask(mine, 12), share_small=small["share_small"].mask(mine, 10 / 12)
    )
    result = render_site(tmp_path, site_tables, run_context, places=[WAKEFIELD])
    profile = " ".join(result.profiles[WAKEFIELD].read_text(encoding="utf-8").split())
    assert "83% <span class=\"of\">of 12 tested (zero-value and redacted awards are not)</span>" in profile
    index = " ".join((tmp_path / "index.html").read_text(encoding="utf-8").split())
    table = index[index.index('<table id="councils"') :]
    row = table[table.index('href="councils/wakefield/index.html"') :]
    row = row[: row.index("</tr>")]
    assert '83% <span class="of">of 12</span>' in row  # beside Wakefield's 16 awards
