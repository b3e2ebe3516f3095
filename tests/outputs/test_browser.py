"""The output folder in a real headless Chromium, from file://, with no network.

Skipped when Chromium/chromedriver are missing on a developer machine; a failure in CI (CI=true),
where .ci/run installs them. Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from .conftest import FORMULA, HOSTILE, RUTLAND, WAKEFIELD

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _browser_available() -> bool:
    return all(Path(p).exists() or shutil.which(Path(p).name) for p in (CHROMIUM, CHROMEDRIVER))


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):
    if not _browser_available():
        if os.environ.get("CI") == "true":
            pytest.fail(
                "Chromium/chromedriver missing in CI: .ci/run should install chromium and chromium-driver"
            )
        pytest.skip("Chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1366,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver"))
    drv = webdriver.Chrome(service=service, options=options)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def _open(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    driver.get_log("browser")  # start each page with an empty log...
    driver.refresh()  # ...then load it again so every message belongs to this page


def _errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]


def _wait(driver, script: str, timeout: float = 20.0, *args):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def _alert_open(driver) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert  # noqa: B018
        return True
    except NoAlertPresentException:
        return False


def _shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    time.sleep(1.0)  # let plotly finish its transition
    height = driver.execute_script("return Math.min(document.body.scrollHeight, 2400)")
    driver.set_window_size(1366, max(900, int(height)))
    driver.save_screenshot(str(ARTIFACTS / name))
    driver.set_window_size(1366, 900)


def test_index_search_filters_and_sorts(driver, rendered_site):
    out, result, _ = rendered_site
    _open(driver, result.index_path)
    _wait(
        driver,
        "return document.querySelectorAll('#small-grants-chart .bars path, "
        "#small-grants-chart g.point').length > 0",
    )
    rows = driver.find_elements("css selector", "#councils tbody tr")
    # A row per council with placed awards; the others are listed once below the table.
    assert len(rows) == 4 and len(result.slugs) > 300
    no_awards = driver.find_element("id", "no-award-councils").text
    assert no_awards.startswith(f"{len(result.slugs) - 4} of the {len(result.slugs)} councils have no award")
    box = driver.find_element("id", "council-search")
    box.send_keys("wakef")
    visible = driver.execute_script(
        "return [...document.querySelectorAll('#councils tbody tr')]"
        ".filter(r => !r.hidden).map(r => r.querySelector('th').textContent.trim())"
    )
    assert len(visible) == 1 and visible[0].startswith("Wakefield")
    assert driver.find_element("id", "council-count").text.startswith(f"Showing 1 of {len(rows)} councils.")
    # The councils with no placed award answer the same search: "rutl" finds Rutland in the list below.
    driver.execute_script(
        "var b=document.getElementById('council-search'); b.value='rutl';b.dispatchEvent(new Event('input'))"
    )
    assert driver.find_element("id", "council-count").text == (
        f"Showing 0 of {len(rows)} councils. 1 of the {len(result.slugs) - 4} councils with no placed award "
        "match."
    )
    others = driver.execute_script(
        "return [...document.querySelectorAll('#no-award-councils .no-award')].filter(e => !e.hidden)"
        ".map(e => e.textContent.replace(/[,.]\\s*$/, '').trim())"
    )
    assert others == ["Rutland"]
    driver.execute_script(
        "var b=document.getElementById('council-search'); b.value='wakef';b.dispatchEvent(new Event('input'))"
    )
    # The region filter combines with the search; clearing the search shows the region's councils.
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "region-filter")).select_by_visible_text("Yorkshire and The Humber")
    assert driver.find_element("id", "council-count").text.startswith(f"Showing 1 of {len(rows)} councils.")
    driver.execute_script(
        "var b=document.getElementById('council-search'); b.value='';b.dispatchEvent(new Event('input'))"
    )
    n_region = int(driver.find_element("id", "council-count").text.split()[1])
    from spendmap.sources.councils import load_councils

    councils = load_councils()
    assert int((councils["region_name"] == "Yorkshire and The Humber").sum()) == 16
    assert n_region == 1  # of the 16, only Wakefield has placed awards in the crafted data
    Select(driver.find_element("id", "region-filter")).select_by_visible_text("All regions and nations")
    # The table opens sorted by £, largest first; a click on Total £ reverses it; Awards is one click away.
    first_row = "return document.querySelector('#councils tbody tr th').textContent.trim()"
    assert driver.execute_script(first_row).startswith("Wakefield")
    total = "//table[@id='councils']//th[.//button[text()='Total £']]/button"
    driver.find_element("xpath", total).click()
    assert driver.execute_script(first_row).startswith("Hastings")  # £25k, the smallest
    driver.find_element("xpath", total).click()
    assert driver.execute_script(first_row).startswith("Wakefield")
    driver.find_element("xpath", "//table[@id='councils']//th[.//button[text()='Awards']]/button").click()
    order = driver.execute_script(
        "return [...document.querySelectorAll('#councils tbody tr th')].map(t => t.textContent.trim())"
    )
    assert order[0].startswith("Wakefield") and order[1].startswith("Luton")  # 16 awards, then 3
    # The small-grants chart draws one bar pair per selected pilot that has awards (Wakefield, Luton,
    # East Sussex, Hastings are pilots in the crafted data).
    names = driver.execute_script("return document.getElementById('small-grants-chart').data[0].y")
    assert set(names) == {"Wakefield", "Luton", "East Sussex", "Hastings"}
    driver.find_element("css selector", "input[name='sg-scope'][value='council']").click()
    names = driver.execute_script("return document.getElementById('small-grants-chart').data[0].y")
    assert set(names) == {"Wakefield", "Luton", "East Sussex"}  # Hastings has no awards to the council
    # "The 40 councils with most awards": every council with awards in the scope, largest on top.
    driver.find_element("css selector", "input[name='sg-set'][value='top']").click()
    names = driver.execute_script("return document.getElementById('small-grants-chart').data[0].y")
    assert names[-1] == "Wakefield" and set(names) == {"Wakefield", "Luton", "East Sussex"}
    driver.find_element("css selector", "input[name='sg-scope'][value='all_recipients']").click()
    driver.find_element("css selector", "input[name='sg-set'][value='pilots']").click()
    driver.find_element(
        "css selector", "input[name='sg-pilot'][value='E07000062']"
    ).click()  # untick Hastings
    names = driver.execute_script("return document.getElementById('small-grants-chart').data[0].y")
    assert set(names) == {"Wakefield", "Luton", "East Sussex"}
    _shot(driver, "index.png")
    assert _errors(driver) == []


def test_profile_page(driver, rendered_site):
    out, result, _ = rendered_site
    _open(driver, result.profiles[WAKEFIELD])
    assert driver.find_element("tag name", "h1").text.startswith("Wakefield")
    text = driver.find_element("tag name", "body").text
    assert HOSTILE in text  # the hostile name in the duplication table is shown as text
    assert not _alert_open(driver)
    assert len(driver.find_elements("css selector", "iframe.sankey-frame")) == 2
    _shot(driver, "profile_wakefield.png")
    assert _errors(driver) == []


def test_profile_without_awards_says_so(driver, rendered_site):
    out, result, _ = rendered_site
    _open(driver, result.profiles[RUTLAND])
    notice = driver.find_element("id", "no-awards").text
    assert "No grant awards in the 2016-17 grants register were placed in Rutland" in notice
    assert "Public order and safety" in driver.find_element("tag name", "body").text  # CRA still shown
    _shot(driver, "profile_rutland_no_awards.png")
    assert _errors(driver) == []


def test_grants_sankey_draws_and_switches_weight(driver, rendered_site):
    out, result, _ = rendered_site
    page = result.profiles[WAKEFIELD].parent / "sankey_grants.html"
    _open(driver, page)
    _wait(driver, "return document.querySelectorAll('.sankey-node').length > 0")
    n_nodes = len(driver.find_elements("css selector", ".sankey-node"))
    n_links = len(driver.find_elements("css selector", ".sankey-link"))
    assert n_nodes > 10 and n_links > 10
    # Money first: the diagram opens on £; the number of awards is one click away.
    assert driver.find_element("css selector", "input[name='weight'][value='gbp']").is_selected()
    before = driver.execute_script("return document.getElementById('sankey').data[0].link.value")
    assert max(before) == 3_250_000  # DfT -> Local Transport Plan
    driver.find_element("css selector", "input[name='weight'][value='count']").click()
    _wait(driver, "return document.getElementById('sankey').getAttribute('data-weight') === 'count'")
    after = driver.execute_script("return document.getElementById('sankey').data[0].link.value")
    assert after != before and all(float(v).is_integer() for v in after)  # number of awards
    labels = driver.execute_script(
        "return [...document.querySelectorAll('.sankey-node text')].map(t => t.textContent)"
    )
    assert any(lbl.startswith("Victims Services <b>bold</b>") for lbl in labels)  # shown as text
    assert not _alert_open(driver)
    _shot(driver, "sankey_grants_wakefield.png")
    assert _errors(driver) == []


def test_cra_sankey_draws(driver, rendered_site):
    out, result, _ = rendered_site
    _open(driver, result.profiles[WAKEFIELD].parent / "sankey_cra.html")
    _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
    assert (
        len(driver.find_elements("css selector", ".sankey-node")) == 4 + 4 + 1
    )  # departments, functions, council
    _shot(driver, "sankey_cra_wakefield.png")
    assert _errors(driver) == []


@pytest.mark.flow
def test_bundled_run_folder_opens_offline(driver, bundled_run):
    """The folder `spendmap run` wrote from the real bundled data: index, a profile and both Sankeys."""
    _open(driver, bundled_run / "index.html")
    _wait(driver, "return document.querySelectorAll('table tbody tr').length > 0")
    import pandas as pd

    summary = pd.read_csv(bundled_run / "place_summary.csv")
    placed = int((summary["n_awards"] > 0).sum())
    rows = driver.execute_script("return document.querySelectorAll('#councils tbody tr').length")
    assert rows == placed == 319  # a row per council with placed awards...
    listed = driver.find_element("id", "no-award-councils").text
    assert listed.startswith(f"{382 - placed} of the 382 councils have no award placed")  # ...the rest once
    # Every link of the index (councils, search, downloads) opens a file the run wrote.
    import re

    hrefs = set(re.findall(r'href="(?![a-z]+:)([^"#]+)', (bundled_run / "index.html").read_text()))
    assert {"search.html", "unplaced.csv", "spendmap.duckdb", "place_summary.csv"} <= hrefs
    assert [h for h in hrefs if not (bundled_run / h).exists()] == []
    _shot(driver, "bundled_index.png")
    assert _errors(driver) == []
    birmingham = bundled_run / "councils" / "birmingham"
    _open(driver, birmingham / "index.html")
    assert "Birmingham" in driver.find_element("css selector", "h1").text
    assert _errors(driver) == []
    for page in ("sankey_grants.html", "sankey_cra.html"):
        _open(driver, birmingham / page)
        _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
        _shot(driver, f"bundled_birmingham_{page.replace('.html', '.png')}")
        assert _errors(driver) == []
    # No request may leave the machine: every script and stylesheet is a file:// path (or inline data:).
    sources = driver.execute_script(
        "return [...document.querySelectorAll('script[src], link[href]')].map(e => e.src || e.href)"
    )
    assert sources and all(s.startswith(("file://", "data:")) for s in sources)


@pytest.fixture(scope="module")
def stress_site(tmp_path_factory, site_tables_module, context_module):
    """The crafted tables plus 1,000 recipients (9 departments, 60 schemes) placed in Wakefield."""
    from spendmap.outputs.site import render_site

    from .stress import stress_tables

    out = tmp_path_factory.mktemp("stress")
    tables = stress_tables(site_tables_module, WAKEFIELD)
    return out, render_site(out, tables, context_module, places=[WAKEFIELD, RUTLAND])


@pytest.fixture(scope="module")
def site_tables_module():
    from .conftest import make_tables

    return make_tables()


@pytest.fixture(scope="module")
def context_module():
    from .conftest import make_context

    return make_context()


_OVERLAPS = """
const nodes = [...document.querySelectorAll('.sankey-node text')]
  .filter(t => t.textContent.trim() && getComputedStyle(t).visibility !== 'hidden');
