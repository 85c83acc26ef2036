"""Sales-driven fleet: total sales follow a smooth path, the stock is what survives of them.

The history of total new-vehicle sales comes from data (IEA: EV sales / EV sales share),
gaps filled log-linearly; after the last history year sales grow at the scenario's
``vehicle_sales_growth`` rate, so that the path joins the history without a jump;
before the first model year they are extrapolated back at ``pre_history_growth`` to give
the vintages already on the road. The stock is the sum of surviving vintages:

    stock(t) = sum_{v <= t} sales(v) S(t - v)

so stock, retirements and the age structure are model results, not inputs, and

    stock(t) = stock(t-1) + sales(t) - retirements(t)

holds with ``retirements`` the vintages' decrements.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evflex.fleet.stock import initial_survivors
from evflex.paths import FloatArray


class FleetDataError(ValueError):
    """A (region, segment) cell without the data the fleet needs; the message names it."""


def fill_history(history: FloatArray, pre_growth: FloatArray) -> FloatArray:
    """Fill the gaps of a sales history, shape (..., T) [vehicles/year].

    Known values are kept; a gap between two known years is filled log-linearly (a
    constant growth rate); years before the first known one go back at ``pre_growth``
    [1/year, shape (...)]; years after the last known one are held at it (the projection
    replaces them). A series with no known value raises :class:`FleetDataError` with
    its flat index, for the caller to name.
    """
    out = np.array(history, dtype=float)
    flat = out.reshape(-1, out.shape[-1])
    growth = np.broadcast_to(pre_growth, out.shape[:-1]).reshape(-1)
    t = np.arange(out.shape[-1], dtype=float)
    for k, series in enumerate(flat):
        known = np.isfinite(series) & (series > 0)
        if not known.any():
            raise FleetDataError(str(k))
        xs = t[known]
        logs = np.interp(t, xs, np.log(series[known]))
        first = xs[0]
        before = t < first
        logs[before] = np.log(series[known][0]) - (first - t[before]) * np.log1p(growth[k])
        flat[k] = np.exp(logs)
    return out


def project_sales(history: FloatArray, growth: FloatArray, is_projection: NDArray[np.bool_]
                  ) -> FloatArray:
    """Total sales on the whole axis, shape (..., T) [vehicles/year].

    History where ``is_projection`` is false; after it, each year's sales are the year
    before times ``1 + growth`` [growth: 1/year, shape (..., T)]. ``history`` must be
    filled (:func:`fill_history`) up to the last history year.
    """
    is_projection = np.asarray(is_projection, dtype=bool)
    factor = np.where(is_projection, 1.0 + growth, 1.0)
    last = int(np.flatnonzero(~is_projection)[-1]) if (~is_projection).any() else None
    if last is None:
        raise FleetDataError("no history year")
    base = history[..., last:last + 1]
    cumulative = np.cumprod(factor, axis=-1)
    projected = base * cumulative / cumulative[..., last:last + 1]
    return np.where(is_projection, projected, np.broadcast_to(history, projected.shape))


def pre_history_cohorts(first_sales: FloatArray, pre_growth: FloatArray,
                        surv_age: FloatArray) -> FloatArray:
    r"""Vintages on the road at the end of the year before the first model year.

    The cohort of age ``a`` (sold ``a + 1`` years before the first model year) is
    :math:`c_a = s_0 (1+g)^{-(a+1)} S(a)` [vehicles], with :math:`s_0` the first model
    year's sales and :math:`g` the pre-history growth of sales; shape (..., A).
    """
    ages = np.arange(surv_age.shape[-1], dtype=float)
    sold = first_sales[..., None] * (1.0 + pre_growth[..., None]) ** (-(ages + 1.0))
    return sold * surv_age


def fleet_from_sales(sales: FloatArray, pre_growth: FloatArray, surv_age: FloatArray,
                     surv_matrix: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Stock and retirements of a fleet driven by its sales.

    Parameters
    ----------
    sales : array (..., T)
        Total new-vehicle sales [vehicles/year].
    pre_growth : array (...)
        Growth of sales before the first model year [1/year].
    surv_age : array (..., A)
        Survival by age [fraction].
    surv_matrix : array (..., T, T)
        ``M[v, t] = S(t - v)`` (:func:`evflex.fleet.survival.survival_matrix`).

    Returns
    -------
    stock, retirements : arrays (..., T)
        [vehicles], [vehicles/year]; ``stock(t) = stock(t-1) + sales(t) - retirements(t)``.
    stock_before : array (...)
        Stock at the end of the year before the first model year [vehicles].
    """
    cohorts = pre_history_cohorts(sales[..., 0], pre_growth, surv_age)
    n_years = sales.shape[-1]
    old = initial_survivors(cohorts, surv_age, n_years)
    stock = old + np.einsum("...v,...vt->...t", sales, surv_matrix)
    stock_before = cohorts.sum(axis=-1)
    previous = np.concatenate([stock_before[..., None], stock[..., :-1]], axis=-1)
    retirements = previous + sales - stock
    return stock, retirements, stock_before


def year_on_year_change(series: FloatArray) -> FloatArray:
    """Relative change from the year before, shape (..., T-1) [fraction]; 0 where 0 → 0."""
    prev, cur = series[..., :-1], series[..., 1:]
    safe = np.where(prev > 0, prev, 1.0)
    return np.where(prev > 0, cur / safe - 1.0, np.where(cur > 0, np.inf, 0.0))
