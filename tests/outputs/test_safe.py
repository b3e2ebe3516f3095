import pandas as pd

from spendmap.outputs.safe import neutralise_formula, neutralise_frame, slugify, unique_slugs


def test_formula_prefixes_neutralised_numbers_kept():
    df = pd.DataFrame(
        {
            "name": ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "Plain", None],
            "amount": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    out = neutralise_frame(df)
    assert out["name"].tolist()[:5] == ['\'=HYPERLINK("x")', "'+1", "'-2", "'@SUM(A1)", "Plain"]
    assert pd.isna(out["name"].iloc[5])
    assert out["amount"].tolist() == df["amount"].tolist()  # numbers stay numbers, negatives too
    assert neutralise_formula("=1+1") == "'=1+1" and neutralise_formula(-3) == -3


def test_slugs_are_safe_bounded_and_unique():
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("Newcastle upon Tyne") == "newcastle-upon-tyne"
    assert slugify("Ynys Môn") == "ynys-mon"
    assert slugify("<script>") == "script" and slugify("///") == "unnamed"
    long = slugify("x" * 500)
    assert len(long) == 60
    slugs = unique_slugs(["Same", "same", "SAME!", "x" * 500, "x" * 501])
    assert len(set(slugs)) == 5 and all(len(s) <= 60 and "/" not in s and ".." not in s for s in slugs)