const boxes = nodes.map(t => t.getBoundingClientRect()), texts = nodes.map(t => t.textContent);
const n = [];
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const a = boxes[i], b = boxes[j];
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  if (w > 0 && h > 0) n.push([texts[i], texts[j]]);
}
return n;
"""


@pytest.mark.parametrize("width", [1366, 400])
def test_pages_stay_readable_with_a_thousand_recipients(driver, stress_site, width):
    out, result = stress_site
    folder = result.profiles[WAKEFIELD].parent
    driver.set_window_size(width, 900)
    try:
        for page in (
            result.index_path,
            folder / "index.html",
            folder / "sankey_grants.html",
            folder / "sankey_cra.html",
            result.profiles[RUTLAND],
        ):
            _open(driver, page)
            if page.name.startswith("sankey"):
                _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
            # Nothing is wider than the window: no sideways scrolling, phone width included.
            scroll = driver.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= width, (page, scroll)
            assert _errors(driver) == []
        _open(driver, folder / "sankey_grants.html")
        _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
        n_nodes = len(driver.find_elements("css selector", ".sankey-node"))
        # departments, schemes in the top 15 by £ or by count, one grouped node per department, the 8
        # largest recipients, 8 types and redacted: bounded whatever the number of recipients.
        assert n_nodes <= 9 + 30 + 9 + 8 + 8 + 1
        assert driver.execute_script(_OVERLAPS) == []  # no label overlaps another
        shown = driver.execute_script(
            "return [...document.querySelectorAll('.sankey-node text')]"
            ".filter(t => getComputedStyle(t).visibility !== 'hidden').length"
        )
        assert shown >= 9 + 8  # every department and every recipient type keeps its label
        width_px = driver.execute_script(
            "return document.getElementById('sankey').getBoundingClientRect().width"
        )
        assert width_px <= width
        # The table alternative lists every department and scheme: 60 stress schemes + 5 crafted ones.
        assert len(driver.find_elements("css selector", "table.data tbody tr")) == 60 + 5
    finally:
        driver.set_window_size(1366, 900)


# ---- the award finder: search.html and each council page's award table (issue 19) ----

def _download_csv(driver, folder: Path):
    """Click the finder's download button and read the CSV Chromium saved into `folder`."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    driver.find_element("id", "f-download").click()
    end = time.time() + 20
    while time.time() < end:
        done = [p for p in folder.iterdir() if p.suffix == ".csv"]
        if done and not any(p.name.endswith(".crdownload") for p in folder.iterdir()):
            return pd.read_csv(done[0], dtype=str, keep_default_na=False, encoding="utf-8-sig")
        time.sleep(0.2)
    raise AssertionError(f"no CSV was downloaded into {folder}")


