"""PyPSA networks of the exported EV components, and the toy system that compares them.

:func:`ev_network` puts one year's components on one bus per region (the optional
``pypsa`` extra): a user can ``pypsa.Network("network_2050.nc")`` and merge the
components into a model of their own. Names follow PyPSA-Eur's ``add_EVs``
(``<node> BEV charger``, ``<node> EV battery``, ``<node> V2G``,
``<node> land transport EV``) so that a merge replaces like with like; one extra load,
``<node> EV unmanaged charging``, carries the EVs outside the managed envelope.

:func:`compare` answers the planner's question behind the export: how much peaking
plant does a system build with the fleet (a) all unmanaged, (b) split as the funnel
says, (c) with PyPSA-Eur's single ``bev_dsm_availability`` of 0.5 for both the DSM store
and V2G. Each case is one linear program over a representative week, solved with HiGHS:
a fixed base demand, a firm source sized at the week's mean demand, and an extendable
peaker. All figures of the toy system are in ``evflex/data/export_pypsa.csv`` with their
sources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evflex.export.components import (
    KW_PER_MW,
    Efficiencies,
    ExportInputError,
    SegmentFleet,
    node_components,
)
from evflex.export.fleet_profiles import HOURS_PER_WEEK, GroupProfiles
from evflex.paths import FloatArray

if TYPE_CHECKING:
    import pypsa

CASES = ("unmanaged", "evflex", "pypsa_eur")
CASE_LABELS = {
    "unmanaged": "all EVs unmanaged",
    "evflex": "evflex filtered shares",
    "pypsa_eur": "PyPSA-Eur share 0.5",
}


@cache
def export_figures() -> pd.DataFrame:
    """The sourced figures of ``evflex/data/export_pypsa.csv`` (index ``name``)."""
    with resources.files("evflex.data").joinpath("export_pypsa.csv").open("r") as fh:
        return pd.read_csv(fh, comment="#").set_index("name")


def figure(name: str) -> float:
    """One sourced figure of the export [its unit in the data file]."""
    return float(export_figures()["value"].astype(float)[name])


def efficiencies() -> Efficiencies:
    """Charger and V2G efficiencies of the export (sourced)."""
    return Efficiencies(charge=figure("charge_efficiency"),
                        discharge=figure("discharge_efficiency"))


def require_pypsa() -> Any:
    """Import :mod:`pypsa` or raise a one-line :class:`ExportInputError`."""
    try:
        import pypsa
    except ModuleNotFoundError:
        raise ExportInputError("pypsa: not installed (expected the optional extra: "
                               "pip install 'evflex[pypsa]')") from None
    if hasattr(pypsa, "options") and hasattr(pypsa.options, "api"):
        # string columns as PyPSA 2.0 will keep them (and no FutureWarning about it)
        pypsa.options.api.legacy_string_dtype = False
    return pypsa


def week_snapshots(year: int) -> pd.DatetimeIndex:
    """One week of hours from the first Monday of ``year`` (hour 0 is Monday 00:00)."""
    first = pd.Timestamp(year=year, month=1, day=1)
    monday = first + pd.Timedelta(days=(7 - first.weekday()) % 7)
    return pd.date_range(monday, periods=HOURS_PER_WEEK, freq="h", name="snapshot")


def year_snapshots(year: int) -> pd.DatetimeIndex:
    """Every hour of ``year`` [8760 or 8784 snapshots]."""
    return pd.date_range(pd.Timestamp(year=year, month=1, day=1),
                         pd.Timestamp(year=year, month=12, day=31, hour=23), freq="h",
                         name="snapshot")


def hour_of_week(snapshots: pd.DatetimeIndex) -> np.ndarray:
    """Hour of the week of each snapshot (0 = Monday 00:00)."""
    return np.asarray(snapshots.day_of_week * 24 + snapshots.hour, dtype=int)


def ev_network(nodes: pd.DataFrame, series: pd.DataFrame, year: int,
               name: str = "evflex EV components", full_year: bool = False) -> pypsa.Network:
    """A :class:`pypsa.Network` with the EV components of ``year``, a bus per region.

    ``nodes`` and ``series`` are the tables of :func:`evflex.export.components.export_tables`
    (both may hold other years; only ``year`` is used). Snapshots: one week from the
    year's first Monday, or with ``full_year`` every hour of the year, the weekly profiles
    repeated by day of the week.
    """
    pypsa = require_pypsa()
    n = pypsa.Network(name=name)
    snapshots = year_snapshots(year) if full_year else week_snapshots(year)
    n.set_snapshots(snapshots)
    how = hour_of_week(snapshots)
    for carrier in ("AC", "EV battery", "BEV charger", "V2G", "land transport EV",
                    "EV unmanaged charging"):
        n.add("Carrier", carrier)
    rows = nodes[nodes["year"] == year].set_index("region")
    ts = series[series["year"] == year]
    regions = [str(r) for r in rows.index]

    def hourly(column: str, suffix: str) -> pd.DataFrame:
        wide = ts.pivot(index="hour", columns="region", values=column).loc[:, regions]
        return pd.DataFrame(wide.to_numpy(dtype=float)[how], index=snapshots,
                            columns=[f"{r}{suffix}" for r in regions])

    def static(column: str) -> list[float]:
        return [float(v) for v in rows[column]]

    battery = [f"{r} EV battery" for r in regions]
    # one call per component type, all regions at once
    n.add("Bus", regions, carrier="AC", unit="MW")
    n.add("Bus", battery, carrier="EV battery", location=regions, unit="MWh_el")
    n.add("Load", [f"{r} EV unmanaged charging" for r in regions], bus=regions,
          carrier="EV unmanaged charging",
          p_set=hourly("unmanaged_load", " EV unmanaged charging"))
    n.add("Load", [f"{r} land transport EV" for r in regions], bus=battery,
          carrier="land transport EV", p_set=hourly("driving_load", " land transport EV"))
    n.add("Link", [f"{r} BEV charger" for r in regions], bus0=regions, bus1=battery,
          carrier="BEV charger", p_nom=static("charger_p_nom"),
          efficiency=static("charger_efficiency"),
          p_max_pu=hourly("charger_p_max_pu", " BEV charger"))
    n.add("Store", battery, bus=battery, carrier="EV battery", e_cyclic=True,
          e_nom=static("store_e_nom"), e_max_pu=1.0,
          e_min_pu=hourly("store_e_min_pu", " EV battery"))
    n.add("Link", [f"{r} V2G" for r in regions], bus0=battery, bus1=regions, carrier="V2G",
          p_nom=static("v2g_p_nom"), efficiency=static("v2g_efficiency"),
          p_max_pu=hourly("v2g_p_max_pu", " V2G"))
    return n


# --------------------------------------------------------------------------- compare

@dataclass(frozen=True)
class RegionSystem:
    """A region's fleet and the toy system around it, for :func:`compare`.

    ``fleets``/``groups``: per segment, as :func:`node_components` takes them;
    ``vehicle_stock`` [vehicles] all vehicles (the base demand scales with it);
    ``base_load_pu`` 24 hourly values of the base demand, mean 1 [per unit].
    """

    region: str
    fleets: Sequence[SegmentFleet]
    groups: Sequence[Mapping[str, GroupProfiles | None]]
    vehicle_stock: float
    base_load_pu: FloatArray


def case_fleets(fleets: Sequence[SegmentFleet], case: str) -> list[SegmentFleet]:
    """The fleet of a comparison case: as run, all unmanaged, or PyPSA-Eur's 0.5 shares.

    PyPSA-Eur's case puts ``bev_dsm_availability`` of the EVs in the DSM store and gives
    the V2G link that share of the charger capacity (``p_nom x bev_dsm_availability``),
    i.e. the same share exports at the charger's rating.
    """
    if case == "evflex":
        return list(fleets)
    out = []
    for f in fleets:
        ev = float(sum(f.states.values()))
        states = dict.fromkeys(f.states, 0.0)
        if case == "unmanaged":
            states["outside"] = ev
            out.append(SegmentFleet(states=states, charger_kw=f.charger_kw,
                                    export_kw=f.export_kw))
        elif case == "pypsa_eur":
            share = figure("pypsa_eur_bev_dsm_availability")
            states["v2g"], states["outside"] = share * ev, (1.0 - share) * ev
            out.append(SegmentFleet(states=states, charger_kw=f.charger_kw,
                                    export_kw=f.charger_kw))
        else:
            raise ValueError(f"unknown case {case!r}")
    return out


def _tables(system: RegionSystem, case: str, year: int,
            eff: Efficiencies) -> tuple[pd.DataFrame, pd.DataFrame]:
    node, ts = node_components(case_fleets(system.fleets, case), system.groups, eff)
    nodes = pd.DataFrame([{"region": system.region, "year": year, **node}])
    series = pd.DataFrame(ts)
    series.insert(0, "hour", np.arange(HOURS_PER_WEEK))
    series.insert(0, "year", year)
    series.insert(0, "region", system.region)
    return nodes, series


def base_demand(system: RegionSystem) -> FloatArray:
    """Hourly base demand of the toy system over the week [MW]."""
    per_vehicle_kw = figure("compare_base_kw_per_vehicle")
    day = system.base_load_pu * per_vehicle_kw * system.vehicle_stock / KW_PER_MW
    return np.tile(day, HOURS_PER_WEEK // 24)


def add_toy_system(n: pypsa.Network, region: str, base_mw: FloatArray,
                   firm_mw: float) -> None:
    """Base demand, a firm source and an extendable peaker on ``region``'s bus."""
    for carrier in ("firm", "peaker", "base demand"):
        if carrier not in n.carriers.index:
            n.add("Carrier", carrier)
    n.add("Load", f"{region} base demand", bus=region, carrier="base demand",
          p_set=pd.Series(base_mw, index=n.snapshots))
    n.add("Generator", f"{region} firm", bus=region, carrier="firm", p_nom=firm_mw,
          marginal_cost=figure("compare_firm_marginal_cost"))
    week_share = HOURS_PER_WEEK / 8760.0
    n.add("Generator", f"{region} peaker", bus=region, carrier="peaker",
          p_nom_extendable=True,
          capital_cost=figure("compare_peaker_capital_cost") * week_share,
          marginal_cost=figure("compare_peaker_marginal_cost"))


