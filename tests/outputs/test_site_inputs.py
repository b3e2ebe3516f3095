"""The pages' tables are read by catalog name (catalog.SITE_INPUTS), not from a hand-written list."""

import pandas as pd

from spendmap import catalog
from spendmap.outputs.context import SiteTables


def test_site_tables_read_every_site_input_the_run_wrote_and_nothing_else(tmp_path):
    paths = {}
    for i, name in enumerate([d.name for d in catalog.SITE_INPUTS if d.name != "priority_overlaps"]
                             + ["local_spend", "unplaced"]):
        paths[name] = tmp_path / f"{name}.parquet"
        pd.DataFrame({"table": [name], "row": [i]}).to_parquet(paths[name], index=False)
    councils, awards = pd.DataFrame({"la_code": ["E1"]}), pd.DataFrame({"award_id": ["a"]})
    tables = SiteTables.from_datasets(councils, awards, paths)
    assert tables.councils is councils and tables.awards is awards
    assert tables.place_summary["table"].tolist() == ["place_summary"]
    assert tables.small_grants["table"].tolist() == ["small_grants"]
    assert tables.duplication["table"].tolist() == ["duplication"]
    assert tables.cra_allocation["table"].tolist() == ["cra_allocation"]
    assert tables.national_overlaps["table"].tolist() == ["national_scheme_overlaps"]
    # Priority tables by name, only those written; local_spend and unplaced are no site input.
    assert list(tables.priorities) == ["priorities", "priority_funding", "priority_matches"]
    assert tables.priorities["priority_matches"]["table"].tolist() == ["priority_matches"]