def _finder_ready(driver) -> None:
    _wait(driver, "return document.body.getAttribute('data-finder') === 'ready'")


def _matching(awards, words: list[str], names: dict[str, list[str]] | None = None) -> set[str]:
    """Award ids the finder must show for `words`: every word in title, recipient, scheme or council."""
    names = names or {}
    ids = set()
    for r in awards.to_dict("records"):
        council = "" if r["la_code"] is None or r["la_code"] != r["la_code"] else str(r["la_code"])
        text = " ".join(
            str(x) for x in (r["title"], "(redacted)" if r["is_redacted"] is True else r["recipient_name"],
                             r["scheme_title"], r.get("la_name"), *names.get(council, []), r["award_id"])
            if x is not None and x == x
        ).lower()
        if all(w.lower() in text for w in words):
            ids.add(r["award_id"])
    return ids


def _type(driver, element_id: str, text: str) -> None:
    """Empty the box as a person would (an input event), then type `text` key by key."""
    driver.execute_script(
        "const b = document.getElementById(arguments[0]); b.value = '';"
        "b.dispatchEvent(new Event('input', {bubbles: true}))",
        element_id,
    )
    if text:
        driver.find_element("id", element_id).send_keys(text)


def test_search_finds_filters_and_downloads_exactly_the_filtered_set(driver, rendered_site, tmp_path):
    from selenium.webdriver.support.ui import Select

    out, result, tables = rendered_site
    _open(driver, out / "search.html")
    _finder_ready(driver)
    awards = tables.awards
    count = driver.find_element("id", "f-count").text
    assert count.startswith(f"{len(awards)} of {len(awards)} awards match")
    _type(driver, "f-q", "cycle")
    expected = _matching(awards, ["cycle"])
    assert len(expected) == 3  # the three Cycle Ambition awards
    assert driver.find_element("id", "f-count").text.startswith(f"3 of {len(awards)} awards match")
    csv = _download_csv(driver, tmp_path / "dl")
    assert set(csv["award_id"]) == expected and len(csv) == 3
    # Text that could run as a spreadsheet formula is neutralised; the amounts stay numbers.
    names = set(csv["recipient_name"])
    assert "'" + FORMULA in names and "'+44 Cycling CIC" in names and HOSTILE in names
    assert sorted(float(v) for v in csv["amount_gbp"]) == [8_000.0, 12_500.0, 45_000.0]
    # Filters combine with the words: MoJ awards of £10k to under £100k in Wakefield.
    _type(driver, "f-q", "")
    Select(driver.find_element("id", "f-department")).select_by_visible_text("MoJ")
    Select(driver.find_element("id", "f-band")).select_by_value("10k_100k")
    Select(driver.find_element("id", "f-council")).select_by_value(WAKEFIELD)
    amounts = awards["amount_gbp"]
    mine = awards[(awards["department"] == "MoJ") & (amounts >= 10_000) & (amounts < 100_000)
                  & (awards["la_code"] == WAKEFIELD)]
    assert set(mine["recipient_name"]) == {"@Law Centre"}
    csv = _download_csv(driver, tmp_path / "dl")
    assert set(csv["award_id"]) == set(mine["award_id"]) and list(csv["recipient_name"]) == ["'@Law Centre"]
    # The table's footer totals the matching awards.
    assert driver.find_element("id", "f-total-gbp").text == "£60,000"
    assert not _alert_open(driver) and _errors(driver) == []


