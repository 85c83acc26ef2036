"""Now-cast checks: the modelled present against the evidence ledger, by model region.

Rows of ``checks.csv`` (kind ``test``) for any resolution, blocks included (the
per-country table of a country run is :mod:`evflex.nowcast`). Each row of
``evflex/data/nowcast_checks.csv`` names a ledger observation (indicator and the
ledger's region), a modelled quantity (:data:`QUANTITIES`), the model region and year to
compare, and the tolerance as a band ``[low, high] x observed`` with its reason. The
latest observation of that indicator and region is used. A row without an indicator lists
a check the ledger cannot support yet.

>>> rows = nowcast(results, load_evidence())                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from evflex.model import ALL_SEGMENTS, WORLD, Results


class NowcastError(ValueError):
    """A now-cast mapping that cannot be used; the message names the row, field and value."""


def _share(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _members(results: Results, region: str) -> list[str]:
    if region == WORLD:
        return list(results.scenario.regions)
    return results.blocks.get(region, [region])


def _state_share(states: tuple[str, ...]) -> Callable[[Results, str, int], float]:
    def share(results: Results, region: str, year: int) -> float:
        agg = results.aggregated
        cell = {"region": region, "segment": ALL_SEGMENTS, "year": year}
        count = float(agg["states"].sel(cell).sel(state=list(states)).sum())
        return _share(count, float(agg["ev_stock"].sel(cell)))
    return share


def _state_count(state: str) -> Callable[[Results, str, int], float]:
    def count(results: Results, region: str, year: int) -> float:
        cell = {"region": region, "segment": ALL_SEGMENTS, "year": year, "state": state}
        return float(results.aggregated["states"].sel(cell))
    return count


def _smart_capable_share(results: Results, region: str, year: int) -> float:
    data = results.data.sel(region=_members(results, region), year=year)
    return _share(float(data["smart_capable_stock"].sum()), float(data["ev_stock_pt"].sum()))


def _bidirectional_sales_share(results: Results, region: str, year: int) -> float:
    agg = results.aggregated
    cell = {"region": region, "segment": ALL_SEGMENTS, "year": year}
    return _share(float(agg["capable_sales"].sel(cell)), float(agg["ev_sales"].sel(cell)))


#: Modelled quantities a ledger observation can be compared with: name → (function of
#: (results, region, year), unit, meaning).
QUANTITIES: dict[str, tuple[Callable[[Results, str, int], float], str, str]] = {
    "grid_managed_share": (_state_share(("grid_managed",)), "fraction",
                           "EVs in grid-managed charging, share of the EV stock"),
    "smart_use_share": (_state_share(("v2g", "v2h_v2b", "grid_managed", "smart_only")),
                        "fraction", "EVs in any managed or smart-charging state, share of "
                        "the EV stock"),
    "smart_capable_share": (_smart_capable_share, "fraction",
                            "smart-charging-capable share of the EV stock"),
    "v2g_vehicles": (_state_count("v2g"), "vehicles", "EVs actively exporting (V2G)"),
    "v2h_v2b_vehicles": (_state_count("v2h_v2b"), "vehicles", "EVs in V2H/V2B use"),
    "bidirectional_sales_share": (_bidirectional_sales_share, "fraction",
                                  "V2G-capable share of EV sales"),
}

COLUMNS = ("check", "indicator", "ledger_region", "quantity", "region", "year", "low",
           "high", "reason")


@dataclass(frozen=True)
class NowcastRow:
    """One now-cast comparison: modelled against observed, with its band and reason."""

    check: str
    quantity: str
    region: str
    year: int
    modelled: float
    observed: float | None
    low: float | None
    high: float | None
    observation: str
    reason: str

    @property
    def status(self) -> str:
        if self.observed is None or self.low is None or self.high is None:
            return "missing"
        return "pass" if self.low <= self.modelled <= self.high else "fail"


def read_mapping(path: Path | None = None) -> pd.DataFrame:
    """The now-cast mapping (shipped, or a file) after checking every row.

    Raises :class:`NowcastError` (one line: row, field, value, what was expected) for an
    unknown quantity, a missing column, a year that is not a number or a band that is
    not ``0 <= low <= high``.
    """
    if path is None:
        table = _shipped()
        where = "nowcast_checks.csv"
    else:
        try:
            table = pd.read_csv(path, comment="#", dtype=str, keep_default_na=False)
        except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise NowcastError(f"{path}: cannot read the now-cast mapping ({exc})") from None
        where = str(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise NowcastError(f"{where}: missing column {missing[0]!r} (expected columns "
                           f"{', '.join(COLUMNS)})")
    for i, row in enumerate(table.to_dict("records"), start=1):
        at = f"{where} row {i} ({row['check'] or 'unnamed'})"
        if row["quantity"] not in QUANTITIES:
            raise NowcastError(f"{at}: quantity: unknown quantity (got {row['quantity']!r}, "
                               f"expected one of {', '.join(QUANTITIES)})")
        if not str(row["year"]).isdigit():
            raise NowcastError(f"{at}: year: not a year (got {row['year']!r}, expected e.g. "
                               "2025)")
        if row["indicator"]:
            try:
                low, high = float(row["low"]), float(row["high"])
            except ValueError:
                raise NowcastError(f"{at}: low/high: not numbers (got {row['low']!r}, "
                                   f"{row['high']!r}, expected factors such as 0.5 and 1.5)"
                                   ) from None
            if not (np.isfinite(low) and np.isfinite(high) and 0 <= low <= high):
                raise NowcastError(f"{at}: low/high: not a band (got {low:g}, {high:g}, "
                                   "expected 0 <= low <= high)")
    return table


@cache
def _shipped() -> pd.DataFrame:
    with resources.files("evflex.data").joinpath("nowcast_checks.csv").open(
            "r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#", dtype=str, keep_default_na=False)


def _model_region(results: Results, region: str) -> str | None:
    """The run's region (or block, or World) for a mapping region: its id or IEA name."""
    from evflex.regions import hierarchy

    present = [str(r) for r in results.aggregated["region"].values]
    if region in present:
        return region
    hier = hierarchy()
    for r in present:
        if hier.name_of(r) == region:
            return r
    return None


