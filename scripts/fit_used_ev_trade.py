"""Fit each country's yearly net used-EV trade to the IEA stock of 2015-2024 (a calibration).

Usage::

    python scripts/fit_used_ev_trade.py        # then: python scripts/countries_scenario.py

Writes ``src/evflex/data/used_ev_trade_calibration.csv`` from
:func:`evflex.fleet.trade.fit_used_ev_trade` (which countries, how, and why: see that
module); ``scripts/countries_scenario.py`` turns it into the ``used_ev_net_export``
overrides of ``countries_fleet.yaml``. It prints the one-year-ahead forecast errors and
the check against the national counts of used-EV trade, which the fit did not read.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import evflex.fleet.trade as trade  # noqa: E402

FIT = f"{trade.FIT_YEARS[0]}-{trade.FIT_YEARS[-1]}"
HEADER = f"""\
# Net export share of new EV car sales per country and sale year (negative: net imports of
# used EVs; with them every other stock change the sales do not show). label: calibration.
# Fitted by scripts/fit_used_ev_trade.py (evflex.fleet.trade) to the IEA Global EV Data 2025
# EV car stock of {FIT}, the last year held exactly, the share changing by at most
# {trade.SLOW_TRADE_CHANGE} a year. best_error: the smallest worst relative error any such
# path reaches; fit_error: that of this path (the least-changing one within
# max(best_error, {trade.FIT_TOLERANCE})). Regenerate, never edit.
"""


def main() -> None:
    response = trade.stock_response()
    table = trade.fit_used_ev_trade(response)
    table["value"] = table["value"].round(5)
    table[["best_error", "fit_error"]] = table[["best_error", "fit_error"]].round(4)
    trade.CALIBRATION.write_text(HEADER + table.to_csv(index=False), encoding="utf-8")
    print(f"wrote {trade.CALIBRATION} ({table['region'].nunique()} countries)")
    shares = table.pivot(index="region", columns="year", values="value")
    print(trade.evidence_check(shares).to_string(index=False))
    for hold in (False, True):
        ahead = trade.one_year_ahead(response, hold=hold).abs()
        print(f"one year ahead ({'last share held' if hold else 'the projection rule'}): "
              f"median {ahead.stack().median():.4f}, mean {ahead.stack().mean():.4f}")


if __name__ == "__main__":
    main()