def test_permalink_restores_the_filters(driver, rendered_site):
    out, _, tables = rendered_site
    awards = tables.awards
    url = (out / "search.html").resolve().as_uri()
    url += "#q=victims&department=MoJ&band=10k_100k&sort=amount&dir=asc"
    driver.get(url)
    _finder_ready(driver)
    assert driver.find_element("id", "f-q").get_attribute("value") == "victims"
    assert driver.find_element("id", "f-department").get_attribute("value") == "MoJ"
    assert driver.find_element("id", "f-band").get_attribute("value") == "10k_100k"
    victims = awards[awards["scheme_title"].str.startswith("Victims") & (awards["amount_gbp"] >= 10_000)
                     & (awards["amount_gbp"] < 100_000)]
    assert len(victims) == 2  # Luton Women's Aid £40k, Hastings Advice £25k
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#f-rows tr')].map(r => r.querySelector('.f-who').textContent)"
    )
    assert rows == ["Hastings Advice", "Luton Women's Aid"]  # sorted by £, smallest first, as the link says
    # Changing a filter rewrites the address, so the new view can be shared in turn.
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "f-department")).select_by_value("")
    assert "department=" not in driver.current_url and "q=victims" in driver.current_url
    link = driver.find_element("id", "f-permalink").get_attribute("href")
    assert link.endswith("#q=victims&band=10k_100k&sort=amount&dir=asc")
    assert _errors(driver) == []


