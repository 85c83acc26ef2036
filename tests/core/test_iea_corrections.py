"""Sourced corrections of the IEA extract (evflex/data/iea_corrections.csv)."""

from __future__ import annotations

import pandas as pd
import pytest

from evflex.iea import apply_corrections, iea_corrections, iea_published, iea_raw

KEY = ["region", "segment", "parameter", "powertrain", "year"]


def _merged() -> pd.DataFrame:
    return iea_published().merge(iea_raw(), on=KEY, suffixes=("_published", "_used"))


def test_each_correction_moves_the_country_and_its_aggregates_and_keeps_the_car_market() -> None:
    merged = _merged().set_index(KEY)
    changed = merged[merged["value_published"] != merged["value_used"]]
    fixes = iea_corrections()
    expected = set()
    for fix in fixes.to_dict("records"):
        cell = tuple(fix[k] for k in KEY)
        assert merged.at[cell, "value_published"] == fix["iea_value"]
        assert merged.at[cell, "value_used"] == fix["value"]
        assert str(fix["source"]).strip() and int(fix["source_year"]) >= 2015
        delta = fix["value"] - fix["iea_value"]
        for region in [fix["region"], *str(fix["aggregates"]).split(";")]:
            agg = (region, *cell[1:])
            assert merged.at[agg, "value_used"] - merged.at[agg, "value_published"] \
                == pytest.approx(delta)
            share = (region, fix["segment"], "ev_sales_share", "ev", fix["year"])
            sales = merged.xs((region, fix["segment"], "ev_sales"), level=[0, 1, 2])
            sales = sales.xs(fix["year"], level="year")
            market_before = sales["value_published"].sum() / merged.at[share, "value_published"]
            market_after = sales["value_used"].sum() / merged.at[share, "value_used"]
            assert market_after == pytest.approx(market_before)
            expected |= {agg, share}
    assert set(changed.index) == expected  # nothing else moves


def test_a_correction_that_no_longer_matches_the_extract_is_a_one_line_error() -> None:
    fixes = iea_corrections()
    fixes.loc[0, "iea_value"] = 12345
    with pytest.raises(ValueError) as err:
        apply_corrections(iea_published(), fixes)
    message = str(err.value)
    assert "\n" not in message and "Netherlands" in message
    assert "expected iea_value 12345" in message
    fixes = iea_corrections()
    fixes.loc[0, "region"] = "Atlantis"
    with pytest.raises(ValueError, match="no single cell"):
        apply_corrections(iea_published(), fixes)


def test_the_corrected_dutch_sales_agree_with_the_dutch_stock() -> None:
    """A check on data the correction did not change: with the IEA's own sales, no
    steady-trade stock model fits the Dutch stock within 10 % over 2014-2016 (nor
    2013-2015); with the CBS sales it does, in every three years from 2013."""
    from evflex.fleet.consistency import inconsistent_windows

    def series(table: pd.DataFrame, parameter: str) -> pd.Series:
        rows = table[(table["region"] == "Netherlands") & (table["segment"] == "cars")
                     & (table["parameter"] == parameter)
                     & table["powertrain"].isin(["bev", "phev"])]
        return rows.groupby("year")["value"].sum()

    years = list(range(2013, 2025))
    stock = series(iea_published(), "ev_stock")
    published = inconsistent_windows(stock, series(iea_published(), "ev_sales"), years, 0.10)
    corrected = inconsistent_windows(stock, series(iea_raw(), "ev_sales"), years, 0.10)
    assert {first for first, _ in published} >= {2013, 2014}
    assert corrected == []
