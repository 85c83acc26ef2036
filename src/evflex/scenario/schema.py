"""The scenario schema: what a scenario YAML file may say, checked by pydantic.

A scenario names its regions and segments, its year axis, a few options, the
conversion of the V2G-capable *model* count into a *sales* share, the calibration
targets it claims to meet, and one entry per assumption in ``parameters``. Each
parameter carries its unit (checked against the registry in
``evflex/data/parameters.csv``), its source and year (or the word ``assumption``), a
path (constant ``value``, ``scurve`` or ``points``) and optional ``overrides`` keyed
``Region``, ``segment`` or ``Region/segment``.

A path may also carry ``dist``: probability distributions of its numbers (a constant
``value``, an S-curve's ``start``, ``end``, ``midpoint`` or ``steepness``, or one of its
``points`` by year), used by Monte Carlo, sensitivity analysis and ``evflex solve``
(:mod:`evflex.uncertainty`); the single run ignores them. Optional correlations between
them sit in the top-level ``uncertainty`` block.

Structural problems (types, bounds, unknown keys) are caught here; cross-field problems
(units, registry bounds, override keys, missing parameters, distribution supports,
correlations) in :mod:`evflex.scenario.load`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

ASSUMPTION = "assumption"


class SchemaProblem(ValueError):
    """A validator's finding, with the sub-field, what was got and what was expected."""

    def __init__(self, problem: str, got: str, expected: str, field: str = ""):
        super().__init__(problem)
        self.problem, self.got, self.expected, self.field = problem, got, expected, field


