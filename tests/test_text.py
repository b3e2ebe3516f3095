"""spendmap.text: the distinct-value helpers every transform shares."""

import numpy as np

from spendmap.text import distinct_combos


def test_distinct_combos_match_numpy_unique_rows():
    """The int64-key shortcut gives exactly np.unique(axis=0)'s rows and inverse, in the same order."""
    rng = np.random.default_rng(3)
    for n_cols, high in ((1, 5), (2, 40), (2, 1), (3, 7)):
        columns = [rng.integers(0, high, size=500) for _ in range(n_cols)]
        combos, inverse = distinct_combos(columns)
        want, want_inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
        assert np.array_equal(combos, want) and np.array_equal(inverse, want_inverse.reshape(-1))


def test_on_distinct_rows_calls_once_per_distinct_row_and_maps_back():
    """fn sees each distinct row once (a missing value is one value), every row gets its row's answer."""
    import pandas as pd

    from spendmap.text import on_distinct_rows

    frame = pd.DataFrame({"a": ["x", "y", "x", None, None, "x"], "b": ["1", "1", "1", "2", "2", "2"]},
                         index=[10, 11, 12, 13, 14, 15])
    seen = []

    def joined(rows: pd.DataFrame) -> pd.Series:
        seen.append(len(rows))
        return rows["a"].fillna("-") + rows["b"]

    out = on_distinct_rows(frame, joined)
    assert seen == [4]
    assert out.tolist() == ["x1", "y1", "x1", "-2", "-2", "x2"] and out.index.tolist() == frame.index.tolist()
    assert on_distinct_rows(frame.iloc[:0], joined).empty