@pytest.mark.parametrize("width", [1366, 400])
def test_council_page_lists_every_award_paged_with_the_same_download(driver, stress_site, tmp_path, width):
    out, result = stress_site
    page = result.profiles[WAKEFIELD]
    driver.set_window_size(width, 900)
    try:
        _open(driver, page)
        _finder_ready(driver)
        n = int(driver.execute_script(
            "return JSON.parse(document.getElementById('finder-config').textContent).n_awards"
        ))
        assert n > 1000
        assert driver.find_element("id", "f-count").text.startswith(f"{n:,} of {n:,} awards match")
        assert len(driver.find_elements("css selector", "#f-rows tr")) == 50
        pages = -(-n // 50)
        assert driver.find_element("id", "f-page").text == f"Page 1 of {pages}"
        first = driver.execute_script("return document.querySelector('#f-rows td.num').textContent")
        driver.find_element("id", "f-next").click()
        assert driver.find_element("id", "f-page").text == f"Page 2 of {pages}"
        assert "page=2" in driver.current_url
        second = driver.execute_script("return document.querySelector('#f-rows td.num').textContent")
        to_number = lambda t: float(t.replace("£", "").replace(",", ""))  # noqa: E731
        assert to_number(first) >= to_number(second)  # largest £ first, across pages
        csv = _download_csv(driver, tmp_path / f"dl{width}")
        assert len(csv) == n and set(csv["la_code"]) == {WAKEFIELD}  # every award, not only the page
        # Nothing wider than the window; the award table fits inside its box.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        wrap = driver.execute_script(
            "const w = document.querySelector('#f-table').closest('.table-wrap');"
            "return [w.scrollWidth, w.clientWidth]"
        )
        assert wrap[0] <= wrap[1] + 1, wrap
        assert _errors(driver) == []
    finally:
        driver.set_window_size(1366, 900)


# ---- the bundled run: North Yorkshire, the council with most recipients, ARRIVA (issue 19) ----

_CLIPPED = """
const bad = [];
for (const w of document.querySelectorAll('.table-wrap')) {
  if (!w.offsetParent) continue;  // inside a closed <details>
  if (w.scrollWidth > w.clientWidth + 1) {
    const c = w.querySelector('caption');
    bad.push(['table', (c ? c.textContent : w.innerHTML).trim().slice(0, 70), w.scrollWidth, w.clientWidth]);
  }
}
for (const el of document.querySelectorAll('main *')) {
  const r = el.getBoundingClientRect();
  if (r.width && r.right > document.documentElement.clientWidth + 1 && !el.closest('.table-wrap'))
    bad.push(['element', el.tagName + '.' + el.className, Math.round(r.right)]);
}
return bad;
"""


