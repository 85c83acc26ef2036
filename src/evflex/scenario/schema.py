"""The scenario schema: what a scenario YAML file may say, checked by pydantic.

A scenario names its regions and segments, its year axis, a few options, the
conversion of the V2G-capable *model* count into a *sales* share, the calibration
targets it claims to meet, and one entry per assumption in ``parameters``. Each
parameter carries its unit (checked against the registry in
``evflex/data/parameters.csv``), its source and year (or the word ``assumption``), a
path (constant ``value``, ``scurve`` or ``points``) and optional ``overrides`` keyed
``Region``, ``segment`` or ``Region/segment``.

Structural problems (types, bounds, unknown keys) are caught here; cross-field problems
(units, registry bounds, override keys, missing parameters) in :mod:`evflex.scenario.load`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ASSUMPTION = "assumption"


class SchemaProblem(ValueError):
    """A validator's finding, with the sub-field, what was got and what was expected."""

    def __init__(self, problem: str, got: str, expected: str, field: str = ""):
        super().__init__(problem)
        self.problem, self.got, self.expected, self.field = problem, got, expected, field


class StrictModel(BaseModel):
    """Base: unknown keys are errors, values are not coerced from other types."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Anchor(StrictModel):
    """A point an S-curve must pass through; the midpoint is solved from it."""

    year: int
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


class PathSpec(StrictModel):
    """One path: exactly one of ``value``, ``scurve`` or ``points``."""

    value: float | None = None
    scurve: SCurve | None = None
    points: dict[Year, float] | None = None
    source: str | None = None
    year: Year | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PathSpec:
        given = [k for k in ("value", "scurve", "points") if getattr(self, k) is not None]
        if len(given) != 1:
            raise SchemaProblem("give exactly one path form", ", ".join(given) or "none",
                                "one of 'value', 'scurve' or 'points'")
        if self.points is not None and len(self.points) == 0:
            raise SchemaProblem("'points' is empty", "{}", "at least one 'YEAR: value' pair",
                                "points")
        return self


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


class BidirectionalModels(StrictModel):
    """Explicit conversion of a count of V2G-capable *models* into a *sales* share.

    ``sales share = (capable_models / ev_models) x sales_weight``, where ``ev_models`` is
    ``capable_models / model_share`` when only the share is published. The model share is
    never used as a stock share: the stock share follows from vintages.
    """

    year: Year
    capable_models: Annotated[int, Field(ge=0)]
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
    ev_stock_share: Range
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
    """Tolerance of the check of modelled EV stock against the IEA series."""

    ev_stock_tolerance: Annotated[float, Field(gt=0, le=1)] = 0.15
    from_year: Year = 2015


class Calibration(StrictModel):
    anchors: Anchors | None = None
    states: StateTargets | None = None
    history: History = Field(default_factory=History)


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
    calibration: Calibration = Field(default_factory=Calibration)
    parameters: dict[str, Parameter]

    @property
    def years_axis(self) -> list[int]:
        return list(range(self.years.start, self.years.end + 1))
