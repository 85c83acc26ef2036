"""Stock-flow building blocks: EV stock by vintage, and sales from a given stock path.

The engine drives the fleet by sales (:mod:`evflex.fleet.sales`);
:func:`sales_from_stock` is the inverse (sales that carry a stock along a path, given the
survivors of earlier sales and of the initial stock), kept for analyses that start from a
stock, so that

    stock(t) = stock(t-1) + sales(t) - retirements(t)

holds exactly. EV stock is the sum over vintages of EV sales times survival.
"""

from __future__ import annotations

import numpy as np

from evflex.paths import FloatArray


def initial_cohorts(stock0: FloatArray, surv_age: FloatArray, growth: FloatArray) -> FloatArray:
    r"""Age structure of the stock before the first model year [vehicles by age].

    Cohort :math:`c_a \propto S(a)\,(1+g)^{-a}`, the stationary structure of a stock that
    grew at rate :math:`g` per year, scaled so that :math:`\sum_a c_a` = ``stock0``.

    Parameters
    ----------
    stock0 : array (...)
        Stock at the end of the year before the first model year [vehicles].
    surv_age : array (..., A)
        Survival at ages 0..A-1 [fraction].
    growth : array (...)
        Annual stock growth before the first model year [1/year].
    """
    ages = np.arange(surv_age.shape[-1], dtype=float)
    weight = surv_age * (1.0 + growth[..., None]) ** (-ages)
    return stock0[..., None] * weight / weight.sum(axis=-1, keepdims=True)


def initial_survivors(cohorts: FloatArray, surv_age: FloatArray, n_years: int) -> FloatArray:
    """Survivors of the initial cohorts at the end of each model year, shape (..., n_years).

    A cohort of age ``a`` before the first year is of age ``a + 1 + i`` at year index ``i``;
    its survivors are ``c_a S(a + 1 + i) / S(a)``.
    """
    n_age = surv_age.shape[-1]
    padded = np.concatenate([surv_age, np.zeros((*surv_age.shape[:-1], n_years + 1))], axis=-1)
    out = np.zeros((*cohorts.shape[:-1], n_years))
    safe = np.where(surv_age > 0, surv_age, 1.0)
    rate = np.where(surv_age > 0, cohorts / safe, 0.0)  # c_a / S(a)
    for i in range(n_years):
        out[..., i] = (rate * padded[..., 1 + i: 1 + i + n_age]).sum(axis=-1)
    return out


