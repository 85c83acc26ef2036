"""Inverse CDFs against scipy.stats, the Gaussian copula, and the sample space."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from evflex.scenario import Scenario
from evflex.scenario.schema import Distribution, DistSite
from evflex.uncertainty.distributions import Space, ppf, spearman_from_copula

A = "assumption"
CASES = [
    (Distribution(kind="uniform", low=2.0, high=5.0, source=A), stats.uniform(2.0, 3.0)),
    (Distribution(kind="triangular", low=0.4, mode=0.745, high=0.9, source=A),
     stats.triang(c=(0.745 - 0.4) / 0.5, loc=0.4, scale=0.5)),
    (Distribution(kind="normal", mean=0.7, sd=0.07, low=0.5, high=0.9, source=A),
     stats.truncnorm((0.5 - 0.7) / 0.07, (0.9 - 0.7) / 0.07, loc=0.7, scale=0.07)),
    (Distribution(kind="normal", mean=3.0, sd=2.0, source=A), stats.norm(3.0, 2.0)),
    (Distribution(kind="beta", alpha=8.0, beta=2.0, low=0.5, high=1.0, source=A),
     stats.beta(8.0, 2.0, loc=0.5, scale=0.5)),
    (Distribution(kind="lognormal", median=9.0, sigma=0.25, source=A),
     stats.lognorm(0.25, scale=9.0)),
]


@pytest.mark.parametrize(("dist", "reference"), CASES, ids=[c[0].kind for c in CASES])
def test_inverse_cdf_matches_scipy(dist: Distribution, reference: stats.rv_continuous) -> None:
    u = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(ppf(dist, u), reference.ppf(u), rtol=1e-9, atol=1e-12)


def test_truncated_lognormal_is_the_lognormal_conditioned_on_its_bounds() -> None:
    dist = Distribution(kind="lognormal", median=9.0, sigma=0.25, low=4.0, high=20.0, source=A)
    ref = stats.lognorm(0.25, scale=9.0)
    x = ppf(dist, np.array([0.1, 0.5, 0.9]))
    # the CDF of the conditioned distribution at x equals u
    cond = (ref.cdf(x) - ref.cdf(4.0)) / (ref.cdf(20.0) - ref.cdf(4.0))
    np.testing.assert_allclose(cond, [0.1, 0.5, 0.9], rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([c[0] for c in CASES]),
       st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30))
def test_inverse_cdf_is_monotone_and_inside_the_support(dist: Distribution,
                                                        us: list[float]) -> None:
    u = np.sort(np.array(us))
    x = ppf(dist, u)
    lo, hi = dist.support
    assert np.all(np.isfinite(x))
    assert np.all((x >= lo) & (x <= hi))
    assert np.all(np.diff(x) >= -1e-12)


def test_draws_follow_their_distributions_and_the_copula(small_uncertain: Scenario) -> None:
    space = Space.from_scenario(small_uncertain)
    assert space.names == ["survival_mean_life.value", "export_permitted.end",
                           "v2g_enrolled.end"]
    values = space.draw(np.random.default_rng(3), 20_000)
    for j, site in enumerate(space.sites):
        u = np.linspace(0.01, 0.99, 2001)
        reference = ppf(site.dist, u)  # the distribution's own quantiles
        result = stats.ks_2samp(values[:, j], reference)
        assert result.pvalue > 1e-3, (site.name, result)
    i, k = space.names.index("v2g_enrolled.end"), space.names.index("export_permitted.end")
    rho = stats.spearmanr(values[:, i], values[:, k]).statistic
    assert rho == pytest.approx(float(spearman_from_copula(0.6)), abs=0.02)
    other = space.names.index("survival_mean_life.value")
    assert abs(stats.spearmanr(values[:, i], values[:, other]).statistic) < 0.03


def test_semidefinite_correlation_still_keeps_unit_variances() -> None:
    corr = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # PSD, singular
    dist = Distribution(kind="uniform", low=0.0, high=1.0, source=A)
    sites = tuple(DistSite(f"p{i}", None, "value", dist, 0.5) for i in range(3))
    space = Space(sites, corr)
    values = space.draw(np.random.default_rng(0), 50_000)
    assert np.corrcoef(values[:, 0], values[:, 1])[0, 1] == pytest.approx(1.0, abs=1e-9)
    assert abs(np.corrcoef(values[:, 0], values[:, 2])[0, 1]) < 0.02
    assert np.all((values > 0) & (values < 1))
    assert values[:, 0].std() == pytest.approx(np.sqrt(1 / 12), rel=0.02)
