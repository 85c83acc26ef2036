"""What the explorer draws, from one run: plain JSON-ready data for a region.

The page's charts read only this: the exclusive states of the EV stock by year (vehicles
and shares, which sum to 1 in every year), the EV shares of sales and stock, the energy
funnel of one year, the grid capacity metrics by year, and the effective value of each
control in the region shown. Sums over segments and regions are sums of counts (as in
:meth:`evflex.model.Results.aggregated`); shares are recomputed from those sums.

Built from the arrays of :attr:`Results.data` with numpy, not from
:meth:`Results.frames`, which renders every region's tables and is several times slower
than the engine run itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evflex.capacity import METRICS
from evflex.energy_funnel import energy_funnel
from evflex.filters import CONDITIONAL_FILTERS, FILTER_LABELS
from evflex.model import Results
from evflex.outputs.style import STATE_COLOURS, STATE_LABELS
from evflex.scenario import Scenario, registry
from evflex.scenario.edit import path_number
from evflex.states import ENVELOPES, STATES
from evflex.web.overrides import region_path

#: Years of the headline table, where the scenario's axis has them.
HEADLINE_YEARS = (2025, 2030, 2050, 2100)


@dataclass(frozen=True)
class Control:
    """One slider of the page: a number of a parameter's path."""

    parameter: str
    target: str
    label: str
    group: str
    low: float
    high: float
    step: float

    @property
    def key(self) -> str:
        return f"{self.parameter}.{self.target}"


#: Slider steps finer than 0.01 (filters whose shares are small today).
FINE_STEPS: dict[str, float] = {"v2g_enrolled": 0.005, "v2g_active": 0.005}
#: The explorer's sliders: adoption paths, the V2G filter stack (end values of its
#: S-curves, 2100 value of points), the other uses, availability at the peak.
CONTROLS: tuple[Control, ...] = (
    Control("ev_sales_share", "steepness", "EV sales share: pace", "Adoption", 0.05, 1.0, 0.01),
    # Below 0.6 the end would fall under China's 2025 anchor (0.57): refused with a 422.
    Control("ev_sales_share", "end", "EV sales share: end", "Adoption", 0.6, 1.0, 0.01),
    Control("bidirectional_share", "end", "Bidirectional share of sales: end", "Adoption",
            0.05, 1.0, 0.01),
    Control("bidirectional_share", "steepness", "Bidirectional share of sales: pace",
            "Adoption", 0.02, 0.6, 0.01),
    Control("smart_capable_share", "end", "Smart-capable share of sales: end", "Adoption",
            0.0, 1.0, 0.01),
    # The V2G filter stack, one slider per conditional filter (end value, or 2100 point).
    *(Control(name, "end", f"{FILTER_LABELS[name].capitalize()}: end", "V2G filters",
              0.0, 1.0, FINE_STEPS.get(name, 0.01)) for name in CONDITIONAL_FILTERS),
    Control("v2h_v2b_use", "end", "V2H / V2B use: end", "Other uses", 0.0, 1.0, 0.01),
    Control("grid_managed_enrolment", "end", "Grid-managed enrolment: end", "Other uses",
            0.0, 1.0, 0.002),
    Control("smart_charging_use", "end", "Smart-charging use: end", "Other uses",
            0.0, 1.0, 0.005),
    Control("plug_in_share_at_peak", "value", "Plugged in at the peak", "Availability",
            0.0, 1.0, 0.01),
    Control("export_power_kw", "value", "Export power of the charger [kW]", "Availability",
            1.0, 50.0, 0.5),
)


def controls_table() -> list[dict[str, Any]]:
    """The sliders with their units and meanings from the parameter registry."""
    reg = registry()
    return [{"key": c.key, "parameter": c.parameter, "target": c.target, "label": c.label,
             "group": c.group, "min": c.low, "max": c.high, "step": c.step,
             "unit": "1/year" if c.target == "steepness" else reg[c.parameter].unit,
             "description": reg[c.parameter].description,
             "denominator": reg[c.parameter].denominator}
            for c in CONTROLS]


def control_values(scenario: Scenario, region: str) -> dict[str, dict[str, Any]]:
    """Each control's number in ``region`` (``World`` or a block: the default path) and,
    where the regions differ, each region's number."""
    out: dict[str, dict[str, Any]] = {}
    # each parameter dumped once, not once per region (a country scenario has ~40)
    raw = {"parameters": {name: scenario.parameters[name].model_dump(exclude_none=True)
                          for name in {c.parameter for c in CONTROLS}}}
    for c in CONTROLS:
        by_region = {r: path_number(region_path(raw, c.parameter, r), c.target)
                     for r in scenario.regions}
        default = path_number(raw["parameters"][c.parameter], c.target)
        value = by_region.get(region, default)
        distinct = {v for v in by_region.values() if v is not None}
        out[c.key] = {"value": value,
                      "by_region": by_region if len(distinct) > 1 else None}
    return out


