"""The evidence ledger: dated, primary-sourced observations the triggers and the scorecard read.

A ledger is a CSV with exactly the columns :data:`COLUMNS`. Each row is one observation:

- ``indicator``: ``MEASURE`` or ``MEASURE/SERIES`` (e.g. ``enrolled_vehicles/con_edison``).
  The measure fixes the unit and what the number means (:data:`MEASURES`); the series
  names the programme, product or survey, so that two programmes in one region stay two
  time series;
- ``pathway``: one of :data:`PATHWAYS`;
- ``region``: the market the observation holds in (a country, ``EU`` or ``World``);
- ``country``: its ISO 3166-1 alpha-2 code, ``EU`` or ``WORLD``; a country must have a
  region of its own in evflex (:func:`modelled_countries`), so that its evidence can be
  set against the run (a code of any other country is an error naming it);
- ``segment``: the vehicles it is about (:data:`SEGMENTS`; ``all`` when not specific);
- ``date``: ISO date ``YYYY-MM-DD`` at which the figure held, and ``date_basis``
  (:data:`DATE_BASES`): ``as_of`` (a count or share at that date), ``available`` (an
  offer customers could buy from that date), ``announced`` (announced, not yet
  available), ``in_force`` / ``issued`` (a rule), ``undated`` (the source carries no
  date; ``date`` is then the retrieval date, so its age is unknown);
- ``value`` [unit of the measure], ``unit`` (must equal the measure's unit);
- ``publisher``, ``title``, ``url``: the source; ``published``: its publication date
  (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or ``undated``); ``retrieved``: the day the
  figure was read at that URL; ``source_kind``: ``primary`` (the publisher's own
  document) or ``report`` (a press or trade report of it);
- ``note``: caveats (bounds, definitions, approximated days).

No row may cite the evflex project itself, its seed analysis or its README as a source
(:data:`SELF_CITATION`). An offer (measure kind ``offer``) must carry an availability
date: an announcement is activity, not an offer.

A *series* is the rows sharing (indicator, pathway, region). Loading validates every row
and reports all problems at once, each one line naming the file, the line, the column,
the value got and what was expected (:class:`EvidenceError`). :func:`stale_rows` names
the rows older than a stated age.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pycountry

#: Columns of a ledger, in order.
COLUMNS = ("indicator", "pathway", "region", "country", "segment", "date", "date_basis",
           "value", "unit", "publisher", "title", "url", "published", "retrieved",
           "source_kind", "note")
#: Vehicle segments an observation may be about.
SEGMENTS = ("all", "cars", "vans", "buses", "trucks")
#: What the ``date`` of a row means.
DATE_BASES = ("as_of", "available", "announced", "in_force", "issued", "undated")
#: Bases that date an offer (an announcement does not).
OFFER_BASES = ("available", "in_force", "as_of", "undated")
SOURCE_KINDS = ("primary", "report")
#: Country codes besides ISO 3166-1 alpha-2.
BLOCS = ("EU", "WORLD")
#: Words that mark a citation of the project itself (its seed analysis, README or files).
SELF_CITATION = re.compile(r"\bseed\b|readme|evflex|project'?s? (?:own|data|files?)"
                           r"|/shared/", re.IGNORECASE)
_PARTIAL_DATE = re.compile(r"^\d{4}(?:-(0[1-9]|1[0-2])(?:-\d{2})?)?$")

#: The four pathways the scorecard judges.
PATHWAYS = ("smart_charging", "grid_managed", "v2h_v2b", "v2g")


@dataclass(frozen=True)
class Measure:
    """What an indicator measures: its unit, its kind and its bounds."""

    unit: str
    kind: str  # count | share | activity | offer | price | flag | models
    description: str
    upper: float | None = None


#: Known measures. ``kind`` tells the scorecard how a measure may be used: ``count``
#: series give growth; ``share`` gives the share of a market's EVs that is active;
#: ``activity`` counts pilots and announcements; ``offer`` marks a repeatable commercial
#: offer in a market; ``price``, ``flag`` and ``models`` feed the update triggers.
MEASURES: dict[str, Measure] = {
    "enrolled_vehicles": Measure("vehicles", "count",
                                 "vehicles enrolled and active in a programme"),
    "enrolled_capacity": Measure("MW", "count", "capacity under management of a programme"),
    "devices_installed": Measure("devices", "count", "cumulative devices installed"),
    "programmes": Measure("programmes", "activity", "number of active programmes"),
    "enrolled_share": Measure("fraction", "share",
                              "share of a market's EVs enrolled in a programme or tariff", 1.0),
    "smart_charger_share": Measure("fraction", "share",
                                   "share of a market's EV owners with a smart charger", 1.0),
    "pilot_vehicles": Measure("vehicles", "activity", "vehicles in pilots or demonstrations"),
    "announced_vehicles": Measure("vehicles", "activity", "vehicles announced, not yet live"),
    "pilot_projects": Measure("projects", "activity", "pilot or demonstration projects"),
    "commercial_offer": Measure("offers", "offer", "a repeatable commercial offer in a market"),
    "announced_offers": Measure("offers", "activity",
                                "an offer announced, not (yet) confirmed available"),
    "capable_models": Measure("models", "models", "EV models with the capability on sale"),
    "capable_model_share": Measure("fraction", "share", "share of EV models with the capability",
                                   1.0),
    "capable_sales_share": Measure("fraction", "share", "share of EV sales with the capability",
                                   1.0),
    "warranty_models": Measure("models", "models",
                               "EV models whose battery warranty covers V2G cycling"),
    "charger_price": Measure("USD", "price", "hardware price of a charger [USD]"),
    "standard_published": Measure("flag", "flag", "1 when the standard is published", 1.0),
    "policy_in_force": Measure("flag", "flag", "1 when the rule is in force, 0 when not", 1.0),
    "pilot_devices": Measure("devices", "activity", "chargers or devices in a pilot"),
}

#: Non-USD prices are allowed for ``charger_price`` when the unit says so.
PRICE_UNITS = ("USD", "EUR", "GBP", "JPY")


@dataclass(frozen=True)
class EvidenceProblem:
    """One bad cell (or row) of a ledger file."""

    file: str
    line: int  # line in the file, header = 1
    column: str
    got: str
    expected: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}, column '{self.column}': got {self.got!r}, expected {self.expected}"


class EvidenceError(ValueError):
    """A ledger that cannot be used; ``problems`` lists every bad cell."""

    def __init__(self, problems: list[EvidenceProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def shipped_ledger_path() -> Path:
    """The ledger shipped with evflex (``evflex/data/evidence.csv``)."""
    return Path(str(resources.files("evflex.data").joinpath("evidence.csv")))


def measure_of(indicator: str) -> str:
    """The measure of an indicator ``MEASURE[/SERIES]``."""
    return indicator.split("/", 1)[0]


def _read(path: Path) -> pd.DataFrame:
    label = str(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except FileNotFoundError:
        raise EvidenceError([EvidenceProblem(label, 0, "(file)", label,
                                             "an existing CSV file")]) from None
    except IsADirectoryError:
        raise EvidenceError([EvidenceProblem(label, 0, "(file)", f"{label} (a folder)",
                                             "a CSV file")]) from None
    except OSError as exc:
        raise EvidenceError([EvidenceProblem(label, 0, "(file)", f"{label} ({exc.strerror})",
                                             "a readable CSV file")]) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise EvidenceError([EvidenceProblem(label, 0, "(file)", str(exc).strip(),
                                             "a CSV file with a header row")]) from None
    columns = [str(c).strip() for c in table.columns]
    if tuple(columns) != COLUMNS:
        missing = [c for c in COLUMNS if c not in columns]
        extra = [c for c in columns if c not in COLUMNS]
        got = ", ".join(columns)
        what = ("missing " + ", ".join(missing) if missing else "") + (
            ("; " if missing and extra else "") + ("unknown " + ", ".join(extra) if extra else ""))
        raise EvidenceError([EvidenceProblem(label, 1, "(header)", got,
                                             f"exactly {', '.join(COLUMNS)}"
                                             + (f" ({what})" if what else " in this order"))])
    table.columns = columns
    return table


def _check_row(label: str, line: int, row: dict[str, str]) -> list[EvidenceProblem]:
    problems = []

    def bad(column: str, expected: str) -> None:
        problems.append(EvidenceProblem(label, line, column, row[column], expected))

    for column in COLUMNS:
        row[column] = row[column].strip()
    measure = MEASURES.get(measure_of(row["indicator"]))
    if not row["indicator"]:
        bad("indicator", "MEASURE or MEASURE/SERIES")
    elif measure is None:
        bad("indicator", "a known measure (" + ", ".join(MEASURES) + ")[/SERIES]")
    if row["pathway"] not in PATHWAYS:
        bad("pathway", "one of " + ", ".join(PATHWAYS))
    if not row["region"]:
        bad("region", "a market or region name (e.g. UK, USA, World)")
    if _iso_date(row["date"]) is None:
        bad("date", f"an ISO date YYYY-MM-DD in {DATE_YEARS[0]}-{DATE_YEARS[1]}")
    try:
        value = float(row["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        bad("value", "a finite number")
    elif value < 0:
        bad("value", "a number >= 0")
    elif measure is not None and measure.upper is not None and value > measure.upper:
        bad("value", f"a number between 0 and {measure.upper:g} [{measure.unit}]")
    if measure is not None:
        allowed = PRICE_UNITS if measure.kind == "price" else (measure.unit,)
        if row["unit"] not in allowed:
            bad("unit", " or ".join(repr(u) for u in allowed)
                + f" for {measure_of(row['indicator'])}")
    _check_source(row, bad, measure)
    return problems


#: Years a ledger date may take: what a nanosecond timestamp holds (1677-2262), cut to
#: whole years of plausible evidence.
DATE_YEARS = (1900, 2200)


def _iso_date(text: str) -> pd.Timestamp | None:
    if len(text) != 10 or not text[:4].isdigit() or not (
            DATE_YEARS[0] <= int(text[:4]) <= DATE_YEARS[1]):
        return None
    try:
        day = pd.Timestamp(text)
    except (ValueError, OverflowError):
        return None
    return day if day.strftime("%Y-%m-%d") == text else None


def _check_source(row: dict[str, str], bad: Callable[[str, str], None],
                  measure: Measure | None) -> None:
    """Where the row comes from: segment, country, dates, publisher, title, URL."""
    if row["segment"] not in SEGMENTS:
        bad("segment", "one of " + ", ".join(SEGMENTS))
    code = row["country"]
    if code not in BLOCS and code not in modelled_countries():
        iso = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
        bad("country", "an ISO 3166-1 alpha-2 code of a country evflex models ("
            + ", ".join(sorted(modelled_countries())) + "), EU or WORLD"
            + (f" ({iso.name} has no region of its own in evflex/data/regions.csv)"
               if iso is not None else ""))
    if row["date_basis"] not in DATE_BASES:
        bad("date_basis", "one of " + ", ".join(DATE_BASES))
    elif (measure is not None and measure.kind == "offer"
          and row["date_basis"] not in OFFER_BASES):
        bad("date_basis", "the date the offer became available (" + ", ".join(OFFER_BASES)
            + "); an announcement is activity, not an offer")
    for column in ("publisher", "title"):
        if not row[column]:
            bad(column, f"the source's {column}")
    url = urlparse(row["url"])
    if url.scheme not in ("http", "https") or not url.netloc or " " in row["url"]:
        bad("url", "the source's address, http(s)://host/path")
    if row["published"] != "undated" and not _PARTIAL_DATE.match(row["published"]):
        bad("published", "the publication date YYYY, YYYY-MM or YYYY-MM-DD, or 'undated'")
    if row["date_basis"] == "undated" and row["published"] != "undated":
        bad("date_basis", "a dated basis for a source with a publication date")
    retrieved = _iso_date(row["retrieved"])
    if retrieved is None:
        bad("retrieved", "the ISO date YYYY-MM-DD the figure was read at the URL")
    elif row["published"][:4].isdigit() and row["published"] > row["retrieved"]:
        bad("retrieved", f"a date on or after the publication ({row['published']})")
    if row["source_kind"] not in SOURCE_KINDS:
        bad("source_kind", "primary (the publisher's own document) or report (a report of it)")
    for column in ("publisher", "title", "url", "note"):
        if SELF_CITATION.search(row[column]):
            bad(column, "a source outside evflex (not its seed analysis, README or files)")


@cache
def modelled_countries() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes of the countries with a region of their own
    (:func:`evflex.regions.hierarchy`): the codes a ledger row's ``country`` may take
    besides :data:`BLOCS`."""
    from evflex.regions import hierarchy

    return frozenset(r for r in hierarchy().resolution("countries")
                     if len(r) == 2 and pycountry.countries.get(alpha_2=r) is not None)


