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
