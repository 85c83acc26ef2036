"""Whether the IEA's stock and sales series of one region can agree at all.

A stock model driven by sales, whatever its starting stock and however many used cars
cross the border, gives ``stock(t) = stock0 + a * cumulated sales(t)`` as long as the
net trade is a steady share of new sales (``a = 1 -`` the net export share) and the
young EV fleet barely retires. :func:`best_steady_trade_error` finds, by a linear
programme (SciPy/HiGHS), the smallest worst-year relative error any such model reaches
against the IEA stock over some years: if even that exceeds a tolerance, no honest
stock model with steady trade can meet it there, and the IEA's own stock and sales
series disagree in those years (a one-year spike later reversed, or a stock that grows
by more or less than any steady trade explains).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from evflex.paths import FloatArray


def chebyshev_fit(basis: FloatArray, target: FloatArray, scale: FloatArray
                  ) -> tuple[FloatArray, float]:
    """``x`` that minimises ``max_t |basis[t] @ x - target[t]| / scale[t]``, and that error.

    ``basis`` has shape (T, K); a linear programme (SciPy's HiGHS), no bounds on ``x``.
    """
    n = basis.shape[1]
    # rows divided by their scale and columns by their largest entry: vehicle counts of
    # 1e6 would otherwise leave HiGHS's tolerances about 1e-4 off the optimum
    rows = basis / scale[:, None]
    cols = np.abs(rows).max(axis=0)
    cols[cols == 0] = 1.0
    rows = rows / cols
    ones = np.ones((len(scale), 1))
    a_ub = np.block([[rows, -ones], [-rows, -ones]])
    b_ub = np.concatenate([target / scale, -target / scale])
    res = linprog(np.r_[np.zeros(n), 1.0], A_ub=a_ub, b_ub=b_ub,
                  bounds=[(None, None)] * n + [(0.0, None)], method="highs")
    return np.asarray(res.x[:n], dtype=float) / cols, float(res.fun)


def best_steady_trade_error(stock: FloatArray, sales: FloatArray) -> float:
    """Smallest ``max_t |stock0 + a C(t) - stock(t)| / stock(t)`` over any ``stock0, a``.

    ``stock`` and ``sales`` are the IEA's series over consecutive years [vehicles],
    ``C`` the sales cumulated after the first of them. Both free: ``a`` of any sign and
    size (any steady net trade), ``stock0`` any number (any starting stock).

    Examples
    --------
    >>> round(best_steady_trade_error(np.array([100.0, 150.0, 200.0]),
    ...                               np.array([40.0, 50.0, 50.0])), 9)
    0.0
    >>> best_steady_trade_error(np.array([100.0, 200.0, 210.0]),
    ...                         np.array([50.0, 50.0, 50.0])) > 0.1
    True
    """
    # cumulated from the second year: the same class (the first year's sales fold into
    # stock0), but a basis that stays well conditioned when later sales are tiny beside
    # the first year's (1e6 then 6: HiGHS missed the optimum by 0.04 with the plain sum)
    cumulated = np.cumsum(sales) - sales[0]
    basis = np.stack([np.ones_like(cumulated), cumulated], axis=-1)
    return chebyshev_fit(basis, stock, stock)[1]


#: Yearly change of the net trade share in the slow-trade class [share of new sales a
#: year]. Assumption, no wider than the sourced shares move: the Netherlands' and
#: Finland's by 0.09 a year (CBS 2019-2022, Traficom 2018-2022, countries.yaml); only
#: Germany's jump to 0.18 when its resale rules changed (Schmidt 2023) is faster.
SLOW_TRADE_CHANGE = 0.10


class VaryingTrade(NamedTuple):
    """The best stock model of :func:`best_varying_trade`: its worst relative error, and
    per year its stock, net inflow share of new sales and retirements [vehicles]."""

    error: float
    stock: FloatArray
    share: FloatArray
    retirements: FloatArray


def best_varying_trade(stock: FloatArray, sales: FloatArray, max_change: float,
                       max_retirement: float = 0.0) -> VaryingTrade:
    """The stock model closest to the IEA ``stock`` when net trade may change slowly.

    Model class: ``m(t) = m(t-1) + a(t) sales(t) - R(t)`` from any starting stock
    ``m(0)``, with a net inflow share ``a(t)`` of new sales (1: no trade; below 1, net
    exports; above, net used imports) of any sign and size that changes by at most
    ``max_change`` from one year to the next, and retirements ``0 <= R(t) <=
    max_retirement * m(t-1)``. A linear programme (SciPy/HiGHS) minimises the worst
    relative error ``max_t |m(t) - stock(t)| / stock(t)``; ``max_change = 0`` and
    ``max_retirement = 0`` is :func:`best_steady_trade_error`. An error within a
    tolerance is a certificate that the IEA's stock and sales agree that well under that
    class (the returned model is one); above it, no model of the class agrees.

    Examples
    --------
    >>> fit = best_varying_trade(np.array([100.0, 150.0, 260.0]),
    ...                          np.array([40.0, 50.0, 100.0]), max_change=0.1)
    >>> round(fit.error, 9), np.round(fit.share[1:], 3).tolist()
    (0.0, [1.0, 1.1])
    """
    unit = float(np.max(stock))  # solved in units of the largest stock (see chebyshev_fit)
    stock, sales = stock / unit, sales / unit
    n_years = len(stock)
    steps = n_years - 1
    # variables: m(0..T-1), a(1..T-1), R(1..T-1), e
    m, a, r, e = 0, n_years, n_years + steps, n_years + 2 * steps
    eye, shift = np.eye(n_years), np.eye(n_years, k=-1)
    zeros = np.zeros((steps, steps))
    a_eq = np.hstack([(eye - shift)[1:], -np.diag(sales[1:]), np.eye(steps),
                      np.zeros((steps, 1))])
    retire = np.hstack([-max_retirement * shift[1:], zeros, np.eye(steps), np.zeros((steps, 1))])
    change = np.diff(np.eye(steps), axis=0)  # a(t) - a(t-1)
    pad = np.zeros((steps - 1, n_years))
    slow = np.hstack([pad, change, zeros[:-1], np.zeros((steps - 1, 1))])
    rel = np.hstack([eye / stock[:, None], np.zeros((n_years, 2 * steps)), -np.ones((n_years, 1))])
    rel_low = rel.copy()
    rel_low[:, : n_years] *= -1
    a_ub = np.vstack([retire, slow, -slow, rel, rel_low])
    b_ub = np.concatenate([np.zeros(steps), np.full(2 * (steps - 1), max_change),
                           np.ones(n_years), -np.ones(n_years)])
    bounds = [(None, None)] * (n_years + steps) + [(0.0, None)] * (steps + 1)
    res = linprog(np.eye(e + 1)[e], A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.zeros(steps),
                  bounds=bounds, method="highs")
    x = np.asarray(res.x, dtype=float)
    return VaryingTrade(float(res.fun), x[m:a] * unit, np.r_[np.nan, x[a:r]],
                        np.r_[0.0, x[r:e]] * unit)


def inconsistent_windows(stock: pd.Series, sales: pd.Series, years: list[int],
                         tolerance: float, width: int = 3) -> list[tuple[int, float]]:
    """Windows of ``width`` consecutive years that no steady-trade model fits.

    ``stock`` and ``sales`` are indexed by year [vehicles]. Returns ``(first year of the
    window, best reachable worst error)`` where that error exceeds ``tolerance`` (see
    :func:`best_steady_trade_error`); windows with a missing stock are skipped.
    """
    out = []
    for first in years[: len(years) - width + 1]:
        span = list(range(first, first + width))
        s = stock.reindex(span).to_numpy(dtype=float)
        if not (np.isfinite(s).all() and (s > 0).all()):
            continue
        error = best_steady_trade_error(s, sales.reindex(span).fillna(0.0).to_numpy(dtype=float))
        if error > tolerance:
            out.append((first, error))
    return out


def diagnose(stock: pd.DataFrame, sales: pd.DataFrame, regions: list[str],
             years: list[int], tolerance: float = 0.10,
             max_change: float = SLOW_TRADE_CHANGE) -> pd.DataFrame:
    """What the IEA's own series say about each region's stock and sales.

    ``stock`` and ``sales`` by region (rows) and year (columns) [vehicles]. Columns:
    ``first_stock_year``; ``first_stock_over_sales`` (that year's stock over the sales
    cumulated up to it: above 1, cars came from elsewhere or before the sales series;
    below 1, sold cars not in the stock); ``net_inflow_share`` (stock increase over
    ``years`` less the sales, as a share of the sales: positive, net used imports;
    negative, net exports or scrappage); ``best_steady_trade_error`` over ``years``
    (:func:`best_steady_trade_error`); ``best_slow_trade_error`` over ``years`` when the
    share may change by ``max_change`` a year (:func:`best_varying_trade`, no
    retirement); ``inconsistent_windows`` (three-year windows from
    the year before ``years`` that no steady-trade model fits within ``tolerance``).
    """
    rows = []
    span = [years[0] - 1, *years]
    for region in regions:
        full = pd.Series(stock.loc[region], dtype=float)
        sold = pd.Series(sales.loc[region], dtype=float).fillna(0.0)
        reported = {int(str(y)): float(v) for y, v in full.items() if v > 0}  # not NaN
        first = min(reported)
        cumulated = float(sold[sold.index <= first].sum())
        start = max(span[0], first)  # the stock before the years, or the first one
        inflow = reported.get(years[-1], np.nan) - reported[start]
        new = float(sold[(sold.index > start) & (sold.index <= years[-1])].sum())
        known = full.reindex(years).to_numpy(dtype=float)
        new_sales = sold.reindex(years).to_numpy(dtype=float)
        complete = bool((known > 0).all())
        bound = best_steady_trade_error(known, new_sales) if complete else np.nan
        slow = best_varying_trade(known, new_sales, max_change).error if complete else np.nan
        windows = inconsistent_windows(full, sold, span, tolerance)
        rows.append({"region": region, "first_stock_year": first,
                     "first_stock_over_sales": reported[first] / cumulated if cumulated else np.inf,
                     "net_inflow_share": inflow / new - 1.0 if new else np.nan,
                     "best_steady_trade_error": bound, "best_slow_trade_error": slow,
                     "inconsistent_windows": "; ".join(f"{y}-{y + 2}" for y, _ in windows)})
    return pd.DataFrame(rows).set_index("region")
