"""The comparator stack: which options survive for each grid service, region, segment, year.

For each service (:data:`SERVICES`, specified in ``data/comparator_services.yaml``) and
option (:data:`OPTIONS`; vehicle options per vehicle segment), per region and year:

- ``cost_per_kw_year`` [USD/kW-year of nameplate]: the option's annual cost on the named
  cost ``test`` (``TRC`` total resource cost by default, ``PAC`` programme administrator
  cost), in one currency year (:mod:`evflex.judgement.costs`);
- ``degradation_per_kw_year``: battery wear of vehicles that discharge (V2G, V2H/V2B),
  the service's annual hours x derate x the cost per kWh cycled (TRC only: under PAC the
  incentive pays the driver for it);
- ``derate`` [fraction]: deliverable kW per nameplate kW, from the run for vehicle options
  (its capacity, states and parameters, by region and segment) and from the cost file for
  the others; ``capacity_credit``: the derate after saturation, ``c0 * D/x * (1 -
  exp(-x/D))`` for an option supplying ``x`` GW where the service gives a saturation depth
  ``D``: the credit falls as the option's penetration rises;
- ``effective_cost`` = (cost + degradation) / capacity credit [USD per delivered kW-year];
- ``avoided_cost``: the service's value, the effective cost of its counterfactual option
  (a peaking plant for peak capacity, ...) in the same region and year;
- ``stacked_value`` [USD/kW-year of nameplate]: what the same kW also earns from the
  compatible services (``stacks_with``) it offers, at their avoided cost and derate;
- ``net_cost`` = max(cost + degradation - stacked value, 0) / capacity credit (0: the
  other services pay for all of it; ties go to the lower effective cost);
- the options are taken in merit order of net cost until the service's market depth in
  the region (``depth_gw``) is filled: vehicle options offer the GW the run delivers,
  the others any amount. An option **survives** where it is dispatched and its net cost
  does not exceed the avoided cost; ``why`` says which of these held.

Nothing is typed in as a survivor: :func:`comparator_stack` with ``stacking=False`` or
``depth_cap=False`` shows how much of the outcome each of those mechanisms carries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evflex.judgement.costs import (
    OPTIONS,
    SERVICES,
    TESTS,
    CostsError,
    Prices,
    annual_cost,
    crf,
    degradation_per_kwh,
    load_costs,
)

#: Options whose nameplate and derate come from the run, and the states they count.
VEHICLE_OPTIONS = {"managed charging": ("v2g", "v2h_v2b", "grid_managed"), "V2G": ("v2g",),
                   "V2H/V2B": ("v2h_v2b",)}
#: Vehicle options that discharge the battery (and so wear it).
DISCHARGING = ("V2G", "V2H/V2B")
COLUMNS = ("year", "region", "segment", "service", "option", "test", "cost_per_kw_year",
           "degradation_per_kw_year", "derate", "capacity_credit", "effective_cost",
           "stacked_value", "net_cost", "avoided_cost", "supply_gw", "depth_gw",
           "dispatched_gw", "rank", "survives", "why", "v2g_survives", "unit",
           "derate_basis", "source")
KW_PER_GW = 1e6
TOL = 1e-9

__all__ = ["COLUMNS", "OPTIONS", "SERVICES", "CostsError", "comparator_stack", "crf",
           "load_costs", "load_services", "run_supply", "survivors"]


def shipped_services_path() -> Path:
    return Path(str(resources.files("evflex.data").joinpath("comparator_services.yaml")))


def load_services(services: Mapping[str, Any] | Path | str | None = None) -> dict[str, Any]:
    """The service specifications, validated (default: the shipped YAML)."""
    if services is None or isinstance(services, str | Path):
        path = Path(services) if services is not None else shipped_services_path()
        data, label = yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
    else:
        data, label = dict(services), "(services)"
    specs = (data or {}).get("services") or {}
    problems = []
    for name in SERVICES:
        spec = specs.get(name)
        if not isinstance(spec, dict):
            problems.append(f"services.{name}: missing")
            continue
        if spec.get("counterfactual") not in OPTIONS:
            problems.append(f"services.{name}.counterfactual: got "
                            f"{spec.get('counterfactual')!r}, expected one of "
                            f"{', '.join(OPTIONS)}")
        hours = spec.get("annual_hours")
        if not (hours == "peak_duration" or (isinstance(hours, int | float) and hours >= 0)):
            problems.append(f"services.{name}.annual_hours: got {hours!r}, expected hours "
                            "a year or 'peak_duration'")
        bad = [s for s in spec.get("stacks_with") or [] if s not in SERVICES or s == name]
        if bad:
            problems.append(f"services.{name}.stacks_with: got {bad!r}, expected other "
                            "services")
        for key in ("depth_gw", "saturation_gw"):
            value = spec.get(key, "none")
            if value != "none" and not (isinstance(value, dict) and "default" in value and all(
                    isinstance(v, int | float) and v > 0 for v in value.values())):
                problems.append(f"services.{name}.{key}: got {value!r}, expected 'none' or "
                                "GW > 0 by region with a 'default'")
    if problems:
        raise CostsError(f"{label}:\n" + "\n".join(problems))
    return {"services": specs}


def _by_region(value: Any, region: str) -> float:
    if value in (None, "none"):
        return math.inf
    return float(value.get(region, value["default"]))


# ----------------------------------------------------------------------------- the run
def run_supply(results: Any, year: int, table: pd.DataFrame
               ) -> dict[tuple[str, str, str], dict[str, Any]]:
    """What the run's vehicles offer, keyed (option, region, segment).

    Each entry holds ``kw`` (nameplate per vehicle [kW]), ``vehicles``, and per service
    ``derate`` [fraction], ``supply_gw`` [GW] and ``basis``. Read from the run's dataset
    by its named dimensions (region, segment), with the parameters the run used.
    """
    ds = results.data.sel(year=year)
    states = ds["states"]
    peak_h = ds["param_peak_duration_h"]
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    v2h_kw = _unit_kw(table, "V2H/V2B")
    v2h_derate = _file_derate(table, "V2H/V2B", "resilience/backup", year)
    for region in [str(r) for r in ds["region"].values]:
        for segment in [str(s) for s in ds["segment"].values]:
            at = {"region": region, "segment": segment}

            def cap(metric: str, at: dict[str, str] = at) -> float:
                return float(ds[f"capacity_{metric}"].sel(at))

            def ratio(num: float, den: float) -> float:
                return min(1.0, num / den) if den > 0 else math.nan

            h = float(peak_h.sel(at))
            # managed charging: the managed envelope at its charger power
            kw_c = float(ds["param_charger_power_kw"].sel(at))
            envelope = cap("managed_envelope")
            plate = envelope * kw_c / KW_PER_GW
            load, energy = cap("shiftable_load"), cap("shiftable_energy")
            basis = f"run {year}: {load:,.2f} GW shiftable of {envelope:,.0f} EVs x {kw_c:.1f} kW"
            entry: dict[str, Any] = {"kw": kw_c, "vehicles": envelope, "services": {}}
            for service in ("peak capacity", "distribution congestion relief",
                            "frequency response"):
                entry["services"][service] = (ratio(load, plate), load, basis)
            entry["services"]["energy shifting"] = (
                ratio(energy, plate * h), energy / h if h > 0 else 0.0,
                f"run {year}: {energy:,.1f} GWh/day shiftable / (nameplate x {h:g} h)")
            out[("managed charging", region, segment)] = entry
            # V2G: active V2G vehicles exporting at their nameplate
            kw_e = float(ds["param_export_power_kw"].sel(at))
            v2g = float(states.sel({**at, "state": "v2g"}))
            plate = v2g * kw_e / KW_PER_GW
            power, e_energy = cap("v2g_export_power"), cap("v2g_export_energy")
            basis = f"run {year}: V2G export {power:,.3f} GW of {v2g:,.0f} EVs x {kw_e:.1f} kW"
            entry = {"kw": kw_e, "vehicles": v2g, "services": {}}
            for service in ("peak capacity", "distribution congestion relief"):
                entry["services"][service] = (ratio(power, plate), power, basis)
            plugged = ratio(cap("v2g_plugged_at_peak"), v2g)
            entry["services"]["frequency response"] = (
                plugged, plate * (plugged if not math.isnan(plugged) else 0.0),
                f"run {year}: plugged-in share of V2G vehicles at the peak")
            entry["services"]["energy shifting"] = (
                ratio(e_energy, plate * h), e_energy / h if h > 0 else 0.0,
                f"run {year}: V2G export energy {e_energy:,.2f} GWh / (nameplate x {h:g} h)")
            out[("V2G", region, segment)] = entry
            # V2H/V2B: vehicles in that state at the home unit's power
            v2h = float(states.sel({**at, "state": "v2h_v2b"}))
            out[("V2H/V2B", region, segment)] = {
                "kw": v2h_kw, "vehicles": v2h, "services": {"resilience/backup": (
                    v2h_derate if v2h > 0 else math.nan, v2h * v2h_kw * v2h_derate / KW_PER_GW,
                    f"cost file derate x {v2h:,.0f} V2H/V2B vehicles")}}
    return out


def _unit_kw(table: pd.DataFrame, option: str) -> float:
    rows = table[(table["option"] == option) & (table["item"] == "unit_kw")]
    return float(rows["value"].iloc[-1]) if not rows.empty else math.nan


def _file_derate(table: pd.DataFrame, option: str, service: str, year: int) -> float:
    hit = table[(table["option"] == option) & (table["item"] == "derate")
                & (table["service"] == service)]
    if hit.empty:
        return math.nan
    hit = hit.sort_values("year")
    return float(np.interp(year, hit["year"], hit["value"]))


def _file_derates(table: pd.DataFrame, year: int) -> dict[tuple[str, str], float]:
    """Every (option, service) derate of the cost file in a year [fraction]."""
    rows = table[table["item"] == "derate"]
    return {(str(o), str(s)): _file_derate(table, str(o), str(s), year)
            for o, s in set(zip(rows["option"], rows["service"], strict=True))}


# ----------------------------------------------------------------------------- the stack
def _credit(c0: float, supply_gw: float, saturation: float) -> float:
    """Average capacity credit of ``supply_gw`` under a saturation depth [fraction]."""
    if math.isnan(c0) or math.isinf(saturation) or supply_gw <= 0 or math.isinf(supply_gw):
        return c0
    x = supply_gw / saturation
    return c0 * (1.0 - math.exp(-x)) / x


def _merit_order(rows: list[dict[str, Any]], depth: float, avoided: float
                 ) -> list[dict[str, Any]]:
    """The rows of one (year, region, service) in merit order with dispatch, survival,
    rank and why (see :func:`survivors`)."""
    def key(r: dict[str, Any]) -> tuple[float, float, str, str]:
        net, eff = r["net_cost"], r["effective_cost"]
        return (math.inf if math.isnan(net) else net, math.inf if math.isnan(eff) else eff,
                str(r["option"]), str(r["segment"]))

    ordered = sorted(rows, key=key)
    remaining = depth
    nets = sorted(r["net_cost"] for r in ordered if not math.isnan(r["net_cost"]))
    for r in ordered:
        cost, supply = r["net_cost"], r["supply_gw"]
        r["rank"] = (1 + sum(1 for n in nets if n < cost - TOL) if not math.isnan(cost)
                     else len(ordered))
        if math.isnan(cost) or supply <= 0:
            r["dispatched_gw"], r["survives"] = 0.0, False
            r["why"] = "not offered: no vehicles in this state or no cost on this test"
            continue
        take = min(supply, remaining)
        remaining = 0.0 if math.isinf(take) else remaining - take
        r["dispatched_gw"] = take
        r["survives"] = False
        if cost > avoided + TOL:
            r["why"] = f"net cost {cost:,.0f} above the avoided cost {avoided:,.0f}"
        elif take <= 0:
            r["why"] = (f"cheaper than the avoided cost ({cost:,.0f} <= {avoided:,.0f}) but "
                        f"the {depth:,.1f} GW market is filled by cheaper options")
        else:
            share = "" if math.isinf(depth) else f" of the {depth:,.1f} GW market"
            amount = "any amount" if math.isinf(take) else f"{take:,.2f} GW"
            r["survives"] = True
            r["why"] = (f"survives: net cost {cost:,.0f} <= avoided cost {avoided:,.0f}; "
                        f"dispatched {amount}{share}")
    return ordered


def survivors(rows: pd.DataFrame, depth: float, avoided: float) -> pd.DataFrame:
    """Merit order of one (year, region, service): dispatch up to ``depth`` [GW] in order
    of net cost (ties to the lower effective cost); survivors are dispatched at a net cost
    not above ``avoided``. Adds ``dispatched_gw``, ``survives``, ``why`` and ``rank``."""
    records: list[dict[str, Any]] = [{str(k): v for k, v in r.items()}
                                     for r in rows.to_dict("records")]
    out = _merit_order(records, depth, avoided)
    return pd.DataFrame(out, columns=[*rows.columns, "rank", "dispatched_gw", "survives",
                                      "why"])


def comparator_stack(results: Any, years: int | Iterable[int] | None = None,
                     costs: pd.DataFrame | Path | str | None = None,
                     services: Mapping[str, Any] | Path | str | None = None, *,
                     test: str = "TRC", stacking: bool = True, depth_cap: bool = True
                     ) -> pd.DataFrame:
    """Every option for every service, region, segment and year, with survivors and why.

    Parameters
    ----------
    results : the model run (:class:`evflex.model.Results`); its dataset is read.
    years : years to compare (default 2030, 2050 and the run's last year).
    costs, services : the cost table and service specifications (default: shipped).
    test : ``TRC`` (total resource cost) or ``PAC`` (programme administrator cost).
    stacking, depth_cap : switch value stacking and the market-depth cap off, to see what
        each contributes.
    """
    if test not in TESTS:
        raise CostsError(f"cost test: got {test!r}, expected one of {', '.join(TESTS)}")
    table = load_costs(costs)
    specs = load_services(services)["services"]
    prices = Prices.of(table)
    wear, wear_source = degradation_per_kwh(table, prices)
    cost_of = _Costs(table, prices)
    run_years = sorted(int(y) for y in results.data["year"].values)
    if years is None:
        wanted = [y for y in (2030, 2050, run_years[-1]) if y in run_years]
    else:
        wanted = [int(years)] if isinstance(years, int | np.integer) else [int(y) for y in years]
    missing = [y for y in wanted if y not in run_years]
    if missing:
        raise ValueError(f"comparator years not in the run (got {missing}, expected years "
                         f"{run_years[0]} to {run_years[-1]})")
    frames: list[dict[str, Any]] = []
    for year in sorted(set(wanted)):
        supply = run_supply(results, year, table)
        peak_h = results.data["param_peak_duration_h"].sel(year=year)
        for region in [str(r) for r in results.data["region"].values]:
            h_region = float(peak_h.sel(region=region).mean())
            rows = _region_rows(table, specs, prices, supply, year, region, test, wear,
                                wear_source, h_region, cost_of)
            frames += _stack_region(rows, specs, region, stacking, depth_cap)
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    out = pd.DataFrame(frames)
    v2g = out[(out["option"] == "V2G") & out["survives"]]
    keys = set(zip(v2g["year"], v2g["region"], v2g["service"], strict=True))
    out["v2g_survives"] = [k in keys for k in zip(out["year"], out["region"], out["service"],
                                                  strict=True)]
    order = {s: i for i, s in enumerate(SERVICES)}
    out = out.sort_values(["year", "region", "service", "rank", "option", "segment"],
                          kind="stable",
                          key=lambda c: c.map(order) if c.name == "service" else c)
    return out[list(COLUMNS)].reset_index(drop=True)


class _Costs:
    """:func:`annual_cost` memoised per option, segment, year, test and unit power."""

    def __init__(self, table: pd.DataFrame, prices: Prices):
        self.table, self.prices = table, prices
        self.memo: dict[tuple[Any, ...], tuple[float, str]] = {}
        self.derate_memo: dict[int, dict[tuple[str, str], float]] = {}

    def derates(self, year: int) -> dict[tuple[str, str], float]:
        if year not in self.derate_memo:
            self.derate_memo[year] = _file_derates(self.table, year)
        return self.derate_memo[year]

    def __call__(self, option: str, segment: str, year: int, test: str,
                 unit_kw: float | None = None) -> tuple[float, str]:
        key = (option, segment, year, test, None if unit_kw is None else round(unit_kw, 9))
        if key not in self.memo:
            try:
                self.memo[key] = annual_cost(self.table, option, segment, year, test,
                                             unit_kw=unit_kw, prices=self.prices)
            except CostsError as exc:
                self.memo[key] = (math.nan, f"no cost: {exc}")
        return self.memo[key]


def _region_rows(table: pd.DataFrame, specs: Mapping[str, Any], prices: Prices,
                 supply: Mapping[tuple[str, str, str], dict[str, Any]], year: int,
                 region: str, test: str, wear: float, wear_source: str, peak_h: float,
                 costs: _Costs) -> list[dict[str, Any]]:
    """One row per (service, option, segment) offered in a region, before the stack."""
    rows = []
    derates = costs.derates(year)
    for service in SERVICES:
        spec = specs[service]
        hours = 365.0 * peak_h if spec["annual_hours"] == "peak_duration" else float(
            spec["annual_hours"])
        saturation = _by_region(spec.get("saturation_gw"), region)
        for option in OPTIONS:
            if option in VEHICLE_OPTIONS:
                entries = [(seg, e) for (o, r, seg), e in supply.items()
                           if o == option and r == region and service in e["services"]]
                total_gw = sum(e["services"][service][1] for _, e in entries)
                for segment, entry in entries:
                    derate, gw, basis = entry["services"][service]
                    cost, source = costs(option, segment, year, test, entry["kw"])
                    wear_kw = (hours * derate * wear if option in DISCHARGING and test == "TRC"
                               and not math.isnan(derate) else 0.0)
                    rows.append(_row(year, region, segment, service, option, test, cost,
                                     wear_kw, derate, _credit(derate, total_gw, saturation),
                                     gw if entry["vehicles"] > 0 else 0.0, basis,
                                     source + (f"; degradation: {wear_source}"
                                               if wear_kw else "")))
            else:
                derate = derates.get((option, service), math.nan)
                if math.isnan(derate):
                    continue
                cost, source = costs(option, "all", year, test)
                rows.append(_row(year, region, "all", service, option, test, cost, 0.0,
                                 derate, derate, math.inf, "cost file", source))
    return rows


def _row(year: int, region: str, segment: str, service: str, option: str, test: str,
         cost: float, wear: float, derate: float, credit: float, supply_gw: float,
         basis: str, source: str) -> dict[str, Any]:
    effective = ((cost + wear) / credit if credit and credit > 0 and not math.isnan(credit)
                 else math.nan)
    return {"year": year, "region": region, "segment": segment, "service": service,
            "option": option, "test": test, "cost_per_kw_year": cost,
            "degradation_per_kw_year": wear, "derate": derate, "capacity_credit": credit,
            "effective_cost": effective, "supply_gw": supply_gw, "unit": "USD/kW-year",
            "derate_basis": basis, "source": source}


def _stack_region(rows: list[dict[str, Any]], specs: Mapping[str, Any], region: str,
                  stacking: bool, depth_cap: bool) -> list[dict[str, Any]]:
    avoided = {service: math.nan for service in SERVICES}
    for r in rows:
        if r["option"] == specs[r["service"]]["counterfactual"]:
            avoided[r["service"]] = r["effective_cost"]
    # value stacking: what the same nameplate kW also earns from compatible services
    offered = {(r["option"], r["segment"], r["service"]): r["derate"] for r in rows}
    by_service: dict[str, list[dict[str, Any]]] = {s: [] for s in SERVICES}
    for r in rows:
        value = 0.0
        if stacking:
            for other in specs[r["service"]].get("stacks_with") or []:
                d = offered.get((r["option"], r["segment"], other), math.nan)
                if not math.isnan(d) and not math.isnan(avoided[other]):
                    value += avoided[other] * d
        r["stacked_value"] = value
        r["avoided_cost"] = avoided[r["service"]]
        credit = r["capacity_credit"]
        own = r["cost_per_kw_year"] + r["degradation_per_kw_year"]
        r["net_cost"] = (max(own - value, 0.0) / credit
                         if credit > 0 and not math.isnan(own) else math.nan)
        by_service[r["service"]].append(r)
    out = []
    for service, group in by_service.items():
        depth = _by_region(specs[service].get("depth_gw"), region) if depth_cap else math.inf
        for r in _merit_order(group, depth, avoided[service]):
            r["depth_gw"] = depth
            out.append(r)
    return out
