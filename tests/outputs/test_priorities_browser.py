"""The "Funding against <place>'s priorities" section and its Sankey in a real headless Chromium, at a
laptop (1366 px) and a phone (400 px) width, from a real run with other funders' 360Giving data."""

from __future__ import annotations

from pathlib import Path

import pytest

from spendmap.cli import main

from ..helpers.funding import HOSTILE, write_funding
from .test_browser import _alert_open, _errors, _open, _shot, _wait, driver  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def funding_site(tmp_path_factory) -> Path:
    package, priorities = write_funding(tmp_path_factory.mktemp("funding"))
    out = tmp_path_factory.mktemp("site") / "out"
    assert main(["run", "--funding", str(package), "--priorities", str(priorities), "--places",
                 "Wakefield,Hastings", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("width", [1366, 400])
def test_priorities_section_reads_at_laptop_and_phone_width(driver, funding_site: Path, width: int):  # noqa: F811
    folder = funding_site / "councils" / "wakefield"
    driver.set_window_size(width, 900)
    try:
        _open(driver, folder / "index.html")
        section = driver.find_element("id", "priorities")
        assert section.find_element("tag name", "h2").text == "Funding against Wakefield's priorities"
        items = section.find_elements("css selector", "article.priority")
        assert [i.get_attribute("id") for i in items] == ["priority-ebsa", "priority-transport",
                                                          "priority-nothing"]
        first = items[0].text
        assert HOSTILE in first  # the hostile title shows as text
        assert not _alert_open(driver)
        assert "Overlap: 2 funders (A Yorkshire Foundation; The National Lottery Community Fund)" in first
        rows = items[0].find_elements("css selector", "table.priority-sources tbody tr")
        cells = [[c.text for c in r.find_elements("css selector", "th, td")] for r in rows]
        assert cells[:3] == [["central-government grants", "0", "£0"],
                             ["other public grants", "1", "£12,000"], ["charitable grants", "1", "£30,000"]]
        assert cells[3][0] == "CRA spend allocated by population (context)" and cells[3][1] == "5"
        gap = items[2].find_element("css selector", ".gap").text
        assert gap == ("Gap: no grant in this run's data (grants from lottery distributors, local government "
                       "and charitable funders) for 2016-17 matched this priority.")
        # Nothing is wider than the window, the section's tables included.
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        box = driver.execute_script(
            "return document.getElementById('priorities').getBoundingClientRect().right")
        assert box <= width
        frame = section.find_element("css selector", "iframe.sankey-frame")
        assert frame.get_attribute("src").endswith("sankey_priorities.html")
        if width == 1366:
            _shot(driver, "priorities_wakefield.png")
        assert _errors(driver) == []

        _open(driver, folder / "sankey_priorities.html")
        _wait(driver, "return document.querySelectorAll('.sankey-link').length > 0")
        # 2 sources, 2 funders, 1 priority matched; 2 + 2 links, by £ (money first) then by count.
        assert len(driver.find_elements("css selector", ".sankey-node")) == 5
        before = driver.execute_script("return document.getElementById('sankey').data[0].link.value")
        assert sorted(before) == [12000, 12000, 30000, 30000]
        driver.find_element("css selector", "input[name='weight'][value='count']").click()
        _wait(driver, "return document.getElementById('sankey').getAttribute('data-weight') === 'count'")
        after = driver.execute_script("return document.getElementById('sankey').data[0].link.value")
        assert sorted(after) == [1, 1, 1, 1]
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        assert _errors(driver) == []
    finally:
        driver.set_window_size(1366, 900)


def test_each_place_with_priorities_gets_the_section(driver, funding_site: Path):  # noqa: F811
    _open(driver, funding_site / "councils" / "hastings" / "index.html")
    items = driver.find_elements("css selector", "#priorities article.priority")
    assert [i.get_attribute("id") for i in items] == ["priority-warm"]
    assert "by funder type: local government 1 (£8.5k)" in items[0].text.lower()
    _open(driver, funding_site / "index.html")
    assert not driver.find_elements("id", "priorities")  # the index has no priorities section
    assert _errors(driver) == []
