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

from .conftest import HOSTILE, RUTLAND, WAKEFIELD

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


def _wait(driver, script: str, timeout: float = 20.0):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(script)
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
    assert len(rows) == len(result.slugs) > 300  # every council is listed
    box = driver.find_element("id", "council-search")
    box.send_keys("wakef")
    visible = driver.execute_script(
        "return [...document.querySelectorAll('#councils tbody tr')]"
        ".filter(r => !r.hidden).map(r => r.querySelector('th').textContent.trim())"
    )
    assert len(visible) == 1 and visible[0].startswith("Wakefield")
    assert driver.find_element("id", "council-count").text == f"Showing 1 of {len(rows)} councils."
    # The region filter combines with the search; clearing the search shows the region's councils.
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "region-filter")).select_by_visible_text("Yorkshire and The Humber")
    assert driver.find_element("id", "council-count").text == f"Showing 1 of {len(rows)} councils."
    driver.execute_script(
        "var b=document.getElementById('council-search'); b.value='';b.dispatchEvent(new Event('input'))"
    )
    n_region = int(driver.find_element("id", "council-count").text.split()[1])
    from spendmap.sources.councils import load_councils

    councils = load_councils()
    assert n_region == int((councils["region_name"] == "Yorkshire and The Humber").sum()) == 16
    Select(driver.find_element("id", "region-filter")).select_by_visible_text("All regions and nations")
    # The table opens sorted by awards, largest first; a click on Awards reverses it.
    first_row = "return document.querySelector('#councils tbody tr th').textContent.trim()"
    assert driver.execute_script(first_row).startswith("Wakefield")
    driver.find_element("xpath", "//table[@id='councils']//th[.//button[text()='Awards']]/button").click()
    assert not driver.execute_script(first_row).startswith("Wakefield")
    driver.find_element("xpath", "//table[@id='councils']//th[.//button[text()='Awards']]/button").click()
    assert driver.execute_script(first_row).startswith("Wakefield")
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
    before = driver.execute_script("return document.getElementById('sankey').data[0].link.value")
    assert all(float(v).is_integer() for v in before)  # number of awards
    driver.find_element("css selector", "input[name='weight'][value='gbp']").click()
    _wait(driver, "return document.getElementById('sankey').getAttribute('data-weight') === 'gbp'")
    after = driver.execute_script("return document.getElementById('sankey').data[0].link.value")
    assert after != before and max(after) == 3_250_000  # DfT -> Local Transport Plan
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
    rows = driver.execute_script("return document.querySelectorAll('table tbody tr').length")
    assert rows >= 382
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
