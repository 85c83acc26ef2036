"""Checks of a run: each a named ``check_*`` function returning rows of the checks table.

Every check reads the run's dataset (:attr:`evflex.model.Results.data`) and returns one
or more :class:`Check` rows with the measured ``value``, the ``limit`` it is held to, a
``detail`` that says where the worst case is, and its ``kind``:

- ``identity``: holds by construction of the engine (a sum against its total, a stock
  against the vintages it is built from, a count against a bound the code enforces);
  it guards against bugs and can only fail if the code is wrong;
- ``calibration``: an input matched (a number the scenario was fitted to, such as the
  seed's 2100 split); it says whether the fit still holds, not whether the model is right;
- ``test``: a model result compared with data the model did not read (the IEA EV stock
  history, observations of the present in the evidence ledger, outside projections), or
  a plausibility bound on the projection (no unphysical jumps in sales).

The tests break each one on purpose.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import xarray as xr

from evflex.capacity import KW_PER_GW, KWH_PER_GWH
from evflex.filters import FUNNEL_STEPS
from evflex.model import ALL_SEGMENTS, WORLD, Results
from evflex.regions import hierarchy
from evflex.scenario import models_to_sales_share
from evflex.scenario.evaluate import cell_spec
from evflex.states import STATES

#: Relative tolerance of the accounting identities (float round-off only).
IDENTITY_RTOL = 1e-9


@dataclass(frozen=True)
class Check:
    """One row of the checks table."""

    check: str
    passed: bool
    value: float
    limit: str
    detail: str
    kind: str = "identity"
    #: Status when not passed: ``fail`` (the run exits with an error) or a word that
    #: reports without failing (``missed`` for a calibration target).
    failure: str = "fail"

    @property
    def status(self) -> str:
        return "pass" if self.passed else self.failure


def _where_max(da: xr.DataArray) -> str:
    """Coordinates of the largest element, as ``dim=value`` pairs."""
    if da.size == 0:
        return "empty"
    if not float(np.nanmax(da.values)) > 0:
        return "nowhere (none)"
    idx = np.unravel_index(int(np.nanargmax(da.values)), da.shape)
    return ", ".join(f"{d}={da[d].values[i]}" for d, i in zip(da.dims, idx, strict=True))


def _relative(err: xr.DataArray, scale: xr.DataArray) -> xr.DataArray:
    return abs(err) / np.maximum(abs(scale), 1.0)


def _identity(name: str, err: xr.DataArray, scale: xr.DataArray, what: str) -> Check:
    rel = _relative(err, scale)
    worst = float(rel.max())
    return Check(name, bool(worst <= IDENTITY_RTOL), worst, f"<= {IDENTITY_RTOL:g} (relative)",
                 f"{what}; worst at {_where_max(rel)}")


def check_states_sum_to_one(results: Results) -> list[Check]:
    """The exclusive states add up to the EV stock, and the shares to 1, everywhere."""
    agg = results.aggregated
    count = _identity("states_sum_to_stock", agg["states"].sum("state") - agg["ev_stock"],
                      agg["ev_stock"], "sum of state counts minus EV stock")
    share_err = agg["state_share"].sum("state") - 1.0
    worst = float(abs(share_err).max())
    shares = Check("states_shares_sum_to_one", worst <= IDENTITY_RTOL, worst,
                   f"<= {IDENTITY_RTOL:g}", f"|sum of shares - 1|; worst at "
                   f"{_where_max(abs(share_err))}")
    negative = float(-agg["states"].min())
    nonneg = Check("states_nonnegative", negative <= IDENTITY_RTOL * float(agg["ev_stock"].max()),
                   max(negative, 0.0), ">= 0 vehicles in every state",
                   f"most negative state count at {_where_max(-agg['states'])}")
    return [count, shares, nonneg]


def check_states_nest(results: Results) -> list[Check]:
    """V2G <= bidirectional installed <= V2G-capable stock <= EV stock <= vehicle stock."""
    agg = results.aggregated
    funnel = agg["funnel"]
    v2g = agg["states"].sel(state="v2g")
    chain = [
        ("v2g", v2g),
        ("bidirectional_installed", funnel.sel(step="bidirectional_charger")),
        ("v2g_capable_stock", agg["capable_stock"]),
        ("ev_stock", agg["ev_stock"]),
        ("vehicle_stock", agg["stock"]),
    ]
    out = []
    for (lo_name, lo), (hi_name, hi) in itertools.pairwise(chain):
        excess = (lo - hi).clip(min=0.0)
        rel = _relative(excess, hi)
        worst = float(rel.max())
        out.append(Check(f"nest_{lo_name}_le_{hi_name}", worst <= IDENTITY_RTOL, worst,
                         f"{lo_name} <= {hi_name}",
                         f"largest relative excess at {_where_max(rel)}"))
    envelope = agg["states"].sel(state=["v2g", "v2h_v2b", "grid_managed"]).sum("state")
    smart = agg["states"].sel(state=["v2g", "v2h_v2b", "grid_managed", "smart_only"]).sum("state")
    excess = _relative((envelope - smart).clip(min=0.0), smart)
    out.append(Check("nest_managed_envelope_le_flexible", float(excess.max()) <= IDENTITY_RTOL,
                     float(excess.max()), "managed envelope <= flexible envelope",
                     "envelopes are sums of exclusive states"))
    return out


def check_funnel_monotone(results: Results) -> list[Check]:
    """Each funnel step keeps at most the vehicles of the step before it."""
    funnel = results.aggregated["funnel"]
    rise = (funnel.isel(step=slice(1, None)).values - funnel.isel(step=slice(None, -1)).values)
    scale = np.maximum(funnel.isel(step=slice(None, -1)).values, 1.0)
    rel = xr.DataArray(np.clip(rise, 0.0, None) / scale,
                       dims=funnel.dims, coords={**funnel.isel(step=slice(1, None)).coords})
    worst = float(rel.max())
    return [Check("funnel_monotone", worst <= IDENTITY_RTOL, worst, "each step <= the one before",
                  f"largest relative rise at {_where_max(rel)} (steps {', '.join(FUNNEL_STEPS)})")]


def _reconcile(stock: xr.DataArray, sales: xr.DataArray, retirements: xr.DataArray,
               before: xr.DataArray | float, *parts: xr.DataArray
               ) -> tuple[xr.DataArray, xr.DataArray]:
    """Error of ``stock = previous + sales - retirements`` and its round-off scale.

    The scale is the largest term of the identity, not the stock alone: when a stock
    falls to almost nothing, the float round-off of ``previous - retirements`` is
    relative to ``previous``. ``parts``: terms that make up ``sales`` (e.g. new sales and
    net exports), whose size sets the round-off when they nearly cancel.
    """
    previous = stock.shift(year=1)
    previous = previous.where(previous["year"] != stock["year"][0], before)
    error = stock - (previous + sales - retirements)
    scale = xr.concat([abs(stock), abs(previous), abs(sales), abs(retirements),
                       *(abs(p) for p in parts)], dim="term").max("term")
    return error, scale


def check_stock_reconciles(results: Results) -> list[Check]:
    """stock(t) = stock(t-1) + sales(t) - retirements(t), for all vehicles and for EVs."""
    ds = results.data
    total, total_scale = _reconcile(ds["stock"], ds["sales"], ds["retirements"],
                                    ds["stock_before"])
    ev_in = ds["ev_sales_pt"] - ds["ev_net_exports_pt"]
    ev, ev_scale = _reconcile(ds["ev_stock_pt"], ev_in, ds["ev_retirements_pt"], 0.0,
                              ds["ev_sales_pt"], ds["ev_net_exports_pt"])
    neg = float(-min(float(ds["retirements"].min()), float(ds["ev_retirements_pt"].min())))
    return [
        _identity("stock_reconciles", total, total_scale,
                  "stock - (previous + sales - retirements)"),
        _identity("ev_stock_reconciles", ev, ev_scale,
                  "EV stock by powertrain - (previous + EV sales - net exports of used EVs"
                  " - EV retirements)"),
        Check("retirements_nonnegative", neg <= 1e-6 * float(ds["stock"].max()), max(neg, 0.0),
              ">= 0 vehicles/year", "no vehicle comes back from retirement"),
    ]


#: Largest year-on-year change of total new-vehicle sales after the last history year
#: [fraction]. Assumption: in the IEA history 2010-2024 World car sales moved by at most
#: about 10 % a year outside the 2020 pandemic (-13 %); a projection that jumps by more
#: than that has a kink in its input, not a market event it can foresee.
MAX_SALES_CHANGE = 0.10


def check_sales_smooth(results: Results) -> list[Check]:
    """Total and EV sales move smoothly after the last history year.

    Year-on-year change of total sales within ±``MAX_SALES_CHANGE``, and EV sales never
    falling by more than that in a year, per region and segment, from the first
    projection year (so the join to the history is checked too).
    """
    from evflex.fleet.sales import year_on_year_change

    ds = results.data
    end = results.scenario.years.history_end
    out = []
    for name, series, two_sided in [("sales_smooth", ds["sales"], True),
                                    ("ev_sales_smooth", ds["ev_sales_pt"].sum("powertrain"),
                                     False)]:
        change = series.isel(year=slice(1, None)).copy(
            data=year_on_year_change(series.values))
        change = change.sel(year=change["year"] > end)
        size = abs(change) if two_sided else (-change).clip(min=0.0)
        worst = float(size.max()) if size.size else 0.0
        what = "total sales" if two_sided else "EV sales (falls only)"
        limit = (f"|change| <= {MAX_SALES_CHANGE:g} a year" if two_sided
                 else f"fall <= {MAX_SALES_CHANGE:g} a year")
        out.append(Check(name, worst <= MAX_SALES_CHANGE, worst, limit,
                         f"year-on-year change of {what} after {end}; worst at "
                         f"{_where_max(size)} (bound: assumption, see MAX_SALES_CHANGE)",
                         kind="test"))
    return out


def check_ev_within_total(results: Results) -> list[Check]:
    """EV sales never exceed total sales (same year), per region and segment."""
    ds = results.data
    ev = ds["ev_sales_pt"].sum("powertrain")
    rel = _relative((ev - ds["sales"]).clip(min=0.0), ds["sales"])
    worst = float(rel.max())
    return [Check("ev_sales_le_sales", worst <= 1e-6, worst, "EV sales <= sales",
                  f"largest excess at {_where_max(rel)}")]


def check_world_is_sum(results: Results) -> list[Check]:
    """World and block rows of the output tables are sums of their regions' counts."""
    out = []
    frames = {"states": results.states_frame(), "fleet": results.fleet_frame()}
    regions = list(results.scenario.regions)
    groups = {WORLD: regions, **results.blocks}
    for name, df, key, col in [("states", frames["states"], ["segment", "year", "state"],
                                "vehicles"),
                               ("fleet", frames["fleet"], ["segment", "year"], "ev_stock")]:
        worst_world, worst_block, where = 0.0, 0.0, "none"
        for aggregate, members in groups.items():
            parts = df[df["region"].isin(members)].groupby(key)[col].sum()
            rows = df[df["region"] == aggregate].set_index(key)[col]
            diff = (rows - parts.reindex(rows.index)).abs()
            rel = float((diff / np.maximum(rows.abs(), 1.0)).max()) if len(rows) else 0.0
            if aggregate == WORLD:
                worst_world = rel
            elif rel >= worst_block:
                worst_block, where = rel, aggregate
        out.append(Check(f"world_is_sum_{name}", worst_world <= IDENTITY_RTOL, worst_world,
                         f"<= {IDENTITY_RTOL:g}", f"World {col} minus the sum over regions"))
        if results.blocks:
            out.append(Check(f"blocks_are_sums_{name}", worst_block <= IDENTITY_RTOL,
                             worst_block, f"<= {IDENTITY_RTOL:g}",
                             f"each block's {col} minus the sum over its regions "
                             f"({', '.join(results.blocks)}); worst: {where}"))
    states = frames["states"]
    world = states[(states["region"] == WORLD) & (states["segment"] == ALL_SEGMENTS)]
    shares = world.pivot(index="year", columns="state", values="share")
    counts = world.pivot(index="year", columns="state", values="vehicles")
    total = counts.sum(axis=1)
    implied = counts.div(total.where(total > 0, 1.0), axis=0)
    gap = float((shares - implied).abs().where(total > 0, 0.0).max().max())
    out.append(Check("world_shares_from_counts", gap <= IDENTITY_RTOL, gap, f"<= {IDENTITY_RTOL:g}",
                     "World shares are World counts over World EV stock, not averages"))
    return out