def read_ledger(path: Path | str) -> pd.DataFrame:
    """Read and validate one ledger file; :class:`EvidenceError` lists every problem."""
    path = Path(path)
    table = _read(path)
    label = str(path)
    problems: list[EvidenceProblem] = []
    rows = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for i, rec in enumerate(table.to_dict("records")):
        line = i + 2
        row = {c: str(rec[c]) for c in COLUMNS}
        found = _check_row(label, line, row)
        problems += found
        key = (row["indicator"], row["pathway"], row["region"], row["date"])
        if not found and key in seen:
            problems.append(EvidenceProblem(
                label, line, "date", row["date"],
                f"one observation per indicator, pathway, region and date (line {seen[key]} "
                "has the same)"))
        seen.setdefault(key, line)
        rows.append(row)
    if problems:
        raise EvidenceError(problems)
    return _frame(rows)


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    """The typed ledger, with ``source``: one citation line built from the source columns."""
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
    df["retrieved"] = pd.to_datetime(df["retrieved"], format="%Y-%m-%d")
    df["value"] = df["value"].astype(float)
    df["source"] = [f"{pub}, '{title}' ({when}), {url}" for pub, title, when, url in zip(
        df["publisher"], df["title"], df["published"], df["url"], strict=True)]
    return df.reset_index(drop=True)


