"""Requests and answers of the explorer's JSON API (pydantic models, shown in OpenAPI).

A request names a *shipped* scenario (never a path), the region to show, the year of
the energy funnel, and overrides ``{parameter[/Region]: {target: number}}`` (see
:mod:`evflex.web.overrides`). :func:`request_problems` checks what the schema alone
cannot (the region and year against the scenario, the overrides against the registry
bounds) and names the field of each problem.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from evflex.model import WORLD
from evflex.regions import hierarchy
from evflex.web.overrides import (
    MAX_OVERRIDES,
    TARGETS,
    OverrideError,
    check_overrides,
    shipped_names,
    shipped_scenario,
)

#: A finite number, given as a JSON number (``true`` or ``"0.5"`` are refused, not coerced).
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False)]
#: A whole number, given as a JSON integer (``true`` or ``2050.5`` are refused).
Whole = Annotated[int, Strict()]
#: Longest name of a scenario, a region or an override key the API reads.
MAX_NAME = 80


class PathOverride(BaseModel):
    """Numbers of one parameter's path to set; at least one."""

    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"examples": [{"end": 0.6}]})

    value: Finite | None = Field(None, description="A constant path's value [unit of the "
                                 "parameter].")
    start: Finite | None = Field(None, description="An S-curve's start, or the first point "
                                 "[unit of the parameter].")
    end: Finite | None = Field(None, description="An S-curve's end, or the last point (e.g. "
                               "2100) [unit of the parameter].")
    midpoint: Finite | None = Field(None, description="An S-curve's midpoint [year]; not of "
                                    "an S-curve solved through an anchor.")
    steepness: Finite | None = Field(None, description="An S-curve's steepness (pace) "
                                     "[1/year].")

    def numbers(self) -> dict[str, float]:
        return {t: float(v) for t in TARGETS if (v := getattr(self, t)) is not None}


class RunRequest(BaseModel):
    """One view of the explorer: a shipped scenario with overrides, for a region."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "scenario": "base", "region": "World", "funnel_year": 2050,
        "overrides": {"v2g_enrolled": {"end": 0.6}, "ev_sales_share/USA": {"steepness": 0.3}},
    }]})

    scenario: Annotated[str, Field(max_length=MAX_NAME, description="A shipped scenario "
                                   "(GET /api/scenarios); never a file path.")] = "base"
    region: Annotated[str, Field(max_length=MAX_NAME, description="A region of the scenario, "
                                 "or 'World' (their sum).")] = WORLD
    funnel_year: Annotated[Whole, Field(ge=1900, le=2300, description="Year of the energy "
                                      "funnel; inside the scenario's years.")] = 2050
    overrides: Annotated[dict[Annotated[str, Field(max_length=MAX_NAME)], PathOverride],
                         Field(max_length=MAX_OVERRIDES, description=(
                             "Numbers to set, keyed 'parameter' (every region) or "
                             "'parameter/Region' (one region), each inside the parameter "
                             "registry's bounds."))] = Field(default_factory=dict)

    @field_validator("scenario")
    @classmethod
    def _shipped(cls, value: str) -> str:
        names = shipped_names()
        if value not in names:
            raise ValueError(f"unknown scenario (got {value[:MAX_NAME]!r}, expected one of "
                             f"{names})")
        return value

    def override_numbers(self) -> dict[str, dict[str, float]]:
        return {k: v.numbers() for k, v in self.overrides.items()}


def request_problems(request: RunRequest, where: str = "body") -> list[dict[str, Any]]:
    """Problems of a schema-valid request, as FastAPI validation errors with their ``loc``."""
    errors: list[dict[str, Any]] = []
    scenario = shipped_scenario(request.scenario)
    regions = [*scenario.regions, *hierarchy().aggregates(scenario.regions), WORLD]
    if request.region not in regions:
        errors.append({"loc": (where, "region"), "type": "value_error",
                       "msg": f"unknown region (got {request.region!r}, expected one of "
                       f"{regions})", "input": request.region})
    years = scenario.years_axis
    if request.funnel_year not in years:
        errors.append({"loc": (where, "funnel_year"), "type": "value_error",
                       "msg": f"outside the scenario's years (got {request.funnel_year}, "
                       f"expected {years[0]} to {years[-1]})", "input": request.funnel_year})
    for p in check_overrides(scenario, request.override_numbers()):
        errors.append(override_error(p, where))
    return errors


def override_error(problem: Any, where: str = "body") -> dict[str, Any]:
    """An :class:`~evflex.web.overrides.OverrideProblem` as a validation error."""
    loc: tuple[str, ...]
    if problem.key == "overrides":
        loc = (where, "overrides")
    elif where == "query":
        loc = (where, problem.key if problem.target is None
               else f"{problem.key}.{problem.target}")
    else:
        loc = (where, "overrides", problem.key) + (() if problem.target is None
                                                   else (problem.target,))
    return {"loc": loc, "type": "value_error", "msg": problem.message, "input": None}


def errors_of(exc: OverrideError, where: str = "body") -> list[dict[str, Any]]:
    return [override_error(p, where) for p in exc.problems]


# ----------------------------------------------------------------------------- answers
class StateSeries(BaseModel):
    state: str
    label: str
    colour: str = Field(description="The state's colour (evflex.outputs.style).")
    vehicles: list[float | None] = Field(description="EVs in the state, by year [vehicles].")
    share: list[float | None] = Field(description="Share of the EV stock, by year "
                                      "[fraction]; the states sum to 1 in every year.")


class FleetSeries(BaseModel):
    ev_stock: list[float | None] = Field(description="[vehicles]")
    stock: list[float | None] = Field(description="All vehicles [vehicles]")
    ev_sales_share: list[float | None] = Field(description="[fraction of new sales]")
    ev_stock_share: list[float | None] = Field(description="[fraction of the stock]")
    v2g_capable_stock: list[float | None] = Field(description="[vehicles]")


class FunnelRow(BaseModel):
    stage: str
    label: str
    vehicles: float | None = Field(description="[vehicles]")
    energy_gwh: float | None = Field(description="Battery energy at this stage [GWh]")
    power_gw: float | None = Field(description="Deliverable power, last stage only [GW]")


class CapacitySeries(BaseModel):
    unit: str
    values: list[float | None]


class Headline(BaseModel):
    year: int
    ev_stock: float
    ev_stock_share: float
    shares: dict[str, float]
    managed_envelope_share: float
    v2g_export_power_gw: float | None


class ControlValue(BaseModel):
    value: float | None = Field(description="The number in the region shown (World: the "
                                "default path).")
    by_region: dict[str, float | None] | None = Field(
        description="Each region's number, where the regions differ.")


class Change(BaseModel):
    parameter: str
    region: str | None = Field(description="Override entry changed (None: default path).")
    target: str
    old: float
    new: float


class Reference(BaseModel):
    """The same view of the shipped scenario, without the overrides."""

    share: dict[str, list[float | None]] = Field(description="State shares by year.")
    capacity: dict[str, list[float | None]] = Field(description="Capacity metrics by year.")


class RunResponse(BaseModel):
    """The charts' data for one view."""

    scenario: str
    version: str
    region: str
    years: list[int]
    history_end: int
    states: list[StateSeries]
    fleet: FleetSeries
    funnel: list[FunnelRow]
    funnel_year: int
    capacity: dict[str, CapacitySeries]
    headline: list[Headline]
    controls: dict[str, ControlValue]
    changes: list[Change] = Field(description="Every number the overrides changed.")
    reference: Reference | None = Field(description="The shipped scenario without "
                                        "overrides, for comparison (None: no overrides).")
    timing_ms: dict[str, float] = Field(description="Server time: scenario, engine, view.")