def nowcast(results: Results, evidence: pd.DataFrame,
            mapping: pd.DataFrame | None = None) -> list[NowcastRow]:
    """The now-cast rows of a run against a ledger (:func:`evflex.judgement.load_evidence`)."""
    table = read_mapping() if mapping is None else mapping
    out = []
    for row in table.to_dict("records"):
        year = int(row["year"])
        fn = QUANTITIES[row["quantity"]][0]
        region = _model_region(results, row["region"])
        modelled = (fn(results, region, year)
                    if region is not None and year in results.scenario.years_axis
                    else float("nan"))
        observed = low = high = None
        observation = "-"
        reason = row["reason"]
        if row["indicator"]:
            obs = evidence[(evidence["indicator"] == row["indicator"])
                           & (evidence["region"] == row["ledger_region"])]
            if region is None or not np.isfinite(modelled):
                reason = (f"missing: region {row['region']!r} or year {year} not in this run; "
                          + reason)
            elif len(obs) == 0:
                reason = (f"missing: no observation {row['indicator']} ({row['ledger_region']}) "
                          "in the ledger; " + reason)
            else:
                latest = obs.sort_values("date").iloc[-1]
                observed = float(latest["value"])
                low, high = observed * float(row["low"]), observed * float(row["high"])
                observation = (f"{row['indicator']} ({row['ledger_region']}, "
                               f"{pd.Timestamp(latest['date']):%Y-%m-%d}) = {observed:g}")
        out.append(NowcastRow(row["check"], row["quantity"], row["region"], year,
                              modelled, observed, low, high, observation, reason))
    return out