def _frames_fit(driver) -> list:
    """Each Sankey frame is at least as tall as its page's content (a frame never cuts its page off)."""
    short = []
    frames = driver.find_elements("css selector", "iframe.sankey-frame")
    for frame in frames:
        driver.execute_script("arguments[0].scrollIntoView()", frame)
        driver.switch_to.frame(frame)
        _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
        inner = driver.execute_script("return Math.ceil(document.body.getBoundingClientRect().height)")
        driver.switch_to.default_content()
        # The frame's height message arrives when the page has drawn: wait for it (a loaded machine is slow),
        # and fail only if it never comes.
        try:
            _wait(driver, f"return arguments[0].clientHeight >= {inner}", 20.0, frame)
        except AssertionError:
            height = driver.execute_script("return arguments[0].clientHeight", frame)
            short.append((frame.get_attribute("src"), height, inner))
    return short


def _most_recipients(run: Path) -> str:
    import pandas as pd

    summary = pd.read_csv(run / "place_summary.csv")
    return str(summary.sort_values(["n_recipients", "la_code"], ascending=[False, True]).iloc[0]["la_name"])


@pytest.mark.flow
@pytest.mark.parametrize("width", [1366, 400])
def test_bundled_north_yorkshire_sankey_in_its_frame_labels_its_largest_nodes(driver, bundled_run, width):
    """In the profile's frame (narrower than its own page) the largest recipient's label runs into the
    largest scheme's: the scheme's label is shortened, keeping its £, instead of hidden; no label of the
    five tallest nodes is hidden and no two shown labels overlap."""
    driver.set_window_size(width, 900)
    try:
        _open(driver, bundled_run / "councils" / "north-yorkshire" / "index.html")
        frame = driver.find_elements("css selector", "iframe.sankey-frame")[0]
        driver.execute_script("arguments[0].scrollIntoView()", frame)
        driver.switch_to.frame(frame)
        _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
        _wait(driver, "return [...document.querySelectorAll('.sankey-node text')]"
                      ".some(t => t.textContent.startsWith('Highways'))")
        shown = driver.execute_script(
            """return [...document.querySelectorAll('.sankey-node')].map(n => [
                 n.querySelector('text').textContent, getComputedStyle(n.querySelector('text')).visibility,
                 n.querySelector('rect').getBoundingClientRect().height])"""
        )
        tallest = sorted(shown, key=lambda s: -s[2])[:5]
        assert all(visibility == "visible" and text for text, visibility, _ in tallest), tallest
        highways = [text for text, visibility, _ in shown if text.startswith("Highways M")]
        assert len(highways) == 1 and (width == 400 or "£27.2m" in highways[0]), shown
        # The frame grows to its page's height once drawn, and the page lays its labels out again: wait
        # for that last layout (a loaded machine is slow), then no two shown labels overlap.
        try:
            _wait(driver, "return (" + _OVERLAPS.replace("return n;", "return n.length === 0;")
                  .join(["(() => {", "})()"]) + ")", 15.0)
        except AssertionError:
            assert driver.execute_script(_OVERLAPS) == []
        driver.switch_to.default_content()
    finally:
        driver.switch_to.default_content()
        driver.set_window_size(1366, 900)


@pytest.mark.flow
@pytest.mark.parametrize("width", [1366, 400])
def test_bundled_north_yorkshire_sankey_names_each_council(driver, bundled_run, width):
    driver.set_window_size(width, 900)
    try:
        _open(driver, bundled_run / "councils" / "north-yorkshire" / "sankey_grants.html")
        _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
        nodes = driver.execute_script("return document.getElementById('sankey').data[0].node.label")
        full = driver.execute_script(
            "return JSON.parse(document.getElementById('sankey-data').textContent).data[0].node.label"
        )
        # North Yorkshire County Council (£40.3m) and Harrogate Borough Council (£615k) are two nodes,
        # each under its own name; no node is named after the other council.
        assert any(lbl.startswith("North Yorkshire County Council · £40.3m") for lbl in full)
        assert any(lbl.startswith("HARROGATE BOROUGH COUNCIL · £615k") for lbl in full)
        assert not any(lbl.startswith("HARROGATE BOROUGH COUNCIL · £40") for lbl in full)
        # The largest scheme node (Highways Maintenance Block, £27.2m) carries a visible label.
        shown = driver.execute_script(
            """return [...document.querySelectorAll('.sankey-node')].map(n => {
                 const t = n.querySelector('text'), r = n.querySelector('rect').getBoundingClientRect();
                 const b = t.getBoundingClientRect(), svg = document.querySelector('#sankey svg')
                   .getBoundingClientRect();
                 return [t.textContent, getComputedStyle(t).visibility, r.height,
                         b.left >= svg.left - 1 && b.right <= svg.right + 1];
               })"""
        )
        pairs = list(zip(shown, full, strict=True))
        schemes = [s for s, label in pairs if label.startswith("Highways Maintenance")]
        assert len(schemes) == 1 and len(nodes) == len(full)
        text, visibility, height, inside = schemes[0]
        assert text.startswith("Highways M") and visibility == "visible" and inside
        # ...and it is the tallest scheme: nodes are drawn by £ when the page opens.
        others = ("DfT", "MoJ", "North Yorkshire County")  # the department and the largest recipient
        assert height == max(h for (_, _, h, _), lbl in pairs if not lbl.startswith(others))
        assert driver.execute_script(_OVERLAPS) == []
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        assert _errors(driver) == []
    finally:
        driver.set_window_size(1366, 900)


