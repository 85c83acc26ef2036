"""Distributions of scenario numbers: inverse CDFs, the Gaussian copula, the sample space.

Every draw goes through a uniform number ``u`` in (0, 1) and the inverse CDF (``ppf``)
of its distribution, so that Monte Carlo (correlated uniforms from a Gaussian copula),
Sobol sampling (SALib's unit hypercube) and the solver share one mapping.

======================  ===============================================================
kind                    inverse CDF [unit of the number]
======================  ===============================================================
uniform (low, high)     ``low + u (high - low)``
triangular              scipy.stats.triang with ``c = (mode - low) / (high - low)``
normal (mean, sd)       truncated to [low, high]: ``mean + sd Φ⁻¹(Φ(a) + u (Φ(b) - Φ(a)))``
lognormal (median, σ)   the normal above in log space, ``exp`` of it
beta (α, β, low, high)  ``low + (high - low) I⁻¹(α, β; u)``
======================  ===============================================================

References
----------
Nelsen, R. B. (2006). An Introduction to Copulas, 2nd ed., Springer (Gaussian copula).
Iman, R. L., Conover, W. J. (1982). A distribution-free approach to inducing rank
correlation among input variables. Commun. Stat. Simul. Comput. 11, 311-334.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import betaincinv, ndtr, ndtri

from evflex.paths import FloatArray
from evflex.scenario.schema import Distribution, DistSite, Scenario

#: Uniforms are kept this far from 0 and 1, so that unbounded tails stay finite.
U_EPS = 1e-12


def ppf(dist: Distribution, u: FloatArray) -> FloatArray:
    """Inverse CDF of ``dist`` at uniforms ``u`` in [0, 1] [unit of the number].

    Examples
    --------
    >>> from evflex.scenario.schema import Distribution
    >>> d = Distribution(kind="uniform", low=2.0, high=4.0, source="assumption")
    >>> ppf(d, np.array([0.0, 0.25, 1.0])).tolist()
    [2.0, 2.5, 4.0]
    """
    u = np.clip(np.asarray(u, dtype=float), U_EPS, 1.0 - U_EPS)
    if dist.kind == "uniform":
        assert dist.low is not None and dist.high is not None
        return np.asarray(dist.low + u * (dist.high - dist.low))
    if dist.kind == "triangular":
        assert dist.low is not None and dist.high is not None and dist.mode is not None
        scale = dist.high - dist.low
        out = stats.triang.ppf(u, (dist.mode - dist.low) / scale, loc=dist.low, scale=scale)
        return np.asarray(out, dtype=float)
    if dist.kind == "beta":
        assert dist.low is not None and dist.high is not None
        assert dist.alpha is not None and dist.beta is not None
        return np.asarray(dist.low + (dist.high - dist.low) * betaincinv(dist.alpha, dist.beta, u))
    # normal and lognormal: a normal truncated to [low, high] (in log space for lognormal)
    lo, hi = dist.support
    if dist.kind == "normal":
        assert dist.mean is not None and dist.sd is not None
        centre, scale, t_lo, t_hi = dist.mean, dist.sd, lo, hi
    else:
        assert dist.median is not None and dist.sigma is not None
        centre, scale = float(np.log(dist.median)), dist.sigma
        t_lo = float(np.log(lo)) if lo > 0 else -np.inf
        t_hi = float(np.log(hi)) if np.isfinite(hi) else np.inf
    p_lo, p_hi = ndtr((t_lo - centre) / scale), ndtr((t_hi - centre) / scale)
    x = centre + scale * ndtri(p_lo + u * (p_hi - p_lo))
    x = np.clip(x, t_lo, t_hi)
    out = np.exp(x) if dist.kind == "lognormal" else x
    return np.asarray(np.clip(out, lo, hi), dtype=float)


def copula_factor(correlation: FloatArray) -> FloatArray:
    """A factor ``L`` with ``L Lᵀ = correlation`` (Cholesky, or eigen for semidefinite)."""
    try:
        return np.asarray(np.linalg.cholesky(correlation))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(correlation)
        return np.asarray(v * np.sqrt(np.clip(w, 0.0, None)))


@dataclass(frozen=True)
class Space:
    """The scenario's distributions as one sample space, in :meth:`Scenario.distributions` order.

    Attributes
    ----------
    sites : where each distribution sits (parameter, override, target).
    correlation : (k, k) correlation of the normal scores (identity without correlations).
    """

    sites: tuple[DistSite, ...]
    correlation: FloatArray

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Space:
        sites = tuple(scenario.distributions())
        index = {s.name: i for i, s in enumerate(sites)}
        corr = np.eye(len(sites))
        for c in scenario.uncertainty.correlations:
            a, b = index[c.between[0]], index[c.between[1]]
            corr[a, b] = corr[b, a] = c.rho
        return cls(sites, corr)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sites]

    @property
    def base(self) -> FloatArray:
        """The scenario's own value of each number, shape (k,)."""
        return np.array([s.base for s in self.sites], dtype=float)

    @property
    def correlated(self) -> bool:
        return bool(np.any(self.correlation != np.eye(len(self.sites))))

    def __len__(self) -> int:
        return len(self.sites)

    def values(self, u: FloatArray) -> FloatArray:
        """Numbers from uniforms: column ``j`` through the inverse CDF of site ``j``, (n, k)."""
        u = np.asarray(u, dtype=float)
        if not self.sites:
            return np.zeros((len(u), 0))
        return np.stack([ppf(s.dist, u[:, j]) for j, s in enumerate(self.sites)], axis=1)

    def uniforms(self, normal_scores: FloatArray) -> FloatArray:
        """Correlated uniforms from independent standard normal scores, (n, k)."""
        z = normal_scores @ copula_factor(self.correlation).T
        return np.asarray(ndtr(z))

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` draws of every number, shape (n, k): normal scores → copula → inverse CDF."""
        return self.values(self.uniforms(rng.standard_normal((n, len(self.sites)))))

    def as_draws(self, values: FloatArray) -> dict[str, FloatArray]:
        """Columns of ``values`` (n, k) keyed by distribution name, for ``evaluate_draws``."""
        return {s.name: np.ascontiguousarray(values[:, j]) for j, s in enumerate(self.sites)}

    def subset(self, names: Sequence[str]) -> Space:
        """The space of some of the distributions (their correlations kept)."""
        idx = [self.names.index(n) for n in names]
        return Space(tuple(self.sites[i] for i in idx), self.correlation[np.ix_(idx, idx)])


def spearman_from_copula(rho: float | FloatArray) -> FloatArray:
    """Spearman rank correlation implied by a Gaussian copula's ``rho``: ``6/π asin(ρ/2)``."""
    return np.asarray(6.0 / np.pi * np.arcsin(np.asarray(rho) / 2.0))