def _finite(values: Any, digits: int = 6) -> list[float | None]:
    """A JSON-ready list, rounded to ``digits`` significant digits; NaN → null.

    Vectorised: each value is scaled by a power of ten to ``digits`` integer digits,
    rounded, and scaled back by the same power, exact up to 1e22 (a division or product
    by it rounds once, to the float the text ``f"{v:.{digits}g}"`` reads as); values
    that need a larger power take that text.
    """
    a = np.asarray(values, dtype=float).ravel()
    finite = np.isfinite(a)
    safe = np.where(finite & (a != 0.0), a, 1.0)
    shift = digits - 1 - np.floor(np.log10(np.abs(safe)))
    power = 10.0 ** np.minimum(np.abs(shift), 22)
    up, down = np.where(shift >= 0, power, 1.0), np.where(shift < 0, power, 1.0)
    rounded: list[float | None] = (np.round(np.where(finite, a, 0.0) * up / down)
                                   * down / up).tolist()
    for k in np.flatnonzero(finite & (np.abs(shift) > 22)).tolist():
        rounded[k] = float(f"{a[k]:.{digits}g}")
    for k in np.flatnonzero(~finite).tolist():
        rounded[k] = None
    return rounded


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _states(results: Results, region: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vehicles by (state, year), EV stock by year and shares by (state, year)."""
    states = results.region_total("states", region)
    ev_stock = states.sum(axis=0)
    shares = np.where(ev_stock > 0, states / np.where(ev_stock > 0, ev_stock, 1.0),
                      np.asarray([[1.0 if s == "outside" else 0.0] for s in STATES]))
    return states, ev_stock, shares


def reference_view(results: Results, region: str) -> dict[str, Any]:
    """State shares and capacity metrics of ``region`` by year: the comparison lines."""
    _, _, shares = _states(results, region)
    return {"share": {s: _finite(shares[k], 9) for k, s in enumerate(STATES)},
            "capacity": {m: _finite(results.region_total(f"capacity_{m}", region))
                         for m in METRICS}}


def view(results: Results, region: str, funnel_year: int) -> dict[str, Any]:
    """The charts' data for ``region`` (a scenario region or ``World``)."""
    sc = results.scenario
    years = list(sc.years_axis)
    states, ev_stock, shares = _states(results, region)  # (state, year)
    sales = results.region_total("sales", region)
    stock = results.region_total("stock", region)
    ev_sales = results.region_total("ev_sales_pt", region).sum(axis=0)
    capable = results.region_total("capable_stock", region)

    capacity = {}
    for metric, unit in METRICS.items():
        capacity[metric] = {"unit": unit,
                            "values": _finite(results.region_total(f"capacity_{metric}",
                                                          region))}
    funnel = energy_funnel(results.data, funnel_year, region, results.blocks.get(region))
    headline = []
    index = {y: i for i, y in enumerate(years)}
    envelope = [STATES.index(s) for s in ENVELOPES["managed_envelope"]]
    for year in HEADLINE_YEARS:
        if year not in index:
            continue
        i = index[year]
        headline.append({
            "year": year,
            "ev_stock": float(ev_stock[i]),
            "ev_stock_share": float(_ratio(ev_stock[i:i + 1], stock[i:i + 1])[0]),
            "shares": {s: float(shares[k, i]) for k, s in enumerate(STATES)},
            "managed_envelope_share": float(shares[envelope, i].sum()),
            "v2g_export_power_gw": capacity["v2g_export_power"]["values"][i],
        })
    return {
        "years": years,
        "history_end": sc.years.history_end,
        "states": [{"state": s, "label": STATE_LABELS[s], "colour": STATE_COLOURS[s],
                    "vehicles": _finite(states[k]), "share": _finite(shares[k], 9)}
                   for k, s in enumerate(STATES)],
        "fleet": {"ev_stock": _finite(ev_stock), "stock": _finite(stock),
                  "ev_sales_share": _finite(_ratio(ev_sales, sales)),
                  "ev_stock_share": _finite(_ratio(ev_stock, stock)),
                  "v2g_capable_stock": _finite(capable)},
        "funnel": [{"stage": r.stage, "label": r.label, "vehicles": _finite([r.vehicles])[0],
                    "energy_gwh": _finite([r.energy_gwh])[0],
                    "power_gw": _finite([r.power_gw])[0]}
                   for r in funnel.itertuples()],
        "funnel_year": funnel_year,
        "capacity": capacity,
        "headline": headline,
        "controls": control_values(sc, region),
    }
