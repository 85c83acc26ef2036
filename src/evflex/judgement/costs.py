"""Costs of the comparator's options on a stated cost test, in one currency year.

``data/comparator_costs.csv`` holds one item a row: ``option, segment, service, item,
cost_type, year, value, unit, currency_year, source, note``.

- ``cost_type`` says who bears a cost: ``resource`` (hardware, plant: a real use of
  resources), ``incentive`` (a payment to the participant: a transfer), ``admin``
  (programme administration), or ``parameter`` (not a cost: lifetimes, derates, prices).
- The **total resource cost** test (``TRC``, default) counts resource and admin costs;
  the **programme administrator cost** test (``PAC``) counts what the programme pays:
  incentives and admin, plus the full cost of options the utility owns itself
  (:data:`UTILITY_OWNED`). A participant-side option without a sourced incentive has no
  PAC cost (NaN), rather than a free one.
- Money is converted to US dollars of the file's ``currency_year`` item: euros at the
  file's ``usd_per_eur`` of the price's currency year (the nearest earlier one), then
  deflated with the ``cpi_usd`` index (interpolated; prices after its last year are not
  deflated).
- An item given for several years is interpolated linearly and held after the last; a
  ``learning_rate`` [1/year] lowers capital items after their last year by
  ``(1 - rate)^(year - last)``, not below ``learning_floor`` times the last value.
- A row for a specific ``segment`` (``cars``, ``vans``, ``buses``, ``trucks``) replaces
  the ``all`` row of the same option, service and item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

SERVICES = ("peak capacity", "energy shifting", "frequency response",
            "distribution congestion relief", "resilience/backup")
OPTIONS = ("managed charging", "V2G", "V2H/V2B", "utility-scale battery", "home battery",
           "other demand response", "peaking plant", "network reinforcement")
#: Options a utility builds and owns: the same cost under both tests.
UTILITY_OWNED = ("utility-scale battery", "peaking plant", "network reinforcement")
TESTS = ("TRC", "PAC")
COST_TYPES = ("resource", "incentive", "admin", "parameter")
SEGMENTS = ("all", "cars", "vans", "buses", "trucks")
COLUMNS = ("option", "segment", "service", "item", "cost_type", "year", "value", "unit",
           "currency_year", "source", "note")
CAPITAL_ITEMS = ("capex_power", "capex_energy", "unit_capex")
CURRENCIES = ("USD", "EUR")


class CostsError(ValueError):
    """A cost file that cannot be used; each line names the row and column."""


def shipped_costs_path() -> Path:
    return Path(str(resources.files("evflex.data").joinpath("comparator_costs.csv")))


def load_costs(costs: pd.DataFrame | Path | str | None = None) -> pd.DataFrame:
    """The cost table, validated (default: the shipped ``comparator_costs.csv``)."""
    if isinstance(costs, pd.DataFrame):
        table, label = costs.copy(), "(costs table)"
    else:
        path = Path(costs) if costs is not None else shipped_costs_path()
        try:
            table = pd.read_csv(path, keep_default_na=False, dtype=str)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise CostsError(f"{path}: {exc}") from None
        label = str(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise CostsError(f"{label}: missing columns {', '.join(missing)}")
    problems = []
    for i, row in enumerate(table.to_dict("records")):
        where = f"{label} line {i + 2}"

        def bad(column: str, expected: str, row: dict = row, where: str = where) -> None:
            problems.append(f"{where}, column '{column}': got {row[column]!r}, expected "
                            f"{expected}")

        if row["option"] not in (*OPTIONS, "all"):
            bad("option", f"one of {', '.join(OPTIONS)} or 'all'")
        if row["segment"] not in SEGMENTS:
            bad("segment", f"one of {', '.join(SEGMENTS)}")
        if row["service"] not in (*SERVICES, "*"):
            bad("service", f"one of {', '.join(SERVICES)} or '*'")
        if row["cost_type"] not in COST_TYPES:
            bad("cost_type", f"one of {', '.join(COST_TYPES)}")
        try:
            ok = math.isfinite(float(row["value"])) and float(row["value"]) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad("value", "a number >= 0")
        parts = str(row["unit"]).split("/")
        money = parts[0] in CURRENCIES and not (len(parts) > 1 and parts[1] in CURRENCIES)
        if money and not str(row["currency_year"]).strip().isdigit():
            bad("currency_year", "the year of the prices (a money unit needs one)")
        if not str(row["source"]).strip():
            bad("source", "a source or 'assumption: ...'")
    if problems:
        raise CostsError("\n".join(problems))
    table["value"] = table["value"].astype(float)
    table["year"] = table["year"].astype(int)
    return table


def crf(rate: float, years: float) -> float:
    """Capital recovery factor [1/year]: the annuity that repays 1 over ``years`` at ``rate``."""
    if years <= 0:
        raise ValueError(f"lifetime must be positive (got {years})")
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


@dataclass(frozen=True)
class Prices:
    """The money conventions of a cost table: discount rate, currency year, CPI, FX."""

    rate: float
    currency_year: int
    cpi: dict[int, float]
    usd_per_eur: dict[int, float]

    @classmethod
    def of(cls, table: pd.DataFrame) -> Prices:
        general = table[table["option"] == "all"]

        def series(item: str) -> dict[int, float]:
            rows = general[general["item"] == item]
            return {int(y): float(v) for y, v in zip(rows["year"], rows["value"], strict=True)}

        rate = series("discount_rate")
        year = series("currency_year")
        return cls(rate=next(iter(rate.values()), 0.07),
                   currency_year=int(next(iter(year.values()), 2024)),
                   cpi=series("cpi_usd"), usd_per_eur=series("usd_per_eur"))

    def to_usd(self, value: float, unit: str, price_year: int | None) -> float:
        """``value`` in ``unit`` (USD/..., EUR/...) of ``price_year`` -> USD of the currency
        year."""
        currency = unit.split("/", 1)[0]
        if currency not in CURRENCIES or price_year is None:
            return value
        if currency == "EUR":
            years = sorted(y for y in self.usd_per_eur if y <= price_year) or sorted(
                self.usd_per_eur)
            if not years:
                raise CostsError(f"no usd_per_eur rate for {unit} of {price_year}")
            value *= self.usd_per_eur[years[-1]]
        if self.cpi and price_year <= max(self.cpi):
            known = sorted(self.cpi)
            index = float(np.interp(price_year, known, [self.cpi[y] for y in known]))
            target = float(np.interp(self.currency_year, known, [self.cpi[y] for y in known]))
            value *= target / index
        return value


class Items:
    """Cost items of one option and segment, evaluated in one year, in USD."""

    def __init__(self, table: pd.DataFrame, option: str, segment: str, year: int,
                 prices: Prices):
        rows = table[(table["option"] == option)]
        specific = rows[(rows["segment"] == segment) & (rows["segment"] != "all")]
        keys = set(zip(specific["service"], specific["item"], strict=True))
        shadowed = np.array([(s, i) in keys for s, i in zip(rows["service"], rows["item"],
                                                             strict=True)], dtype=bool)
        generic = rows[(rows["segment"] == "all").to_numpy() & ~shadowed]
        self.rows = pd.concat([specific, generic])
        self.option, self.segment, self.year, self.prices = option, segment, year, prices
        self.sources: list[str] = []

    def has(self, item: str, service: str = "*") -> bool:
        return bool(((self.rows["item"] == item) & (self.rows["service"] == service)).any())

    def get(self, item: str, service: str = "*", default: float | None = None) -> float:
        rows = self.rows[(self.rows["item"] == item) & (self.rows["service"] == service)]
        if rows.empty:
            if default is None:
                raise CostsError(f"{self.option} ({self.segment}): no '{item}' for service "
                                 f"{service!r}")
            return default
        rows = rows.sort_values("year")
        years, values = rows["year"].to_numpy(float), rows["value"].to_numpy(float)
        value = float(np.interp(self.year, years, values))
        if item in CAPITAL_ITEMS and self.year > years[-1]:
            rate = self.get("learning_rate", default=0.0)
            floor = self.get("learning_floor", default=0.0)
            value = values[-1] * max(floor, (1.0 - rate) ** (self.year - years[-1]))
        last = rows.iloc[-1]
        cy = str(last["currency_year"]).strip()
        value = self.prices.to_usd(value, str(last["unit"]), int(cy) if cy.isdigit() else None)
        src = str(last["source"])
        if src not in self.sources:
            self.sources.append(src)
        return value


def annual_cost(table: pd.DataFrame, option: str, segment: str, year: int, test: str,
                unit_kw: float | None = None, prices: Prices | None = None
                ) -> tuple[float, str]:
    """Annual cost of one nameplate kW of an option under a cost test [USD/kW-year of the
    currency year], and its sources.

    ``unit_kw`` [kW] is the nameplate per vehicle or device where the file does not give
    it (the run's charger or export power for managed charging and V2G).
    """
    if test not in TESTS:
        raise CostsError(f"cost test: got {test!r}, expected one of {', '.join(TESTS)}")
    prices = prices or Prices.of(table)
    it = Items(table, option, segment, year, prices)
    if it.has("capex_power"):
        capex = it.get("capex_power")
        resource = capex * (crf(prices.rate, it.get("lifetime_power")) + it.get("fom",
                                                                                 default=0.0))
        if it.has("capex_energy"):
            resource += (it.get("capex_energy") * it.get("duration")
                         * crf(prices.rate, it.get("lifetime_energy")))
        if test == "TRC" or option in UTILITY_OWNED:
            return resource, "; ".join(it.sources)
        if not it.has("unit_incentive"):
            return math.nan, "no sourced incentive for the programme-administrator test"
    kw = it.get("unit_kw") if it.has("unit_kw") else unit_kw
    if kw is None or not kw > 0:
        raise CostsError(f"{option}: no nameplate kW per unit (unit_kw) in {year}")
    admin = it.get("unit_admin", default=0.0)
    if test == "TRC":
        annual = admin
        if it.has("unit_capex"):
            annual += it.get("unit_capex") * crf(prices.rate, it.get("unit_lifetime"))
    else:
        if not it.has("unit_incentive"):
            return math.nan, "no sourced incentive for the programme-administrator test"
        annual = it.get("unit_incentive") + admin
    return annual / kw, "; ".join(it.sources)


def degradation_per_kwh(table: pd.DataFrame, prices: Prices | None = None) -> tuple[float, str]:
    """Battery wear per kWh cycled [USD/kWh]: EV pack price over cycle life."""
    prices = prices or Prices.of(table)
    it = Items(table, "all", "all", prices.currency_year, prices)
    return it.get("ev_pack_price") / it.get("v2g_cycle_life"), "; ".join(it.sources)