class StrictModel(BaseModel):
    """Base: unknown keys are errors, values are not coerced from other types (no ``true``
    or ``"1.5"`` taken as a number), and numbers are finite (no NaN, no infinity)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Anchor(StrictModel):
    """A point an S-curve must pass through; the midpoint is solved from it."""

    year: Annotated[int, Field(ge=1900, le=2300)]
    value: float | Literal["bidirectional_models"] = Field(
        description="Value at the anchor year, or 'bidirectional_models' to take the "
        "sales share converted from the V2G-capable model count."
    )


class SCurve(StrictModel):
    """Logistic path ``start + (end - start) / (1 + exp(-steepness (t - midpoint)))``."""

    start: float
    end: float
    steepness: Annotated[float, Field(gt=0, le=5)]
    midpoint: Annotated[float, Field(ge=1900, le=2300)] | None = None
    anchor: Anchor | None = None

    @model_validator(mode="after")
    def _one_of_midpoint_anchor(self) -> SCurve:
        if (self.midpoint is None) == (self.anchor is None):
            got = "both" if self.midpoint is not None else "neither"
            raise SchemaProblem("give exactly one of 'midpoint' or 'anchor'", got,
                                "'midpoint: YEAR' or 'anchor: {year, value}'")
        return self


Year = Annotated[int, Field(ge=1900, le=2300)]
#: A year as a mapping key: also read from its digits, as JSON and YAML dumps write keys.
KeyYear = Annotated[int, Strict(False), Field(ge=1900, le=2300)]

#: Distribution kinds → the fields each needs (besides ``kind``) and may take.
DISTRIBUTION_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("low", "high"), ()),
    "triangular": (("low", "mode", "high"), ()),
    "normal": (("mean", "sd"), ("low", "high")),
    "lognormal": (("median", "sigma"), ("low", "high")),
    "beta": (("alpha", "beta", "low", "high"), ()),
}
_SHAPE_FIELDS = ("low", "high", "mode", "mean", "sd", "median", "sigma", "alpha", "beta")


class Distribution(StrictModel):
    """A probability distribution of one number of a path, with its provenance.

    ``uniform`` (low, high); ``triangular`` (low, mode, high); ``normal`` (mean, sd,
    truncated to optional low/high); ``lognormal`` (median, sigma of the logarithm,
    truncated to optional low/high); ``beta`` (alpha, beta, scaled to low..high).
    """

    kind: Literal["uniform", "triangular", "normal", "lognormal", "beta"]
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: float | None = None
    median: float | None = None
    sigma: float | None = None
    alpha: float | None = None
    beta: float | None = None
    source: str
    year: Year | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Distribution:
        needed, optional = DISTRIBUTION_FIELDS[self.kind]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise SchemaProblem(f"{self.kind} needs {', '.join(needed)}",
                                "no " + ", ".join(missing), ", ".join(needed))
        extra = [f for f in _SHAPE_FIELDS
                 if getattr(self, f) is not None and f not in needed + optional]
        if extra:
            raise SchemaProblem(f"not a field of a {self.kind} distribution", ", ".join(extra),
                                ", ".join(needed + optional), extra[0])
        for f in ("sd", "sigma", "alpha", "beta"):
            value = getattr(self, f)
            if value is not None and not value > 0:
                raise SchemaProblem("must be positive", f"{value:g}", "> 0", f)
        if self.kind == "lognormal" and self.median is not None and not self.median > 0:
            raise SchemaProblem("must be positive", f"{self.median:g}", "> 0", "median")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise SchemaProblem("bounds reversed or empty", f"low {self.low:g}, high "
                                f"{self.high:g}", "low < high", "low")
        if self.kind == "triangular":
            assert self.low is not None and self.mode is not None and self.high is not None
            if not self.low <= self.mode <= self.high:
                raise SchemaProblem("mode outside the bounds", f"{self.mode:g}",
                                    f"between {self.low:g} and {self.high:g}", "mode")
        if self.kind == "lognormal" and self.low is not None and self.low < 0:
            raise SchemaProblem("a lognormal is positive", f"{self.low:g}", ">= 0", "low")
        if not self.source.strip():
            raise SchemaProblem("empty source", repr(self.source),
                                "a named source, or the word 'assumption'", "source")
        if self.year is None and not self.source.strip().lower().startswith(ASSUMPTION):
            raise SchemaProblem("a sourced distribution needs the source's year", "no year",
                                "'year: YYYY' (or a source starting with 'assumption')", "year")
        return self

    @property
    def support(self) -> tuple[float, float]:
        """Smallest and largest value the distribution can take (may be infinite)."""
        if self.kind == "lognormal":
            lo = 0.0 if self.low is None else self.low
        else:
            lo = -float("inf") if self.low is None else self.low
        hi = float("inf") if self.high is None else self.high
        return lo, hi


#: What a distribution can vary: a path's ``value``, an S-curve's numbers, or a point.
DistTarget = Literal["value", "start", "end", "midpoint", "steepness"] | KeyYear


class PathSpec(StrictModel):
    """One path: exactly one of ``value``, ``scurve`` or ``points``, optional ``dist``."""

    value: float | None = None
    scurve: SCurve | None = None
    points: dict[KeyYear, float] | None = None
    source: str | None = None
    year: Year | None = None
    note: str | None = None
    dist: dict[DistTarget, Distribution] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PathSpec:
        given = [k for k in ("value", "scurve", "points") if getattr(self, k) is not None]
        if len(given) != 1:
            raise SchemaProblem("give exactly one path form", ", ".join(given) or "none",
                                "one of 'value', 'scurve' or 'points'")
        if self.points is not None and len(self.points) == 0:
            raise SchemaProblem("'points' is empty", "{}", "at least one 'YEAR: value' pair",
                                "points")
        for target in self.dist or {}:
            allowed = self.dist_targets()
            if target not in allowed:
                raise SchemaProblem(f"nothing to vary in this {given[0]} path", repr(target),
                                    "one of " + ", ".join(repr(a) for a in allowed),
                                    f"dist.{target}")
        return self

    def dist_targets(self) -> list[str | int]:
        """The numbers of this path a distribution may vary."""
        if self.value is not None:
            return ["value"]
        if self.scurve is not None:
            fixed: list[str | int] = ["start", "end", "steepness"]
            return [*fixed, "midpoint"] if self.scurve.midpoint is not None else fixed
        return list(sorted(self.points or {}))

    def base_value(self, target: str | int) -> float:
        """The number of this path that ``dist[target]`` varies [unit of the parameter]."""
        if isinstance(target, int):
            assert self.points is not None
            return float(self.points[target])
        if target == "value":
            assert self.value is not None
            return float(self.value)
        assert self.scurve is not None
        value = getattr(self.scurve, target)
        assert value is not None
        return float(value)


class Parameter(PathSpec):
    """A scenario assumption: a path with its unit and provenance, plus overrides."""

    unit: str
    source: str  # required here, optional in an override
    overrides: dict[str, PathSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _provenance(self) -> Parameter:
        if not self.source.strip():
            raise SchemaProblem("empty source", repr(self.source),
                                "a named source, or the word 'assumption'", "source")
        if self.year is None and not self.source.strip().lower().startswith(ASSUMPTION):
            raise SchemaProblem("a sourced parameter needs the source's year", "no year",
                                "'year: YYYY' (or a source starting with 'assumption')",
                                "year")
        return self


class Years(StrictModel):
    """The year axis: history from ``start`` to ``history_end``, projection to ``end``."""

    start: Annotated[int, Field(ge=2000, le=2030)] = 2010
    history_end: Annotated[int, Field(ge=2000, le=2050)] = 2024
    end: Annotated[int, Field(ge=2030, le=2200)] = 2100

    @model_validator(mode="after")
    def _ordered(self) -> Years:
        if not self.start <= self.history_end < self.end:
            raise SchemaProblem("years out of order",
                                f"{self.start}, {self.history_end}, {self.end}",
                                "start <= history_end < end")
        return self


class Segment(StrictModel):
    """A vehicle segment and the IEA mode its history comes from."""

    iea_mode: Literal["cars", "vans", "buses", "trucks"]
    description: str = ""


class Options(StrictModel):
    """Switches of the model's structure."""

    phev_v2g_eligible: bool = Field(
        False, description="Count PHEVs as V2G candidates (small packs; off by default)."
    )
    survival_max_age: Annotated[int, Field(ge=10, le=120)] = 60
    initial_ev_stock: Literal["first_reported", "sales"] = Field(
        "first_reported", description=(
            "EV vintages up to the first year the IEA reports a stock carry that stock "
            "(first_reported), or every sale since the first model year is counted (sales)."))


