"""The explorer's JSON numbers: vectorised rounding equals the decimal text it replaces."""

from __future__ import annotations

import math

import numpy as np

from evflex.web.view import _finite


def test_rounding_matches_formatted_text_on_random_and_edge_values() -> None:
    rng = np.random.default_rng(16)
    values = np.concatenate([
        rng.lognormal(0.0, 12.0, 20_000) * rng.choice([-1.0, 1.0], 20_000),
        [0.0, -0.0, 1e-300, 5e-324, 1.5e308, 123456.5, 0.1234565, 1e22, 1e-22, 9.9999995],
    ])
    for digits in (6, 9):
        expected = [float(f"{v:.{digits}g}") for v in values]
        assert _finite(values, digits) == expected


def test_non_finite_values_become_null() -> None:
    out = _finite([1.0, math.nan, math.inf, -math.inf, 2.5])
    assert out == [1.0, None, None, None, 2.5]
