"""docs/outputs.md is generated from spendmap.schemas and links nowhere outside the repository."""

import re
from pathlib import Path

from spendmap import schemas
from spendmap.outputs.outputs_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "outputs.md"


def test_the_document_is_what_the_generator_writes():
    assert DOC.read_text(encoding="utf-8") == render(), "run `python -m spendmap.outputs.outputs_doc`"


def test_every_contract_column_list_appears_and_nothing_links_outside():
    text = render()
    for columns in (
        schemas.PLACE_SUMMARY_COLUMNS,
        schemas.SMALL_GRANTS_COLUMNS,
        schemas.DUPLICATION_COLUMNS,
        schemas.CRA_ALLOCATION_COLUMNS,
        list(schemas.AWARD_DTYPES),
    ):
        assert ", ".join(columns) in text
    assert not re.search(r"https?://|\.\./", text)