#: Bound on the relative round-off of ``EV sales - net exports`` recovered from the two
#: flows the engine stores (each a sum over powertrains of values rounded once), in units
#: of the float epsilon times ``|EV sales| + |net exports|``: a few roundings, doubled.
RECOVERED_KEPT_ULPS = 16.0


def _capable_shares(agg: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray,
                                              tuple[xr.DataArray, xr.DataArray]]:
    """Capable share of sales and of the stock, the running maximum of the highest share
    of sales each vintage can have, and the lead of the stock share over it.

    A vintage enters the region's stock as its new sales less the used EVs traded away
    in its sale year (``EV sales - net exports``; net imports add). The engine keeps
    the capable vehicles of that vintage exactly, but the vintage itself is recovered here
    from two stored flows, with an absolute round-off of a few epsilons of
    ``|EV sales| + |net exports|``. Where net exports cancel nearly all sales that is
    large against what stays, and the vintage's share of capable vehicles is known only
    within ``capable / (kept ± round-off)``: the check compares against the top of that
    interval (1 where the round-off swamps what stays; a share cannot exceed 1).
    """
    sales, net = agg["ev_sales"], agg["ev_net_exports"]
    eligible = sales - net
    sales_share = xr.where(eligible > 0, agg["capable_sales"] / eligible.where(eligible > 0, 1),
                           0.0)
    round_off = RECOVERED_KEPT_ULPS * np.finfo(float).eps * (abs(sales) + abs(net))
    known = eligible > round_off
    high = xr.where(known, agg["capable_sales"] / (eligible - round_off).where(known, 1),
                    xr.where(round_off > 0, 1.0, 0.0))
    # A stock that has decayed into subnormal floats (below ~2.2e-308 vehicles) has lost
    # its precision, and so has its share: it is not compared (fuzzed seed 16 scenarios
    # 1769, 3245, 4667 led by 1e-7 to 4e-4 at stocks of 1e-321 vehicles).
    counted = agg["ev_stock"] >= np.finfo(float).tiny
    stock_share = xr.where(counted,
                           agg["capable_stock"] / agg["ev_stock"].where(counted, 1), 0.0)
    running_max = xr.apply_ufunc(np.maximum.accumulate, np.minimum(high, 1.0),
                                 input_core_dims=[["year"]], output_core_dims=[["year"]],
                                 kwargs={"axis": -1})
    return sales_share, stock_share, (running_max, (stock_share - running_max).clip(min=0.0))