def sales_from_stock(stock: FloatArray, surv_age: FloatArray,
                     growth: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Sales and retirements that carry the stock along its path.

    Parameters
    ----------
    stock : array (..., T)
        Target stock at the end of each year [vehicles].
    surv_age : array (..., A)
        Survival by age [fraction].
    growth : array (...)
        Stock growth before the first year, for the initial age structure [1/year].

    Returns
    -------
    sales, retirements, realised_stock : arrays (..., T)
        [vehicles/year], [vehicles/year], [vehicles]. ``realised_stock`` equals ``stock``
        unless the path falls faster than retirements allow (sales would be negative);
        then sales are 0 and the realised stock stays above the path.
    stock_before : array (...)
        Stock at the end of the year before the first [vehicles].
    """
    n_years = stock.shape[-1]
    stock_before = stock[..., 0] / (1.0 + growth)
    cohorts = initial_cohorts(stock_before, surv_age, growth)
    survivors = initial_survivors(cohorts, surv_age, n_years)
    n_age = surv_age.shape[-1]
    sales = np.zeros(np.broadcast_shapes(stock.shape, survivors.shape))
    for i in range(n_years):
        if i:
            lags = np.arange(i, 0, -1)  # i - j for j = 0..i-1
            s = np.where(lags < n_age, surv_age[..., np.minimum(lags, n_age - 1)], 0.0)
            survivors[..., i] += (sales[..., :i] * s).sum(axis=-1)
        sales[..., i] = np.maximum(stock[..., i] - survivors[..., i], 0.0)
    realised = survivors + sales
    before = np.broadcast_to(stock_before[..., None], (*realised.shape[:-1], 1))
    previous = np.concatenate([before, realised[..., :-1]], axis=-1)
    retirements = previous + sales - realised
    return sales, retirements, realised, stock_before


def vintage_stock(sales_by_vintage: FloatArray, surv_matrix: FloatArray) -> FloatArray:
    """Stock by year from sales by vintage: ``sum_v sales[v] M[v, t]`` [vehicles].

    ``sales_by_vintage`` has shape (..., R, S, P, V) and ``surv_matrix`` (..., R, S, V, T);
    leading axes (e.g. draws) broadcast.
    """
    return np.einsum("...pv,...vt->...pt", sales_by_vintage, surv_matrix)


def retirements_from_stock(sales: FloatArray, stock: FloatArray) -> FloatArray:
    """Retirements that reconcile a stock series with its sales [vehicles/year].

    ``retirements(t) = stock(t-1) + sales(t) - stock(t)``, with ``stock(-1) = 0``
    (no EVs before the first model year).
    """
    previous = np.concatenate([np.zeros((*stock.shape[:-1], 1)), stock[..., :-1]], axis=-1)
    return previous + sales - stock


def anchor_initial_stock(kept: FloatArray, first_stock: FloatArray, first_index: FloatArray,
                         surv_matrix: FloatArray) -> FloatArray:
    """Vintages up to the first year a stock is reported, scaled to carry that stock.

    The IEA reports a country's stock from some year ``y0`` on, and its sales often from
    earlier: the sales before ``y0`` need not add up to the stock of ``y0`` (cars
    imported used, or sold but never counted in the stock). The stock of ``y0`` is taken
    as a data point: every vintage up to ``y0`` is multiplied by one factor per (region,
    segment, powertrain) so that its survivors at the end of ``y0`` equal ``first_stock``;
    the vintages keep the shape of their sales (the stated rule). Where no sales precede
    a reported stock, the whole of it is vintage ``y0``. Vintages after ``y0`` are
    untouched, so the stock after ``y0`` stays a model result.

    Parameters
    ----------
    kept : array (..., R, S, P, T)
        Sales that stay in the region, by vintage [vehicles/year].
    first_stock : array (R, S, P)
        Stock at the end of ``y0`` [vehicles]; 0 where no stock is reported (no change).
    first_index : int array (R, S, P)
        Index of ``y0`` on the year axis.
    surv_matrix : array (..., R, S, T, T)
        ``M[v, t] = S(t - v)``.

    Examples
    --------
    >>> m = np.triu(np.ones((3, 3)))[None, None]  # no retirement
    >>> kept = np.array([[[[10.0, 10.0, 5.0]]]])
    >>> anchor_initial_stock(kept, np.array([[[40.0]]]), np.array([[[1]]]), m).tolist()
    [[[[20.0, 20.0, 5.0]]]]
    """
    n_years = kept.shape[-1]
    idx = np.asarray(first_index, dtype=int)
    upto = np.arange(n_years) <= idx[..., None]  # (R, S, P, T)
    early = np.where(upto, kept, 0.0)
    at_first = np.take_along_axis(vintage_stock(early, surv_matrix),
                                  np.broadcast_to(idx[..., None], (*early.shape[:-1], 1)),
                                  axis=-1)[..., 0]
    has_stock = first_stock > 0
    factor = np.where(has_stock & (at_first > 0),
                      first_stock / np.where(at_first > 0, at_first, 1.0), 1.0)
    scaled = np.where(upto, kept * factor[..., None], kept)
    # no sales before a reported stock: the stock is the vintage of its first year
    lone = has_stock & ~(at_first > 0)
    at_y0 = np.arange(n_years) == idx[..., None]
    return np.where(lone[..., None] & at_y0, first_stock[..., None], scaled)
