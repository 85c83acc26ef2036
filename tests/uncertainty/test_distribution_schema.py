"""Distributions in scenario files: validation, inheritance, and evaluation with draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evflex.model import run
from evflex.scenario import Scenario, ScenarioError, load_scenario, registry
from evflex.scenario.evaluate import evaluate_all, evaluate_draws
from evflex.uncertainty.solve import with_numbers

HEADER = "extends: base\nname: child\nversion: '1'\n"


def _problems(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(HEADER + body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


def _dist(param: str, target: str, text: str) -> str:
    return f"parameters:\n  {param}:\n    dist:\n      {target}: {text}\n"


@pytest.mark.parametrize(("body", "expected"), [
    (_dist("v2g_enrolled", "end", "{kind: uniform, low: 0.9, high: 0.8, source: assumption}"),
     "parameters.v2g_enrolled.dist.end.low: bounds reversed or empty (got low 0.9, high 0.8, "
     "expected low < high)"),
    (_dist("v2g_enrolled", "end", "{kind: normal, mean: 0.7, sd: 0, low: 0.5, high: 0.9, "
           "source: assumption}"),
     "parameters.v2g_enrolled.dist.end.sd: must be positive (got 0, expected > 0)"),
    (_dist("v2g_enrolled", "end", "{kind: triangular, low: 0.5, high: 0.9, source: assumption}"),
     "parameters.v2g_enrolled.dist.end: triangular needs low, mode, high (got no mode"),
    (_dist("v2g_enrolled", "end", "{kind: triangular, low: 0.5, mode: 0.95, high: 0.9, "
           "source: assumption}"),
     "parameters.v2g_enrolled.dist.end.mode: mode outside the bounds (got 0.95, expected "
     "between 0.5 and 0.9)"),
    (_dist("v2g_enrolled", "end", "{kind: uniform, low: 0.5, high: 1.2, source: assumption}"),
     "parameters.v2g_enrolled.dist.end: distribution reaches outside the bounds of "
     "v2g_enrolled [fraction] (got 0.5 to 1.2, expected low >= 0 and high <= 1)"),
    (_dist("v2g_enrolled", "end", "{kind: normal, mean: 0.7, sd: 0.1, source: assumption}"),
     "parameters.v2g_enrolled.dist.end: distribution reaches outside the bounds of "
     "v2g_enrolled [fraction] (got -inf to inf"),
    (_dist("v2g_enrolled", "end", "{kind: uniform, low: 0.8, high: 0.9, source: assumption}"),
     "parameters.v2g_enrolled.dist.end: the path's own value lies outside the distribution "
     "(got 0.7446, expected between 0.8 and 0.9)"),
    (_dist("v2g_enrolled", "steepness", "{kind: uniform, low: 0.1, high: 9, "
           "source: assumption}"),
     "parameters.v2g_enrolled.dist.steepness: distribution reaches outside the bounds of an "
     "S-curve steepness [1/year] (got 0.1 to 9"),
    (_dist("v2g_enrolled", "value", "{kind: uniform, low: 0.1, high: 0.9, source: assumption}"),
     "parameters.v2g_enrolled.dist.value: nothing to vary in this scurve path (got 'value', "
     "expected one of 'start', 'end', 'steepness')"),
    (_dist("charging_access", "2060", "{kind: uniform, low: 0.5, high: 0.9, "
           "source: assumption}"),
     "parameters.charging_access.dist.2060: nothing to vary in this points path (got 2060"),
    (_dist("bidirectional_share", "midpoint", "{kind: uniform, low: 2030, high: 2050, "
           "source: assumption}"),
     "parameters.bidirectional_share.dist.midpoint: nothing to vary in this scurve path"),
    (_dist("bidirectional_share", "end", "{kind: uniform, low: 0.01, high: 0.9, "
           "source: assumption}"),
     "parameters.bidirectional_share.dist: draws of start or end would not keep the anchor "
     "strictly between them"),
    (_dist("soc_at_peak", "value", "{kind: normal, mean: 0.1, sd: 0.01, low: 0.6, high: 0.8, "
           "source: assumption}"),
     "parameters.soc_at_peak.dist.value: the bounds hold almost none of the distribution "
     "(got probability 0 between 0.6 and 0.8, expected bounds around the mean or median)"),
    (_dist("v2g_active", "end", "{kind: uniform, low: 0.8, high: 0.9, source: Someone}"),
     "parameters.v2g_active.dist.end.year: a sourced distribution needs the source's year"),
    (_dist("v2g_active", "end", "{kind: lognormal, median: 0.9, sigma: 0.1, mode: 0.8, "
           "high: 1, source: assumption}"),
     "parameters.v2g_active.dist.end.mode: not a field of a lognormal distribution (got mode, "
     "expected median, sigma, low, high)"),
    (_dist("v2g_active", "end", "{kind: gamma, low: 0.8, high: 0.9, source: assumption}"),
     "parameters.v2g_active.dist.end.kind: Input should be 'uniform', 'triangular', 'normal', "
     "'lognormal' or 'beta' (got 'gamma'"),
    (_dist("v2g_active", "end", "{kind: beta, alpha: 2, beta: -1, low: 0.8, high: 0.9, "
           "source: assumption}"),
     "parameters.v2g_active.dist.end.beta: must be positive (got -1, expected > 0)"),
])
def test_each_impossible_distribution_is_one_clear_line(tmp_path: Path, body: str,
                                                        expected: str) -> None:
    problems = _problems(tmp_path, body)
    assert any(p.startswith(expected) for p in problems), problems
    assert all("\n" not in p for p in problems)


CORR = """parameters:
  v2g_enrolled:
    dist: {end: {kind: uniform, low: 0.5, high: 0.9, source: assumption}}
  export_permitted:
    dist: {end: {kind: uniform, low: 0.7, high: 1.0, source: assumption}}
  warranty_covers:
    dist: {end: {kind: uniform, low: 0.8, high: 1.0, source: assumption}}