def check_share_denominators(results: Results) -> list[Check]:
    """Model share, sales share and stock share are never confused.

    - the V2G-capable share of the stock lags the share of sales: in every year it is at
      most the highest sales share seen so far, in each region and segment (an aggregate
      mixes regions whose sales move apart, so its stock share may lead its own sales share);
    - in the model-count year the bidirectional sales share is the explicit conversion of
      the model count, and it differs from the raw model share unless the sales weight is 1.
    """
    sc = results.scenario
    cells = results.aggregated.sel(region=list(sc.regions), segment=list(sc.segments))
    _, _, lead_max = _capable_shares(cells)
    lead = lead_max[1]
    worst = float(lead.max())
    out = [Check("capable_stock_share_lags_sales", worst <= 1e-9, worst,
                 "stock share <= highest sales share to date",
                 f"largest lead of stock share over sales share at {_where_max(lead)}")]
    agg = results.aggregated
    sales_share, stock_share, (running_max, _) = _capable_shares(agg)
    bm = sc.bidirectional_models
    converted = models_to_sales_share(sc)
    year = bm.year
    if year in sc.years_axis:
        param = results.data["param_bidirectional_share"].sel(year=year)
        spec = sc.parameters["bidirectional_share"]
        anchored = (spec.scurve is not None and spec.scurve.anchor is not None
                    and spec.scurve.anchor.value == "bidirectional_models"
                    and spec.scurve.anchor.year == year)
        # a country override (e.g. Japan's V2H-capable sales) replaces the anchored path
        # in its cells; the conversion is checked where the default applies
        default = [(r, s) for r in sc.regions for s in sc.segments
                   if cell_spec(sc, "bidirectional_share", r, s) is None]
        if anchored and default:
            diff = max(abs(float(param.sel(region=r, segment=s)) - converted)
                       for r, s in default)
            out.append(Check("model_count_converted_to_sales_share", diff <= 1e-9, diff,
                             "bidirectional sales share = converted model count",
                             f"model share {bm.model_share:g} x sales weight {bm.sales_weight:g}"
                             f" = sales share {converted:.4g} in {year}, in the "
                             f"{len(default)} of {len(sc.regions) * len(sc.segments)} "
                             "region-segment cells without an override"))
        cell_peak = float(lead_max[0].sel(year=year).max())
        out.append(_model_share_check(sales_share, stock_share, running_max, agg, year,
                                      cell_peak))
    return out


