"""Shapley values against closed forms, brute force over orders, and their axioms."""

from __future__ import annotations

import itertools
from math import factorial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evflex.store import shapley


def dividend_game(n: int, dividends: dict[int, np.ndarray]):  # type: ignore[no-untyped-def]
    """v(S) = sum of the Harsanyi dividends d_T of the subsets T of S (masks as ints).

    Its Shapley values have the closed form phi_i = sum over T holding i of d_T / |T|.
    """
    def value(sets: np.ndarray) -> np.ndarray:
        masks = (sets.astype(np.int64) << np.arange(n)).sum(axis=1)
        out = np.zeros((len(sets), *next(iter(dividends.values())).shape))
        for t, d in dividends.items():
            out[(masks & t) == t] += d
        return out

    closed = np.zeros((n, *next(iter(dividends.values())).shape))
    for t, d in dividends.items():
        members = [i for i in range(n) if t >> i & 1]
        for i in members:
            closed[i] += d / len(members)
    return value, closed


@st.composite
def games(draw, max_n: int = 6):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, max_n))
    subsets = draw(st.lists(st.integers(1, 2**n - 1), min_size=1, max_size=12, unique=True))
    values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    dividends = {t: np.array(draw(st.lists(values, min_size=2, max_size=2))) for t in subsets}
    return n, dividends


@settings(max_examples=150, deadline=None)
@given(games())
def test_exact_matches_the_closed_form_and_adds_up(game) -> None:  # type: ignore[no-untyped-def]
    n, dividends = game
    value, closed = dividend_game(n, dividends)
    result = shapley.exact(n, value)
    scale = 1 + sum(np.abs(d) for d in dividends.values())
    np.testing.assert_allclose(result.values, closed, rtol=0, atol=1e-9 * scale.max())
    # efficiency: the attributions add up to the whole change
    np.testing.assert_allclose(result.values.sum(axis=0), result.total, rtol=0,
                               atol=1e-9 * scale.max())
    np.testing.assert_allclose(result.total, sum(dividends.values()), rtol=0,
                               atol=1e-9 * scale.max())


@settings(max_examples=100, deadline=None)
@given(games(max_n=12), st.integers(2, 40), st.integers(0, 2**31))
def test_sampled_adds_up_for_any_sample(game, permutations: int,  # type: ignore[no-untyped-def]
                                        seed: int) -> None:
    n, dividends = game
    value, _ = dividend_game(n, dividends)
    result = shapley.sampled(n, value, permutations=permutations, seed=seed)
    scale = 1 + sum(np.abs(d) for d in dividends.values())
    np.testing.assert_allclose(result.values.sum(axis=0), result.total, rtol=0,
                               atol=1e-9 * scale.max())
    assert result.permutations is not None and result.permutations >= permutations
    assert result.permutations % 2 == 0  # antithetic pairs


@settings(max_examples=60, deadline=None)
@given(games(max_n=5))
def test_exact_equals_the_average_over_every_order(game) -> None:  # type: ignore[no-untyped-def]
    n, dividends = game
    value, _ = dividend_game(n, dividends)
    phi = np.zeros((n, 2))
    for order in itertools.permutations(range(n)):
        sets = np.zeros((n + 1, n), dtype=bool)
        for k, i in enumerate(order):
            sets[k + 1:, i] = True
        v = value(sets)
        for k, i in enumerate(order):
            phi[i] += v[k + 1] - v[k]
    phi /= factorial(n)
    np.testing.assert_allclose(shapley.exact(n, value).values, phi, rtol=1e-9, atol=1e-6)


def test_dummy_and_symmetric_players() -> None:
    # players 0 and 1 are interchangeable, player 2 never matters, player 3 interacts with 0
    def value(sets: np.ndarray) -> np.ndarray:
        a, b, _, d = sets.T.astype(float)
        return (3 * a + 3 * b + 5 * a * b + 2 * a * d)[:, None]

    result = shapley.exact(4, value)
    phi = result.values[:, 0]
    assert phi[2] == 0.0  # exactly, not a rounding residue
    assert phi[0] != phi[1]  # player 0 also shares the a*d term
    np.testing.assert_allclose(phi, [3 + 2.5 + 1, 3 + 2.5, 0, 1], rtol=1e-12)


def test_additive_game_sampled_is_exact() -> None:
    effects = np.array([1.5, -2.0, 0.25, 4.0, 0.0, -1.0, 3.0, 2.0, -0.5, 1.0])

    def value(sets: np.ndarray) -> np.ndarray:
        return (sets * effects).sum(axis=1, keepdims=True)

    result = shapley.sampled(len(effects), value, permutations=4, seed=3)
    np.testing.assert_allclose(result.values[:, 0], effects, rtol=1e-12, atol=1e-12)


def test_sampled_converges_to_exact() -> None:
    rng = np.random.default_rng(11)
    n = 9
    dividends = {int(t): rng.normal(size=2) for t in rng.choice(np.arange(1, 2**n), 40,
                                                                  replace=False)}
    value, closed = dividend_game(n, dividends)
    few = shapley.sampled(n, value, permutations=16, seed=1)
    many = shapley.sampled(n, value, permutations=4000, seed=1)
    err_few = np.abs(few.values - closed).max()
    err_many = np.abs(many.values - closed).max()
    assert err_many < 0.05 * np.abs(closed).max()
    assert err_many < err_few
    # seeded: the same seed gives the same estimate
    again = shapley.sampled(n, value, permutations=16, seed=1)
    np.testing.assert_array_equal(few.values, again.values)


def test_dispatch_and_bad_input() -> None:
    def value(sets: np.ndarray) -> np.ndarray:
        return sets.sum(axis=1, keepdims=True).astype(float)

    assert shapley.shapley(3, value, exact_max=3).method == "exact"
    assert shapley.shapley(4, value, exact_max=3, permutations=8).method == "sampled"
    assert shapley.exact(3, value).evaluations == 8
    with pytest.raises(ValueError, match=r"players: need at least one \(got 0"):
        shapley.exact(0, value)
    with pytest.raises(ValueError, match=r"permutations: too few \(got 1"):
        shapley.sampled(3, value, permutations=1)
    with pytest.raises(ValueError, match=r"value: one row per coalition"):
        shapley.exact(2, lambda sets: np.zeros((1, 1)))
