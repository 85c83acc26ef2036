"""Countries: the region hierarchy, its validation, blocks as exact sums, country history.

The history tests read the IEA Global EV Data 2025 file itself (the shared CSV beside the
repository when present, else the shipped extract made from it), never typed-in numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evflex.model import ALL_SEGMENTS, WORLD, Results
from evflex.model import run as run_engine
from evflex.regions import RegionError, hierarchy, residual_history, validate
from evflex.scenario import load_scenario
from evflex.scenario.evaluate import evaluate
from evflex.scenario.load import ScenarioError, parse, read_raw, resolve_path

SHARED_IEA = Path(__file__).resolve().parents[2] / "../shared/data/iea-global-ev-data-2025.csv"


@pytest.fixture(scope="module")
def countries() -> Results:
    return run_engine("countries")


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    h = hierarchy()
    regions = h.regions.copy()
    regions["blocks"] = regions["blocks"].map(";".join)
    return regions, h.blocks.copy()


# ------------------------------------------------------------------ hierarchy validation
def test_shipped_hierarchy_is_valid_and_each_resolution_has_one_world() -> None:
    h = hierarchy()
    countries = h.resolution("countries")
    assert len(countries) >= 40
    assert {"GB", "DE", "FR", "US", "CN", "JP", "RestOfEU27", "OtherCountries"} <= set(countries)
    assert set(h.resolution("blocks")) == {"China", "Europe", "USA", "RestOfWorld"}


def test_region_in_two_blocks_of_one_partition_is_one_line_error() -> None:
    regions, blocks = _tables()
    regions.loc[regions["region"] == "GB", "blocks"] = "Europe;Asia Pacific"
    with pytest.raises(RegionError, match=r"region 'GB': in two blocks of partition "
                       r"'continent', 'Europe' and 'Asia Pacific'") as err:
        validate(regions, blocks)
    assert "\n" not in str(err.value)


def test_unknown_block_and_unknown_iea_name_name_them() -> None:
    regions, blocks = _tables()
    regions.loc[regions["region"] == "FR", "blocks"] = "EU27;Eurozone"
    with pytest.raises(RegionError, match=r"region 'FR': unknown block 'Eurozone'"):
        validate(regions, blocks)
    from evflex.fleet.history import iea_raw

    regions, blocks = _tables()
    regions.loc[regions["region"] == "FR", "name"] = "Frankreich"
    with pytest.raises(RegionError, match=r"region 'FR': IEA name 'Frankreich' not in"):
        validate(regions, blocks, known_names=set(iea_raw()["region"]))


def test_block_that_does_not_sum_is_named() -> None:
    from evflex.fleet.history import iea_raw

    raw = iea_raw().copy()
    # Germany's 2022 car stock ten times larger: the EU27 members exceed the EU27 total
    pick = ((raw["region"] == "Germany") & (raw["segment"] == "cars")
            & (raw["parameter"] == "ev_stock") & (raw["year"] == 2022))
    raw.loc[pick, "value"] *= 10
    with pytest.raises(RegionError, match=r"block 'EU27' does not sum: its members exceed "
                       r"the IEA total by .* \(ev_stock (bev|phev) cars 2022"):
        residual_history(raw, hierarchy())


def test_rounding_of_the_iea_totals_is_not_a_failure_to_sum() -> None:
    from evflex.fleet.history import iea_extract

    table = iea_extract()
    rest = table[table["region"].isin(["RestOfEU27", "RestOfEurope", "RestOfWorld"])]
    assert (rest["value"] >= 0).all()
    assert rest["value"].sum() > 0


def test_unknown_country_code_in_a_scenario_and_in_a_selection() -> None:
    data = read_raw(resolve_path("countries"))
    data["regions"] = [*data["regions"], "XX"]
    with pytest.raises(ScenarioError, match=r"regions\.\d+: unknown region"):
        parse(data)
    h = hierarchy()
    with pytest.raises(RegionError, match=r"unknown region 'XX'"):
        h.resolve(["GB", "XX"], h.resolution("countries"))


def test_two_resolutions_in_one_scenario_are_refused() -> None:
    data = read_raw(resolve_path("countries"))
    data["regions"] = [*data["regions"], "China"]
    with pytest.raises(ScenarioError, match="regions of two resolutions"):
        parse(data)


def test_selection_accepts_codes_names_and_blocks() -> None:
    h = hierarchy()
    regions = h.resolution("countries")
    assert h.resolve(["gb", "Germany"], regions) == ["DE", "GB"]
    eu = h.resolve(["EU27"], regions)
    assert "FR" in eu and "RestOfEU27" in eu and "GB" not in eu


def test_norway_is_a_region_not_a_boolean() -> None:
    sc = load_scenario("countries")
    assert "NO" in sc.regions
    assert "NO" in sc.parameters["charging_access"].overrides


# ------------------------------------------------------------------ aggregates
def test_blocks_and_world_are_exact_sums_of_the_country_regions(countries) -> None:
    agg = countries.aggregated
    h = hierarchy()
    for block, members in countries.blocks.items():
        assert set(members) == set(h.members(block))
        for var in ("ev_stock", "states", "funnel", "stock"):
            total = agg[var].sel(region=block)
            parts = agg[var].sel(region=members).sum("region")
            np.testing.assert_allclose(total.values, parts.values, rtol=1e-12)
    world = agg["ev_stock"].sel(region=WORLD)
    np.testing.assert_allclose(world.values,
                               agg["ev_stock"].sel(region=countries.scenario.regions)
                               .sum("region").values, rtol=1e-12)
    tables = countries.frames()
    for name in ("states", "fleet", "funnel", "capacity"):
        assert {"EU27", "Europe", "North America", "Asia Pacific", WORLD} <= set(
            tables[name]["region"]), name
    cap = tables["capacity"]
    eu = cap[cap["region"].isin(h.members("EU27"))].groupby(["year", "metric"])["value"].sum()
    eu27 = cap[cap["region"] == "EU27"].set_index(["year", "metric"])["value"]
    np.testing.assert_allclose(eu27.sort_index().values, eu.sort_index().values, rtol=1e-9)


def test_block_level_base_has_only_the_world_aggregate() -> None:
    res = run_engine("base")
    assert res.blocks == {}
    assert set(res.frames()["states"]["region"]) == {"China", "Europe", "USA", "RestOfWorld",
                                                     WORLD}


# ------------------------------------------------------------------ history vs the IEA file
def _iea_car_by_powertrain(parameter: str = "ev_stock") -> pd.DataFrame:
    """IEA car EV ``ev_stock`` or ``ev_sales`` by (IEA region name, powertrain) and year,
    from the IEA file as published (NaN where it reports none)."""
    if SHARED_IEA.exists():
        raw = pd.read_csv(SHARED_IEA)
        label = {"ev_stock": "EV stock", "ev_sales": "EV sales"}[parameter]
        raw = raw[(raw["category"] == "Historical") & (raw["mode"] == "Cars")
                  & (raw["parameter"] == label) & raw["powertrain"].isin(["BEV", "PHEV"])]
        raw = raw.rename(columns={"region_country": "region"})
        raw = raw.assign(powertrain=raw["powertrain"].str.lower())
    else:  # the shipped extract, made from that file by scripts/extract_iea.py
        from evflex.iea import iea_published

        raw = iea_published()
        raw = raw[(raw["segment"] == "cars") & (raw["parameter"] == parameter)
                  & raw["powertrain"].isin(["bev", "phev"])]
    return raw.groupby(["region", "powertrain", "year"])["value"].sum().unstack()


def _iea_car(parameter: str = "ev_stock") -> pd.DataFrame:
    """IEA car EV ``ev_stock`` or ``ev_sales`` (BEV + PHEV) by IEA region name and year."""
    return _iea_car_by_powertrain(parameter).groupby(level="region").sum(min_count=1)


def _iea_car_stock() -> pd.DataFrame:
    return _iea_car("ev_stock")


HISTORY_YEARS = list(range(2015, 2025))
#: Countries over 100,000 EVs the model misses by over 10 % in some year 2015-2024: only
#: in years whose IEA stock national statistics contradict (iea_disputes.csv), and with
#: the IEA's stock and sales proven not to agree from the file alone (docs/countries.md).
#: The history test computes both and fails if the misses are any other set.
PROVEN = {"TH", "TR"}


@pytest.fixture(scope="module")
def response():
    from evflex.fleet.trade import stock_response

    return stock_response()


@pytest.fixture(scope="module")
def trade_fit(response) -> pd.DataFrame:
    from evflex.fleet.trade import fit_used_ev_trade

    return fit_used_ev_trade(response)


def _data_proofs(stock: pd.Series, sales: pd.Series) -> list[str]:
    """Why the IEA's own stock and sales of one country cannot agree within 10 %, from the
    file alone (no engine): no model whose net trade share changes by at most
    ``SLOW_TRADE_CHANGE`` a year fits 2015-2024 from any starting stock, or no steady-trade
    model fits some three years of 2013-2024."""
    from evflex.fleet.consistency import SLOW_TRADE_CHANGE, best_varying_trade, inconsistent_windows

    proofs = []
    known = stock.reindex(HISTORY_YEARS).to_numpy(dtype=float)
    if (known > 0).all():
        slow = best_varying_trade(known, sales.reindex(HISTORY_YEARS).fillna(0.0)
                                  .to_numpy(dtype=float), SLOW_TRADE_CHANGE).error
        if slow > 0.10:
            proofs.append(f"slow trade 2015-2024: {slow:.3f}")
    proofs += [f"steady trade {y}-{y + 2}: {e:.3f}"
               for y, e in inconsistent_windows(stock, sales.fillna(0.0),
                                                list(range(2013, 2025)), 0.10)]
    return proofs


def test_country_history_against_the_iea_file(countries, trade_fit) -> None:
    """Modelled EV car stock 2015-2024 per country against the IEA file (as published).

    The stock is the engine's (sales, survival, the first reported stock), with each
    country's net used-EV trade a calibration to this same IEA stock (evflex.fleet.trade).
    So this is a calibration check, and says which part holds by construction: outside
    the disputed figures (iea_disputes.csv), a country whose best reachable error is
    within 10 % is within 10 % because the fit keeps every path within max(that error,
    5 %). What can fail: every country's best reachable error within 10 % (the class
    fitting every country); the engine run with the shipped scenario reproducing the fit
    (rounded shares, the cap on kept sales, the anchoring of the first reported stock);
    the misses, which must fall in disputed years only, in countries whose IEA stock and
    sales are proven not to agree from the file alone (:func:`_data_proofs`); the World,
    EU27 and Europe, which also hold the uncalibrated residual regions, in every year.
    """
    from evflex.fleet.history import read_disputes

    iea, sales = _iea_car_stock(), _iea_car("ev_sales")
    h = hierarchy()
    model = countries.aggregated["ev_stock"].sel(segment=ALL_SEGMENTS).to_pandas()
    errors = _errors(countries, iea)
    worst = errors.abs().max(axis=1)
    best = trade_fit.groupby("region")["best_error"].first()
    proofs = {r: _data_proofs(iea.loc[h.name_of(r)], sales.loc[h.name_of(r)])
              for r in worst.index}
    table = pd.DataFrame({"worst_relative_error": worst, "best_reachable": best.reindex(
        worst.index), "iea_file_proofs": pd.Series(proofs)})
    print(table.sort_values("worst_relative_error").to_string())
    assert len(worst) >= 29
    assert (best.reindex(worst.index) <= 0.10).all()
    disputed: dict[str, set[int]] = {}
    for row in read_disputes().to_dict("records"):
        disputed.setdefault(row["region"], set()).update(
            range(int(row["year_from"]), int(row["year_to"]) + 1))
    misses = set(worst.index[worst > 0.10])
    for region in misses:
        years = set(errors.columns[errors.loc[region].abs() > 0.10])
        assert years <= disputed.get(region, set()), (region, sorted(years))
        assert proofs[region], region
    assert misses == PROVEN, sorted(misses)
    for aggregate in (WORLD, "EU27", "Europe"):
        ratio = model.loc[aggregate, HISTORY_YEARS] / iea.loc[aggregate, HISTORY_YEARS]
        assert float((ratio - 1).abs().max()) <= 0.10, aggregate


def test_the_first_reported_stock_skips_disputed_figures(countries) -> None:
    """Türkiye's BEV stock before 2019 is the distributors' cumulated sales, not
    registrations (iea_disputes.csv): the vintages carry the first undisputed figure,
    2019's 1,300 BEVs, exactly (a data point); Thailand's PHEVs carry their 2014 figure."""
    stock = countries.data["ev_stock_pt"].sum("segment")
    assert float(stock.sel(region="TR", powertrain="bev", year=2019)) == pytest.approx(1300)
    assert float(stock.sel(region="TR", powertrain="phev", year=2019)) == pytest.approx(540)
    assert float(stock.sel(region="TH", powertrain="phev", year=2014)) == pytest.approx(63)
    assert float(stock.sel(region="TR", powertrain="bev", year=2018)) != pytest.approx(650,
                                                                                   rel=0.05)


def test_the_present_stock_is_the_iea_number(countries, trade_fit) -> None:
    """Every calibrated region's 2024 stock equals the IEA's (held by the calibration, so
    by construction; what is checked is that the engine run of the shipped scenario
    carries it, with rounded shares and everything else the engine does)."""
    iea = _iea_car_stock()
    h = hierarchy()
    model = countries.aggregated["ev_stock"].sel(segment=ALL_SEGMENTS, year=2024).to_pandas()
    regions = sorted(set(trade_fit["region"]))
    assert len(regions) >= 35
    ratio = pd.Series({r: model[r] / iea.at[h.name_of(r), 2024] for r in regions})
    assert float((ratio - 1).abs().max()) < 1e-3, ratio[(ratio - 1).abs() >= 1e-3].to_dict()


def test_calibrated_used_ev_trade_is_the_fit(trade_fit) -> None:
    """The shipped shares (used_ev_trade_calibration.csv and the scenario's overrides) are
    what the shipped fit computes now; labelled calibration; of the class (by
    construction of the programme: checked); the best reachable error above 10 % exactly
    for the proven countries among those over 100,000 EVs."""
    from evflex.fleet.consistency import SLOW_TRADE_CHANGE
    from evflex.fleet.trade import AFTER_SHARE, FIT_TOLERANCE, read_calibration

    shipped = read_calibration()
    assert list(shipped["region"]) == list(trade_fit["region"])
    assert list(shipped["year"]) == list(trade_fit["year"])
    np.testing.assert_allclose(shipped["value"], trade_fit["value"], atol=1e-4)
    np.testing.assert_allclose(shipped["fit_error"], trade_fit["fit_error"], atol=1e-3)
    assert (shipped["label"] == "calibration").all()
    sc = load_scenario("countries")
    for region, rows in shipped.groupby("region"):
        spec = sc.parameters["used_ev_net_export"].overrides[region]
        assert str(spec.source).startswith("calibration"), region
        points = spec.points or {}
        assert [points[int(y)] for y in rows["year"]] == pytest.approx(list(rows["value"]))
        assert points[int(rows["year"].max()) + 1] == AFTER_SHARE
        assert (np.abs(np.diff(rows["value"])) <= SLOW_TRADE_CHANGE + 1e-4).all(), region
    per_region = trade_fit.groupby("region")[["best_error", "fit_error"]].first()
    assert (per_region["fit_error"] <= np.maximum(per_region["best_error"] + 1e-4,
                                                  FIT_TOLERANCE) + 1e-6).all()
    iea = _iea_car_stock()
    h = hierarchy()
    large = [r for r in per_region.index if iea.at[h.name_of(r), 2024] > 100_000]
    assert (per_region.loc[large, "best_error"] <= 0.10).all()


def test_calibration_agrees_with_the_national_trade_counts_it_did_not_read(trade_fit) -> None:
    """Germany's exports (CAM, Schmidt), Finland's imports (Traficom), the Netherlands' net
    imports (CBS) and Sweden's exports (Mobility Sweden) are not read by the fit: the
    calibrated shares have their sign and are within a factor 2. The check fails for a
    model without trade and for the shares with their sign turned."""
    from evflex.fleet.trade import evidence_check

    shares = trade_fit.pivot(index="region", columns="year", values="value")
    check = evidence_check(shares)
    print(check.to_string(index=False))
    assert len(check) >= 7 and set(check["region"]) == {"DE", "FI", "NL", "SE"}
    assert check["agrees"].all(), check[~check["agrees"]].to_dict("records")
    assert not evidence_check(shares * 0.0)["agrees"].any()
    assert not evidence_check(-shares)["agrees"].any()


def test_one_year_ahead_forecasts_of_the_stock(response) -> None:
    """Out of sample: each year's stock 2018-2024 from a calibration that stops the year
    before, for the countries over 100,000 EVs. The projections' rule (no trade after the
    last calibrated year) forecasts better than the last share held, which is why it is
    the rule. The bars (median within 5 %, 85 % of country-years within 10 %) were set
    after the first measurement (median 2.3 %, 88 %): a guard against regressions, not a
    target set in advance."""
    from evflex.fleet.trade import one_year_ahead

    iea = _iea_car_stock()
    h = hierarchy()
    large = [r for r in response.regions if iea.at[h.name_of(r), 2024] > 100_000]
    rule = one_year_ahead(response).loc[large].abs().stack()
    held = one_year_ahead(response, hold=True).loc[large].abs().stack()
    print(f"rule: median {rule.median():.4f}, mean {rule.mean():.4f}; "
          f"held: median {held.median():.4f}, mean {held.mean():.4f}")
    assert len(rule) >= 150
    assert rule.median() < held.median() and rule.mean() < held.mean()
    assert rule.median() <= 0.05
    assert (rule <= 0.10).mean() >= 0.85


def _errors(results: Results, iea: pd.DataFrame) -> pd.DataFrame:
    """model / IEA - 1 of the EV car stock 2015-2024 per country with over 100,000 EVs in
    2024 (rows) and year, like for like: of the powertrains the IEA reports that year
    (:func:`evflex.fleet.trade.like_for_like`; Poland 2015-2018 and Türkiye 2015 have no
    PHEV stock in the file)."""
    from evflex.fleet.trade import like_for_like

    h = hierarchy()
    by_pt = _iea_car_by_powertrain("ev_stock")
    model = results.data["ev_stock_pt"].sum("segment")
    out = {}
    for region in results.scenario.regions:
        name = h.name_of(region)
        if name in iea.index and iea.at[name, 2024] > 100_000:
            reported = (by_pt.loc[name].reindex(index=["bev", "phev"], columns=HISTORY_YEARS)
                        .fillna(0.0).to_numpy(dtype=float))
            mine = model.sel(region=region, year=HISTORY_YEARS).transpose("powertrain", "year")
            ours, theirs = like_for_like(mine.to_numpy(), reported)
            out[region] = np.divide(ours, theirs, out=np.full_like(ours, np.nan),
                                    where=theirs > 0) - 1  # NaN: no IEA stock that year
    return pd.DataFrame(out, index=HISTORY_YEARS).T


def _worst_errors(results: Results, iea: pd.DataFrame) -> pd.Series:
    """Largest |model / IEA - 1| 2015-2024 per country over 100,000 EVs (:func:`_errors`)."""
    return _errors(results, iea).abs().max(axis=1)


def test_first_reported_stock_brings_countries_closer_to_the_iea_stock(countries) -> None:
    """The IEA stock of the first year it reports one, as the vintages' starting point,
    against counting every sale since 2010 (the IEA's sales and stock often start in
    different years: Brazil's stock from 2014 leaves out its 130 earlier sales)."""
    iea = _iea_car_stock()
    data = read_raw(resolve_path("countries"))
    data.setdefault("options", {})["initial_ev_stock"] = "sales"
    anchored, counted = _worst_errors(countries, iea), _worst_errors(run_engine(parse(data)), iea)
    print(pd.DataFrame({"first_reported": anchored, "sales": counted}).round(3).to_string())
    assert anchored.median() < counted.median()
    assert (anchored <= 0.10).sum() > (counted <= 0.10).sum()
    assert anchored["BR"] < 0.5 * counted["BR"] and anchored["PT"] < 0.5 * counted["PT"]


# ------------------------------------------------------------------ country parameters
def test_countries_inherit_their_name_and_block_overrides() -> None:
    sc = load_scenario("countries")
    base = load_scenario("base")
    access = evaluate(sc, "charging_access")
    base_access = evaluate(base, "charging_access")
    i = {r: k for k, r in enumerate(sc.regions)}
    b = {r: k for k, r in enumerate(base.regions)}
    np.testing.assert_allclose(access[i["FR"]], base_access[b["Europe"]])
    np.testing.assert_allclose(access[i["CN"]], base_access[b["China"]])
    np.testing.assert_allclose(access[i["BR"]], base_access[b["RestOfWorld"]])
    assert not np.allclose(access[i["GB"]], base_access[b["Europe"]])
    growth = evaluate(sc, "vehicle_sales_growth")  # a rate: inherited from the block
    np.testing.assert_allclose(growth[i["FR"]], evaluate(base, "vehicle_sales_growth")[
        b["Europe"]])


def test_regional_spread_follows_country_parameters(countries) -> None:
    share = countries.aggregated["state_share"].sel(segment=ALL_SEGMENTS)
    managed_2025 = share.sel(state="grid_managed", year=2025)
    v2g_2100 = share.sel(state="v2g", year=2100)
    assert float(managed_2025.sel(region="GB")) > float(managed_2025.sel(region="US"))
    assert float(managed_2025.max() - managed_2025.min()) > 0.05
    assert float(v2g_2100.sel(region="NL")) < float(v2g_2100.sel(region="US"))
    assert float(v2g_2100.sel(region="JP")) < float(v2g_2100.sel(region="FR"))
    # moving one country's parameter moves that country and its blocks only
    data = read_raw(resolve_path("countries"))
    data["parameters"]["export_permitted"]["overrides"]["GB"] = {
        "value": 0.0, "source": "assumption: test"}
    moved = run_engine(parse(data)).aggregated["state_share"].sel(
        segment=ALL_SEGMENTS, state="v2g", year=2100)
    assert float(moved.sel(region="GB")) == 0.0
    assert float(moved.sel(region="Europe")) < float(v2g_2100.sel(region="Europe"))
    np.testing.assert_allclose(moved.sel(region="FR"), v2g_2100.sel(region="FR"))


# ------------------------------------------------------------------ command line and speed
def test_run_regions_writes_the_selection_and_its_aggregates(tmp_path) -> None:
    from typer.testing import CliRunner

    from evflex.cli import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "countries", "--regions", "GB,DE,FR", "--out",
                                      str(out), "--no-parquet", "--no-workbook",
                                      "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    states = pd.read_csv(out / "states.csv")
    assert list(dict.fromkeys(states["region"])) == ["FR", "DE", "GB", "EU27", "Europe",
                                                     WORLD]
    full = run_engine("countries").states_frame()
    world = full[full["region"] == WORLD]["vehicles"].to_numpy()
    np.testing.assert_allclose(states[states["region"] == WORLD]["vehicles"], world)
    history = pd.read_csv(out / "history.csv")
    assert set(history["region"]) == {"FR", "DE", "GB", "EU27", "Europe", WORLD}


def test_history_table_compares_like_for_like_and_names_disputed_figures(countries) -> None:
    """history.csv: where the IEA reports no PHEV stock (Poland 2015-2018) the modelled
    stock compared is the BEVs'; disputed figures are named; elsewhere all of it."""
    history = countries.history_frame().set_index(["region", "year"])
    bev = countries.data["ev_stock_pt"].sum("segment").sel(powertrain="bev")
    for year in range(2015, 2019):
        row = history.loc[("PL", year)]
        assert row["ev_stock_compared"] == pytest.approx(float(bev.sel(region="PL", year=year)))
        assert row["ev_stock_compared"] < row["ev_stock"]
        assert row["iea_note"].startswith("BEVs only")
        assert row["relative_error"] == pytest.approx(row["ev_stock_compared"]
                                                      / row["iea_ev_stock"] - 1)
    assert "disputed PHEV" in history.loc[("TH", 2016), "iea_note"]
    assert "disputed BEV" in history.loc[("TR", 2018), "iea_note"]
    full = history.loc[("DE", 2020)]
    assert full["ev_stock_compared"] == pytest.approx(full["ev_stock"]) and not full["iea_note"]
    world = history.loc[(WORLD, 2024)]
    assert abs(world["relative_error"]) < 0.01


def test_run_regions_unknown_code_is_one_line_exit_1(tmp_path) -> None:
    from typer.testing import CliRunner

    from evflex.cli import app

    result = CliRunner().invoke(app, ["run", "countries", "--regions", "GB,XX", "--out",
                                      str(tmp_path / "o"), "-q"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("--regions: unknown region 'XX'")
    assert not (tmp_path / "o").exists()


def test_implied_totals_of_rest_regions_are_the_block_less_its_countries() -> None:
    from evflex.fleet.history import iea_raw, implied_totals

    raw = iea_raw()
    cars = implied_totals("ev_sales", "ev_sales_share").loc[("cars", 2024)]
    h = hierarchy()

    def implied(name: str) -> float:
        rows = raw[(raw["region"] == name) & (raw["segment"] == "cars") & (raw["year"] == 2024)]
        ev = rows[rows["parameter"] == "ev_sales"]["value"].sum()
        return float(ev / rows[rows["parameter"] == "ev_sales_share"]["value"].iloc[0])

    listed = [r for r in h.members("EU27") if r != "RestOfEU27"]
    expected = implied("EU27") - sum(implied(h.name_of(r)) for r in listed)
    assert cars["RestOfEU27"] == pytest.approx(expected, rel=1e-9)
    assert cars["GB"] == pytest.approx(implied("United Kingdom"), rel=1e-9)


def test_report_states_charts_pick_a_region_in_a_country_run(countries) -> None:
    from evflex.outputs.report import states_figures

    states = countries.states_frame()
    figs = states_figures(states, [*countries.blocks, *countries.scenario.regions])
    fig = figs["states_share"]
    labels = [b["label"] for b in fig["layout"]["updatemenus"][0]["buttons"]]
    assert labels[:3] == [WORLD, "EU27", "Europe"] and "United Kingdom (GB)" in labels
    gb = labels.index("United Kingdom (GB)")
    visible = fig["layout"]["updatemenus"][0]["buttons"][gb]["args"][0]["visible"]
    shown = [t for t, v in zip(fig["data"], visible, strict=True) if v]
    expected = states[(states["region"] == "GB") & (states["segment"] == ALL_SEGMENTS)]
    for trace in shown:
        series = expected[expected["state"] == trace["meta"]].sort_values("year")["share"]
        np.testing.assert_allclose(trace["y"], series.to_numpy(), rtol=1e-9)
    assert len(shown) == 5


# ------------------------------------------------------------------ now-cast per country
def test_nowcast_sets_country_evidence_against_the_run(countries) -> None:
    from evflex.judgement import load_evidence
    from evflex.nowcast import nowcast_table

    ledger = load_evidence()
    table = nowcast_table(countries, ledger)
    assert set(table["region"]) <= set(countries.scenario.regions)
    assert {"JP", "US", "GB"} <= set(table["region"])
    # each row's modelled value is the run's, for that country and year
    gb = table[table["indicator"].str.startswith("smart_charger_share")].iloc[0]
    ds = countries.data.sel(region="GB", year=int(gb["date"][:4]))
    share = float(ds["smart_capable_stock"].sum()) / float(ds["ev_stock_pt"].sum())
    assert gb["modelled"] == pytest.approx(share)
    # a lower bound fails when the country's evidence exceeds the model
    raised = ledger.copy()
    pick = raised["indicator"].str.startswith("enrolled_vehicles/con_edison")
    raised.loc[pick, "value"] = 1e9
    again = nowcast_table(countries, raised)
    assert (again[again["indicator"].str.startswith("enrolled_vehicles/con_edison")]
            ["status"] == "fail").all()
    assert (table[table["indicator"].str.startswith("enrolled_vehicles/con_edison")]
            ["status"] == "pass").all()


def test_model_count_conversion_is_checked_where_no_country_overrides_it(countries) -> None:
    """Japan's sourced V2H-capable sales share replaces the model-count anchor in JP only;
    the conversion is still checked in every other country, and fails when one moves."""
    from evflex import checks

    def status(results: Results) -> checks.Check:
        return next(c for c in checks.check_share_denominators(results)
                    if c.check == "model_count_converted_to_sales_share")

    sc = countries.scenario
    year = sc.bidirectional_models.year
    share = countries.data["param_bidirectional_share"].sel(year=year, segment="cars")
    assert float(share.sel(region="JP")) > 10 * float(share.sel(region="FR"))
    check = status(countries)
    assert check.status == "pass"
    assert f"{len(sc.regions) - 1} of {len(sc.regions)}" in check.detail
    data = countries.data.copy(deep=True)
    data["param_bidirectional_share"].loc[{"year": year, "region": "FR"}] = 0.015
    assert status(Results(scenario=sc, data=data)).status == "fail"


def test_explorer_shows_a_block_as_the_sum_of_its_countries(countries) -> None:
    from fastapi.testclient import TestClient

    from evflex.web.app import create_app

    client = TestClient(create_app())
    info = next(s for s in client.get("/api/scenarios").json()["scenarios"]
                if s["name"] == "countries")
    assert {"EU27", "Europe"} <= set(info["aggregates"])
    body = client.post("/api/run", json={"scenario": "countries", "region": "EU27"}).json()
    year = body["headline"][0]["year"]
    expected = float(countries.aggregated["ev_stock"].sel(
        region=hierarchy().members("EU27"), segment=ALL_SEGMENTS, year=year).sum())
    assert body["headline"][0]["ev_stock"] == pytest.approx(expected, rel=1e-6)
    bad = client.post("/api/run", json={"scenario": "countries", "region": "XX"})
    assert bad.status_code == 422 and "unknown region (got 'XX'" in bad.json()["messages"][0]