def _model_share_check(sales_share: xr.DataArray, stock_share: xr.DataArray,
                       running_max: xr.DataArray, agg: xr.Dataset, year: int,
                       cell_peak: float) -> Check:
    """The capable share of the World stock in the model-count year is built from vintages.

    The stock share is a survival-weighted average of the sales shares of the vintages
    in the stock, so it never exceeds the highest sales share to date; when adoption has
    grown up to that year (the year's sales share is the highest so far and an earlier
    vintage with EV sales had a lower one) it is strictly below the year's sales share.
    Flat or falling sales shares are correct data, and the stock share may then equal or
    exceed the year's sales share. The World stock share averages the regions' and
    segments' stock shares, each at most its own highest sales share to date
    (``cell_peak``: the largest of those); as regions whose vehicles live longer keep a
    larger part of the stock, the World's may exceed the World's own highest sales share
    (fuzzed seed 16 scenario 2714: 0.33184 against 0.33179).
    """
    where: dict[str, str | int] = {"region": WORLD, "segment": ALL_SEGMENTS}
    share = sales_share.sel(where)
    stock_y = float(stock_share.sel({**where, "year": year}))
    sales_y = float(share.sel(year=year))
    peak = float(running_max.sel({**where, "year": year}))
    earlier = share.sel(year=[y for y in share["year"].values if y < year])
    had_sales = agg["ev_sales"].sel(where).sel(year=earlier["year"]) > 0
    lowest = float(earlier.where(had_sales).min()) if bool(had_sales.any()) else sales_y
    grew = sales_y >= peak * (1 - IDENTITY_RTOL) and lowest < sales_y * (1 - 1e-6)
    if grew:
        return Check("model_share_not_used_as_stock_share", stock_y < sales_y, stock_y,
                     f"< sales share {sales_y:.4g} in {year}",
                     "adoption grew: the capable share of the stock, built from vintages, "
                     "is below the share of sales")
    limit = max(peak, cell_peak) * (1 + IDENTITY_RTOL) + 1e-12
    return Check("model_share_not_used_as_stock_share", stock_y <= limit, stock_y,
                 f"<= highest sales share to date of any region {max(peak, cell_peak):.4g} "
                 f"in {year}",
                 "sales share flat or falling: the capable share of the stock, built from "
                 "vintages, does not exceed the highest share of sales")


