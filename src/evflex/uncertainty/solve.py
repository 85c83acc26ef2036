"""What must be true: the filter values that reach given targets, closest to the base.

>>> solution = solve(load_scenario("base"), [Target.parse("v2g:2100:0.40", ...)])  # doctest: +SKIP

The levers are numbers of the scenario's paths (by default the S-curve ``end`` values of
the capability and filter parameters). The solver finds lever values ``x`` that

    minimise   sum_i ((x_i - x0_i) / s_i)^2
    subject to quantity_j(x) = target_j   for each target,
               low_i <= x_i <= high_i,

where ``x0`` is the base scenario, ``s_i = |x0_i|`` (relative change; the bound span for
midpoints and numbers that are 0), and the bounds are the lever's distribution in the
scenario if it has one, else the parameter registry's bounds (an anchored S-curve's end
also stays beyond its anchor). SciPy's SLSQP does the minimisation; constraint
gradients are forward differences computed as one vectorised batch of draws.

When the targets cannot be met within the bounds, the result says so with the range
each target can reach (each found by minimising and maximising it over the bounds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from evflex.errors import InputError
from evflex.model import WORLD, Results, run
from evflex.paths import FloatArray
from evflex.scenario import Scenario, registry
from evflex.scenario.edit import edit
from evflex.scenario.schema import PathSpec, models_to_sales_share, site_name, split_site_name
from evflex.uncertainty.ensemble import Quantity, evaluate_numbers

#: Registry groups whose S-curve end values are the default levers.
LEVER_GROUPS = ("capability", "filter")
#: A target is met when |quantity - target| <= max(ABS_TOL, REL_TOL |target|).
ABS_TOL, REL_TOL = 1e-4, 1e-4


class SolveInputError(InputError):
    """A target or lever that cannot be used (field ``target`` or ``vary``)."""


@dataclass(frozen=True)
class Target:
    """A quantity and the value it must take, written ``NAME[@REGION]:YEAR:VALUE``."""

    quantity: Quantity
    value: float

    @classmethod
    def parse(cls, text: str, regions: list[str], years: list[int]) -> Target:
        head, _, value = text.strip().rpartition(":")
        try:
            if ":" not in head:
                raise ValueError
            number = float(value)
        except ValueError:
            raise SolveInputError(
                "target", f"not a target (got {text!r}, expected NAME[@REGION]:YEAR:VALUE, "
                "e.g. v2g:2100:0.30)") from None
        try:
            quantity = Quantity.parse(head, regions, years)
        except ValueError as exc:
            raise SolveInputError("target", f"{exc}") from None
        if quantity.unit == "fraction" and not 0 <= number <= 1:
            raise SolveInputError("target", f"a share outside 0-1 (got {number:g} for "
                                  f"{quantity.label}, expected between 0 and 1)")
        return cls(quantity, number)

    @property
    def tolerance(self) -> float:
        return max(ABS_TOL, REL_TOL * abs(self.value))


@dataclass(frozen=True)
class Lever:
    """A number of a path the solver may move, with its base value and bounds."""

    name: str
    base: float
    low: float
    high: float
    bounds_from: str

    @property
    def scale(self) -> float:
        target = split_site_name(self.name)[2]
        if target == "midpoint" or self.base == 0:
            return self.high - self.low
        return abs(self.base)


def _spec(scenario: Scenario, name: str) -> PathSpec:
    parameter, override, target = split_site_name(name)
    param = scenario.parameters.get(parameter)
    spec = None if param is None else param if override is None else param.overrides.get(override)
    if spec is None or target not in spec.dist_targets():
        raise SolveInputError(
            "vary", f"no such number (got {name!r}, expected PARAMETER[/OVERRIDE].TARGET of a "
            "path, e.g. v2g_enrolled.end, bidirectional_charger.midpoint)")
    return spec


def make_lever(scenario: Scenario, name: str) -> Lever:
    """A lever with its bounds: the scenario's distribution, else the registry's."""
    spec = _spec(scenario, name)
    parameter, _, target = split_site_name(name)
    base = spec.base_value(target)
    dists = {s.name: s.dist for s in scenario.distributions()}
    if name in dists:
        low, high = dists[name].support
        origin = f"distribution ({dists[name].kind})"
    elif target == "midpoint":
        low, high, origin = scenario.years.history_end + 1.0, float(scenario.years.end), "years"
    elif target == "steepness":
        low, high, origin = 0.02, 1.0, "assumption: 10-90 % transition of 4-220 years"
    else:
        info = registry()[parameter]
        low = info.min if info.min is not None else -np.inf
        high = info.max if info.max is not None else np.inf
        origin = "parameter registry"
    sc = spec.scurve
    if sc is not None and sc.anchor is not None and target in ("start", "end"):
        anchor = (models_to_sales_share(scenario) if sc.anchor.value == "bidirectional_models"
                  else float(sc.anchor.value))
        margin = 1e-6
        if (target == "end") == (sc.end > sc.start):
            low = max(low, anchor + margin)
        else:
            high = min(high, anchor - margin)
        origin += " and anchor"
    if not (np.isfinite(low) and np.isfinite(high)):
        raise SolveInputError("vary", f"unbounded (got {name!r} with bounds {low:g} to "
                              f"{high:g}, expected a number with finite bounds: give it a "
                              "bounded 'dist' in the scenario)")
    return Lever(name, base, float(low), float(high), origin)


def default_levers(scenario: Scenario) -> list[str]:
    """S-curve ``end`` values of the capability and filter parameters (default paths)."""
    reg = registry()
    return [site_name(name, None, "end") for name, param in scenario.parameters.items()
            if name in reg and reg[name].group in LEVER_GROUPS and param.scurve is not None]


def with_numbers(scenario: Scenario, numbers: dict[str, float]) -> Scenario:
    """A copy of the scenario with some numbers of its paths set, validated again
    (:func:`evflex.scenario.edit.edit`)."""
    return edit(scenario, numbers)


@dataclass
class Solution:
    """The outcome of :func:`solve`."""

    scenario: Scenario
    targets: list[Target]
    levers: list[Lever]
    values: FloatArray
    achieved: FloatArray
    reached: bool
    message: str
    reachable: dict[str, tuple[float, float]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Levers: base, solved value, relative change and bounds."""
        return pd.DataFrame({
            "lever": [lv.name for lv in self.levers],
            "base": [lv.base for lv in self.levers],
            "solved": self.values,
            "change": [(v - lv.base) / lv.scale for v, lv in zip(self.values, self.levers,
                                                                   strict=True)],
            "low": [lv.low for lv in self.levers],
            "high": [lv.high for lv in self.levers],
            "bounds_from": [lv.bounds_from for lv in self.levers],
            "at_bound": [bool(np.isclose(v, lv.low, atol=1e-6 * lv.scale)
                              or np.isclose(v, lv.high, atol=1e-6 * lv.scale))
                         for v, lv in zip(self.values, self.levers, strict=True)],
        })

    def targets_table(self) -> pd.DataFrame:
        rows = []
        for t, a in zip(self.targets, self.achieved, strict=True):
            lo, hi = self.reachable.get(t.quantity.label, (np.nan, np.nan))
            rows.append({"target": t.quantity.label, "unit": t.quantity.unit,
                         "wanted": t.value, "achieved": float(a),
                         "met": bool(abs(a - t.value) <= t.tolerance),
                         "reachable_low": lo, "reachable_high": hi})
        return pd.DataFrame(rows)

    @property
    def solved_scenario(self) -> Scenario:
        """The scenario with the solved lever values, each noted as set by the solver.

        Its calibration targets for the state split are dropped: they are the base case's.
        """
        moved = {lv.name: float(v) for lv, v in zip(self.levers, self.values, strict=True)
                 if v != lv.base}
        sc = with_numbers(self.scenario, moved)
        params = dict(sc.parameters)
        for name, value in moved.items():
            parameter, override, target = split_site_name(name)
            base = next(lv.base for lv in self.levers if lv.name == name)
            note = f"{target} set to {value:.6g} by evflex solve (was {base:.6g})"
            param = params[parameter]
            if override is None:
                params[parameter] = param.model_copy(update={"note": note})
            else:
                spec = param.overrides[override].model_copy(update={"note": note})
                params[parameter] = param.model_copy(
                    update={"overrides": {**param.overrides, override: spec}})
        calibration = sc.calibration.model_copy(update={"states": None})
        return sc.model_copy(update={
            "parameters": params, "calibration": calibration,
            "name": f"{self.scenario.name}_solved",
            "description": "What must be true for " + ", ".join(
                f"{t.quantity.label} = {t.value:g}" for t in self.targets)
            + f": levers moved from {self.scenario.name} by evflex solve"})


