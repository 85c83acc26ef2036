"""Net used-EV trade per country: a calibration to the IEA stock, checked against the
national counts it did not read.

The engine drives each country's EV stock by its IEA *sales*; what the sales do not show
(used EVs imported or exported, cars that leave the counted stock without being
scrapped, a narrower stock definition) is carried by one parameter,
``used_ev_net_export``, a share of each year's new EV sales (negative: net imports).
Statistics of that trade exist for a few countries and a few years only
(``used_ev_trade_evidence.csv``), so every country's yearly share 2011-2024 is a
**calibration** to the IEA's EV car stock, made by shipped code (this module, run by
``scripts/fit_used_ev_trade.py``) and labelled ``calibration`` wherever it is shown:

* **the class**: the share may change by at most
  :data:`~evflex.fleet.consistency.SLOW_TRADE_CHANGE` (0.10) from one year to the next
  (the sourced Dutch and Finnish shares move by 0.09 a year), within the parameter's
  bounds; the stock stays the engine's: sales, survival and the first reported stock;
* **the present is the source's number**: the stock of the last year the IEA reports
  (2024) equals the IEA's, so the projections start from the reported fleet; after it the
  share is :data:`AFTER_SHARE` (0), the better one-year-ahead forecast;
* **the fit**: first the smallest worst relative error over 2015-2024 that any path of
  the class reaches (a linear programme, SciPy/HiGHS: :func:`calibrate`), which is also
  a proof: above 10 %, no slowly changing trade brings this engine within 10 % of the
  IEA stock; then, among the paths within ``max(that error, FIT_TOLERANCE)``, the one
  whose share moves least (least squared yearly change plus a hundredth of its squared
  size, a strictly convex quadratic programme with one optimum, SciPy);
* **like for like**: each year the model's stock of the powertrains the IEA reports that
  year (:func:`like_for_like`), leaving out the figures national statistics contradict
  (``iea_disputes.csv``: Thailand's PHEVs 2015-2017, Türkiye's BEVs 2015-2018).

The modelled stock is affine in the shares (a vintage's kept sales are its sales times
``1 - share``), so one engine run without trade and one per vintage with a probe share
give the stock for any path (:func:`stock_response`).

What the calibration did not read tests it: the national counts of used-EV trade
(:func:`evidence_check`), and one-year-ahead forecasts (:func:`one_year_ahead`): the
stock of each year from a calibration that stops the year before.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, linprog, minimize

from evflex.fleet.consistency import SLOW_TRADE_CHANGE
from evflex.paths import FloatArray
from evflex.scenario.load import registry

FIT_YEARS = list(range(2015, 2025))
#: Worst relative error the fit may spend on a smoother path [fraction]. Assumption,
#: informed by :func:`one_year_ahead`: the stock's one-year-ahead forecast errors average
#: 3.7 % (median 2.3 %; countries over 100,000 EVs, 2018-2024), the year-to-year scatter
#: no trade path explains; a path asked to be closer would follow that noise.
FIT_TOLERANCE = 0.05
#: Weight of the trade's squared size beside its squared changes in the second fit (a
#: tie-break that makes the optimum unique).
_SIZE_WEIGHT = 0.01
#: Room above the best error for the second fit [fraction]: at the best error alone the
#: paths left are a point or nearly, which a solver's tolerances miss (United Kingdom).
_SLACK = 1e-4
#: Years forecast one year ahead by :func:`one_year_ahead` (three fit years before 2018).
AHEAD_YEARS = list(range(2018, 2025))
#: Share of every year after the last fit year (the projections). Measured, not assumed:
#: one year ahead, no trade forecasts the stock better than the last calibrated share
#: held (:func:`one_year_ahead`, ``test_one_year_ahead_forecasts_of_the_stock``).
AFTER_SHARE = 0.0
#: Bounds of ``used_ev_net_export``, from the parameter registry (parameters.csv).
SHARE_BOUNDS = (float(registry()["used_ev_net_export"].min or 0.0),
                float(registry()["used_ev_net_export"].max or 0.0))
_DATA = Path(__file__).resolve().parents[1] / "data"
CALIBRATION = _DATA / "used_ev_trade_calibration.csv"
EVIDENCE = _DATA / "used_ev_trade_evidence.csv"
#: Share set in the probe runs; any non-zero value gives the same slopes (affine model).
_PROBE = 0.5


def iea_car_by_powertrain(parameter: str) -> pd.DataFrame:
    """IEA cars ``ev_stock`` or ``ev_sales`` by (model region id, powertrain) and year;
    NaN where the IEA reports none."""
    from evflex.fleet.history import POWERTRAINS, iea_extract

    table = iea_extract()
    rows = table[(table["parameter"] == parameter) & (table["segment"] == "cars")
                 & table["powertrain"].isin(POWERTRAINS)]
    return rows.groupby(["region", "powertrain", "year"])["value"].sum().unstack()


def iea_car_series(parameter: str) -> pd.DataFrame:
    """IEA cars BEV + PHEV ``ev_stock`` or ``ev_sales`` by model region id and year."""
    return iea_car_by_powertrain(parameter).groupby(level="region").sum(min_count=1)


class TradeFit(NamedTuple):
    """One country's calibration: the best worst relative error the class reaches, the
    worst error of the chosen path, its share per vintage and its modelled stock."""

    best_error: float
    error: float
    share: FloatArray
    stock: FloatArray


def _lp(cost: FloatArray, a_ub: FloatArray, b_ub: FloatArray, a_eq: FloatArray,
        b_eq: FloatArray, bounds: list[tuple[float | None, float | None]]) -> FloatArray | None:
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds,
                  method="highs")
    return np.asarray(res.x, dtype=float) if res.status == 0 else None


def calibrate(base: FloatArray, slope: FloatArray, target: FloatArray,
              max_change: float = SLOW_TRADE_CHANGE,
              tolerance: float = FIT_TOLERANCE) -> TradeFit | None:
    """The slowly changing share path that carries a stock model to ``target``.

    The model's stock over the fit years is ``base - slope @ share`` (``base`` (Y,),
    ``slope`` (Y, V), ``share`` (V,), a share per vintage); ``target`` (Y,) is the
    reported stock, its last year held exactly. Constraints: ``|share[v] - share[v-1]|
    <= max_change``, :data:`SHARE_BOUNDS`. A linear programme (SciPy/HiGHS) gives the
    smallest worst relative error ``e*`` (``best_error``), then a quadratic programme
    (SciPy) the path of least squared change within ``max(e*, tolerance)``.
    ``None`` if no path of the class reaches the last year's stock.

    Examples
    --------
    >>> base = np.array([100.0, 200.0, 300.0])   # no trade: 100 sold a year, no scrapping
    >>> slope = np.triu(np.full((3, 3), 100.0)).T  # a vintage's share leaves its sales
    >>> fit = calibrate(base, slope, np.array([95.0, 185.0, 270.0]), tolerance=0.0)
    >>> np.round(fit.share, 3).tolist(), round(fit.best_error, 9)
    ([0.05, 0.1, 0.15], 0.0)
    """
    n_years, n = slope.shape
    rows = slope / target[:, None]
    gap = base / target - 1.0  # relative error without trade
    step = np.diff(np.eye(n), axis=0)  # share[v] - share[v-1]
    n_steps = n - 1
    share_bounds: list[tuple[float | None, float | None]] = [SHARE_BOUNDS] * n
    # 1. min e: |gap - rows x| <= e, |step x| <= max_change, last year exact
    ones = np.ones((n_years, 1))
    a_ub = np.vstack([np.hstack([-rows, -ones]), np.hstack([rows, -ones]),
                      np.hstack([step, np.zeros((n_steps, 1))]),
                      np.hstack([-step, np.zeros((n_steps, 1))])])
    b_ub = np.concatenate([-gap, gap, np.full(2 * n_steps, max_change)])
    last = np.hstack([rows[-1:], np.zeros((1, 1))])
    first = _lp(np.r_[np.zeros(n), 1.0], a_ub, b_ub, last, gap[-1:],
                [*share_bounds, (0.0, None)])
    if first is None:
        return None
    best = float(first[-1])
    allowed = max(best + _SLACK, tolerance)
    share = _smoothest(rows, gap, allowed, step, max_change, first[:n])
    if share is None:  # the first programme's path is feasible here: numerical only
        raise RuntimeError("the smoothing programme failed where the fit succeeded")
    stock = base - slope @ share
    return TradeFit(best, float(np.abs(stock / target - 1.0).max()), share, stock)


def _smoothest(rows: FloatArray, gap: FloatArray, allowed: float, step: FloatArray,
               max_change: float, start: FloatArray) -> FloatArray | None:
    """The share path of least squared yearly change (plus :data:`_SIZE_WEIGHT` times its
    squared size, so that the optimum is unique) within ``allowed`` of the target in every
    year, the last year exact: a strictly convex quadratic programme, solved by SciPy's
    SLSQP from ``start`` (a feasible path: the first programme's). HiGHS's active-set QP
    stops with a solve error on some of these tiny problems (Colombia 2015-2017)."""
    hessian = 2.0 * (step.T @ step + _SIZE_WEIGHT * np.eye(rows.shape[1]))
    # years no share reaches (their vintages carry the first reported stock) constrain
    # nothing, and the first programme has found them within bounds
    live = np.abs(rows).max(axis=1) > 1e-12
    band, last = live.copy(), np.zeros_like(live)
    band[-1], last[-1] = False, live[-1]
    constraints = [constraint for constraint in (
        LinearConstraint(rows[band], gap[band] - allowed, gap[band] + allowed),
        LinearConstraint(rows[last], gap[last], gap[last]),  # the last year exact
        LinearConstraint(step, -max_change, max_change)) if constraint.A.shape[0]]
    res = minimize(lambda x: 0.5 * x @ hessian @ x, start, jac=lambda x: hessian @ x,
                   bounds=Bounds(*SHARE_BOUNDS), constraints=constraints, method="SLSQP",
                   options={"ftol": 1e-12, "maxiter": 500})
    return np.asarray(res.x, dtype=float) if res.success else None


class StockResponse(NamedTuple):
    """The engine's EV car stock by powertrain as an affine function of each country's
    share per vintage: ``stock[r, p, y] = base[r, p, y] - slope[r, p, y, :] @ share[r]``."""

    regions: list[str]
    years: list[int]
    vintages: list[int]
    base: FloatArray   # (R, P, Y) [vehicles]
    slope: FloatArray  # (R, P, Y, V) [vehicles per unit share]


def _with_shares(data: dict[str, Any], regions: list[str], vintages: list[int],
                 shares: dict[int, float]) -> dict[str, Any]:
    out = deepcopy(data)
    param = out["parameters"].setdefault("used_ev_net_export", {})
    overrides = param.setdefault("overrides", {})
    points = {year: float(shares.get(year, 0.0)) for year in vintages}
    for region in regions:
        overrides[region] = {"points": {**points, vintages[-1] + 1: AFTER_SHARE},
                             "source": "assumption: calibration probe"}
    return out


def candidates() -> list[str]:
    """Regions of the country resolution with their own IEA stock in the last fit year:
    the countries and the IEA's rest of the world (the residual regions, the remainder of
    a block, have no series of their own)."""
    from evflex.regions import hierarchy

    rows = hierarchy().regions
    latest = iea_car_series("ev_stock")[FIT_YEARS[-1]].fillna(0.0).to_dict()
    out = []
    for region, resolution, history in zip(rows["region"], rows["resolution"],
                                           rows["history"], strict=True):
        if resolution != "countries" or history != "iea":
            continue
        if float(latest.get(region, 0.0)) > 0:
            out.append(str(region))
    return out


def stock_response(scenario: str = "countries") -> StockResponse:
    """Engine runs of ``scenario``: every candidate without trade, then a probe share in
    one vintage at a time (all shares of the runs set here, overriding the scenario's)."""
    from evflex.model import run
    from evflex.scenario.load import parse, read_raw, resolve_path

    regions = candidates()
    data = read_raw(resolve_path(scenario))
    vintages = list(range(int(data["years"]["start"]) + 1, FIT_YEARS[-1] + 1))

    def stock(shares: dict[int, float]) -> FloatArray:
        result = run(parse(_with_shares(data, regions, vintages, shares)))
        table = result.data["ev_stock_pt"].sum("segment").sel(region=regions, year=FIT_YEARS)
        return np.asarray(table.transpose("region", "powertrain", "year").to_numpy(),
                          dtype=float)

    base = stock({})
    slope = np.stack([(base - stock({v: _PROBE})) / _PROBE for v in vintages], axis=-1)
    return StockResponse(regions, FIT_YEARS, vintages, base, slope)


def _reported(response: StockResponse) -> FloatArray:
    """The IEA's EV car stock of the response's regions, powertrains and years, (R, P, Y)
    [vehicles]; 0 where the IEA reports none or reports a disputed figure (not fitted)."""
    from evflex.fleet.history import POWERTRAINS, disputed

    iea = iea_car_by_powertrain("ev_stock")
    cells = pd.MultiIndex.from_product([response.regions, list(POWERTRAINS)])
    table = iea.reindex(index=cells, columns=response.years).fillna(0.0)
    values = np.asarray(table.to_numpy(dtype=float)).reshape(len(response.regions),
                                                             len(POWERTRAINS), -1)
    return np.where(disputed(response.regions, response.years), 0.0, values)


def like_for_like(model: FloatArray, reported: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Model and IEA stock summed over the powertrains the IEA reports in each year
    (``model`` (..., P, Y), ``reported`` (P, Y), 0 where not reported): where it reports
    no PHEV stock (Poland 2015-2018, Türkiye 2015), its EV stock is of BEVs only."""
    counted = reported > 0
    return (model * counted).sum(axis=-2), reported.sum(axis=-2)


class _Compared(NamedTuple):
    """One region's stock like for like (:func:`like_for_like`) over the response's
    years: ``stock = base - slope.T @ share``; ``target`` the IEA's (0: not compared)."""

    base: FloatArray    # (Y,) [vehicles]
    slope: FloatArray   # (V, Y) [vehicles per unit share]
    target: FloatArray  # (Y,) [vehicles]


def _compared(response: StockResponse, k: int, reported: FloatArray) -> _Compared:
    """Region ``k`` like for like; ``reported``: its IEA stock (P, Y), see :func:`_reported`."""
    base, target = like_for_like(response.base[k], reported)
    slope, _ = like_for_like(np.moveaxis(response.slope[k], -1, 0), reported)
    return _Compared(base, slope, target)


def _fit_one(response: StockResponse, region: _Compared, last_year: int,
             ) -> tuple[TradeFit | None, list[int], list[int]]:
    """Calibrate one region on the fit years up to ``last_year`` with a compared stock."""
    years = [y for y, v in zip(response.years, region.target, strict=True)
             if y <= last_year and v > 0]
    vintages = [v for v in response.vintages if v <= last_year]
    if not years:
        return None, years, vintages
    iy = [response.years.index(y) for y in years]
    fit = calibrate(region.base[iy], region.slope.T[np.ix_(iy, range(len(vintages)))],
                    region.target[iy])
    return fit, years, vintages


def fit_used_ev_trade(response: StockResponse | None = None) -> pd.DataFrame:
    """Every candidate's share per vintage, in long form: ``region, year, value`` [fraction
    of that year's new EV sales; negative: net imports], ``label`` (``calibration``),
    ``best_error`` (the smallest worst relative error over the fit years any path of
    the class reaches) and ``fit_error`` (that of the shipped path)."""
    response = response or stock_response()
    reported = _reported(response)
    rows = []
    for k, region in enumerate(response.regions):
        fit, _, vintages = _fit_one(response, _compared(response, k, reported[k]),
                                    FIT_YEARS[-1])
        if fit is None:
            raise RuntimeError(f"{region}: no trade path reaches its {FIT_YEARS[-1]} stock")
        rows += [(region, year, float(value), "calibration", fit.best_error, fit.error)
                 for year, value in zip(vintages, fit.share, strict=True)]
    return pd.DataFrame(rows, columns=["region", "year", "value", "label", "best_error",
                                       "fit_error"])


def one_year_ahead(response: StockResponse | None = None, hold: bool = False) -> pd.DataFrame:
    """Relative error of the stock of each year of :data:`AHEAD_YEARS`, forecast by the
    calibration of the years before it (last year held exactly) and, in that year, the
    projections' share :data:`AFTER_SHARE` (``hold``: the last calibrated share instead):
    the stock of that year is data the forecast did not read.
    Regions (rows) by year (columns); NaN where fewer than two earlier years are reported
    or the IEA reports no stock that year."""
    response = response or stock_response()
    reported = _reported(response)
    out = pd.DataFrame(np.nan, index=response.regions, columns=AHEAD_YEARS)
    for k, region in enumerate(response.regions):
        compared = _compared(response, k, reported[k])
        for year in AHEAD_YEARS:
            fit, years, vintages = _fit_one(response, compared, year - 1)
            iy = response.years.index(year)
            if fit is None or len(years) < 2 or not compared.target[iy] > 0:
                continue
            path = np.r_[fit.share, fit.share[-1] if hold else AFTER_SHARE]
            stock = compared.base[iy] - compared.slope[: len(vintages) + 1, iy] @ path
            out.at[region, year] = stock / compared.target[iy] - 1.0
    return out


def read_calibration() -> pd.DataFrame:
    """The shipped fit (``evflex/data/used_ev_trade_calibration.csv``)."""
    return pd.read_csv(CALIBRATION, comment="#")


def read_evidence() -> pd.DataFrame:
    """National counts of used-EV trade (``evflex/data/used_ev_trade_evidence.csv``)."""
    return pd.read_csv(EVIDENCE, comment="#")


def evidence_check(shares: pd.DataFrame, factor: float = 2.0) -> pd.DataFrame:
    """The calibrated shares against the national counts the calibration did not read.

    ``shares``: regions (rows) by year (columns). For each evidence row, the share over
    its years (weighted by the IEA's EV car sales) against its range: it agrees when it
    has the range's sign and lies within ``factor`` of it (``low / factor .. high *
    factor`` in magnitude; the counts cover one direction of trade, part of a year or
    one powertrain: tolerance, assumption).
    """
    sales = iea_car_series("ev_sales")
    rows = []
    for ev in read_evidence().to_dict("records"):
        years = list(range(int(ev["year_from"]), int(ev["year_to"]) + 1))
        weight = sales.loc[ev["region"], years].to_numpy(dtype=float)
        value = float(np.average(shares.loc[ev["region"], years].to_numpy(dtype=float),
                                 weights=weight))
        low, high = float(ev["low"]), float(ev["high"])
        small, large = sorted((abs(low), abs(high)))
        within = small / factor <= abs(value) <= large * factor
        ok = bool(np.sign(value) == np.sign(high) and within)
        rows.append({"region": ev["region"], "years": f"{ev['year_from']}-{ev['year_to']}",
                     "low": low, "high": high, "calibrated": value,
                     "agrees": bool(ok)})
    return pd.DataFrame(rows)