def solve(n: pypsa.Network) -> None:
    """Optimise with HiGHS, quietly; raise if not optimal."""
    import logging

    for name in ("linopy", "pypsa"):
        logging.getLogger(name).setLevel(logging.WARNING)
    status, condition = n.optimize(solver_name="highs", include_objective_constant=False,
                                   progress=False,
                                   solver_options={"output_flag": False,
                                                   "log_to_console": False})
    if status != "ok":
        raise RuntimeError(f"PyPSA: not solved ({status}, {condition})")


def compare(systems: Sequence[RegionSystem], year: int,
            eff: Efficiencies) -> tuple[pd.DataFrame, dict[str, pypsa.Network]]:
    """Peaker built in each case, per region: the table and the solved networks.

    Columns: ``region, year, case, label, peaker_mw, firm_mw, base_peak_mw,
    unmanaged_peak_mw, charger_p_nom_mw, store_e_nom_mwh, v2g_p_nom_mw,
    v2g_max_export_mw, bev_dsm_availability, v2g_share, ev_energy_mwh``.
    """
    if not systems:
        raise ExportInputError("compare: no region (expected at least one)")
    firm: dict[str, float] = {}
    base: dict[str, FloatArray] = {}
    for s in systems:
        base[s.region] = base_demand(s)
        _, ts = _tables(s, "unmanaged", year, eff)
        mean = float((base[s.region] + ts["all_unmanaged_load"].to_numpy()).mean())
        firm[s.region] = figure("compare_firm_share_of_mean") * mean
    rows = []
    networks = {}
    for case in CASES:
        parts = [_tables(s, case, year, eff) for s in systems]
        nodes = pd.concat([p[0] for p in parts], ignore_index=True)
        series = pd.concat([p[1] for p in parts], ignore_index=True)
        n = ev_network(nodes, series, year, name=f"evflex compare {case} {year}")
        for s in systems:
            add_toy_system(n, s.region, base[s.region], firm[s.region])
        solve(n)
        networks[case] = n
        for s in systems:
            r = s.region
            node = {k: float(v) for k, v in
                    nodes[nodes["region"] == r].iloc[0].drop(["region", "year"]).items()}
            ts = series[series["region"] == r]
            rows.append({
                "region": r, "year": year, "case": case, "label": CASE_LABELS[case],
                "peaker_mw": float(n.generators.at[f"{r} peaker", "p_nom_opt"]),
                "firm_mw": firm[r],
                "base_peak_mw": float(base[r].max()),
                "unmanaged_peak_mw": float((base[r] + ts["all_unmanaged_load"]).max()),
                "charger_p_nom_mw": node["charger_p_nom"],
                "store_e_nom_mwh": node["store_e_nom"],
                "v2g_p_nom_mw": node["v2g_p_nom"],
                "v2g_max_export_mw": max(0.0, float(-n.links_t.p1[f"{r} V2G"].min())),
                "bev_dsm_availability": node["bev_dsm_availability"],
                "v2g_share": node["v2g_share"],
                "ev_energy_mwh": float(ts["all_unmanaged_load"].sum()),
            })
    return pd.DataFrame(rows), networks


