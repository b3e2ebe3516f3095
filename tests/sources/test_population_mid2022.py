"""The bundled ONS mid-2022 estimates (official workbook, 2023 boundaries) beside mid-2020."""

from __future__ import annotations

from python_calamine import CalamineWorkbook

from spendmap.paths import BUNDLED_POPULATION, reference_path
from spendmap.sources.population import BUNDLED_MYE_2022, bundled_companions, read_population
from spendmap.transforms.population import population_for_councils


def test_the_workbook_reads_as_the_official_layout():
    (table,) = bundled_companions(reference_path(*BUNDLED_POPULATION))
    assert table.sheet == "MYE2 - Persons" and table.vintages == [2022]
    assert len(table.frame) == 361  # districts and unitary councils on 2023 boundaries
    # The UK row of the sheet, read directly, equals the districts' sum.
    rows = CalamineWorkbook.from_path(str(reference_path(*BUNDLED_MYE_2022))).get_sheet_by_name(
        "MYE2 - Persons").to_python()
    uk = next(r for r in rows if r and r[0] == "K02000001")
    assert int(uk[3]) == 67_596_281 == int(table.frame["population"].sum())
    assert table.rows_read == len(table.frame) + len(table.rejects)


def test_each_year_takes_the_nearest_vintage():
    primary = read_population(reference_path(*BUNDLED_POPULATION))
    tables = [primary, *bundled_companions(reference_path(*BUNDLED_POPULATION))]
    # 2016-17 wants mid-2016: mid-2020 is nearer than mid-2022, so the bundled run is unchanged.
    assert population_for_councils(tables, "2016-17").choice.vintage == 2020
    assert population_for_councils(tables, "2020-21").choice.vintage == 2020
    # 2021-22 is a tie (one year from each): the earlier estimate wins, as choose_vintage documents.
    assert population_for_councils(tables, "2021-22").choice.vintage == 2020
    modern = population_for_councils(tables, "2023-24")
    assert modern.choice.vintage == 2022
    wakefield = modern.frame.set_index("la_code").loc["E08000036", "population"]
    assert wakefield == 357_729  # the sheet's own row for Wakefield
    assert bundled_companions("elsewhere.csv") == []  # a population file of the user's own: used alone
