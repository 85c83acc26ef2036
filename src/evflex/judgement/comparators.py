"""The comparator stack: where V2G survives against the alternatives, service by service.

For each grid service (:data:`SERVICES`) and option (:data:`OPTIONS`) in a year:

- ``cost_per_kw_year`` [USD/kW-year of nameplate]: capital annualised with the capital
  recovery factor ``crf = r / (1 - (1 + r)^-L)`` plus fixed O&M, or per-unit costs
  (vehicle or device) divided by the unit's nameplate kW;
- ``derate`` [fraction]: deliverable kW per nameplate kW for that service. For managed
  charging and V2G it comes from the run's capacity table (:func:`run_derates`); for the
  other options from the cost file;
- ``effective_cost = cost_per_kw_year / derate`` [USD/kW-year delivered];
- ``rank`` within (year, service), 1 = cheapest; ``v2g_survives`` is true for every row of
  a (year, service) where V2G is strictly cheaper than the next-best option.

Costs (``data/comparator_costs.csv``: ``option, service, item, year, value, unit, source,
note``) change with the year: an item given for several years is interpolated linearly
and held after the last; a ``learning_rate`` [1/year] of the option then lowers its capital
items by ``(1 - rate)^(year - last year)``, not below ``learning_floor`` times the last
value. Items in EUR or GBP are converted with the file's ``usd_per_eur``/``usd_per_gbp``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from evflex.model import Results

SERVICES = ("peak capacity", "energy shifting", "frequency response",
            "distribution congestion relief", "resilience/backup")
OPTIONS = ("managed charging", "V2G", "V2H/V2B", "utility-scale battery", "home battery",
           "other demand response", "peaking plant", "network reinforcement")
#: Options whose nameplate kW per vehicle is a scenario parameter and whose derate comes
#: from the run.
RUN_OPTIONS = {"managed charging": "charger_power_kw", "V2G": "export_power_kw"}
COLUMNS = ("year", "service", "option", "cost_per_kw_year", "derate", "effective_cost", "rank",
           "v2g_survives", "unit", "derate_basis", "source")
CAPITAL_ITEMS = ("capex_power", "capex_energy", "unit_capex")
KW_PER_GW = 1e6
CURRENCY = "USD"


class CostsError(ValueError):
    """A cost file that cannot be used; the message names the row and field."""


def shipped_costs_path() -> Path:
    return Path(str(resources.files("evflex.data").joinpath("comparator_costs.csv")))


def load_costs(costs: pd.DataFrame | Path | str | None = None) -> pd.DataFrame:
    """The cost table, validated (default: the shipped ``comparator_costs.csv``)."""
    if isinstance(costs, pd.DataFrame):
        table, label = costs.copy(), "(costs table)"
    else:
        path = Path(costs) if costs is not None else shipped_costs_path()
        table, label = pd.read_csv(path, keep_default_na=False), str(path)
    need = ["option", "service", "item", "year", "value", "unit", "source"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise CostsError(f"{label}: missing columns {', '.join(missing)}")
    problems = []
    for i, row in enumerate(table.to_dict("records")):
        where = f"{label} line {i + 2}"
        if row["option"] not in (*OPTIONS, "all"):
            problems.append(f"{where}, column 'option': got {row['option']!r}, expected one of "
                            f"{', '.join(OPTIONS)} or 'all'")
        if row["service"] not in (*SERVICES, "*"):
            problems.append(f"{where}, column 'service': got {row['service']!r}, expected one "
                            f"of {', '.join(SERVICES)} or '*'")
        try:
            ok = math.isfinite(float(row["value"])) and float(row["value"]) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(f"{where}, column 'value': got {row['value']!r}, expected a number "
                            ">= 0")
        if not str(row["source"]).strip():
            problems.append(f"{where}, column 'source': got '', expected a source or "
                            "'assumption: ...'")
    if problems:
        raise CostsError("\n".join(problems))
    table["value"] = table["value"].astype(float)
    table["year"] = table["year"].astype(int)
    return table


def crf(rate: float, years: float) -> float:
    """Capital recovery factor [1/year]: the annuity that repays 1 over ``years`` at ``rate``."""
    if years <= 0:
        raise ValueError(f"lifetime must be positive (got {years})")
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


class _Items:
    """Cost items of one option, evaluated in one year and converted to USD."""

    def __init__(self, table: pd.DataFrame, option: str, year: int, fx: Mapping[str, float]):
        self.rows = table[table["option"] == option]
        self.option, self.year, self.fx = option, year, fx
        self.sources: list[str] = []

    def get(self, item: str, service: str = "*", default: float | None = None) -> float:
        rows = self.rows[(self.rows["item"] == item) & (self.rows["service"] == service)]
        if rows.empty:
            if default is None:
                raise CostsError(f"{self.option}: no '{item}' for service {service!r}")
            return default
        rows = rows.sort_values("year")
        years, values = rows["year"].to_numpy(float), rows["value"].to_numpy(float)
        value = float(np.interp(self.year, years, values))
        if item in CAPITAL_ITEMS and self.year > years[-1]:
            rate = self.get("learning_rate", default=0.0)
            floor = self.get("learning_floor", default=0.0)
            value = values[-1] * max(floor, (1.0 - rate) ** (self.year - years[-1]))
        unit = str(rows["unit"].iloc[-1])
        currency = unit.split("/", 1)[0]
        if currency in self.fx:
            value *= self.fx[currency]
        src = str(rows["source"].iloc[-1])
        if src not in self.sources:
            self.sources.append(src)
        return value

    def has(self, item: str, service: str = "*") -> bool:
        return bool(((self.rows["item"] == item) & (self.rows["service"] == service)).any())


def _fx(table: pd.DataFrame) -> dict[str, float]:
    rows = table[table["option"] == "all"]
    out = {CURRENCY: 1.0}
    for item, currency in (("usd_per_eur", "EUR"), ("usd_per_gbp", "GBP")):
        hit = rows[rows["item"] == item]
        if not hit.empty:
            out[currency] = float(hit["value"].iloc[-1])
    return out


def cost_per_kw_year(table: pd.DataFrame, option: str, year: int, unit_kw: float | None = None
                     ) -> tuple[float, str]:
    """Annual cost of one nameplate kW of an option in a year [USD/kW-year], and its sources.

    ``unit_kw`` [kW] is the nameplate per vehicle or device where the file does not give it
    (the scenario's charger or export power for managed charging and V2G).
    """
    fx = _fx(table)
    rate_rows = table[(table["option"] == "all") & (table["item"] == "discount_rate")]
    rate = float(rate_rows["value"].iloc[-1]) if not rate_rows.empty else 0.07
    it = _Items(table, option, year, fx)
    if it.has("capex_power"):
        capex = it.get("capex_power")
        cost = capex * (crf(rate, it.get("lifetime_power")) + it.get("fom", default=0.0))
        if it.has("capex_energy"):
            cost += (it.get("capex_energy") * it.get("duration")
                     * crf(rate, it.get("lifetime_energy")))
    else:
        kw = it.get("unit_kw") if it.has("unit_kw") else unit_kw
        if kw is None or not kw > 0:
            raise CostsError(f"{option}: no nameplate kW per unit (unit_kw) in {year}")
        annual = it.get("unit_annual", default=0.0) + it.get("unit_overhead", default=0.0)
        if it.has("unit_capex"):
            annual += it.get("unit_capex") * crf(rate, it.get("unit_lifetime"))
        cost = annual / kw
    return cost, "; ".join(it.sources)


# ----------------------------------------------------------------------------- the run
def _total(da: xr.DataArray, *keep: str) -> xr.DataArray:
    return da.sum([d for d in da.dims if d not in keep])


def _run_totals(results: Results, year: int) -> dict[str, float]:
    """The run's capacity metrics and state counts in a year, summed over regions and
    segments by named dimensions."""
    ds = results.data
    out = {str(n).removeprefix("capacity_"): float(_total(ds[n], "year").sel(year=year))
           for n in ds.data_vars if str(n).startswith("capacity_")}
    states = _total(ds["states"], "state", "year").sel(year=year)
    for s, v in zip(states["state"].values, states.values, strict=True):
        out[f"state:{s}"] = float(v)
    return out


def _weighted_parameter(results: Results, name: str, year: int, states: Iterable[str]
                        ) -> float:
    """A run parameter in a year, averaged over regions and segments by the vehicles in
    ``states`` (the values the run used, from its dataset)."""
    ds = results.data
    values = ds[f"param_{name}"].sel(year=year)
    weights = ds["states"].sel(year=year, state=list(states)).sum("state")
    total = float(weights.sum())
    if total <= 0:
        return float(values.mean())
    return float((values * weights).sum() / total)


def run_derates(results: Results, year: int
                ) -> dict[tuple[str, str], tuple[float, str, float]]:
    """Derates of managed charging and V2G from the run, keyed (option, service).

    Values are (derate [fraction], basis text, nameplate kW per vehicle). NaN where the run
    has no such vehicles in that year.
    """
    w = _run_totals(results, year)
    peak_h = _weighted_parameter(results, "peak_duration_h", year, ("v2g",))
    out: dict[tuple[str, str], tuple[float, str, float]] = {}

    def ratio(num: float, den: float) -> float:
        return min(1.0, num / den) if den > 0 else math.nan

    # managed charging: the managed envelope charging at its nameplate charger power
    kw_c = _weighted_parameter(results, "charger_power_kw", year,
                               ("v2g", "v2h_v2b", "grid_managed"))
    envelope = w.get("managed_envelope", math.nan)
    nameplate_gw = envelope * kw_c / KW_PER_GW
    peak = ratio(w.get("shiftable_load", math.nan), nameplate_gw)
    basis = (f"run {year}: shiftable load {w.get('shiftable_load', math.nan):,.1f} GW / "
             f"{envelope:,.0f} managed EVs x {kw_c:.1f} kW")
    energy = ratio(w.get("shiftable_energy", math.nan), nameplate_gw * peak_h)
    for service, d, b in (
            ("peak capacity", peak, basis),
            ("distribution congestion relief", peak, basis + " (local evening peak as system)"),
            ("frequency response", peak, basis + " (only vehicles charging can modulate)"),
            ("energy shifting", energy,
             f"run {year}: shiftable energy {w.get('shiftable_energy', math.nan):,.0f} GWh/day "
             f"/ (nameplate x {peak_h:g} h)")):
        out[("managed charging", service)] = (d, b, kw_c)
    # V2G: active V2G vehicles exporting at their nameplate
    kw_e = _weighted_parameter(results, "export_power_kw", year, ("v2g",))
    v2g = w.get("state:v2g", math.nan)
    nameplate_gw = v2g * kw_e / KW_PER_GW
    power = ratio(w.get("v2g_export_power", math.nan), nameplate_gw)
    basis = (f"run {year}: V2G export {w.get('v2g_export_power', math.nan):,.2f} GW / "
             f"{v2g:,.0f} V2G EVs x {kw_e:.1f} kW")
    plugged = ratio(w.get("v2g_plugged_at_peak", math.nan), v2g)
    energy = ratio(w.get("v2g_export_energy", math.nan), nameplate_gw * peak_h)
    for service, d, b in (
            ("peak capacity", power, basis),
            ("distribution congestion relief", power, basis + " (local evening peak as system)"),
            ("frequency response", plugged,
             f"run {year}: plugged-in share of V2G vehicles at the peak"),
            ("energy shifting", energy,
             f"run {year}: V2G export energy {w.get('v2g_export_energy', math.nan):,.1f} GWh / "
             f"(nameplate x {peak_h:g} h)")):
        out[("V2G", service)] = (d, b, kw_e)
    return out


def comparator_stack(results: Results, years: int | Iterable[int] | None = None,
                     costs: pd.DataFrame | Path | str | None = None) -> pd.DataFrame:
    """Cost per delivered kW-year of every option for every service, ranked, by year.

    Parameters
    ----------
    results : the model run; its dataset's capacity, states and parameters are read.
    years : years to compare (default 2030, 2050 and the run's last year).
    costs : a cost file or table (default: the shipped ``comparator_costs.csv``).
    """
    table = load_costs(costs)
    run_years = sorted(int(y) for y in results.data["year"].values)
    if years is None:
        wanted = [y for y in (2030, 2050, run_years[-1]) if y in run_years]
    else:
        wanted = [int(years)] if isinstance(years, int | np.integer) else [int(y) for y in years]
    missing = [y for y in wanted if y not in run_years]
    if missing:
        raise ValueError(f"comparator years not in the run (got {missing}, expected years "
                         f"{run_years[0]} to {run_years[-1]})")
    rows = []
    for year in sorted(set(wanted)):
        derates = run_derates(results, year)
        for option in OPTIONS:
            opt = table[table["option"] == option]
            for service in SERVICES:
                if option in RUN_OPTIONS:
                    if not ((opt["item"] == "offers") & (opt["service"] == service)).any():
                        continue
                    derate, basis, kw = derates[(option, service)]
                    cost, source = cost_per_kw_year(table, option, year, unit_kw=kw)
                else:
                    hit = opt[(opt["item"] == "derate") & (opt["service"] == service)]
                    if hit.empty:
                        continue
                    derate = float(np.interp(year, hit["year"], hit["value"]))
                    basis = f"cost file: {hit['source'].iloc[-1]}"
                    cost, source = cost_per_kw_year(table, option, year)
                effective = cost / derate if derate > 0 else math.inf
                rows.append({"year": year, "service": service, "option": option,
                             "cost_per_kw_year": cost, "derate": derate,
                             "effective_cost": effective, "unit": "USD/kW-year",
                             "derate_basis": basis, "source": source})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    out["rank"] = (out.groupby(["year", "service"])["effective_cost"]
                   .rank(method="min", na_option="bottom").astype(int))
    survives: dict[tuple[object, ...], bool] = {}
    for key, grp in out.groupby(["year", "service"]):
        v2g = grp[grp["option"] == "V2G"]["effective_cost"]
        others = grp[grp["option"] != "V2G"]["effective_cost"].dropna()
        survives[tuple(key)] = bool(
            not v2g.empty and np.isfinite(v2g.iloc[0])
            and (others.empty or float(v2g.iloc[0]) < float(others.min())))
    out["v2g_survives"] = [survives[(y, s)] for y, s in zip(out["year"], out["service"],
                                                            strict=True)]
    order = {s: i for i, s in enumerate(SERVICES)}
    out = out.sort_values(["year", "service", "rank"], kind="stable",
                          key=lambda c: c.map(order) if c.name == "service" else c)
    return out[list(COLUMNS)].reset_index(drop=True)
