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