def check_calibration_anchors(results: Results) -> list[Check]:
    """World EV sales, sales share and stock share in the anchor year are in range."""
    anchors = results.scenario.calibration.anchors
    if anchors is None:
        return []
    out = []
    for var, rng, fmt in [("ev_sales", anchors.ev_sales, "{:,.0f}"),
                          ("ev_sales_share", anchors.ev_sales_share, "{:.4f}"),
                          ("ev_stock_share", anchors.ev_stock_share, "{:.4f}")]:
        if rng is None:
            continue
        value = results.world(var, anchors.year)
        out.append(Check(f"calibration_{var}_{anchors.year}", rng.low <= value <= rng.high, value,
                         f"{fmt.format(rng.low)} to {fmt.format(rng.high)}",
                         f"World {var} in {anchors.year}, modelled; target: {anchors.source}",
                         kind="calibration", failure="missed"))
    return out


def check_calibration_states(results: Results) -> list[Check]:
    """World state shares in the target year within the tolerance of the targets."""
    targets = results.scenario.calibration.states
    if targets is None:
        return []
    shares = results.world_state_shares(targets.year)
    out = []
    for state in STATES:
        target = float(getattr(targets, state))
        diff = shares[state] - target
        out.append(Check(f"calibration_{state}_{targets.year}", abs(diff) <= targets.tolerance,
                         shares[state], f"{target:.3f} ± {targets.tolerance:.3f}",
                         f"World share of EV stock, modelled; target: {targets.source}",
                         kind="calibration", failure="missed"))
    return out


def history_regions(results: Results) -> list[str]:
    """Regions whose modelled EV stock the ``history_ev_stock`` check judges.

    In a run with blocks (country resolution) the World and the blocks: their IEA totals
    are consistent series, while single countries' stock and sales series disagree where
    used cars cross borders or registers count differently (each country is compared in
    :meth:`evflex.model.Results.history_frame`). Otherwise every region with its own IEA
    series (not a residual of rounded totals) whose IEA EV stock in the last history year
    reaches ``calibration.history.min_ev_stock``, and the World.
    """
    sc = results.scenario
    if results.blocks:
        return list(results.aggregate_regions)
    hist = sc.calibration.history
    hier = hierarchy()
    residual = set(hier.regions.loc[hier.regions["history"] != "iea", "region"])
    iea_last = results.aggregated["iea_ev_stock"].sel(segment=ALL_SEGMENTS,
                                                      year=sc.years.history_end)
    own = [r for r in sc.regions if r not in residual
           and float(iea_last.sel(region=r)) >= hist.min_ev_stock]
    return [*own, *results.aggregate_regions]


def iea_stock_flow_gap(iea_stock: xr.DataArray, iea_sales: xr.DataArray) -> xr.DataArray:
    """Where the IEA's own stock rises by more than the IEA's sales [vehicles].

    ``max(0, stock(t) - stock(t-1) - sales(t))``, counted against both years it joins: a
    stock cannot grow by more than was sold, so one of the two stocks is off by at least
    that much (the published series are revised and rounded independently).
    """
    excess = (iea_stock - iea_stock.shift(year=1) - iea_sales).clip(min=0.0).fillna(0.0)
    return excess + excess.shift(year=-1).fillna(0.0)


