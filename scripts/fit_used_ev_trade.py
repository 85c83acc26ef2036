"""Fit each country's net used-EV trade to the IEA stock of 2015-2020 (a calibration).

Usage::

    python scripts/fit_used_ev_trade.py        # then: python scripts/countries_scenario.py

Writes ``src/evflex/data/used_ev_trade_calibration.csv`` from
:func:`evflex.fleet.trade.fit_used_ev_trade` (which countries, how, and why: see that
module); ``scripts/countries_scenario.py`` turns it into the ``used_ev_net_export``
overrides of ``countries_fleet.yaml``. Countries with a sourced share (``countries.yaml``)
are not fitted.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import evflex.fleet.trade as trade  # noqa: E402

FIT = f"{trade.FIT_YEARS[0]}-{trade.FIT_YEARS[-1]}"
TEST = f"{trade.TEST_YEARS[0]}-{trade.TEST_YEARS[-1]}"
HEADER = f"""\
# Net export share of new EV car sales per country (negative: net imports of used EVs).
# label: calibration. Fitted by scripts/fit_used_ev_trade.py (evflex.fleet.trade) to the
# IEA Global EV Data 2025 EV car stock of {FIT} (fit_error: the smallest worst relative
# error); test_error: the worst relative error {TEST}, years the fit did not read.
# Only countries without a sourced share (countries.yaml); regenerate, never edit.
"""


def main() -> None:
    table = trade.fit_used_ev_trade()
    trade.CALIBRATION.write_text(HEADER + table.round(4).to_csv(index=False), encoding="utf-8")
    print(f"wrote {trade.CALIBRATION} ({len(table)} countries)")


if __name__ == "__main__":
    main()
