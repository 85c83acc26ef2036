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
def _iea_car(parameter: str = "ev_stock") -> pd.DataFrame:
    """IEA car EV ``ev_stock`` or ``ev_sales`` (BEV + PHEV) by IEA region name and year,
    from the IEA file."""
    if SHARED_IEA.exists():
        raw = pd.read_csv(SHARED_IEA)
        label = {"ev_stock": "EV stock", "ev_sales": "EV sales"}[parameter]
        raw = raw[(raw["category"] == "Historical") & (raw["mode"] == "Cars")
                  & (raw["parameter"] == label) & raw["powertrain"].isin(["BEV", "PHEV"])]
        raw = raw.rename(columns={"region_country": "region"})
    else:  # the shipped extract, made from that file by scripts/extract_iea.py
        from evflex.fleet.history import iea_raw

        raw = iea_raw()
        raw = raw[(raw["segment"] == "cars") & (raw["parameter"] == parameter)
                  & raw["powertrain"].isin(["bev", "phev"])]
    return raw.groupby(["region", "year"])["value"].sum().unstack()


def _iea_car_stock() -> pd.DataFrame:
    return _iea_car("ev_stock")


HISTORY_YEARS = list(range(2015, 2025))
#: Countries over 100,000 EVs that the model does not bring within 10 % of the IEA
#: stock in every year 2015-2024, and whose IEA series are not proven inconsistent
#: (docs/countries.md says why for each). The test fails when one of them is met, so
#: the list cannot outlive its reason.
NOT_MET = {"US", "GB", "IN", "NZ", "FI", "SE", "FR", "DK", "OtherCountries"}


def _proven_inconsistent(model: pd.DataFrame, stock: pd.DataFrame, sales: pd.DataFrame,
                         region: str, name: str) -> list[tuple[int, float]]:
    """Three-year windows in which no steady-trade stock model fits the IEA's stock and
    sales within 10 % (computed from the file), and in which the model meets 10 % in
    every year before 2015: then it must miss 10 % in a year from 2015 on."""
    from evflex.fleet.consistency import inconsistent_windows

    windows = inconsistent_windows(stock.loc[name], sales.loc[name], list(range(2013, 2025)),
                                   0.10)
    proven = []
    for first, bound in windows:
        early = [y for y in range(first, first + 3) if y < HISTORY_YEARS[0]]
        err = (model.loc[region, early] / stock.loc[name, early] - 1).abs()
        if (err <= 0.10).all():
            proven.append((first, bound))
    return proven


def test_country_history_against_the_iea_file(countries) -> None:
    """Modelled EV car stock 2015-2024 per country against the IEA file.

    Every country with over 100,000 EVs in 2024 is within 10 % in every year, except
    (a) where the IEA's own stock and sales cannot agree (proven here from the file, by
    :func:`evflex.fleet.consistency.inconsistent_windows`), and (b) the countries of
    ``NOT_MET``, which must still miss. The World, EU27 and Europe hold from 2018.
    """
    iea, sales = _iea_car_stock(), _iea_car("ev_sales")
    h = hierarchy()
    model = countries.aggregated["ev_stock"].sel(segment=ALL_SEGMENTS).to_pandas()
    worst = _worst_errors(countries, iea)
    proofs = {region: _proven_inconsistent(model, iea, sales, region, h.name_of(region))
              for region in worst.index}
    table = pd.DataFrame({"worst_relative_error": worst,
                          "inconsistent_iea_windows": pd.Series(proofs)})
    print(table.sort_values("worst_relative_error").to_string())
    from evflex.fleet.consistency import diagnose

    names = {h.name_of(r): r for r in worst.index}
    print(diagnose(iea, sales, list(names), HISTORY_YEARS).rename(index=names).round(3)
          .to_string())
    assert len(table) >= 25
    proven = {region for region, windows in proofs.items() if windows}
    assert proven == {"KR", "NL", "PL", "TH", "TR"}  # the documented set
    strict = worst.drop([*proven, *NOT_MET])
    assert (strict <= 0.10).all(), strict[strict > 0.10].to_dict()
    assert len(strict) >= 15
    assert (worst[list(NOT_MET)] > 0.10).all(), "met now: take it off NOT_MET"
    # a proven inconsistency is only used where the model does miss in that window
    for region in proven:
        judged = [y for first, _ in proofs[region] for y in range(first, first + 3)
                  if y >= HISTORY_YEARS[0]]
        err = (model.loc[region, judged] / iea.loc[h.name_of(region), judged] - 1).abs()
        assert err.max() > 0.10, region
    for aggregate in (WORLD, "EU27", "Europe"):
        ratio = model.loc[aggregate, range(2018, 2025)] / iea.loc[aggregate, range(2018, 2025)]
        assert float((ratio - 1).abs().max()) <= 0.10, aggregate