class BidirectionalModels(StrictModel):
    """Explicit conversion of a count of V2G-capable *models* into a *sales* share.

    ``sales share = (capable_models / ev_models) x sales_weight``, where ``ev_models`` is
    ``capable_models / model_share`` when only the share is published. The model share is
    never used as a stock share: the stock share follows from vintages.
    """

    year: Year
    capable_models: Annotated[int, Field(ge=0, le=100_000)]
    model_share: Annotated[float, Field(gt=0, le=1)]
    sales_weight: Annotated[float, Field(gt=0, le=50)]
    source: str
    sales_weight_source: str


class Range(StrictModel):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise SchemaProblem("range reversed", f"low {self.low} > high {self.high}",
                                "low <= high")
        return self


class Anchors(StrictModel):
    """Calibration anchors for one year of the World aggregate."""

    year: Year
    ev_sales: Range
    ev_sales_share: Range
    ev_stock_share: Range | None = None
    source: str


class StateTargets(StrictModel):
    """Target shares of the World EV stock by state in one year, with a tolerance."""

    year: Year
    v2g: Annotated[float, Field(ge=0, le=1)]
    v2h_v2b: Annotated[float, Field(ge=0, le=1)]
    grid_managed: Annotated[float, Field(ge=0, le=1)]
    smart_only: Annotated[float, Field(ge=0, le=1)]
    outside: Annotated[float, Field(ge=0, le=1)]
    tolerance: Annotated[float, Field(ge=0, le=1)] = 0.01
    source: str

    @model_validator(mode="after")
    def _sums_to_one(self) -> StateTargets:
        total = self.v2g + self.v2h_v2b + self.grid_managed + self.smart_only + self.outside
        if abs(total - 1.0) > 1e-9:
            raise SchemaProblem("state targets must sum to 1", f"{total:.6g}", "1")
        return self


class History(StrictModel):
    """Tolerances of the test of modelled EV stock against the IEA stock series.

    ``world_tolerance`` for the World, ``region_tolerance`` for every other judged region
    (relative); ``min_ev_stock``: a region is judged only if its IEA EV stock in the last
    history year reaches this [vehicles] (smaller ones are reported, not judged); rest-of-block
    regions (residuals of rounded totals) are never judged alone.
    """

    world_tolerance: Annotated[float, Field(gt=0, le=1)] = 0.05
    region_tolerance: Annotated[float, Field(gt=0, le=1)] = 0.10
    from_year: Year = 2015
    min_ev_stock: Annotated[float, Field(ge=0)] = 0.0