@pytest.mark.flow
@pytest.mark.parametrize("width", [1366, 400])
def test_bundled_profiles_clip_no_frame_or_table(driver, bundled_run, width):
    from spendmap.outputs.site import council_slugs
    from spendmap.sources.councils import load_councils

    slugs = council_slugs(load_councils())
    names = load_councils()[["la_code", "la_name"]].itertuples(index=False)
    by_name = {name: slugs[code] for code, name in names}
    most = _most_recipients(bundled_run)
    driver.set_window_size(width, 900)
    try:
        for name in ("North Yorkshire", most):
            page = bundled_run / "councils" / by_name[name] / "index.html"
            _open(driver, page)
            # The department and scheme table, opened, is as wide as the page allows (not 28rem).
            driver.execute_script(
                "document.querySelectorAll('details.scheme-table').forEach(d => d.open = true)"
            )
            assert driver.execute_script(_CLIPPED) == [], (name, width)
            assert _frames_fit(driver) == [], (name, width)
            assert "replaced" in driver.find_element("tag name", "body").text or name != "North Yorkshire"
            assert _errors(driver) == []
            _open(driver, page.parent / "sankey_grants.html")
            _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
            assert driver.execute_script(_CLIPPED) == [], (name, width, "sankey")
    finally:
        driver.set_window_size(1366, 900)


@pytest.mark.flow
def test_bundled_search_finds_arriva_and_harrogate(driver, bundled_run, tmp_path):
    import pandas as pd

    from spendmap.transforms.page_figures import council_search_names

    awards = pd.read_parquet(bundled_run / "awards.parquet")
    _open(driver, bundled_run / "search.html")
    _finder_ready(driver)
    _type(driver, "f-q", "ARRIVA")
    expected = _matching(awards, ["arriva"])
    assert len(expected) == 14  # 7 placed in six councils, 7 to Arriva Buses Wales (no postcode)
    assert driver.find_element("id", "f-count").text.startswith(f"14 of {len(awards):,} awards match")
    csv = _download_csv(driver, tmp_path / "dl")
    assert set(csv["award_id"]) == expected and len(csv) == 14
    chosen = awards[awards["award_id"].isin(expected)]
    assert csv["amount_gbp"].astype(float).sum() == chosen["amount_gbp"].sum()
    # A former council's name finds the awards of the council that replaced it.
    _type(driver, "f-q", "Harrogate")
    names = council_search_names()
    harrogate = _matching(awards, ["harrogate"], names)
    ny = set(awards.loc[awards["la_code"] == "E06000065", "award_id"])
    assert ny <= harrogate and driver.find_element("id", "f-count").text.startswith(f"{len(harrogate)} of")
    # The index's council search finds North Yorkshire by "Harrogate" too.
    _open(driver, bundled_run / "index.html")
    _type(driver, "council-search", "harrogate")
    visible = driver.execute_script(
        "return [...document.querySelectorAll('#councils tbody tr')]"
        ".filter(r => !r.hidden).map(r => r.querySelector('th a').textContent.trim())"
    )
    assert visible == ["North Yorkshire"]
    # A permalink opens the same view.
    driver.get((bundled_run / "search.html").resolve().as_uri() + "#q=arriva&council=E08000024")
    _finder_ready(driver)
    assert driver.find_element("id", "f-council").get_attribute("value") == "E08000024"
    merseyside = _matching(awards[awards["la_code"] == "E08000024"], ["arriva"])
    assert driver.find_element("id", "f-count").text.startswith(f"{len(merseyside)} of")
    assert _errors(driver) == []



def _all_awards_match(driver, n: int) -> bool:
    return driver.find_element("id", "f-count").text.startswith(f"{n} of {n} awards match")