def compare_markdown(table: pd.DataFrame, meta: Mapping[str, Any]) -> str:
    """A citable summary of :func:`compare`: the peaker by case and the toy system's figures."""
    year = int(table["year"].iloc[0])
    wide = table.pivot(index="region", columns="case", values="peaker_mw")
    wide = wide.loc[list(dict.fromkeys(table["region"])), list(CASES)] / 1e3
    evflex_rows = table[table["case"] == "evflex"]
    managed = dict(zip(evflex_rows["region"], evflex_rows["bev_dsm_availability"].astype(float),
                       strict=True))
    v2g = dict(zip(evflex_rows["region"], evflex_rows["v2g_share"].astype(float), strict=True))
    lines = [
        f"# Peaking plant built with the EV fleet, {year}",
        "",
        f"Scenario `{meta.get('scenario', '')}` v{meta.get('version', '')}; availability "
        f"from the {meta.get('availability', '')}. One representative week per region, "
        "solved with PyPSA and HiGHS (`evflex export pypsa --compare`).",
        "",
        "| region | " + " | ".join(f"{CASE_LABELS[c]} [GW]" for c in CASES)
        + " | managed share | V2G share |",
        "| --- |" + " ---: |" * (len(CASES) + 2),
    ]
    for region, row in wide.iterrows():
        lines.append(f"| {region} | " + " | ".join(f"{row[c]:,.1f}" for c in CASES)
                     + f" | {managed[region]:.3f} | {v2g[region]:.3f} |")
    lines += ["", "Toy system (each figure with its source, `figures.csv`):", ""]
    figures = export_figures()
    for name in figures.index:
        if str(name).startswith("compare_") or name in ("charge_efficiency",
                                                         "discharge_efficiency"):
            f = figures.loc[name]
            lines.append(f"- `{name}` = {f['value']:g} {f['unit']}: {f['source']}")
    lines += ["", "A comparison of three fleets on one simple system, not a forecast of any "
              "region's peaking plant. Method and limits: docs/export_pypsa.md.", ""]
    return "\n".join(lines)