uncertainty:
  correlations:
"""


@pytest.mark.parametrize(("pairs", "expected"), [
    ("    - {between: [v2g_enrolled.end, export_permitted.end], rho: 0.9, source: a}\n"
     "    - {between: [v2g_enrolled.end, warranty_covers.end], rho: 0.9, source: a}\n"
     "    - {between: [export_permitted.end, warranty_covers.end], rho: -0.9, source: a}\n",
     "uncertainty.correlations: correlation matrix is not positive semi-definite (got "
     "smallest eigenvalue -0.8, expected >= 0)"),
    ("    - {between: [v2g_enrolled.end, nowhere.end], rho: 0.5, source: a}\n",
     "uncertainty.correlations.0.between: no such distribution (got 'nowhere.end', expected "
     "one of export_permitted.end, v2g_enrolled.end, warranty_covers.end)"),
    ("    - {between: [v2g_enrolled.end, v2g_enrolled.end], rho: 0.5, source: a}\n",
     "uncertainty.correlations.0.between: a distribution with itself"),
    ("    - {between: [v2g_enrolled.end, warranty_covers.end], rho: 0.5, source: a}\n"
     "    - {between: [warranty_covers.end, v2g_enrolled.end], rho: 0.2, source: a}\n",
     "uncertainty.correlations.1.between: pair given twice"),
    ("    - {between: [v2g_enrolled.end, warranty_covers.end], rho: 1.5, source: a}\n",
     "uncertainty.correlations.0.rho: Input should be less than or equal to 1 (got 1.5, "
     "expected <= 1.0)"),
])
def test_correlations_are_validated(tmp_path: Path, pairs: str, expected: str) -> None:
    problems = _problems(tmp_path, CORR + pairs)
    assert any(p.startswith(expected) for p in problems), problems


def test_shipped_uncertain_scenario_keeps_the_base_paths_and_sources_every_range(
        uncertain: Scenario, base: Scenario) -> None:
    sites = uncertain.distributions()
    assert len(sites) >= 30
    kinds = {s.dist.kind for s in sites}
    assert kinds == {"uniform", "triangular", "normal", "lognormal", "beta"}
    targets = {str(s.target) for s in sites}
    assert {"value", "end", "steepness", "2100"} <= targets
    assert any(s.override is not None for s in sites)
    for s in sites:
        sourced = not s.dist.source.lower().startswith("assumption")
        assert s.dist.source.strip()
        assert not sourced or s.dist.year is not None, s.name
    # every path (the deterministic run) is the base scenario's: same single-run results
    for name, param in uncertain.parameters.items():
        ref = base.parameters[name]
        assert (param.value, param.scurve, param.points) == (ref.value, ref.scurve, ref.points)
        for key, spec in param.overrides.items():
            other = ref.overrides[key]
            assert (spec.value, spec.scurve, spec.points) == (other.value, other.scurve,
                                                              other.points)
    assert len(uncertain.uncertainty.correlations) >= 1
    assert set(registry()) == set(uncertain.parameters)


def test_a_child_form_drops_the_parents_distribution(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(HEADER.replace("child", "parent") + _dist(
        "v2g_enrolled", "end", "{kind: uniform, low: 0.5, high: 0.9, source: assumption}")
        + "      steepness: {kind: uniform, low: 0.1, high: 0.2, source: assumption}\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent\nname: c\nversion: '1'\nparameters:\n  v2g_enrolled:\n"
                     "    value: 0.3\n    source: assumption\n")
    assert load_scenario(tmp_path / "parent.yaml").distributions()
    assert load_scenario(child).distributions() == []


def test_draws_at_the_scenarios_own_values_reproduce_the_single_run(uncertain: Scenario) -> None:
    sites = uncertain.distributions()
    draws = {s.name: np.array([s.base, s.base, s.base]) for s in sites}
    with_draws = evaluate_draws(uncertain, draws)
    single = evaluate_all(uncertain)
    for name, values in single.items():
        assert with_draws[name].shape[1:] == values.shape
        np.testing.assert_allclose(with_draws[name],
                                   np.broadcast_to(values, with_draws[name].shape),
                                   rtol=1e-12, atol=0, err_msg=name)


def test_drawn_numbers_change_exactly_their_paths(uncertain: Scenario) -> None:
    """A draw equals the single run of the scenario with those numbers written in."""
    numbers = {"v2g_enrolled.end": 0.5, "v2g_enrolled.steepness": 0.2,
               "charging_access/China.2100": 0.62, "ev_sales_share/USA.steepness": 0.15,
               "bidirectional_share.end": 0.6, "plug_in_share_at_peak.value": 0.4}
    drawn = evaluate_draws(uncertain, {k: np.array([v]) for k, v in numbers.items()})
    written = evaluate_all(with_numbers(uncertain, numbers))
    for name, values in written.items():
        np.testing.assert_allclose(drawn[name][0], values, rtol=1e-12, atol=1e-15,
                                   err_msg=name)
    # the anchored S-curves still pass through their anchors (the IEA's 2024 share)
    year = uncertain.years_axis.index(2024)
    usa = uncertain.regions.index("USA")
    assert drawn["ev_sales_share"][0, usa, 0, year] == pytest.approx(0.10, rel=1e-12)
    # and a changed number does change its parameter
    assert not np.allclose(drawn["v2g_enrolled"][0], evaluate_all(uncertain)["v2g_enrolled"])


def test_unknown_number_is_refused(uncertain: Scenario) -> None:
    with pytest.raises(KeyError, match="no such number"):
        evaluate_draws(uncertain, {"v2g_enrolled.value": np.array([0.5])})


def test_single_run_ignores_distributions(uncertain: Scenario, base: Scenario) -> None:
    a, b = run(uncertain).world_state_shares(2100), run(base).world_state_shares(2100)
    assert a == b