def stale_rows(evidence: pd.DataFrame, max_age_years: float,
               as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Rows whose observation is older than ``max_age_years`` [years] at ``as_of``.

    ``as_of`` defaults to the ledger's latest retrieval date (so the answer depends on
    the ledger, not on the clock). Undated rows are returned too: their age is unknown.
    """
    if evidence.empty:
        return evidence
    when = as_of if as_of is not None else pd.Timestamp(evidence["retrieved"].max())
    age = (when - evidence["date"]).dt.days / 365.25
    return evidence[(age > max_age_years) | (evidence["date_basis"] == "undated")]


def load_evidence(extra: Path | str | None = None, only: Path | str | None = None
                  ) -> pd.DataFrame:
    """The evidence ledger of a run, validated.

    Parameters
    ----------
    extra : a user's ledger added to the shipped one (``evflex run --evidence FILE``); a
        row with the same indicator, pathway, region and date as a shipped row replaces it.
    only : a user's ledger used instead of the shipped one (``--evidence-only FILE``).

    Returns
    -------
    A DataFrame with :data:`COLUMNS`; ``date`` as datetime64, ``value`` as float.

    Raises
    ------
    EvidenceError
        (a ``ValueError``) naming the file, line, column, value and what was expected.
    """
    if extra is not None and only is not None:
        raise EvidenceError([EvidenceProblem("(arguments)", 0, "evidence", str(extra),
                                             "either an added ledger or --evidence-only, "
                                             "not both")])
    base = read_ledger(only if only is not None else shipped_ledger_path())
    if extra is None:
        return base
    added = read_ledger(extra)
    key = ["indicator", "pathway", "region", "date"]
    merged = pd.concat([base, added], ignore_index=True)
    merged = merged.drop_duplicates(subset=key, keep="last")
    return merged.reset_index(drop=True)


def validate_frame(evidence: pd.DataFrame, label: str = "(evidence table)") -> pd.DataFrame:
    """Validate a ledger given as a DataFrame (e.g. built in code); returns it typed."""
    missing = [c for c in COLUMNS if c not in evidence.columns]
    if missing:
        raise EvidenceError([EvidenceProblem(label, 0, "(header)", ", ".join(evidence.columns),
                                             "columns " + ", ".join(COLUMNS))])
    problems: list[EvidenceProblem] = []
    rows = []
    for i, rec in enumerate(evidence[list(COLUMNS)].to_dict("records")):
        row = {}
        for c in COLUMNS:
            v = rec[c]
            if c in ("date", "retrieved") and isinstance(v, pd.Timestamp | np.datetime64):
                v = pd.Timestamp(v).strftime("%Y-%m-%d")
            row[c] = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        problems += _check_row(label, i + 1, row)
        rows.append(row)
    if problems:
        raise EvidenceError(problems)
    return _frame(rows)


def series(evidence: pd.DataFrame, measures: tuple[str, ...] | list[str],
           pathway: str | None = None) -> dict[tuple[str, str], pd.DataFrame]:
    """Rows of the given measures, split into series keyed (indicator, region), by date
    (each keeps the ledger's row labels)."""
    sub = _series_rows(evidence, measures, pathway)
    if sub.empty:
        return {}
    keys = list(zip(sub["indicator"].astype(str), sub["region"].astype(str), strict=True))
    out = {}
    start = 0
    for i in range(1, len(keys) + 1):  # one pass over the rows sorted by series and date
        if i == len(keys) or keys[i] != keys[start]:
            out[keys[start]] = sub.iloc[start:i]
            start = i
    return out


def of_measures(indicators: pd.Series, measures: tuple[str, ...] | list[str]) -> pd.Series:
    """Which indicators are of the given measures (split once per distinct indicator)."""
    wanted = set(measures)
    hits = [u for u in indicators.unique() if measure_of(str(u)) in wanted]
    return indicators.isin(hits)


def _series_rows(evidence: pd.DataFrame, measures: tuple[str, ...] | list[str],
                 pathway: str | None) -> pd.DataFrame:
    """Rows of the measures (and pathway), sorted by indicator, region and date."""
    if evidence.empty:
        return evidence
    mask = of_measures(evidence["indicator"], measures)
    if pathway is not None:
        mask &= evidence["pathway"] == pathway
    return evidence[mask].sort_values(["indicator", "region", "date"], kind="stable")
