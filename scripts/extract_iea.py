"""Regenerate ``src/evflex/data/iea_gev2025_extract.csv`` from the IEA Global EV Data 2025.

Usage::

    python scripts/extract_iea.py ../shared/data/iea-global-ev-data-2025.csv

The extract keeps what evflex uses: historical EV sales and EV stock by powertrain (BEV,
PHEV) and the EV sales and stock shares, for cars, vans, buses and trucks, 2010-2024, for

- World, and the IEA's EU27 and Europe totals (the only IEA aggregates that contain the
  countries listed in them: the file's "North America", "Asia Pacific" and other
  continental rows are smaller than the sum of their own countries in some years, so they
  are left out), and the IEA's "Rest of the world" (countries it does not list: evflex's
  ``OtherCountries``);
- China, USA and Europe as the block-level regions of the ``base`` scenario;
- every country the file reports with both car EV stock and car EV sales (39 countries).

The rest-of-block regions (``RestOfEU27``, ``RestOfEurope``, and ``RestOfWorld`` of the
block-level scenario) are not stored: evflex computes them from
these totals as residuals (``evflex.regions``), so that every block and the World are
exact sums of the model's regions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

AGGREGATES = ["World", "EU27", "Europe", "Rest of the world"]
#: Rows the IEA file tags ``agg_group == 'Country'`` that are not countries.
NOT_COUNTRIES = {"Rest of the world"}
MODES = {"Cars": "cars", "Vans": "vans", "Buses": "buses", "Trucks": "trucks"}
PARAMETERS = {
    "EV sales": "ev_sales",
    "EV stock": "ev_stock",
    "EV sales share": "ev_sales_share",
    "EV stock share": "ev_stock_share",
}
# ruff: noqa: E501  (the header lines are data, kept whole)
HEADER = """\
# source: IEA (2025), Global EV Data Explorer / Global EV Outlook 2025, data set "Global EV Data 2025", https://www.iea.org/data-and-statistics/data-tools/global-ev-data-explorer
# licence: CC BY 4.0 (IEA). Third-party cleaned CSV copy; values rounded to two significant figures as the IEA publishes them.
# extract: historical rows only; World, EU27, Europe, Rest of the world, and every country with car EV stock and car EV sales; modes cars/vans/buses/trucks; made by scripts/extract_iea.py
# units: ev_sales [vehicles/year], ev_stock [vehicles], ev_sales_share and ev_stock_share [fraction 0-1] (converted from the IEA's percent)
# note: the IEA counts extended-range EVs as PHEVs; FCEVs are dropped (not plug-in vehicles)
"""


def countries_with_car_stock_and_sales(raw: pd.DataFrame) -> list[str]:
    """IEA countries (``agg_group == 'Country'``) with historical car EV stock and sales."""
    cars = raw[(raw["category"] == "Historical") & (raw["mode"] == "Cars")
               & (raw["agg_group"] == "Country")]
    has = cars.groupby("region_country")["parameter"].agg(set)
    return sorted(r for r, params in has.items()
                  if {"EV stock", "EV sales"} <= params and r not in NOT_COUNTRIES)


def extract(source: Path) -> pd.DataFrame:
    raw = pd.read_csv(source)
    regions = AGGREGATES + countries_with_car_stock_and_sales(raw)
    keep = (
        (raw["category"] == "Historical")
        & raw["region_country"].isin(regions)
        & raw["mode"].isin(MODES)
        & raw["parameter"].isin(PARAMETERS)
        & raw["powertrain"].isin(["BEV", "PHEV", "EV"])
    )
    out = raw.loc[keep].copy()
    out["parameter"] = out["parameter"].map(PARAMETERS)
    out["segment"] = out["mode"].map(MODES)
    out["powertrain"] = out["powertrain"].str.lower()
    share = out["parameter"].str.endswith("_share")
    out.loc[share, "value"] = out.loc[share, "value"] / 100.0
    out["unit"] = out["parameter"].map(
        {
            "ev_sales": "vehicles/year",
            "ev_stock": "vehicles",
            "ev_sales_share": "fraction",
            "ev_stock_share": "fraction",
        }
    )
    out = out.rename(columns={"region_country": "region"})
    cols = ["region", "segment", "parameter", "powertrain", "year", "value", "unit"]
    return out[cols].sort_values(cols[:5]).reset_index(drop=True)


def write_extract(table: pd.DataFrame, name: str, header: str) -> None:
    """Write ``table`` under ``src/evflex/data/NAME`` after its source ``header``."""
    target = Path(__file__).resolve().parents[1] / "src/evflex/data" / name
    with target.open("w", encoding="utf-8") as fh:
        fh.write(header)
        table.to_csv(fh, index=False, float_format="%.6g")
    print(f"wrote {len(table)} rows to {target}")


def main(argv: list[str]) -> None:
    source = Path(argv[1] if len(argv) > 1 else "../shared/data/iea-global-ev-data-2025.csv")
    write_extract(extract(source), "iea_gev2025_extract.csv", HEADER)


if __name__ == "__main__":
    main(sys.argv)