def compare_chart(table: pd.DataFrame, networks: Mapping[str, pypsa.Network],
                  region: str, path: Any) -> None:
    """Peaker built by case and region (left); the week in ``region`` (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"unmanaged": "#D55E00", "evflex": "#009E73", "pypsa_eur": "#0072B2"}
    year = int(table["year"].iloc[0])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.6), constrained_layout=True,
                                   gridspec_kw={"width_ratios": [1, 1.4]})
    regions = list(dict.fromkeys(table["region"]))
    width = 0.8 / len(CASES)
    x = np.arange(len(regions))
    for k, case in enumerate(CASES):
        values = (table[table["case"] == case].set_index("region")
                  .loc[regions, "peaker_mw"] / 1e3)
        bars = ax1.bar(x + (k - 1) * width, values, width, color=colours[case],
                       label=CASE_LABELS[case])
        ax1.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    ax1.set_xticks(x, regions)
    ax1.set_ylabel("peaking plant built [GW]")
    ax1.set_title(f"Peaker built over a representative week, {year}", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(axis="y", alpha=0.3)
    hours = np.arange(HOURS_PER_WEEK)
    n0 = networks["unmanaged"]
    base = n0.loads_t.p_set[f"{region} base demand"].to_numpy() / 1e3
    ax2.plot(hours, base, color="#555555", lw=1.0, label="base demand")
    for case in CASES:
        n = networks[case]
        gen = n.generators_t.p[[f"{region} firm", f"{region} peaker"]].sum(axis=1) / 1e3
        ax2.plot(hours, gen.to_numpy(), color=colours[case], lw=1.3,
                 label=f"supply needed: {CASE_LABELS[case]}")
    firm = float(table[(table["region"] == region)]["firm_mw"].iloc[0]) / 1e3
    ax2.axhline(firm, color="#999999", ls="--", lw=1, label="firm source")
    ax2.set_xlabel("hour of the week (0 = Monday 00:00)")
    ax2.set_ylabel("power [GW]")
    ax2.set_xticks(range(0, HOURS_PER_WEEK + 1, 24))
    ax2.set_title(f"{region}: firm + peaker output by case", fontsize=10)
    ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3,
               frameon=False)
    ax2.grid(alpha=0.3)
    fig.savefig(path, dpi=130)
    plt.close(fig)