def test_slow_trade_fits_the_not_met_countries_so_no_proof_excuses_them() -> None:
    """The misses of ``NOT_MET`` are the model's, not the IEA file's: for each, a stock
    model whose net trade share changes by at most ``SLOW_TRADE_CHANGE`` a year (no
    retirement) is within 10 % of the IEA stock in every year 2015-2024 (the programme's
    model, checked here against the file). The same class misses Poland, Thailand and
    Türkiye, so their inconsistency holds beyond steady trade; Korea and the Netherlands
    it fits over 2015-2024 (their proofs rest on steady trade within three years)."""
    from evflex.fleet.consistency import SLOW_TRADE_CHANGE, best_varying_trade

    iea, sales = _iea_car_stock(), _iea_car("ev_sales").fillna(0.0)
    h = hierarchy()
    rows = {}
    for region in sorted(NOT_MET | {"KR", "NL", "PL", "TH", "TR"}):
        name = h.name_of(region)
        stock = iea.loc[name, HISTORY_YEARS].to_numpy(dtype=float)
        fit = best_varying_trade(stock, sales.loc[name, HISTORY_YEARS].to_numpy(dtype=float),
                                 SLOW_TRADE_CHANGE)
        assert (np.abs(np.diff(fit.share[1:])) <= SLOW_TRADE_CHANGE + 1e-7).all()
        rows[region] = {"steady": best_varying_trade(
            stock, sales.loc[name, HISTORY_YEARS].to_numpy(dtype=float), 0.0).error,
            "slow": float(np.abs(fit.stock / stock - 1).max()),
            "slow_shares": np.round(fit.share[1:], 2).tolist()}
    table = pd.DataFrame(rows).T
    print(table.to_string())
    fits = set(table.index[table["slow"] <= 0.10])
    assert fits == NOT_MET | {"KR", "NL"}, table["slow"].to_dict()
    # nor does a longer steady-trade window prove any of them: four years, none
    from evflex.fleet.consistency import inconsistent_windows

    for region in NOT_MET:
        name = h.name_of(region)
        assert not inconsistent_windows(iea.loc[name], sales.loc[name], list(range(2013, 2025)),
                                        0.10, width=4), region


def test_calibrated_used_ev_trade_is_the_fit_and_holds_out_of_sample() -> None:
    """The shipped trade shares are what the shipped fit computes (on 2015-2020), and the
    fitted countries over 100,000 EVs meet 10 % in 2021-2024, which the fit did not read
    (except those of NOT_MET)."""
    from evflex.fleet.trade import fit_used_ev_trade, read_calibration

    fit = fit_used_ev_trade().set_index("region")
    shipped = read_calibration().set_index("region")
    assert list(shipped.index) == list(fit.index)
    np.testing.assert_allclose(shipped["value"], fit["value"], atol=1e-4)
    assert (shipped["label"] == "calibration").all()
    sc = load_scenario("countries")
    for region in fit.index:
        assert str(sc.parameters["used_ev_net_export"].overrides[region].source).startswith(
            "calibration")
    iea = _iea_car_stock()
    h = hierarchy()
    large = [r for r in fit.index if iea.at[h.name_of(r), 2024] > 100_000 and r not in NOT_MET]
    assert len(large) >= 10
    held_out = fit.loc[large, "test_error"]
    assert (held_out <= 0.10).all(), held_out[held_out > 0.10].to_dict()


def _worst_errors(results: Results, iea: pd.DataFrame) -> pd.Series:
    """Largest |model / IEA - 1| of the EV car stock 2015-2024 per country with over
    100,000 EVs in 2024."""
    h = hierarchy()
    model = results.aggregated["ev_stock"].sel(segment=ALL_SEGMENTS).to_pandas()
    out = {}
    for region in results.scenario.regions:
        name = h.name_of(region)
        if name in iea.index and iea.at[name, 2024] > 100_000:
            out[region] = float((model.loc[region, HISTORY_YEARS] / iea.loc[name, HISTORY_YEARS]
                                 - 1).abs().max())
    return pd.Series(out)


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


def test_sourced_used_ev_trade_brings_countries_closer_to_the_iea_stock(countries) -> None:
    """DE, FI and SE's trade shares come from CAM, Traficom and M Sverige, not the IEA stock.

    Without them (trade set to 0) each of those countries is further from the IEA's
    stock series than with them.
    """
    iea = _iea_car_stock()
    data = read_raw(resolve_path("countries"))
    data["parameters"]["used_ev_net_export"]["overrides"] = {}
    no_trade = run_engine(parse(data))
    years = list(range(2018, 2025))
    for region, name in [("DE", "Germany"), ("FI", "Finland"), ("SE", "Sweden")]:
        errors = []
        for res in (countries, no_trade):
            model = res.aggregated["ev_stock"].sel(segment=ALL_SEGMENTS, region=region,
                                                   year=years).values
            errors.append(float(np.abs(model / iea.loc[name, years].values - 1).mean()))
        assert errors[0] < errors[1], (region, errors)


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
