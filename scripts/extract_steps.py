"""Regenerate ``src/evflex/data/iea_steps2030.csv``: the IEA STEPS 2030 projection for cars.

Usage::

    python scripts/extract_steps.py ../shared/data/iea-global-ev-data-2025.csv

Keeps the ``Projection-STEPS`` rows of the IEA Global EV Data 2025 for cars: EV sales and
EV stock (BEV, PHEV) and the EV sales and stock shares, for World, China, Europe, USA and
the IEA's other projection regions. evflex compares its 2030 results with them
(:func:`evflex.checks.check_outside_projections`); the engine never reads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

PARAMETERS = {"EV sales": "ev_sales", "EV stock": "ev_stock",
              "EV sales share": "ev_sales_share", "EV stock share": "ev_stock_share"}
# ruff: noqa: E501  (the header lines are data, kept whole)
HEADER = """\
# source: IEA (2025), Global EV Outlook 2025, data set "Global EV Data 2025", Stated Policies Scenario (STEPS) projection for 2030, https://www.iea.org/data-and-statistics/data-tools/global-ev-data-explorer
# licence: CC BY 4.0 (IEA). Third-party cleaned CSV copy; values rounded to two significant figures as the IEA publishes them.
# extract: Projection-STEPS rows, mode Cars, BEV and PHEV counts and EV shares; made by scripts/extract_steps.py. Comparison data only: the engine never reads it.
# units: ev_sales [vehicles/year], ev_stock [vehicles], ev_sales_share and ev_stock_share [fraction 0-1] (converted from the IEA's percent)
"""


def extract(source: Path) -> pd.DataFrame:
    raw = pd.read_csv(source)
    keep = ((raw["category"] == "Projection-STEPS") & (raw["mode"] == "Cars")
            & raw["parameter"].isin(PARAMETERS) & raw["powertrain"].isin(["BEV", "PHEV", "EV"]))
    out = raw.loc[keep].copy()
    out["parameter"] = out["parameter"].map(PARAMETERS)
    out["powertrain"] = out["powertrain"].str.lower()
    share = out["parameter"].str.endswith("_share")
    out.loc[share, "value"] = out.loc[share, "value"] / 100.0
    out["unit"] = out["parameter"].map({"ev_sales": "vehicles/year", "ev_stock": "vehicles",
                                        "ev_sales_share": "fraction",
                                        "ev_stock_share": "fraction"})
    out["scenario"] = "STEPS"
    out = out.rename(columns={"region_country": "region"})
    cols = ["scenario", "region", "parameter", "powertrain", "year", "value", "unit"]
    return out[cols].sort_values(cols[:4]).reset_index(drop=True)


def main(argv: list[str]) -> None:
    from extract_iea import write_extract  # the same writer as the history extract

    source = Path(argv[1] if len(argv) > 1 else "../shared/data/iea-global-ev-data-2025.csv")
    write_extract(extract(source), "iea_steps2030.csv", HEADER)


if __name__ == "__main__":
    main(sys.argv)
