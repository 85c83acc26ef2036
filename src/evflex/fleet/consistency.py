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
    a_ub = np.block([[basis, -scale[:, None]], [-basis, -scale[:, None]]])
    b_ub = np.concatenate([target, -target])
    res = linprog(np.r_[np.zeros(n), 1.0], A_ub=a_ub, b_ub=b_ub,
                  bounds=[(None, None)] * n + [(0.0, None)], method="highs")
    return np.asarray(res.x[:n], dtype=float), float(res.fun)


def best_steady_trade_error(stock: FloatArray, sales: FloatArray) -> float:
    """Smallest ``max_t |stock0 + a C(t) - stock(t)| / stock(t)`` over any ``stock0, a``.

    ``stock`` and ``sales`` are the IEA's series over consecutive years [vehicles],
    ``C`` the sales cumulated from the first of them. Both free: ``a`` of any sign and
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
    cumulated = np.cumsum(sales)
    basis = np.stack([np.ones_like(cumulated), cumulated], axis=-1)
    return chebyshev_fit(basis, stock, stock)[1]


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
             years: list[int], tolerance: float = 0.10) -> pd.DataFrame:
    """What the IEA's own series say about each region's stock and sales.

    ``stock`` and ``sales`` by region (rows) and year (columns) [vehicles]. Columns:
    ``first_stock_year``; ``first_stock_over_sales`` (that year's stock over the sales
    cumulated up to it: above 1, cars came from elsewhere or before the sales series;
    below 1, sold cars not in the stock); ``net_inflow_share`` (stock increase over
    ``years`` less the sales, as a share of the sales: positive, net used imports;
    negative, net exports or scrappage); ``best_steady_trade_error`` over ``years``
    (:func:`best_steady_trade_error`); ``inconsistent_windows`` (three-year windows from
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
        bound = (best_steady_trade_error(known, sold.reindex(years).to_numpy(dtype=float))
                 if bool((known > 0).all()) else np.nan)
        windows = inconsistent_windows(full, sold, span, tolerance)
        rows.append({"region": region, "first_stock_year": first,
                     "first_stock_over_sales": reported[first] / cumulated if cumulated else np.inf,
                     "net_inflow_share": inflow / new - 1.0 if new else np.nan,
                     "best_steady_trade_error": bound,
                     "inconsistent_windows": "; ".join(f"{y}-{y + 2}" for y, _ in windows)})
    return pd.DataFrame(rows).set_index("region")