def check_history_ev_stock(results: Results) -> list[Check]:
    """Modelled EV stock against the IEA series over history (:func:`history_regions`).

    The model builds the EV stock from IEA *sales*, used-EV trade and the survival curves;
    it never reads the IEA *stock* series, so agreement with it is a test of the fleet
    model and of the data's consistency. Where the run's net used-EV trade is calibrated
    to the IEA stock (:func:`calibrated_trade_regions`, the country scenario), it does
    read it: the rows are then of kind ``calibration`` and report ``missed``, not
    ``fail``. One row per judged region, worst year. The band
    is the relative tolerance (World or region) plus the IEA's own stock-flow gap in that
    year (:func:`iea_stock_flow_gap`), which no model can be closer than.
    """
    sc = results.scenario
    calibrated = calibrated_trade_regions(results)
    hist = sc.calibration.history
    agg = results.aggregated
    years = [y for y in sc.years_axis if hist.from_year <= y <= sc.years.history_end]
    out: list[Check] = []
    if not years:
        return out
    for region in history_regions(results):
        sel = {"segment": ALL_SEGMENTS, "region": region}
        iea_all = agg["iea_ev_stock"].sel(sel)
        gap = iea_stock_flow_gap(iea_all, agg["ev_sales"].sel(sel)).sel(year=years)
        model = agg["ev_stock"].sel(sel).sel(year=years)
        iea = iea_all.sel(year=years)
        has = iea > 0
        tol = hist.world_tolerance if region == WORLD else hist.region_tolerance
        rel = xr.where(has, abs(model - iea) / iea.where(has, 1.0), 0.0)
        allowed = xr.where(has, tol + gap / iea.where(has, 1.0), tol)
        excess = rel - allowed
        k = int(np.argmax(excess.values)) if excess.size else 0
        worst_year = years[k]
        read = (f"the net used-EV trade of {len(calibrated)} regions is calibrated to it: a "
                "calibration check, docs/countries.md" if calibrated
                else "not read by the model")
        detail = (f"modelled EV stock vs IEA Global EV Data 2025 stock ({read}), "
                  f"{years[0]}-{years[-1]}; closest to the limit in {worst_year}: "
                  f"modelled {float(model[k]):,.0f}, IEA {float(iea[k]):,.0f}, IEA stock-flow "
                  f"gap {float(gap[k]):,.0f}")
        limit = f"<= {tol:g} (relative) + IEA stock-flow gap"
        out.append(Check(f"history_ev_stock_{region}", float(excess.max()) <= 0.0,
                         float(rel[k]), limit, detail,
                         kind="calibration" if calibrated else "test",
                         failure="missed" if calibrated else "fail"))
    return out


def calibrated_trade_regions(results: Results) -> list[str]:
    """Regions of the run whose ``used_ev_net_export`` is a calibration to the IEA stock
    (its source starts with ``calibration``: :mod:`evflex.fleet.trade`)."""
    param = results.scenario.parameters.get("used_ev_net_export")
    overrides = param.overrides if param is not None else {}
    return [r for r in results.scenario.regions
            if r in overrides and str(overrides[r].source or "").startswith("calibration")]


def covers_world(results: Results) -> bool:
    """Whether the run's regions are a whole resolution, so its World is the IEA's World."""
    from evflex.regions import RESOLUTIONS, hierarchy

    regions = set(results.scenario.regions)
    return any(regions == set(hierarchy().resolution(r)) for r in RESOLUTIONS)


def check_history_vehicle_stock(results: Results) -> list[Check]:
    """Modelled total vehicle stock against the stock implied by the IEA, over history.

    The model's stock is the sum of surviving vintages of total sales (IEA EV sales / EV
    sales share) with sourced mean lives; the IEA's EV stock / EV stock share is a series
    the model does not read. One row per judged region (:func:`history_regions`), over
    the segments whose IEA stock share is known in every year. The band is the relative
    tolerance plus the error of the implied stock from the IEA's rounding (two significant
    figures of a share of a few per cent: up to 5 %). A block the IEA publishes no total
    for (evflex's sum of listed countries) is reported (``off``) but not judged: the mean
    lives of its countries are not sourced one by one.
    """
    from evflex.fleet.history import implied_vehicle_stock, implied_vehicle_stock_rounding

    sc = results.scenario
    hist = sc.calibration.history
    years = [y for y in sc.years_axis if hist.from_year <= y <= sc.years.history_end]
    if not years:
        return []
    modes: list[str] = [seg.iea_mode for seg in sc.segments.values()]
    segments = list(sc.segments)
    stock = results.aggregated["stock"]
    out = []
    for region in history_regions(results):
        members = (results.blocks.get(region, [region]) if region != WORLD
                   else list(sc.regions))
        own = implied_vehicle_stock([region], segments, years, modes)[0]
        if region == WORLD and not covers_world(results):
            own = np.full_like(own, np.nan)  # a partial run's World is the sum of its regions
        has_own = bool(np.isfinite(own).any())
        judged = has_own or region == WORLD
        if has_own:
            implied = own
            err = implied_vehicle_stock_rounding([region], segments, years, modes)[0]
        else:
            implied = implied_vehicle_stock(members, segments, years, modes).sum(axis=0)
            err = implied_vehicle_stock_rounding(members, segments, years, modes).sum(axis=0)
        known = np.isfinite(implied).all(axis=-1)
        if not known.any():
            continue
        segs = [s for s, k in zip(segments, known.tolist(), strict=True) if k]
        mod = stock.sel(region=region, segment=segs, year=years).sum("segment").values
        iea, rounding = implied[known].sum(axis=0), err[known].sum(axis=0)
        tol = hist.world_tolerance if region == WORLD else hist.region_tolerance
        excess = np.abs(mod - iea) - (tol * iea + rounding)
        k = int(np.argmax(excess))
        rel = float(abs(mod[k] - iea[k]) / iea[k])
        detail = (f"modelled total stock ({', '.join(segs)}) vs IEA EV stock / EV stock share "
                  f"(not read by the model), {years[0]}-{years[-1]}; closest to the limit in "
                  f"{years[k]}: modelled {mod[k]:,.0f}, IEA-implied {iea[k]:,.0f} "
                  f"± {rounding[k]:,.0f} (rounding)")
        if not judged:
            detail += "; reported only: no IEA total for this block"
        elif not has_own:
            detail += "; the run's World is the sum of its regions"
        out.append(Check(f"history_vehicle_stock_{region}", bool(excess.max() <= 0), rel,
                         f"<= {tol:g} (relative) + IEA rounding", detail, kind="test",
                         failure="fail" if judged else "off"))
    return out


