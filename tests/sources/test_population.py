"""Population readers and the council-geography population, on the bundled files and crafted ones."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from spendmap.errors import InputError
from spendmap.paths import BUNDLED_POPULATION, reference_path
from spendmap.sources.councils import load_councils
from spendmap.sources.population import (
    BUNDLED_CENSUS_2021,
    COUNCIL_POPULATION_COLUMNS,
    SOURCE_CENSUS_2021,
    SOURCE_DISTRICT_SUM,
    SOURCE_MYSOCIETY,
    SOURCE_NOMIS,
    choose_vintage,
    load_bundled_population,
    population_for_councils,
    read_census2021_population,
    read_mye_workbook,
    read_nomis_population,
    read_population,
    region_populations,
)

NOMIS_HEADER = (
    '"","DATE_NAME","GEOGRAPHY_NAME","GEOGRAPHY_CODE","GENDER_NAME","C_AGE_NAME","MEASURES_NAME",'
    '"OBS_VALUE","OBS_STATUS_NAME"\n'
)


@pytest.fixture(scope="module")
def nomis():
    return read_nomis_population(reference_path(*BUNDLED_POPULATION))


@pytest.fixture(scope="module")
def raw_nomis() -> pd.DataFrame:
    return pd.read_csv(reference_path(*BUNDLED_POPULATION), dtype={"GEOGRAPHY_CODE": str})


@pytest.fixture(scope="module")
def pop_2016(nomis):
    return population_for_councils(nomis, "2016-17")


# --- the bundled Nomis extract ------------------------------------------------------------------


def test_bundled_nomis_reads_every_row(nomis, raw_nomis):
    assert len(nomis.frame) == len(raw_nomis) == 380
    assert nomis.rejects.empty
    assert nomis.vintages == [2020]
    assert nomis.frame["population"].sum() == raw_nomis["OBS_VALUE"].sum() == 65_185_724
    assert nomis.summary()["rows_accepted"] == 380


def test_region_populations_match_ons_lookup(pop_2016, raw_nomis):
    # Independent: the ONS district -> region lookup for the same 2018 geography.
    lookup = pd.read_csv(reference_path("ons_lookups", "LAD18_RGN18_Dec2018_lookup_England.csv"))
    direct = (
        raw_nomis.merge(lookup, left_on="GEOGRAPHY_CODE", right_on="LAD18CD")
        .groupby("RGN18CD")["OBS_VALUE"]
        .sum()
    )
    ours = region_populations(pop_2016.frame)
    for code, value in direct.items():
        assert ours[code] == value
    assert ours["E12000001"] == 2_680_763
    assert ours["E12000007"] == 9_002_488
    assert ours[ours.index.str.startswith("E")].sum() == 56_550_138
    # Scotland and Wales are whole nations in the file.
    assert (
        ours["S92000003"] == raw_nomis.loc[raw_nomis["GEOGRAPHY_CODE"].str.startswith("S"), "OBS_VALUE"].sum()
    )
    assert (
        ours["W92000004"] == raw_nomis.loc[raw_nomis["GEOGRAPHY_CODE"].str.startswith("W"), "OBS_VALUE"].sum()
    )


def test_merged_districts_are_summed_into_current_council(pop_2016, raw_nomis):
    f = pop_2016.frame.set_index("la_code")
    bucks = raw_nomis[raw_nomis["GEOGRAPHY_CODE"].isin(["E07000004", "E07000005", "E07000006", "E07000007"])]
    assert len(bucks) == 4
    assert f.at["E06000060", "population"] == bucks["OBS_VALUE"].sum()
    assert f.at["E06000060", "n_source_areas"] == 4
    # 2023: North Yorkshire (7 districts) and Somerset became unitaries; in the 2018 geography Somerset
    # still had 5 districts (Taunton Deane and West Somerset merged in 2019).
    assert f.at["E06000065", "n_source_areas"] == 7
    assert f.at["E06000066", "n_source_areas"] == 5
    assert "E07000004" not in f.index


def test_every_council_has_one_row_with_flags(pop_2016):
    f = pop_2016.frame
    councils = load_councils()
    assert list(f.columns) == COUNCIL_POPULATION_COLUMNS
    assert sorted(f["la_code"]) == sorted(councils["la_code"])
    assert f["la_code"].is_unique
    assert (f["population"] > 0).all()
    ni = f[f["la_code"].str.startswith("N09")]
    assert len(ni) == 11
    assert (ni["population_source"] == SOURCE_MYSOCIETY).all()
    expected_ni = councils.set_index("la_code")["population_2020"]
    assert all(ni.set_index("la_code")["population"] == expected_ni[ni["la_code"]].astype(int))
    assert pop_2016.choice.fallback_codes == sorted(ni["la_code"])
    assert pop_2016.choice.suspect_codes == []
    rest = f[~f["la_code"].str.startswith("N09") & ~f["is_aggregate"]]
    assert (rest["population_source"] == SOURCE_NOMIS).all()


def test_counties_are_sums_of_their_districts(pop_2016, raw_nomis):
    f = pop_2016.frame
    counties = f[f["is_aggregate"]]
    assert len(counties) == 21
    assert (counties["population_source"] == SOURCE_DISTRICT_SUM).all()
    east_sussex = raw_nomis[
        raw_nomis["GEOGRAPHY_CODE"].isin(["E07000061", "E07000062", "E07000063", "E07000064", "E07000065"])
    ]["OBS_VALUE"].sum()
    assert f.set_index("la_code").at["E10000011", "population"] == east_sussex == 558_852
    by_county = f[~f["is_aggregate"]].groupby("county_code")["population"].sum()
    assert all(counties.set_index("la_code")["population"] == by_county[counties["la_code"]].to_numpy())


def test_vintage_choice_is_recorded(pop_2016):
    c = pop_2016.choice
    assert (c.wanted_vintage, c.vintage, c.exact) == (2016, 2020, False)
    assert "nearest available to mid-2016" in c.describe()
    assert c.as_dict()["available_vintages"] == [2020]


@pytest.mark.parametrize(
    ("fy", "available", "expected"),
    [
        ("2016-17", [2020], 2020),
        ("2016-17", [2015, 2016, 2020], 2016),
        ("2018-19", [2017, 2019], 2017),
        ("2013-14", [2011, 2020, 2021], 2011),
        ("2022-23", [2020, 2021], 2021),
    ],
)
def test_choose_vintage(fy, available, expected):
    assert choose_vintage(fy, available) == expected


# --- Census 2021 --------------------------------------------------------------------------------


def test_census_2021_reads_and_is_chosen_for_2021_22(nomis):
    census = read_census2021_population()
    direct = pd.read_csv(reference_path(*BUNDLED_CENSUS_2021))
    assert len(census.frame) == len(direct) == 331
    assert census.frame["population"].sum() == direct["POP21"].sum() == 59_529_700
    pop = population_for_councils([nomis, census], "2021-22")
    assert pop.choice.vintage == 2021 and pop.choice.source == SOURCE_CENSUS_2021
    f = pop.frame.set_index("la_code")
    assert f.at["E08000036", "population"] == direct.set_index("LAD").at["E08000036", "POP21"]
    # No Scottish or NI figures in the census file: those 43 councils use mySociety's 2020 population.
    assert len(pop.choice.fallback_codes) == 32 + 11
    assert f.at["S12000033", "population_source"] == SOURCE_MYSOCIETY
    assert f.at["S12000033", "population_vintage"] == 2020
    # 2016-17 still prefers the mid-2020 estimate (4 years away) over the census (5 years away).
    assert population_for_councils([nomis, census], "2016-17").choice.vintage == 2020


# --- crafted files ------------------------------------------------------------------------------


def _mye_workbook(path, rows, title="Mid-2019 Population Estimates for UK, local authorities"):
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "Contents"
    notes["A1"] = "Population estimates: contents"
    ws = wb.create_sheet("MYE2 - Persons")
    ws["A1"] = title
    ws["A4"] = "All persons"
    for i, row in enumerate([["Code", "Name", "Geography", "All ages", 0, 1], *rows]):
        for j, v in enumerate(row):
            ws.cell(row=8 + i, column=1 + j, value=v)
    wb.save(path)
    return path


def test_mye_workbook_layout(tmp_path):
    path = _mye_workbook(
        tmp_path / "ukmidyearestimates.xlsx",
        [
            ["K02000001", "UNITED KINGDOM", "Country", 66796807, 1, 1],
            ["E12000001", "NORTH EAST", "Region", 2669941, 1, 1],
            ["E10000002", "Buckinghamshire", "County", 540059, 1, 1],
            ["E07000004", "Aylesbury Vale", "Non-metropolitan District", 199448, 1, 1],
            ["E07000005", "Chiltern", "Non-metropolitan District", 95927, 1, 1],
            ["E08000036", "Wakefield", "Metropolitan District", 348312, 1, 1],
            ["S12000033", "Aberdeen City", "Council Area", "228,670", 1, 1],
            ["E06000001", "Hartlepool", "Unitary Authority", "n/a", 1, 1],
        ],
    )
    table = read_mye_workbook(path)
    assert table.sheet == "MYE2 - Persons"
    assert table.vintages == [2019]
    assert table.frame.set_index("area_code")["population"].to_dict() == {
        "E07000004": 199448,
        "E07000005": 95927,
        "E08000036": 348312,
        "S12000033": 228670,
    }
    assert table.frame["source_row"].tolist() == [12, 13, 14, 15]
    reasons = dict(zip(table.rejects["source_row"], table.rejects["reason"], strict=True))
    assert set(reasons) == {9, 10, 11, 16}
    assert "not a district-level area" in reasons[11]
    assert "not a whole non-negative number" in reasons[16]
    assert read_population(path).vintages == [2019]

    pop = population_for_councils(table, "2019-20")
    f = pop.frame.set_index("la_code")
    assert pop.choice.exact
    # Two of Buckinghamshire's four former districts are in this file: the figure is what the file holds,
    # and the council is listed as suspect (far from its 2020 population).
    assert f.at["E06000060", "population"] == 199448 + 95927
    assert pop.choice.suspect_codes == ["E06000060"]
    assert "E06000060" in pop.choice.describe()
    assert f.at["E08000036", "population_source"] == "ons_mye_workbook"
    assert f.at["E06000001", "population_source"] == SOURCE_MYSOCIETY


def test_mye_workbook_without_a_year_needs_one(tmp_path):
    path = _mye_workbook(
        tmp_path / "estimates.xlsx",
        [["E08000036", "Wakefield", "Metropolitan District", 1, 1, 1]],
        title="Population estimates",
    )
    with pytest.raises(InputError, match="cannot tell which mid-year"):
        read_mye_workbook(path)
    assert read_mye_workbook(path, vintage_year=2018).vintages == [2018]


def test_nomis_other_genders_are_rejected_with_reason(tmp_path):
    path = tmp_path / "nomis.csv"
    path.write_text(
        NOMIS_HEADER
        + "\n".join(
            [
                '"1",2017,"Wakefield","E08000036","Total","All Ages","Value",340000,"Normal Value"',
                '"2",2017,"Wakefield","E08000036","Male","All Ages","Value",170000,"Normal Value"',
                '"3",2018,"Wakefield","E08000036","Total","All Ages","Value",345000,"Normal Value"',
                '"4",2018,"England","E92000001","Total","All Ages","Value",55977178,"Normal Value"',
            ]
        )
        + "\n"
    )
    table = read_population(path)
    assert table.vintages == [2017, 2018]
    assert table.frame[["vintage_year", "population"]].values.tolist() == [[2017, 340000], [2018, 345000]]
    assert table.rejects["source_row"].tolist() == [3, 5]
    assert "all-persons, all-ages" in table.rejects["reason"].iloc[0]
    pop = population_for_councils(table, "2017-18")
    assert pop.frame.set_index("la_code").at["E08000036", "population"] == 340000


def test_unknown_codes_are_listed(tmp_path):
    path = tmp_path / "nomis.csv"
    path.write_text(
        NOMIS_HEADER
        + "\n".join(
            [
                '"1",2020,"Nowhere","E07999999","Total","All Ages","Value",1000,"Normal Value"',
                '"2",2020,"Elsewhere","E06999998","Total","All Ages","Value",1000,"Normal Value"',
                '"3",2020,"Wakefield","E08000036","Total","All Ages","Value",345000,"Normal Value"',
            ]
        )
        + "\n"
    )
    with pytest.raises(
        InputError, match=r"2 district codes are not in the council lookup.*E06999998, E07999999"
    ):
        population_for_councils(read_population(path), "2020-21")


def test_mixed_geographies_are_refused(tmp_path):
    path = tmp_path / "nomis.csv"
    path.write_text(
        NOMIS_HEADER
        + "\n".join(
            [
                '"1",2020,"Buckinghamshire","E06000060","Total","All Ages","Value",547060,"Normal Value"',
                '"2",2020,"Aylesbury Vale","E07000004","Total","All Ages","Value",199448,"Normal Value"',
            ]
        )
        + "\n"
    )
    with pytest.raises(InputError, match="E07000004→E06000060"):
        population_for_councils(read_population(path), "2020-21")


def test_duplicate_rows_are_refused(tmp_path):
    path = tmp_path / "nomis.csv"
    row = '"1",2020,"Wakefield","E08000036","Total","All Ages","Value",345000,"Normal Value"'
    path.write_text(NOMIS_HEADER + row + "\n" + row + "\n")
    with pytest.raises(InputError, match=r"more than one row.*E08000036 \(2020\)"):
        read_population(path)


def test_council_with_no_population_at_all_is_listed(nomis):
    councils = load_councils().copy()
    councils["population_2020"] = councils["population_2020"].where(
        ~councils["la_code"].str.startswith("N09")
    )
    expected = r"no usable population for 11 councils.*not in the file and mySociety.*N09000003 Belfast"
    with pytest.raises(InputError, match=expected):
        population_for_councils(nomis, "2020-21", councils=councils)


def test_strict_mode_lists_councils_missing_from_the_file(nomis):
    with pytest.raises(
        InputError, match=r"11 current councils have no district in the file: N09000001 Antrim"
    ):
        population_for_councils(nomis, "2020-21", allow_fallback=False)


def test_bundled_loader_is_the_nomis_file():
    (table,) = load_bundled_population()
    assert table.source == SOURCE_NOMIS and table.path.name == BUNDLED_POPULATION[1]


def test_population_of_zero_says_so(tmp_path):
    """A 0 in the file is reported as a 0 in the file, not as 'not in the file'."""
    text = reference_path(*BUNDLED_POPULATION).read_text()
    wakefield = '"Wakefield","E08000036","Total","All Ages","Value",351592,'
    assert wakefield in text
    path = tmp_path / "nomis_zero.csv"
    path.write_text(text.replace(wakefield, wakefield.replace("351592", "0")))
    with pytest.raises(InputError) as err:
        population_for_councils(read_population(path), "2020-21")
    message = str(err.value)
    assert "1 have a population of 0 or less in the file: E08000036 Wakefield (0)" in message
    assert "not in the file" not in message