class _Problem:
    """Targets as functions of the levers, evaluated in vectorised batches, with a cache."""

    def __init__(self, scenario: Scenario, targets: list[Target], levers: list[Lever]):
        self.scenario, self.targets, self.levers = scenario, targets, levers
        self.names = [lv.name for lv in levers]
        self.regions, self.years = [*scenario.regions, WORLD], scenario.years_axis
        self.x0 = np.array([lv.base for lv in levers])
        self.scale = np.array([lv.scale for lv in levers])
        self.step = 1e-6 * np.array([lv.high - lv.low for lv in levers])
        self._cache: dict[bytes, tuple[FloatArray, FloatArray]] = {}
        self.evaluations = 0

    def quantities(self, x: FloatArray) -> FloatArray:
        """Target quantities for lever values, rows of ``x`` (n, k) → (n, m)."""
        summary = evaluate_numbers(self.scenario, self.names, x)
        self.evaluations += len(x)
        return np.stack([t.quantity.values(summary, self.regions, self.years)
                         for t in self.targets], axis=1)

    def value_and_jacobian(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        key = x.tobytes()
        if key not in self._cache:
            low = np.array([lv.low for lv in self.levers])
            high = np.array([lv.high for lv in self.levers])
            # forward differences, backward at an upper bound: one batch of k + 1 draws
            sign = np.where(x + self.step > high, -1.0, 1.0)
            h = sign * self.step
            batch = np.vstack([x, x + np.diag(h)])
            batch = np.clip(batch, low, high)
            q = self.quantities(batch)
            jac = (q[1:] - q[0]) / h[:, None]  # (k, m)
            self._cache = {key: (q[0], jac.T)}
        return self._cache[key]

    def to_x(self, s: FloatArray) -> FloatArray:
        return self.x0 + s * self.scale


def _reachable(problem: _Problem, j: int) -> tuple[float, float]:
    """Smallest and largest value target ``j`` can take within the bounds."""
    bounds = [((lv.low - x0) / sc, (lv.high - x0) / sc)
              for lv, x0, sc in zip(problem.levers, problem.x0, problem.scale, strict=True)]
    out = []
    for sign in (1.0, -1.0):
        def f(s: FloatArray, sign: float = sign) -> tuple[float, FloatArray]:
            q, jac = problem.value_and_jacobian(problem.to_x(s))
            return sign * float(q[j]), sign * jac[j] * problem.scale

        start = np.zeros(len(problem.levers))
        res = minimize(f, start, jac=True, method="L-BFGS-B", bounds=bounds)
        # also try the corners the gradient points to: the funnel is monotone in its levers
        corner = np.array([b[0] if g > 0 else b[1] for b, g in zip(bounds, f(start)[1],
                                                                   strict=True)])
        out.append(min(float(res.fun), f(corner)[0]) * sign)
    return out[0], out[1]


def solve(scenario: Scenario, targets: list[Target], levers: list[str] | None = None,
          max_iterations: int = 100) -> Solution:
    """Lever values closest to the base that meet every target within the bounds."""
    if not targets:
        raise SolveInputError("target", "none given (got 0, expected at least one "
                              "NAME[@REGION]:YEAR:VALUE)")
    names = levers or default_levers(scenario)
    if len(set(names)) != len(names):
        raise SolveInputError("vary", f"a lever named twice (got {names})")
    lever_list = [make_lever(scenario, n) for n in names]
    problem = _Problem(scenario, targets, lever_list)
    wanted = np.array([t.value for t in targets])
    tscale = np.array([max(abs(t.value), t.tolerance * 100) for t in targets])
    bounds = [((lv.low - x0) / sc, (lv.high - x0) / sc)
              for lv, x0, sc in zip(lever_list, problem.x0, problem.scale, strict=True)]

    # First what each target can reach at all: an unreachable one needs no search.
    reachable = {t.quantity.label: _reachable(problem, j) for j, t in enumerate(targets)}
    lines = []
    for t in targets:
        lo, hi = reachable[t.quantity.label]
        if not lo - t.tolerance <= t.value <= hi + t.tolerance:
            lines.append(f"{t.quantity.label} = {t.value:g} cannot be reached within the "
                         f"bounds (reachable {lo:.4g} to {hi:.4g} [{t.quantity.unit}])")
    if lines:
        x = problem.x0
        return Solution(scenario, targets, lever_list, x, problem.quantities(x[None])[0],
                        False, "; ".join(lines), reachable)

    def constraint(s: FloatArray) -> FloatArray:
        return (problem.value_and_jacobian(problem.to_x(s))[0] - wanted) / tscale

    def constraint_jac(s: FloatArray) -> FloatArray:
        jac = problem.value_and_jacobian(problem.to_x(s))[1]
        return jac * problem.scale[None, :] / tscale[:, None]

    res = minimize(lambda s: float(s @ s), np.zeros(len(lever_list)), jac=lambda s: 2 * s,
                   method="SLSQP", bounds=bounds,
                   constraints=[{"type": "eq", "fun": constraint, "jac": constraint_jac}],
                   options={"maxiter": max_iterations, "ftol": 1e-12})
    s = np.clip(res.x, [b[0] for b in bounds], [b[1] for b in bounds])
    x = problem.to_x(s)
    achieved = problem.quantities(x[None])[0]
    met = np.abs(achieved - wanted) <= np.array([t.tolerance for t in targets])
    if met.all():
        return Solution(scenario, targets, lever_list, x, achieved, True,
                        f"all {len(targets)} target(s) met by moving {len(lever_list)} "
                        "lever(s)", reachable)
    message = ("the targets cannot be met together within the bounds (each alone is "
               "reachable; closest found: " + ", ".join(
                   f"{t.quantity.label} = {a:.4g}" for t, a in zip(targets, achieved,
                                                                    strict=True)) + ")")
    return Solution(scenario, targets, lever_list, x, achieved, False, message, reachable)


def funnel_comparison(base: Results, solved: Results, year: int,
                      region: str = WORLD) -> pd.DataFrame:
    """The V2G funnel of the base and the solved scenario in one year.

    Columns step, base_vehicles, solved_vehicles, base_share, solved_share (each step's
    share of the step before it).
    """
    def steps(results: Results) -> pd.DataFrame:
        f = results.funnel_frame()
        f = f[(f["region"] == region) & (f["segment"] == "all") & (f["year"] == year)]
        vehicles = f["vehicles"].to_numpy()
        previous = np.concatenate([[vehicles[0]], vehicles[:-1]])
        share = np.where(previous > 0, vehicles / np.where(previous > 0, previous, 1), 0.0)
        return pd.DataFrame({"step": f["step"].to_numpy(), "vehicles": vehicles,
                             "share": share})

    b, s = steps(base), steps(solved)
    return pd.DataFrame({"region": region, "year": year, "step": b["step"],
                         "base_vehicles": b["vehicles"], "solved_vehicles": s["vehicles"],
                         "base_share_of_previous": b["share"],
                         "solved_share_of_previous": s["share"]})


def run_solution(solution: Solution) -> tuple[Results, Results]:
    """Single runs of the base and the solved scenario."""
    return run(solution.scenario), run(solution.solved_scenario)
