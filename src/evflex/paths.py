"""Time paths: S-curves and year→value points, evaluated on a year axis.

Every time-varying assumption in a scenario is one of three forms:

- a constant ``value``;
- an S-curve (logistic) from ``start`` to ``end`` with a ``midpoint`` year and a
  ``steepness`` [1/year]; instead of a midpoint, an ``anchor`` (year, value) the curve
  must pass through, from which the midpoint is solved;
- ``points``: year → value pairs, interpolated linearly and held flat outside them.

These are pure functions of numpy arrays; the scenario schema only selects which to call.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def logistic(years: FloatArray, start: float, end: float, midpoint: float, steepness: float):
    r"""Logistic S-curve between two levels.

    Parameters
    ----------
    years : array
        Years at which to evaluate [year].
    start, end : float
        Asymptotic levels before and after the transition [unit of the parameter].
    midpoint : float
        Year at which the curve is half-way between ``start`` and ``end`` [year].
    steepness : float
        Logistic rate :math:`k` [1/year]; the 10–90 % transition takes
        :math:`2\ln 9 / k` years.

    Returns
    -------
    numpy.ndarray
        :math:`v(t) = s + (e - s) / (1 + \exp(-k (t - m)))`.

    Examples
    --------
    >>> float(logistic(np.array([2030.0]), 0.0, 1.0, 2030.0, 0.3)[0])
    0.5
    """
    z = np.clip(-steepness * (np.asarray(years, dtype=float) - midpoint), -700.0, 700.0)
    return start + (end - start) / (1.0 + np.exp(z))


def midpoint_through(anchor_year: float, anchor_value: float, start: float, end: float,
                     steepness: float) -> float:
    r"""Midpoint year of the logistic from ``start`` to ``end`` that passes through an anchor.

    Solves :math:`v(t_a) = v_a` for :math:`m`:
    :math:`m = t_a - \ln\big((v_a - s)/(e - v_a)\big) / k`.

    Raises
    ------
    ValueError
        If the anchor value is not strictly between ``start`` and ``end``.

    Examples
    --------
    >>> midpoint_through(2024, 0.5, 0.0, 1.0, 0.3)
    2024.0
    >>> m = midpoint_through(2025, 0.2, 0.0, 1.0, 0.3)
    >>> round(float(logistic(np.array([2025.0]), 0.0, 1.0, m, 0.3)[0]), 12)
    0.2
    """
    lo, hi = min(start, end), max(start, end)
    if not lo < anchor_value < hi:
        raise ValueError(
            f"anchor value {anchor_value!r} must lie strictly between start {start!r} "
            f"and end {end!r}"
        )
    return float(anchor_year - np.log((anchor_value - start) / (end - anchor_value)) / steepness)


def interpolate_points(years: FloatArray, points: Mapping[int, float]) -> FloatArray:
    """Linear interpolation between year→value points, held flat outside them.

    Examples
    --------
    >>> interpolate_points(np.array([2000.0, 2015.0, 2040.0]), {2010: 1.0, 2020: 3.0}).tolist()
    [1.0, 2.0, 3.0]
    """
    xs = np.array(sorted(points), dtype=float)
    ys = np.array([points[int(x)] for x in xs], dtype=float)
    return np.interp(np.asarray(years, dtype=float), xs, ys)
