"""One run of the engine: scenario → fleet → capability → filters → states → capacity.

>>> from evflex.model import run
>>> results = run("base")                                  # doctest: +SKIP
>>> results.frames()["states"].query("region == 'World' and year == 2100")  # doctest: +SKIP

:func:`run` returns :class:`Results`, which holds every quantity as a labelled
:class:`xarray.Dataset` over (region, segment, year) and renders the output tables
(``states``, ``fleet``, ``funnel``, ``capacity``) as data frames with block (EU27,
Europe, ...: those whose every member is a region of the run, see :mod:`evflex.regions`),
World and all-segment aggregates. Aggregates are sums of counts; shares are recomputed
from those sums, never averaged.

The fleet is driven by sales: total new-vehicle sales are the IEA's (EV sales / EV sales
share) up to ``years.history_end`` and grow at ``vehicle_sales_growth`` after it; the
stock is the sum of surviving vintages (:mod:`evflex.fleet.sales`). History takes EV
sales by powertrain from the IEA Global EV Data 2025 extract; the projection takes them
from total sales times the scenario's EV sales share and PHEV split. The EV vintages up
to the first year the IEA reports a stock for a region carry that one stock (a data
point, :func:`evflex.fleet.stock.anchor_initial_stock`; option ``initial_ev_stock``);
every later year's EV stock is a model result, tested against the IEA's stock series.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from evflex.capability import capable_sales, smart_capable_sales, stock_of
from evflex.capacity import METRICS, Availability, energy_above_reserve, grid_capacity
from evflex.filters import CONDITIONAL_FILTERS, FUNNEL_STEPS, removed_by_step, v2g_funnel
from evflex.fleet.history import (
    POWERTRAINS,
    disputed,
    ev_series,
    read_disputes,
    total_sales_history,
)
from evflex.fleet.sales import FleetDataError, fill_history, fleet_from_sales, project_sales
from evflex.fleet.stock import anchor_initial_stock, retirements_from_stock, vintage_stock
from evflex.fleet.survival import survival_by_age, survival_matrix
from evflex.glossary import ALL_SEGMENTS, WORLD
from evflex.metadata import cf_units, long_name
from evflex.paths import FloatArray
from evflex.regions import hierarchy
from evflex.scenario import Scenario, validated
from evflex.scenario.evaluate import evaluate_all
from evflex.states import STATES, allocate_states


def _ev_sales(scenario: Scenario, params: dict[str, FloatArray],
              sales: FloatArray) -> FloatArray:
    """EV sales by (..., region, segment, powertrain, year) [vehicles/year]."""
    years = scenario.years_axis
    history = ev_series("ev_sales", scenario.regions, list(scenario.segments), years,
                        [seg.iea_mode for seg in scenario.segments.values()])
    ev_total = sales * params["ev_sales_share"]
    phev = params["phev_share_of_ev_sales"]
    projected = np.stack(np.broadcast_arrays(ev_total * (1.0 - phev), ev_total * phev), axis=-2)
    is_history = np.asarray(years) <= scenario.years.history_end
    return np.where(is_history, history, projected)


def first_reported_stock(scenario: Scenario) -> tuple[FloatArray, FloatArray]:
    """The IEA's EV stock in the first year it reports one (national statistics not
    contradicting it: :func:`evflex.fleet.history.read_disputes`), and that year's index.

    Shapes (region, segment, powertrain) [vehicles], [index on the year axis]; stock 0
    where the IEA reports none up to ``years.history_end`` (see
    :func:`evflex.fleet.stock.anchor_initial_stock`).
    """
    years = scenario.years_axis
    modes = [seg.iea_mode for seg in scenario.segments.values()]
    stock = ev_series("ev_stock", scenario.regions, list(scenario.segments), years, modes)
    stock[..., np.asarray(years) > scenario.years.history_end] = 0.0
    # a figure national statistics contradict is not a data point (iea_disputes.csv)
    cars = np.array([mode == "cars" for mode in modes])[None, :, None, None]
    stock = np.where(cars & disputed(scenario.regions, years)[:, None], 0.0, stock)
    index = np.argmax(stock > 0, axis=-1)
    return np.take_along_axis(stock, index[..., None], axis=-1)[..., 0], index


def sales_history(scenario: Scenario) -> FloatArray:
    """Total new-vehicle sales implied by the IEA up to the last history year, NaN elsewhere.

    Shape (region, segment, year) [vehicles/year]; see
    :func:`evflex.fleet.history.total_sales_history`.
    """
    years = scenario.years_axis
    history = total_sales_history(scenario.regions, list(scenario.segments), years,
                                  [seg.iea_mode for seg in scenario.segments.values()])
    history[..., np.asarray(years) > scenario.years.history_end] = np.nan
    return history


def total_sales(scenario: Scenario, params: dict[str, FloatArray]) -> FloatArray:
    """Total new-vehicle sales, history then the growth path (..., region, segment, year).

    Raises :class:`FleetDataError` naming the (region, segment) without any sales history.
    """
    history = sales_history(scenario)
    pre_growth = params["pre_history_growth"][..., 0]
    try:
        filled = fill_history(np.broadcast_to(history, np.broadcast_shapes(
            history.shape, pre_growth.shape + history.shape[-1:])), pre_growth)
    except FleetDataError as exc:
        n_seg = len(scenario.segments)
        k = int(str(exc)) % (len(scenario.regions) * n_seg)
        region, segment = scenario.regions[k // n_seg], list(scenario.segments)[k % n_seg]
        raise FleetDataError(
            f"{region}/{segment}: no total-sales history in the IEA data (EV sales / EV "
            f"sales share) up to {scenario.years.history_end}, expected a region and "
            "segment the IEA reports") from None
    is_projection = np.asarray(scenario.years_axis) > scenario.years.history_end
    return project_sales(filled, params["vehicle_sales_growth"], is_projection)


def compute_arrays(scenario: Scenario, params: dict[str, FloatArray],
                   availability: Availability | None = None) -> dict[str, FloatArray]:
    """The engine on evaluated parameters: every quantity as a plain array.

    ``params`` maps each parameter to an array of shape (..., region, segment, year);
    leading axes (e.g. Monte Carlo draws, see :mod:`evflex.uncertainty`) broadcast
    through every step, so one call computes a whole batch of draws without a Python
    loop per draw. A parameter that does not vary may keep a leading axis of length 1.
    Returned arrays put those leading axes first; the rest of each shape is that of the
    same variable in :func:`compute`.
    """
    n_years = len(scenario.years_axis)

    # Fleet: survival is a property of the segment and region (first year's values).
    surv_age = survival_by_age(params["survival_mean_life"][..., 0],
                               params["survival_shape"][..., 0],
                               scenario.options.survival_max_age)
    surv = survival_matrix(surv_age, n_years)  # (..., R, S, V, T)
    sales = total_sales(scenario, params)
    stock, retirements, stock_before = fleet_from_sales(
        sales, params["pre_history_growth"][..., 0], surv_age, surv)
    ev_sales = _ev_sales(scenario, params, sales)
    # Used EVs that leave (or, negative, join) the region's stock in their sale year; a
    # vintage never ends up larger than that year's total sales, so EV stock <= stock.
    ev_kept = ev_sales * (1.0 - params["used_ev_net_export"][..., None, :])
    # The vintages up to the IEA's first reported stock carry that stock (cars imported
    # used or never counted before it show as net exports of those vintages).
    if scenario.options.initial_ev_stock == "first_reported":
        ev_kept = anchor_initial_stock(ev_kept, *first_reported_stock(scenario), surv)
    kept_total = ev_kept.sum(axis=-2, keepdims=True)
    cap = np.minimum(1.0, sales[..., None, :] / np.where(kept_total > 0, kept_total, 1.0))
    ev_kept = ev_kept * np.where(kept_total > sales[..., None, :], cap, 1.0)
    ev_net_exports = ev_sales - ev_kept
    ev_stock_pt = vintage_stock(ev_kept, surv)  # (..., R, S, P, T)
    ev_stock = ev_stock_pt.sum(axis=-2)
    ev_retirements = retirements_from_stock(ev_kept, ev_stock_pt)

    # Capability by vintage, carried into the stock.
    phev_eligible = scenario.options.phev_v2g_eligible
    bidir = params["bidirectional_share"]
    capable = capable_sales(ev_kept, bidir, phev_eligible)
    smart = smart_capable_sales(ev_kept, params["smart_capable_share"], capable)
    capable_stock = stock_of(capable, surv)
    smart_stock = stock_of(smart, surv)

    # Filters, funnel and exclusive states.
    shares = {name: params[name] for name in CONDITIONAL_FILTERS}
    funnel = v2g_funnel(ev_stock, capable_stock, shares)  # (..., R, S, step, T)
    installed = funnel[..., FUNNEL_STEPS.index("bidirectional_charger"), :]
    states = allocate_states(
        ev_stock, funnel[..., -1, :], installed, smart_stock, params["v2h_v2b_use"],
        params["grid_managed_enrolment"], params["smart_charging_use"])

    # Energy in the batteries, by vintage.
    batt_bev, batt_phev = params["battery_kwh_bev"], params["battery_kwh_phev"]
    naive_kwh = stock_of(ev_kept[..., 0, :] * batt_bev + ev_kept[..., 1, :] * batt_phev,
                         surv)
    capable_energy = ev_kept[..., 0, :] * bidir * batt_bev
    if phev_eligible:
        capable_energy = capable_energy + ev_kept[..., 1, :] * bidir * batt_phev
    capable_kwh_total = stock_of(capable_energy, surv)
    capable_kwh = np.where(capable_stock > 0, capable_kwh_total
                           / np.where(capable_stock > 0, capable_stock, 1.0), batt_bev)

    avail = availability if availability is not None else Availability.from_parameters(params)
    capacity = grid_capacity(
        naive_kwh=naive_kwh, states=states, capable_kwh=capable_kwh, availability=avail,
        charger_power_kw=params["charger_power_kw"], export_power_kw=params["export_power_kw"],
        peak_duration_h=params["peak_duration_h"], daily_energy_kwh=params["daily_energy_kwh"],
        shiftable_energy_share=params["shiftable_energy_share"])

    usable = energy_above_reserve(capable_kwh, avail)
    out = {
        "stock": stock, "sales": sales,
        "retirements": retirements, "stock_before": stock_before, "ev_sales_pt": ev_sales,
        "ev_stock_pt": ev_stock_pt, "ev_retirements_pt": ev_retirements,
        "ev_net_exports_pt": ev_net_exports,
        "capable_sales": capable, "smart_capable_sales": smart,
        "capable_stock": capable_stock, "smart_capable_stock": smart_stock,
        "funnel": funnel, "states": states, "capable_kwh": capable_kwh,
        "usable_kwh": np.broadcast_to(usable, np.broadcast_shapes(usable.shape,
                                                                  capable_kwh.shape)),
    }
    for metric in METRICS:
        out[f"capacity_{metric}"] = capacity[metric]
    return out


_RST = ("region", "segment", "year")
_RSPT = ("region", "segment", "powertrain", "year")
#: Dimensions and unit of each array of :func:`compute_arrays`, in dataset order.
VARIABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "stock": (_RST, "vehicles"),
    "sales": (_RST, "vehicles/year"),
    "retirements": (_RST, "vehicles/year"),
    "stock_before": (("region", "segment"), "vehicles"),
    "ev_sales_pt": (_RSPT, "vehicles/year"),
    "ev_stock_pt": (_RSPT, "vehicles"),
    "ev_retirements_pt": (_RSPT, "vehicles/year"),
    "ev_net_exports_pt": (_RSPT, "vehicles/year"),
    "iea_ev_stock": (_RST, "vehicles"),
    "capable_sales": (_RST, "vehicles/year"),
    "smart_capable_sales": (_RST, "vehicles/year"),
    "capable_stock": (_RST, "vehicles"),
    "smart_capable_stock": (_RST, "vehicles"),
    "funnel": (("region", "segment", "step", "year"), "vehicles"),
    "states": (("region", "segment", "state", "year"), "vehicles"),
    "capable_kwh": (_RST, "kWh/vehicle"),
    "usable_kwh": (_RST, "kWh/vehicle"),
    **{f"capacity_{metric}": (_RST, unit) for metric, unit in METRICS.items()},
}


def compute(scenario: Scenario, availability: Availability | None = None) -> xr.Dataset:
    """Every quantity of one run as a dataset over (region, segment, ..., year)."""
    params = evaluate_all(scenario)
    years = scenario.years_axis
    arrays = compute_arrays(scenario, params, availability)
    avail = availability if availability is not None else Availability.from_parameters(params)
    arrays["iea_ev_stock"] = ev_series(
        "ev_stock", scenario.regions, list(scenario.segments), years,
        [seg.iea_mode for seg in scenario.segments.values()]).sum(axis=2)

    # The IEA reports no stock after its last historical year: NaN there, not zero.
    after_history = np.asarray(years) > scenario.years.history_end
    arrays["iea_ev_stock"] = np.where(after_history, np.nan, arrays["iea_ev_stock"])

    data: dict[str, tuple[tuple[str, ...], FloatArray, dict[str, str]]] = {}
    for name, (dims, unit) in VARIABLES.items():
        attrs = {"units": cf_units(unit), "long_name": long_name(name)}
        if name == "iea_ev_stock":
            attrs["source"] = "IEA Global EV Data 2025 (history only; NaN after it)"
        data[name] = (dims, arrays[name], attrs)
    for name, values in params.items():
        data[f"param_{name}"] = (_RST, values, {
            "units": cf_units(scenario.parameters[name].unit),
            "long_name": long_name(f"param_{name}")})
    ds = xr.Dataset(
        {name: xr.Variable(dims, np.asarray(values, dtype=float), attrs)
         for name, (dims, values, attrs) in data.items()},
        coords={"region": scenario.regions, "segment": list(scenario.segments),
                "year": years, "powertrain": list(POWERTRAINS), "step": list(FUNNEL_STEPS),
                "state": list(STATES)},
        attrs={"scenario": scenario.name, "version": scenario.version,
               "availability_source": avail.source,
               "history_end": scenario.years.history_end},
    )
    return ds


def with_regional_aggregates(da: xr.DataArray, blocks: dict[str, list[str]]) -> xr.DataArray:
    """Add each block (sum of its member regions) and ``World`` (sum of all) as regions.

    One matrix product over the region axis (a 0/1 membership matrix), not one sum per
    block, so that a country run with many blocks stays fast.
    """
    regions = [str(r) for r in da["region"].values]
    index = {r: i for i, r in enumerate(regions)}
    membership = np.zeros((len(blocks) + 1, len(regions)))
    for k, members in enumerate(blocks.values()):
        membership[k, [index[m] for m in members]] = 1.0
    membership[-1] = 1.0
    axis = da.get_axis_num("region")
    values = np.moveaxis(da.values, axis, -1)
    sums = np.moveaxis(values @ membership.T, -1, axis)
    coords = {name: ([*regions, *blocks, WORLD] if name == "region" else coord)
              for name, coord in da.coords.items()
              if name == "region" or "region" not in coord.dims}
    return xr.DataArray(np.concatenate([da.values, sums], axis=axis), dims=da.dims,
                        coords=coords, attrs=da.attrs, name=da.name)


def _with_blocks(da: xr.DataArray, blocks: dict[str, list[str]]) -> xr.DataArray:
    """Add the blocks and ``World`` as regions, and segment ``all``, as sums of counts."""
    da = with_regional_aggregates(da, blocks)
    # min_count: a sum over nothing but NaN (no data) stays NaN, never becomes zero.
    total = da.sum("segment", min_count=1).expand_dims(segment=[ALL_SEGMENTS])
    return xr.concat([da, total], dim="segment")


def _safe_ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    return xr.where(den > 0, num / den.where(den > 0, 1.0), 0.0)


#: Aggregated variables that are flows [vehicles/year] (the rest are stocks or shares).
_FLOWS = frozenset({"sales", "retirements", "ev_sales", "ev_retirements", "ev_net_exports",
                    "capable_sales"})
_AGGREGATE_NAMES = {
    "ev_sales": "EV sales (all powertrains)", "ev_stock": "EV stock (all powertrains)",
    "ev_retirements": "EV retirements", "ev_net_exports": "EV net exports",
    "ev_sales_share": "EV share of new vehicle sales",
    "ev_stock_share": "EV share of the vehicle stock",
    "state_share": "share of the EV stock by highest active grid use case",
}


@dataclass(repr=False)
class Results:
    """The outcome of one engine run: the dataset, the scenario, and the output tables.

    ``availability`` is the availability the run used when it did not come from the
    scenario (a vehicle simulation, or a stored run's), else ``None``.
    """

    scenario: Scenario
    data: xr.Dataset
    availability: Availability | None = None

    def __repr__(self) -> str:
        sc = self.scenario
        return (f"<evflex Results {sc.name} v{sc.version}: regions {list(sc.regions)}, "
                f"segments {list(sc.segments)}, years {sc.years.start}-{sc.years.end}, "
                f"availability from {self.data.attrs.get('availability_source', '?')}>")

    @cached_property
    def blocks(self) -> dict[str, list[str]]:
        """Blocks reported as aggregates (all their members are regions of the run)."""
        return hierarchy().aggregates(self.scenario.regions)

    def region_total(self, name: str, region: str) -> np.ndarray:
        """Variable ``name`` of the dataset summed over segments, for one model region, a
        block (the sum of its members) or ``World`` (the sum of all) [its unit].

        The same sums as :attr:`aggregated`, for one region and one variable at a time,
        without building every aggregate (the explorer draws one region per request).
        """
        da = self.data[name]
        values = da.values.sum(axis=da.dims.index("segment"))
        axis = da.dims.index("region")  # region comes before segment in every variable
        names = [str(r) for r in self.data["region"].values]
        if region == WORLD:
            members = list(range(len(names)))
        elif region in self.blocks:
            members = [names.index(m) for m in self.blocks[region]]
        else:
            return np.asarray(np.take(values, names.index(region), axis=axis))
        return np.asarray(np.take(values, members, axis=axis).sum(axis=axis))

    @property
    def aggregate_regions(self) -> list[str]:
        """The aggregate regions of the output tables: the blocks, then ``World``."""
        return [*self.blocks, WORLD]

    @cached_property
    def aggregated(self) -> xr.Dataset:
        """Counts with block, World and ``all`` aggregates (sums), shares recomputed."""
        ds = self.data
        blocks = self.blocks

        def _with_aggregates(da: xr.DataArray) -> xr.DataArray:
            return _with_blocks(da, blocks)

        out = xr.Dataset({
            "sales": _with_aggregates(ds["sales"]),
            "stock": _with_aggregates(ds["stock"]),
            "retirements": _with_aggregates(ds["retirements"]),
            "ev_sales": _with_aggregates(ds["ev_sales_pt"].sum("powertrain")),
            "ev_stock": _with_aggregates(ds["ev_stock_pt"].sum("powertrain")),
            "ev_retirements": _with_aggregates(ds["ev_retirements_pt"].sum("powertrain")),
            "ev_net_exports": _with_aggregates(ds["ev_net_exports_pt"].sum("powertrain")),
            "capable_sales": _with_aggregates(ds["capable_sales"]),
            "capable_stock": _with_aggregates(ds["capable_stock"]),
            "iea_ev_stock": _with_aggregates(ds["iea_ev_stock"]),
            "funnel": _with_aggregates(ds["funnel"]),
            "states": _with_aggregates(ds["states"]),
        })
        out["ev_sales_share"] = _safe_ratio(out["ev_sales"], out["sales"])
        out["ev_stock_share"] = _safe_ratio(out["ev_stock"], out["stock"])
        out["state_share"] = xr.where(
            out["ev_stock"] > 0, out["states"] / out["ev_stock"].where(out["ev_stock"] > 0, 1),
            xr.where(out["state"] == "outside", 1.0, 0.0))
        for name in out.data_vars:
            share = str(name).endswith("share")
            out[name].attrs = {
                "units": "1" if share else ("vehicles year-1" if name in _FLOWS
                                           else "vehicles"),
                "long_name": _AGGREGATE_NAMES.get(str(name), long_name(str(name)))}
        return out

    def frames(self, regions: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """The output tables ``states``, ``fleet``, ``funnel`` and ``capacity``.

        ``regions``: keep only these regions and the aggregates that contain any of them
        (:meth:`output_regions`); by default every region and aggregate. Computed once
        per run; treat the frames as read-only (copy before changing).
        """
        out = self._frames
        if regions is None:
            return dict(out)
        keep = self.output_regions(regions)
        return {name: df[df["region"].isin(keep)].reset_index(drop=True)
                for name, df in out.items()}

    @cached_property
    def _frames(self) -> dict[str, pd.DataFrame]:
        return {"states": self.states_frame(), "fleet": self.fleet_frame(),
                "funnel": self.funnel_frame(), "capacity": self.capacity_frame()}

    def output_regions(self, regions: list[str]) -> list[str]:
        """``regions`` of the run, then every aggregate (block, World) containing one."""
        chosen = [r for r in self.scenario.regions if r in set(regions)]
        blocks = [b for b, members in self.blocks.items() if set(members) & set(chosen)]
        return [*chosen, *blocks, WORLD]

    def history_frame(self) -> pd.DataFrame:
        """Modelled EV stock against the IEA series, every region and aggregate, history.

        Columns ``region, year, ev_stock, iea_ev_stock, ev_stock_compared,
        relative_error, iea_note`` (all segments). ``ev_stock_compared`` is the modelled
        stock of the powertrains the IEA reports that year (where it reports no PHEV
        stock, as for Poland 2015-2018, its EV stock is of BEVs) and ``relative_error``
        compares it with ``iea_ev_stock`` (empty where the IEA has no stock);
        ``iea_note`` says when the IEA reports BEVs only and when national statistics
        contradict its figure (``iea_disputes.csv``).
        """
        sc = self.scenario
        years = [y for y in sc.years_axis if y <= sc.years.history_end]
        agg = self.aggregated.sel(segment=ALL_SEGMENTS, year=years)
        reported = ev_series("ev_stock", sc.regions, list(sc.segments), sc.years_axis,
                             [seg.iea_mode for seg in sc.segments.values()])
        counted = self.data["ev_stock_pt"].where(reported > 0, 0.0).sum("powertrain")
        compared = _with_blocks(counted, self.blocks).sel(segment=ALL_SEGMENTS, year=years)
        df = xr.Dataset({"ev_stock": agg["ev_stock"], "iea_ev_stock": agg["iea_ev_stock"],
                         "ev_stock_compared": compared}
                        ).transpose("region", "year").to_dataframe().reset_index()
        iea = df["iea_ev_stock"]
        df["relative_error"] = ((df["ev_stock_compared"] - iea) / iea.where(iea > 0)
                                ).astype(float)
        any_segment = np.asarray(reported, dtype=float).max(axis=1)  # (R, P, T)
        bev_only = np.logical_and(any_segment[:, POWERTRAINS.index("bev")] > 0,
                                  any_segment[:, POWERTRAINS.index("phev")] <= 0)
        notes = {(r, y): "BEVs only: the IEA reports no PHEV stock"
                 for i, r in enumerate(sc.regions) for t, y in enumerate(sc.years_axis)
                 if bev_only[i, t] and y <= sc.years.history_end}
        for row in read_disputes().to_dict("records"):
            for y in range(int(row["year_from"]), int(row["year_to"]) + 1):
                if row["region"] in sc.regions:
                    note = f"disputed {row['powertrain'].upper()} figure (iea_disputes.csv)"
                    notes[(row["region"], y)] = "; ".join(
                        n for n in (notes.get((row["region"], y)), note) if n)
        df["iea_note"] = [notes.get((r, y), "") for r, y in zip(df["region"], df["year"],
                                                                 strict=True)]
        return df[["region", "year", "ev_stock", "iea_ev_stock", "ev_stock_compared",
                   "relative_error", "iea_note"]]

    def states_frame(self) -> pd.DataFrame:
        agg = self.aggregated
        ds = xr.Dataset({"vehicles": agg["states"], "share": agg["state_share"]})
        df = ds.transpose("region", "segment", "year", "state").to_dataframe().reset_index()
        return df[["region", "segment", "year", "state", "vehicles", "share"]]

    def fleet_frame(self) -> pd.DataFrame:
        agg = self.aggregated
        cols = ["sales", "ev_sales", "ev_sales_share", "stock", "ev_stock", "ev_stock_share",
                "retirements", "ev_retirements"]
        df = agg[cols].transpose("region", "segment", "year").to_dataframe().reset_index()
        return df[["region", "segment", "year", *cols]]

    def funnel_frame(self) -> pd.DataFrame:
        agg = self.aggregated["funnel"].transpose("region", "segment", "step", "year")
        removed = agg.copy(data=removed_by_step(agg.values))
        ds = xr.Dataset({"vehicles": agg, "removed": removed})
        df = ds.transpose("region", "segment", "year", "step").to_dataframe().reset_index()
        return df[["region", "segment", "year", "step", "vehicles", "removed"]]

    def capacity_frame(self) -> pd.DataFrame:
        """``region, year, metric, value, unit``: every metric summed over segments, with
        the block and World aggregates; regions in run order, then years, then metrics."""
        stacked = xr.concat([self.data[f"capacity_{m}"].sum("segment") for m in METRICS],
                            dim="metric")
        agg = with_regional_aggregates(stacked, self.blocks).transpose("region", "year",
                                                                       "metric")
        regions = [str(r) for r in agg["region"].values]
        years = agg["year"].values
        n_r, n_y, n_m = len(regions), len(years), len(METRICS)
        return pd.DataFrame({
            "region": np.repeat(regions, n_y * n_m),
            "year": np.tile(np.repeat(years, n_m), n_r),
            "metric": np.tile(list(METRICS), n_r * n_y),
            "value": agg.values.ravel(),
            "unit": np.tile(list(METRICS.values()), n_r * n_y),
        })

    def world(self, variable: str, year: int) -> float:
        """A World, all-segment value of an aggregated variable in one year."""
        return float(self.aggregated[variable].sel(region=WORLD, segment=ALL_SEGMENTS,
                                                   year=year))

    def world_state_shares(self, year: int) -> dict[str, float]:
        """World shares of the EV stock by state in one year [fraction]."""
        da = self.aggregated["state_share"].sel(region=WORLD, segment=ALL_SEGMENTS, year=year)
        return {str(s): float(v) for s, v in zip(da["state"].values, da.values, strict=True)}


def run(scenario: Scenario | str | Path | None = None,
        availability: Availability | None = None) -> Results:
    """Run the engine alone on a scenario (object, shipped name or path; default ``base``).

    The scenario is validated, objects built in code included. ``availability`` replaces
    the scenario's availability parameters (the seam to the vehicle simulation). For the
    whole run (checks, energy funnel, judgement) use :func:`evflex.pipeline.run`.
    """
    sc = validated(scenario)
    return Results(scenario=sc, data=compute(sc, availability), availability=availability)
