"""Closed-form cases of the stock-flow model and survival curves."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

import evflex.fleet.consistency
import evflex.fleet.stock
import evflex.fleet.survival
import evflex.paths
from evflex.fleet.stock import retirements_from_stock, sales_from_stock, vintage_stock
from evflex.fleet.survival import survival_by_age, survival_matrix, weibull_survival


@pytest.mark.parametrize("module", [evflex.paths, evflex.fleet.survival, evflex.fleet.stock,
                                    evflex.fleet.consistency])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0


@pytest.mark.parametrize(("mean", "shape"), [(15.0, 2.0), (20.0, 3.0), (8.0, 1.2)])
def test_weibull_mean_life_is_the_mean(mean: float, shape: float) -> None:
    # The mean of a lifetime distribution is the integral of its survival function.
    integral, _ = integrate.quad(lambda a: float(weibull_survival(np.array([a]), mean, shape)[0]),
                                 0, np.inf)
    assert integral == pytest.approx(mean, rel=1e-6)


def test_constant_stock_gives_constant_sales() -> None:
    # A stationary stock N with stationary ages needs N / sum_a S(a) new vehicles a year.
    surv = survival_by_age(np.array([15.0]), np.array([3.0]), 60)
    stock = np.full((1, 40), 1e6)
    sales, retirements, realised, before = sales_from_stock(stock, surv, np.array([0.0]))
    expected = 1e6 / surv.sum()
    np.testing.assert_allclose(sales, expected, rtol=1e-12)
    np.testing.assert_allclose(retirements, expected, rtol=1e-12)
    np.testing.assert_allclose(realised, stock, rtol=1e-12)
    assert before[0] == pytest.approx(1e6)


def test_stock_growing_at_the_pre_history_rate_has_sales_growing_at_that_rate() -> None:
    g = 0.04
    surv = survival_by_age(np.array([12.0]), np.array([2.5]), 60)
    stock = 1e6 * (1 + g) ** np.arange(30)[None, :]
    sales, _, realised, _ = sales_from_stock(stock, surv, np.array([g]))
    np.testing.assert_allclose(sales[0, 1:] / sales[0, :-1], 1 + g, rtol=1e-10)
    # and the first year's sales follow the closed form of a geometric age structure
    ages = np.arange(surv.shape[-1])
    weights = surv[0] * (1 + g) ** (-ages.astype(float))
    assert sales[0, 0] == pytest.approx(1e6 / weights.sum(), rel=1e-10)
    np.testing.assert_allclose(realised, stock, rtol=1e-12)


def test_single_vintage_decays_along_the_survival_curve() -> None:
    surv = survival_by_age(np.array([[10.0]]), np.array([[2.0]]), 30)
    n = 25
    matrix = survival_matrix(surv, n)
    sales = np.zeros((1, 1, 1, n))
    sales[..., 5] = 1000.0
    stock = vintage_stock(sales, matrix)[0, 0, 0]
    assert np.all(stock[:5] == 0)
    np.testing.assert_allclose(stock[5:], 1000.0 * surv[0, 0, : n - 5], rtol=1e-12)
    # retirements reconcile and are the survival curve's decrements
    ret = retirements_from_stock(sales, vintage_stock(sales, matrix))[0, 0, 0]
    np.testing.assert_allclose(ret[6:], 1000.0 * -np.diff(surv[0, 0, : n - 5]), rtol=1e-9,
                               atol=1e-9)


def test_falling_stock_path_is_not_forced_below_survivors() -> None:
    surv = survival_by_age(np.array([30.0]), np.array([3.0]), 80)
    stock = np.array([[1e6, 1e6, 5e5, 5e5]])  # halves in a year: retirements cannot do that
    sales, _, realised, _ = sales_from_stock(stock, surv, np.array([0.0]))
    assert sales[0, 2] == 0.0
    assert realised[0, 2] > stock[0, 2]


@settings(max_examples=60, deadline=None)
@given(
    mean=st.floats(3.0, 40.0), shape=st.floats(0.8, 6.0), growth=st.floats(-0.05, 0.2),
    levels=st.lists(st.floats(1e3, 1e8), min_size=2, max_size=30),
)
def test_stock_reconciles_for_any_path(mean: float, shape: float, growth: float,
                                       levels: list[float]) -> None:
    surv = survival_by_age(np.array([mean]), np.array([shape]), 60)
    stock = np.array([levels])
    sales, retirements, realised, before = sales_from_stock(stock, surv, np.array([growth]))
    previous = np.concatenate([before[:, None], realised[:, :-1]], axis=1)
    np.testing.assert_allclose(realised, previous + sales - retirements, rtol=1e-9, atol=1e-6)
    assert np.all(sales >= 0)
    assert np.all(retirements >= -1e-6 * realised.max())
    assert np.all(realised >= stock * (1 - 1e-12))


@settings(max_examples=40, deadline=None)
@given(mean=st.floats(3.0, 40.0), first=st.integers(0, 11), stock0=st.floats(0.0, 1e7),
       sales=st.lists(st.floats(0.0, 1e6), min_size=12, max_size=12))
def test_anchor_carries_the_first_reported_stock_and_leaves_later_vintages(
        mean: float, first: int, stock0: float, sales: list[float]) -> None:
    from evflex.fleet.stock import anchor_initial_stock

    surv = survival_by_age(np.array([[[mean]]]), np.array([[[2.5]]]), 60)[:, :, 0]
    matrix = survival_matrix(surv, 12)  # (1, 1, V, T)
    kept = np.array(sales)[None, None, None, :]
    out = anchor_initial_stock(kept, np.array([[[stock0]]]), np.array([[[first]]]), matrix)
    np.testing.assert_array_equal(out[..., first + 1:], kept[..., first + 1:])
    at_first = vintage_stock(np.where(np.arange(12) <= first, out, 0.0), matrix)[..., first]
    if stock0 > 0:  # holds by construction: the stock of y0 is the data point
        assert at_first.item() == pytest.approx(stock0, rel=1e-9)
    else:  # no reported stock: nothing changes
        np.testing.assert_array_equal(out, kept)


@settings(max_examples=40, deadline=None)
@given(stock=st.lists(st.floats(1e2, 1e6), min_size=3, max_size=6),
       sales=st.lists(st.floats(0.0, 1e6), min_size=6, max_size=6))
def test_steady_trade_bound_is_the_best_of_any_steady_trade(stock: list[float],
                                                            sales: list[float]) -> None:
    """The linear programme's bound is never beaten by any (starting stock, share) on a
    grid, and the grid comes close to it: the proof of an inconsistency is the optimum."""
    from evflex.fleet.consistency import best_steady_trade_error

    s = np.array(stock)
    c = np.cumsum(np.array(sales[: len(s)]))
    bound = best_steady_trade_error(s, np.array(sales[: len(s)]))
    a = np.linspace(-3.0, 3.0, 601)[:, None, None]
    s0 = np.linspace(-2.0, 2.0, 401)[None, :, None] * s.max()
    grid = (np.abs(s0 + a * c - s) / s).max(axis=-1)
    assert grid.min() >= bound - 1e-9
    # and the programme's own (starting stock, share) reaches it
    from evflex.fleet.consistency import chebyshev_fit

    (s0_best, a_best), err = chebyshev_fit(np.stack([np.ones_like(c), c], axis=-1), s, s)
    assert err == pytest.approx(bound)
    assert float((np.abs(s0_best + a_best * c - s) / s).max()) == pytest.approx(bound, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(stock=st.lists(st.floats(1e2, 1e6), min_size=3, max_size=7),
       sales=st.lists(st.floats(0.0, 1.5), min_size=7, max_size=7),
       max_change=st.floats(0.0, 0.5), max_retirement=st.floats(0.0, 0.1),
       seed=st.integers(0, 2**32 - 1))
def test_varying_trade_bound_is_reached_and_never_beaten(
        stock: list[float], sales: list[float], max_change: float, max_retirement: float,
        seed: int) -> None:
    """The programme's model is of the class and reaches its bound; no model of the class
    drawn at random beats it; a wider class never does worse; with the class narrowed to
    steady trade and no retirement it is the steady-trade bound.

    Sales are whole vehicles, each year at most 1.5 times the largest stock of the
    window, as in any EV series (a year's sales join its stock). Beyond that, with sales
    of a million against stocks of a hundred, HiGHS's tolerances move the two programmes
    apart by up to 0.005 (found by this test before the bound on sales)."""
    from evflex.fleet.consistency import best_steady_trade_error, best_varying_trade

    s = np.array(stock)
    q = np.round(np.array(sales[: len(stock)]) * s.max())
    fit = best_varying_trade(s, q, max_change, max_retirement)
    # the returned model: the recurrence, the slow change, the retirement bound, the error;
    # vehicle counts within the solver's tolerance in units of the largest stock
    unit = float(s.max())
    np.testing.assert_allclose(fit.stock[1:], fit.stock[:-1] + fit.share[1:] * q[1:]
                               - fit.retirements[1:], rtol=1e-6, atol=1e-6 * unit)
    assert (np.abs(np.diff(fit.share[1:])) <= max_change + 1e-7).all()
    assert (fit.retirements >= -1e-6 * unit).all()
    assert (fit.retirements[1:] <= max_retirement * np.abs(fit.stock[:-1])
            + 1e-6 * unit).all()
    assert float((np.abs(fit.stock - s) / s).max()) == pytest.approx(fit.error, abs=1e-6)
    # random members of the class around the optimum never beat it
    rng = np.random.default_rng(seed)
    for _ in range(200):
        share = fit.share[1] + rng.uniform(-1, 1) + np.cumsum(
            rng.uniform(-max_change, max_change, len(s) - 1)) - rng.uniform(-max_change, 0)
        model = [fit.stock[0] * rng.uniform(0.5, 1.5)]
        for t in range(1, len(s)):
            retire = rng.uniform(0, max_retirement) * max(model[-1], 0.0)
            model.append(model[-1] + share[t - 1] * q[t] - retire)
        assert float((np.abs(np.array(model) - s) / s).max()) >= fit.error - 1e-7
    assert best_varying_trade(s, q, max_change + 0.1, max_retirement + 0.05).error \
        <= fit.error + 1e-7
    # two programmes, each within HiGHS's tolerances (gaps of 1.0000004e-7 and 1.0002e-6
    # were found at errors near 1 with stocks spanning four orders of magnitude)
    assert best_varying_trade(s, q, 0.0).error == pytest.approx(best_steady_trade_error(s, q),
                                                                abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(sales=st.lists(st.floats(1e2, 1e6), min_size=4, max_size=9),
       survival=st.floats(0.80, 1.0), max_change=st.floats(0.0, 0.3),
       tolerance=st.floats(0.0, 0.1), noise=st.floats(0.0, 0.3),
       seed=st.integers(0, 2**32 - 1))
def test_trade_calibration_is_of_its_class_and_reaches_its_bound(
        sales: list[float], survival: float, max_change: float, tolerance: float,
        noise: float, seed: int) -> None:
    """:func:`evflex.fleet.trade.calibrate` on vintage stocks: its path is of the class
    (slow change, bounds), holds the last year exactly, stays within max(bound,
    tolerance); a target made by a path of the class is reached with a zero bound; and no
    path of the class drawn at random beats the bound on a noisy target."""
    from evflex.fleet.trade import SHARE_BOUNDS, calibrate

    rng = np.random.default_rng(seed)
    q = np.array(sales)
    n = len(q)
    age = np.subtract.outer(np.arange(n), np.arange(n))  # year - vintage
    slope = np.where(age >= 0, q[None, :] * survival ** np.maximum(age, 0), 0.0)
    base = slope.sum(axis=1)

    def in_class() -> np.ndarray:
        start = rng.uniform(-0.5, 0.5)
        return np.clip(start + np.r_[0.0, np.cumsum(rng.uniform(-max_change, max_change,
                                                                n - 1))], *SHARE_BOUNDS)

    exact = base - slope @ in_class()
    made = calibrate(base, slope, exact, max_change, tolerance)
    assert made is not None and made.best_error < 1e-6
    target = exact * (1 + rng.uniform(-noise, noise, n))
    fit = calibrate(base, slope, target, max_change, tolerance)
    assert fit is not None
    assert (np.abs(np.diff(fit.share)) <= max_change + 1e-7).all()
    assert (fit.share >= SHARE_BOUNDS[0] - 1e-9).all()
    assert (fit.share <= SHARE_BOUNDS[1] + 1e-9).all()
    np.testing.assert_allclose(fit.stock, base - slope @ fit.share)
    assert fit.stock[-1] == pytest.approx(target[-1], rel=1e-6)
    assert fit.error <= max(fit.best_error + 1e-4, tolerance) + 1e-6
    assert fit.error >= fit.best_error - 1e-6
    for _ in range(100):
        share = in_class()
        # a constant shift that holds the last year (the class's equality)
        share += ((base - slope @ share)[-1] - target[-1]) / slope[-1].sum()
        model = base - slope @ share
        assert model[-1] == pytest.approx(target[-1], rel=1e-9)
        if (share < SHARE_BOUNDS[0]).any() or (share > SHARE_BOUNDS[1]).any():
            continue
        assert float(np.abs(model / target - 1).max()) >= fit.best_error - 1e-6