def check_nowcast(results: Results) -> list[Check]:
    """The modelled present against the observations of the shipped evidence ledger.

    One row per line of ``evflex/data/nowcast_checks.csv`` (:mod:`evflex.nowcast_checks`):
    modelled value, observed value and the tolerance band with its reason; ``missing``
    where the ledger has no observation the check needs (it says what it would need).
    """
    from evflex.judgement import load_evidence
    from evflex.nowcast_checks import QUANTITIES, nowcast

    out = []
    for row in nowcast(results, load_evidence()):
        unit = QUANTITIES[row.quantity][1]
        if row.status == "missing":
            limit = "no observation"
        else:
            assert row.low is not None and row.high is not None
            limit = f"{row.low:.4g} to {row.high:.4g} [{unit}]"
        detail = (f"{QUANTITIES[row.quantity][2]}, {row.region} {row.year}, modelled; "
                  f"observed: {row.observation}; tolerance: {row.reason}")
        value = row.modelled if np.isfinite(row.modelled) else 0.0  # not in this run
        out.append(Check(row.check, row.status == "pass", value, limit, detail,
                         kind="test", failure=row.status if row.status != "pass" else "fail"))
    return out


#: Ratio band of modelled to projected values within which evflex "agrees" with an outside
#: projection: the IEA rounds to two significant figures (up to 5 %), plus 5 %.
PROJECTION_BAND = (0.90, 1.10)


@cache
def outside_projections() -> pd.DataFrame:
    """The shipped IEA STEPS 2030 projection for cars (``data/iea_steps2030.csv``).

    Columns scenario, region, parameter, powertrain, year, value, unit; ``RestOfWorld``
    added as World less China, Europe and USA (EV sales and stock).
    """
    from importlib import resources

    with resources.files("evflex.data").joinpath("iea_steps2030.csv").open(
            "r", encoding="utf-8") as fh:
        table = pd.read_csv(fh, comment="#")
    counts = table[table["parameter"].isin(["ev_sales", "ev_stock"])]
    wide = counts.pivot_table(index=["scenario", "parameter", "powertrain", "year"],
                              columns="region", values="value")
    rest = (wide["World"] - wide[["China", "Europe", "USA"]].sum(axis=1)).rename("value")
    rows = rest.reset_index()
    rows["region"] = "RestOfWorld"
    rows["unit"] = rows["parameter"].map({"ev_sales": "vehicles/year", "ev_stock": "vehicles"})
    return pd.concat([table, rows[table.columns]], ignore_index=True)


