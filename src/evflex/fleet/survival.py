"""Survival of vehicles by age (Weibull), and the survival matrix over vintage × year.

Convention: a vehicle sold in model year ``v`` is in the stock at the end of year ``v``
(age 0, survival 1); at the end of year ``v + a`` it survives with probability ``S(a)``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import gamma

from evflex.paths import FloatArray


def weibull_scale(mean_life: FloatArray | float, shape: FloatArray | float) -> FloatArray:
    r"""Weibull scale :math:`\lambda` that gives the mean life [years].

    :math:`\mathrm{E}[T] = \lambda\,\Gamma(1 + 1/k)`, so :math:`\lambda = \bar T / \Gamma(1+1/k)`.

    Examples
    --------
    >>> round(float(weibull_scale(15.0, 1.0)), 6)
    15.0
    """
    return np.asarray(mean_life, dtype=float) / gamma(1.0 + 1.0 / np.asarray(shape, dtype=float))


def weibull_survival(age: FloatArray, mean_life: FloatArray | float,
                     shape: FloatArray | float) -> FloatArray:
    r"""Share of a vintage still in the stock at ``age`` years [fraction].

    :math:`S(a) = \exp(-(a/\lambda)^k)`, with :math:`\lambda` from :func:`weibull_scale`.
    Broadcasts ``age`` against the parameters.

    References
    ----------
    Hao, H., Wang, H., Ouyang, M., Cheng, F. (2011). Vehicle survival patterns in China.
    Science China Technological Sciences 54, 625–629 (Weibull fit, mean 14.5 years).

    Examples
    --------
    >>> weibull_survival(np.array([0.0]), 15.0, 2.0).tolist()
    [1.0]
    """
    lam = weibull_scale(mean_life, shape)
    return np.exp(-((np.asarray(age, dtype=float) / lam) ** np.asarray(shape, dtype=float)))


def survival_by_age(mean_life: FloatArray, shape: FloatArray, max_age: int) -> FloatArray:
    """Survival at ages 0..max_age, shape (..., max_age + 1), for parameter arrays (...)."""
    ages = np.arange(max_age + 1, dtype=float)
    return weibull_survival(ages, mean_life[..., None], shape[..., None])


def survival_matrix(surv_age: FloatArray, n_years: int) -> FloatArray:
    """Matrix ``M[..., v, t] = S(t - v)`` for ``t >= v`` else 0, shape (..., n, n).

    ``surv_age`` has shape (..., A) with ages 0..A-1; ages beyond are 0. ``M`` is a
    Toeplitz matrix: it is built as a sliding window over ``[0]*(n-1) + S(0..n-1)`` and
    returned C-contiguous, so that a batch of draws contracts with it quickly.

    Examples
    --------
    >>> survival_matrix(np.array([1.0, 0.5]), 3).tolist()
    [[1.0, 0.5, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]]
    """
    n_age = min(surv_age.shape[-1], n_years)
    extended = np.zeros((*surv_age.shape[:-1], 2 * n_years - 1))
    extended[..., n_years - 1:n_years - 1 + n_age] = surv_age[..., :n_age]
    windows = sliding_window_view(extended, n_years, axis=-1)  # window j: extended[j:j+n]
    return np.ascontiguousarray(windows[..., ::-1, :])