def _open_one_council(driver, out: Path, la_code: str) -> list[str]:
    """Open search.html afresh on one council's permalink; the award data files the page loaded."""
    driver.get("about:blank")
    driver.get((out / "search.html").resolve().as_uri() + f"#council={la_code}")
    _finder_ready(driver)
    scripts = driver.execute_script(
        "return [...document.querySelectorAll('script[src]')].map(s => s.getAttribute('src'))")
    return [s for s in scripts if "assets/" not in s]


def test_search_split_into_council_files_finds_every_award(driver, tmp_path, monkeypatch):
    """Above SINGLE_FILE_MAX awards search.html loads each council's awards_data.js and
    search/unplaced.js instead of one file: every award is still found, a council filter loads that
    council's file only, and the unplaced awards are searchable too."""
    from spendmap.outputs import site
    from spendmap.outputs.site import render_site

    from .conftest import make_context, make_tables

    monkeypatch.setattr(site, "SINGLE_FILE_MAX", 1)
    tables = make_tables()
    out = tmp_path / "split"
    render_site(out, tables, make_context())
    assert not (out / "search" / "awards.js").exists() and (out / "search" / "unplaced.js").is_file()
    awards = tables.awards
    _open(driver, out / "search.html")
    _finder_ready(driver)
    assert _all_awards_match(driver, len(awards))
    _type(driver, "f-q", "cycle")
    assert driver.find_element("id", "f-count").text.startswith(f"{len(_matching(awards, ['cycle']))} of ")
    data = _open_one_council(driver, out, WAKEFIELD)
    mine = awards[awards["la_code"] == WAKEFIELD]
    assert driver.find_element("id", "f-count").text.startswith(f"{len(mine)} of ")
    assert data == ["councils/wakefield/awards_data.js"], data
    assert not _alert_open(driver) and _errors(driver) == []


def test_search_of_a_places_run_split_into_files_finds_the_councils_without_a_page(driver, tmp_path,
                                                                                   monkeypatch):
    """A --places run above SINGLE_FILE_MAX: the councils without a page have their awards in
    search/councils/, so search.html still finds every award, and filtering one loads its file only."""
    from spendmap.outputs import site
    from spendmap.outputs.site import render_site

    from .conftest import make_context, make_tables

    monkeypatch.setattr(site, "SINGLE_FILE_MAX", 1)
    tables = make_tables()
    out = tmp_path / "split-places"
    render_site(out, tables, make_context(), places=[WAKEFIELD])
    awards = tables.awards
    others = sorted(set(awards["la_code"].dropna()) - {WAKEFIELD})
    written = sorted(p.name for p in (out / "search" / "councils").iterdir())
    assert len(written) == len(others) and not (out / "search" / "awards.js").exists()
    _open(driver, out / "search.html")
    _finder_ready(driver)
    assert _all_awards_match(driver, len(awards))
    data = _open_one_council(driver, out, others[0])
    mine = awards[awards["la_code"] == others[0]]
    assert driver.find_element("id", "f-count").text.startswith(f"{len(mine)} of ")
    assert len(data) == 1 and data[0].startswith("search/councils/"), data
    assert not _alert_open(driver) and _errors(driver) == []


@pytest.mark.parametrize("width", [1366, 400])
def test_search_page_fits_the_window_with_a_long_source_file_name(driver, tmp_path, width):
    """A source named by a long file name without spaces (as a real run's footer shows it) never makes
    the page scroll sideways; on a wide screen a council's name and a date each stay on one line."""
    from dataclasses import replace

    from spendmap.outputs.site import render_site

    from .conftest import make_context, make_tables

    ctx = make_context()
    long_name = "/data/registers/Government_Grants_Register_2016_to_2017_" + "X" * 80 + ".csv"
    ctx = replace(ctx, sources=[{**ctx.sources[0], "name": long_name}, *ctx.sources[1:]])
    out = tmp_path / "long"
    render_site(out, make_tables(), ctx, places=[WAKEFIELD])
    driver.set_window_size(width, 900)
    try:
        _open(driver, out / "search.html")
        _finder_ready(driver)
        assert long_name in driver.find_element("css selector", ".site-footer").text.replace("\n", "")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        # Lines of text in each cell: the distinct tops of its text's boxes (a link adds a box).
        lines = driver.execute_script(
            "return [...document.querySelectorAll('#f-rows td.f-council, #f-rows td.f-date')].map(c => {"
            " const r = document.createRange(); r.selectNodeContents(c);"
            " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; })")
        assert lines
        if width == 1366:
            assert set(lines) == {1}, lines
    finally:
        driver.set_window_size(1366, 900)