class CheckRow(BaseModel):
    check: str
    status: str
    value: float | None
    limit: str
    detail: str


class ChecksResponse(BaseModel):
    """The run's denominator checks, and the judgement's scorecard where it exists."""

    checks: list[CheckRow]
    scorecard: list[dict[str, Any]] | None
    note: str


class ControlInfo(BaseModel):
    key: str
    parameter: str
    target: str
    label: str
    group: str
    min: float
    max: float
    step: float
    unit: str
    description: str
    denominator: str


class ScenarioInfo(BaseModel):
    name: str
    version: str
    description: str
    regions: list[str]
    aggregates: list[str] = Field(default_factory=list, description="Blocks of the "
                                  "scenario's regions (sums, like World).")
    region_labels: dict[str, str] = Field(default_factory=dict, description="Each region "
                                          "as a reader knows it ('United Kingdom (GB)'), in "
                                          "the order of the region picker (by name).")
    years: dict[str, int]
    state_targets: dict[str, float] | None = Field(
        description="The 2100 state split the scenario is calibrated to, if any.")
    distributions: int = Field(description="Numbers with a distribution (Monte Carlo); 0: "
                               "none, POST /api/uncertainty refuses the scenario.")


class ScenariosResponse(BaseModel):
    scenarios: list[ScenarioInfo]
    controls: list[ControlInfo]
    limits: dict[str, int] = Field(description="Bounds of a request.")
    style: dict[str, Any] = Field(description="Colours and labels of the states and the "
                                  "funnel (evflex.outputs.style), shared with every chart.")


#: Bounds of the draws of one Monte Carlo request (500 draws take about 0.5 s here).
MIN_DRAWS, MAX_DRAWS = 50, 500


class UncertaintyRequest(RunRequest):
    """A Monte Carlo of the view: the scenario's distributions, drawn ``draws`` times.

    A number set by an override is fixed at that value (its distribution is dropped).
    """

    draws: Annotated[Whole, Field(ge=MIN_DRAWS, le=MAX_DRAWS, description="Draws (bounded).")] = 200
    seed: Annotated[Whole, Field(ge=0, le=2**31 - 1, description="Seed of the draws.")] = 1


class UncertaintyResponse(BaseModel):
    """Quantiles of the state shares of the region shown, by year."""

    scenario: str
    region: str
    draws: int
    seed: int
    years: list[int]
    quantiles: list[str] = Field(description="Names of the quantiles, e.g. p05..p95.")
    share: dict[str, dict[str, list[float | None]]] = Field(
        description="state → quantile → share of the EV stock by year [fraction].")
    varied: list[str] = Field(description="The numbers drawn (parameter[/override].target).")
    notes: list[str]
    timing_ms: float


class ProblemItem(BaseModel):
    """One problem of a refused request: where, what kind, and a sentence."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description="Where: body, query or path, then the field.")
    type: str
    msg: str


class ErrorResponse(BaseModel):
    """A refused request: each problem, and one line per problem (``field: message``)."""

    detail: list[ProblemItem]
    messages: list[str]


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description, **extra}


#: The error answers every API route may give (OpenAPI ``responses``).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be read (not JSON, or not UTF-8)."),
    413: _error("Request body too large."),
    421: _error("The Host header does not name this server."),
    422: _error("Invalid input; `messages` names each field."),
    503: _error("Busy: too many requests of this kind in progress; retry after "
                "`Retry-After` seconds.",
                headers={"Retry-After": {"schema": {"type": "integer"},
                                         "description": "Seconds to wait."}}),
}
