"""The synthetic register generator: exact read-back in every format, realistic content, labelled."""

from __future__ import annotations

import json
import re

import pyarrow.csv as pacsv
import pytest
from python_calamine import CalamineWorkbook

from spendmap.sources.councils import load_councils
from spendmap.sources.grants import read_grants
from spendmap.testing import registers
from spendmap.testing.registers import HEADER, LABEL, directory_postcodes, generate_register

N = 400


@pytest.mark.parametrize("fmt", ["ods", "xlsx", "csv"])
def test_every_format_reads_back_exactly(tmp_path, fmt):
    path = tmp_path / f"Government_Grants_Register_2016_to_2017_SYNTH.{fmt}"
    summary = generate_register(path, N, seed=7)
    assert summary.rows == N and summary.bytes == path.stat().st_size

    read = read_grants(path)
    info = read.info
    assert (info["rows_read"], info["rows_accepted"], info["rows_rejected"]) == (N, N, 0)
    assert info["amount_in_gbp"] == pytest.approx(summary.amount_total_gbp, abs=0.005)
    assert info["amount_accepted_gbp"] == pytest.approx(summary.amount_total_gbp, abs=0.005)
    assert info["fy"] == "2016-17"
    assert info["n_redacted"] == summary.n_redacted
    assert info["n_aggregated"] == summary.n_aggregated
    assert info["n_zero_value"] == summary.n_zero
    assert read.awards["award_id"].str.startswith("SYNTH-GA-").all()
    assert (read.awards["description"] == LABEL).all()

    if fmt == "csv":
        table = pacsv.read_csv(path)
        assert table.column_names == HEADER and table.num_rows == N
        assert round(sum(table.column("Amount Awarded").to_pylist()), 2) == round(summary.amount_total_gbp, 2)
        return
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == ["Cover sheet", "Notes", "#Awards"]
    cover = book.get_sheet_by_name("Cover sheet").to_python()
    assert any(LABEL in str(cell) for row in cover for cell in row)
    rows = book.get_sheet_by_name("#Awards").to_python()
    assert LABEL in rows[0][0]  # the title rows above the header say so too
    assert rows[summary.header_row - 1] == HEADER
    body = rows[summary.header_row:]
    assert len(body) == N
    amounts = [float(str(r[4]).replace("£", "").replace(",", "")) for r in body]
    assert round(sum(amounts), 2) == round(summary.amount_total_gbp, 2)
    assert sum(isinstance(r[4], str) for r in body) == summary.n_text_amounts


def test_same_seed_same_bytes_other_seed_other_awards(tmp_path):
    for fmt in ("csv", "ods", "xlsx"):
        a = generate_register(tmp_path / f"a.{fmt}", 120, seed=3)
        b = generate_register(tmp_path / f"b.{fmt}", 120, seed=3)
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes()
        assert a.amount_total_gbp == b.amount_total_gbp
    c = generate_register(tmp_path / "c.csv", 120, seed=4)
    assert c.amount_total_gbp != a.amount_total_gbp


def test_content_is_realistic(tmp_path):
    path = tmp_path / "Government_Grants_Register_2016_to_2017_SYNTH.csv"
    summary = generate_register(path, 4000, seed=11)
    awards = read_grants(path).awards
    amount = awards["amount_gbp"]
    assert 0.62 <= (amount < 100_000).mean() <= 0.78  # about 70% under £100k
    assert amount.max() > 50 * amount.median()  # heavy tail
    assert 0.01 <= summary.n_redacted / 4000 <= 0.035
    assert 0.004 <= summary.n_aggregated / 4000 <= 0.02
    assert (awards.loc[awards["is_redacted"], "recipient_name"] == "Redacted").all()

    # Real councils, with their register org-ids and official names.
    councils = load_councils()
    to_council = awards[awards["recipient_id"].str.startswith("GB-LAE-").fillna(False)]
    assert 0.08 <= len(to_council) / 4000 <= 0.16
    official = dict(zip("GB-LAE-" + councils["register_code"], councils["official_name"], strict=True))
    assert (to_council["recipient_name"] == to_council["recipient_id"].map(official)).all()

    # Departments and schemes from the bundled 2016-17 scheme register.
    schemes = registers._schemes()
    assert set(awards["department_raw"]) <= set(schemes["department"])
    assert set(awards["scheme_code"].dropna()) <= set(schemes["code"])

    # Postcodes: from the directory, with each fault as counted.
    directory = set(directory_postcodes()[0])
    pc = awards["recipient_postcode"].dropna()
    counts = summary.postcodes
    assert (pc == "AA1 1AA").sum() == counts["placeholder"] > 0
    assert sum(p in directory for p in pc) == counts["valid"]
    o_for_zero = pc[pc.str.fullmatch(r"[A-Z0-9]{2,4} O[A-Z]{2}")]
    assert len(o_for_zero) == counts["o_for_zero"] > 0
    cut = pc[pc.str.fullmatch(r"[A-Z0-9]{2,4} [0-9][A-Z]")]
    assert len(cut) == counts["cut_off"]
    lower = pc[pc.str.fullmatch(r"[a-z0-9]{5,7}")]
    assert len(lower) == counts["lower_no_space"] > 0
    assert all(p.upper()[:-3] + " " + p.upper()[-3:] in directory for p in lower)


def test_command_line(tmp_path, capsys):
    out = tmp_path / "reg.xlsx"
    assert registers.main(["--rows", "50", "--seed", "2", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rows"] == 50 and printed["format"] == "xlsx" and printed["sheet"] == "#Awards"
    assert read_grants(out).info["rows_accepted"] == 50


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match=re.escape("format must be one of ods, xlsx, csv")):
        generate_register(tmp_path / "reg.xls", 10)