class Calibration(StrictModel):
    anchors: Anchors | None = None
    states: StateTargets | None = None
    history: History = Field(default_factory=History)


class Correlation(StrictModel):
    """Correlation of two distributions through a Gaussian copula, with its provenance.

    ``rho`` is the correlation of the two normal scores; draws keep each distribution
    exactly and are correlated in rank (Spearman's rho is ``6/pi asin(rho/2)``).

    Each distribution is named ``parameter.target`` for the default path (e.g.
    ``v2g_enrolled.end``) or ``parameter/override.target`` for an override (e.g.
    ``ev_sales_share/USA.steepness``, ``charging_access/China.2100``).
    """

    between: Annotated[list[str], Field(min_length=2, max_length=2)]
    rho: Annotated[float, Field(ge=-1, le=1)]
    source: str


class Uncertainty(StrictModel):
    """Scenario-wide settings of the distributions: their correlations."""

    correlations: list[Correlation] = Field(default_factory=list)


class Scenario(StrictModel):
    """A whole scenario, after ``extends`` has been merged."""

    name: str
    version: str
    description: str = ""
    years: Years = Field(default_factory=Years)
    regions: list[str] = Field(min_length=1)
    segments: dict[str, Segment] = Field(min_length=1)
    options: Options = Field(default_factory=Options)
    bidirectional_models: BidirectionalModels
    targets: str | None = Field(
        None, description="A named target set (evflex/data/targets) the scenario is "
        "calibrated to, e.g. 'seed-v3.0'; not inherited through 'extends'.")
    calibration: Calibration = Field(default_factory=Calibration)
    uncertainty: Uncertainty = Field(default_factory=Uncertainty)
    parameters: dict[str, Parameter]

    @property
    def years_axis(self) -> list[int]:
        return list(range(self.years.start, self.years.end + 1))

    def distributions(self) -> list[DistSite]:
        """Every distribution of the scenario, in file order: default paths, then overrides."""
        out = []
        for name, param in self.parameters.items():
            for key, spec in [(None, param), *param.overrides.items()]:
                for target, dist in (spec.dist or {}).items():
                    out.append(DistSite(name, key, target, dist, spec.base_value(target)))
        return out


@dataclass(frozen=True)
class DistSite:
    """Where a distribution sits: parameter, override key (``None``: default), target."""

    parameter: str
    override: str | None
    target: str | int
    dist: Distribution
    base: float

    @property
    def name(self) -> str:
        """``parameter.target`` or ``parameter/override.target``."""
        return site_name(self.parameter, self.override, self.target)


def site_name(parameter: str, override: str | None, target: str | int) -> str:
    """Name of a number of a path: ``parameter[/override].target``."""
    where = parameter if override is None else f"{parameter}/{override}"
    return f"{where}.{target}"


def split_site_name(name: str) -> tuple[str, str | None, str | int]:
    """``parameter[/override].target`` → (parameter, override or None, target).

    A target of digits is a point's year. Raises :class:`ValueError` on a malformed name.
    """
    where, dot, target = name.rpartition(".")
    if not dot or not where or not target:
        raise ValueError(f"not a number of a path (got {name!r}, expected "
                         "PARAMETER[/OVERRIDE].TARGET, e.g. v2g_enrolled.end)")
    parameter, _, override = where.partition("/")
    return parameter, (override or None), (int(target) if target.isdigit() else target)


def models_to_sales_share(scenario: Scenario) -> float:
    """Share of sales implied by the V2G-capable model count [fraction].

    ``(capable_models / ev_models) x sales_weight`` with
    ``ev_models = capable_models / model_share``; see :class:`BidirectionalModels`.
    """
    bm = scenario.bidirectional_models
    if bm.capable_models == 0:
        return 0.0
    ev_models = bm.capable_models / bm.model_share
    return min(1.0, bm.capable_models / ev_models * bm.sales_weight)
