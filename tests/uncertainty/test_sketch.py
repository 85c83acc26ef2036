"""The quantile sketch: close to exact quantiles, exact when small, mergeable in any order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evflex.uncertainty.sketch import QUANTILES, Edges, Sketch


def _sketch(values: np.ndarray, pilot: int, chunk: int) -> Sketch:
    edges = Edges.from_pilot(values[:pilot])
    sketch = Sketch.of(values[:pilot], edges)
    for start in range(pilot, len(values), chunk):
        sketch = sketch.merge(Sketch.of(values[start:start + chunk], edges))
    return sketch


def test_sketch_matches_exact_quantiles_within_a_bin() -> None:
    rng = np.random.default_rng(0)
    n = 30_000
    values = np.column_stack([
        rng.normal(0, 1, n), rng.uniform(0, 1, n), rng.lognormal(0, 1, n), np.zeros(n),
        rng.beta(0.3, 0.3, n), np.r_[np.zeros(n - 2000), rng.uniform(1, 2, 2000)],
        np.linspace(5, 6, n)[rng.permutation(n)],  # tails beyond the pilot's range
    ])
    values[1000:, 6] += 10 * (rng.random(n - 1000) < 0.01)  # outliers after the pilot
    sketch = _sketch(values, 1000, 1700)
    exact = np.quantile(values, QUANTILES, axis=0)
    got = sketch.quantiles()
    width = sketch.edges.width
    assert np.all(np.abs(got - exact) <= width + 1e-12), (got - exact, width)
    assert np.all(np.diff(got, axis=0) >= 0)
    assert got[:, 3].tolist() == [0.0] * len(QUANTILES)  # a constant cell stays exact


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 400), st.integers(1, 97), st.integers(0, 2**32 - 1))
def test_chunking_does_not_change_the_sketch(n: int, chunk: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n + 50, 3)) * [1, 10, 0.1]
    a = _sketch(values, 50, chunk)
    b = _sketch(values, 50, n + 50)
    assert np.array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.quantiles(), b.quantiles())


def test_a_run_within_the_pilot_is_exact() -> None:
    values = np.random.default_rng(1).standard_normal((300, 4))
    sketch = Sketch.of(values, Edges.from_pilot(values), keep_exact=True)
    np.testing.assert_array_equal(sketch.quantiles(), np.quantile(values, QUANTILES, axis=0))