def check_outside_projections(results: Results) -> list[Check]:
    """evflex's 2030 EV sales, sales share and stock against the IEA STEPS projection.

    World and each region of the run named like a STEPS region. Status ``pass`` when the
    ratio modelled / STEPS is inside :data:`PROJECTION_BAND`, else ``above`` or ``below``
    (reported, not failed: an outside projection is a comparison, not a truth).
    """
    from evflex.nowcast_checks import _model_region

    table = outside_projections()
    agg = results.aggregated
    lo, hi = PROJECTION_BAND
    out = []
    for key, rows in table.groupby(["scenario", "year", "region"]):
        scen, region = str(key[0]), str(key[2])
        year = int(key[1])  # type: ignore[call-overload]
        if year not in results.scenario.years_axis or region == "Rest of the world":
            continue  # STEPS's rest of the world is not the IEA history's (unlisted countries)
        where = _model_region(results, region)
        if where is None or (where == WORLD and not covers_world(results)):
            continue  # a partial run's World is not the IEA's
        cell = {"region": where, "segment": ALL_SEGMENTS, "year": year}
        for parameter, label in (("ev_sales", "EV sales"), ("ev_sales_share", "EV sales share"),
                                 ("ev_stock", "EV stock")):
            got = rows[rows["parameter"] == parameter]
            if got.empty:
                continue
            projected = float(got["value"].sum())
            modelled = float(agg[parameter].sel(cell))
            if not projected > 0 or not np.isfinite(modelled):
                continue
            ratio = modelled / projected
            status = ("pass" if lo <= ratio <= hi else "above" if ratio > hi else "below")
            fmt = "{:.3f}" if parameter.endswith("share") else "{:,.0f}"
            out.append(Check(
                f"{scen.lower()}_{year}_{parameter}_{where}", status == "pass", ratio,
                f"{lo:g} to {hi:g} (ratio)",
                f"{label}, {where} {year}: evflex {fmt.format(modelled)} against IEA "
                f"{scen} {fmt.format(projected)} (IEA Global EV Outlook 2025, cars; ratio "
                "band: IEA rounding plus 5 %)", kind="test", failure=status))
    return out


def check_capacity_physical(results: Results) -> list[Check]:
    """Capacities within physical limits: power, battery energy, plugged vehicles."""
    ds = results.data
    p = {str(k)[len("param_"):]: ds[k] for k in ds.data_vars if str(k).startswith("param_")}
    v2g = ds["states"].sel(state="v2g")
    envelope = ds["states"].sel(state=["v2g", "v2h_v2b", "grid_managed"]).sum("state")
    bounds = [
        ("v2g_plugged_le_v2g", ds["capacity_v2g_plugged_at_peak"], v2g),
        ("v2g_power_le_export_rating", ds["capacity_v2g_export_power"],
         ds["capacity_v2g_plugged_at_peak"] * p["export_power_kw"] / KW_PER_GW),
        ("v2g_energy_le_battery", ds["capacity_v2g_export_energy"],
         ds["capacity_v2g_plugged_at_peak"] * ds["capable_kwh"] / KWH_PER_GWH),
        ("v2g_energy_le_naive_battery", ds["capacity_v2g_export_energy"] / 1e3,
         ds["capacity_naive_battery"]),
        ("shiftable_load_le_charger_rating", ds["capacity_shiftable_load"],
         envelope * p["charger_power_kw"] / KW_PER_GW),
        ("managed_envelope_le_ev_stock", ds["capacity_managed_envelope"],
         ds["ev_stock_pt"].sum("powertrain")),
    ]
    out = []
    for name, value, limit in bounds:
        excess = (value - limit).clip(min=0.0) / np.maximum(abs(limit), 1e-12)
        worst = float(excess.max())
        negative = float(value.min()) < 0
        out.append(Check(f"capacity_{name}", worst <= 1e-9 and not negative, worst,
                         "value <= physical limit, >= 0",
                         f"largest relative excess at {_where_max(excess)}"
                         + ("; negative values" if negative else "")))
    return out


#: Every check, in report order.
CHECKS: tuple[Callable[[Results], list[Check]], ...] = (
    check_states_sum_to_one,
    check_states_nest,
    check_funnel_monotone,
    check_stock_reconciles,
    check_sales_smooth,
    check_ev_within_total,
    check_world_is_sum,
    check_share_denominators,
    check_calibration_anchors,
    check_calibration_states,
    check_history_ev_stock,
    check_history_vehicle_stock,
    check_nowcast,
    check_outside_projections,
    check_capacity_physical,
)


class ChecksFailed(Exception):
    """Raised by :func:`run_checks` with ``strict=True`` when a check fails."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        bad = table[table["status"] == "fail"]
        super().__init__("; ".join(f"{r.check} (value {r.value:.6g}, limit {r.limit})"
                                   for r in bad.itertuples()))


def run_checks(results: Results, strict: bool = False) -> pd.DataFrame:
    """The checks table: ``check, kind, status, value, limit, detail``.

    With ``strict=True`` a failing check raises :class:`ChecksFailed` (which carries the
    table) instead of only being reported.
    """
    rows = [c for fn in CHECKS for c in fn(results)]
    table = pd.DataFrame({"check": [c.check for c in rows], "kind": [c.kind for c in rows],
                          "status": [c.status for c in rows],
                          "value": [c.value for c in rows], "limit": [c.limit for c in rows],
                          "detail": [c.detail for c in rows]})
    if strict and (table["status"] == "fail").any():
        raise ChecksFailed(table)
    return table


def failed(table: pd.DataFrame) -> pd.DataFrame:
    """The failing rows of a checks table."""
    return table[table["status"] == "fail"]
