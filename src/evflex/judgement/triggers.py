"""Update triggers: dated indicators that, past a threshold, move a scenario assumption.

``data/triggers.csv`` holds one trigger a row: ``trigger, indicator, threshold,
direction, parameter, move, rationale, source``.

**Indicator selector** (evaluated on the evidence ledger)::

    [PATHWAY:]MEASURE[/SERIES][@REGION]      the latest value
    markets([PATHWAY:]MEASURE[/SERIES])      number of regions with an observation > 0

A selector without ``/SERIES`` matches every series of the measure. Each matching series
contributes its latest observation (in the measure's own unit); the trigger reads the
largest of them when ``direction`` is ``above`` and the smallest when ``below``, so it
fires as soon as one market has crossed the threshold. ``above`` fires at
``latest >= threshold``, ``below`` at ``latest <= threshold``.

**Move grammar** (applied to the scenario's YAML)::

    MOVE   := [@KEY ] TARGET OP NUMBER        (several joined with ';')
    TARGET := value | scurve.start | scurve.end | scurve.midpoint | scurve.steepness
              | points.YYYY | points.*
    OP     := + | - | * | =

``@KEY`` limits the move to one override (``Region``, ``segment``, ``Region/segment``) or
to ``default``; without it the move applies to the default path and to every override that
has the target. On an S-curve given by an anchor, ``scurve.midpoint +N``/``-N`` shifts the
anchor year (the same curve, N years later or earlier). Moved numbers are clipped to the
parameter's bounds in ``data/parameters.csv``; a distribution (``dist``) of a moved number
is dropped, since it described the old value.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evflex.judgement.evidence import MEASURES, PATHWAYS, measure_of
from evflex.scenario.load import parse, read_raw, registry, resolve_path

#: Columns of ``triggers.csv``.
COLUMNS = ("trigger", "indicator", "threshold", "direction", "parameter", "move",
           "rationale", "source")
#: Columns of the evaluated table (``triggers.csv`` of a run).
RESULT_COLUMNS = ("trigger", "indicator", "latest_value", "threshold", "fired", "parameter",
                  "proposed_change", "evidence_date", "source", "direction", "rationale")
DIRECTIONS = ("above", "below")

_SELECTOR = re.compile(
    r"^(?:(?P<agg>markets)\((?P<inner>[^()]+)\)|(?P<plain>[^()]+))$")
_INNER = re.compile(
    r"^(?:(?P<pathway>[a-z0-9_]+):)?(?P<indicator>[a-z_]+(?:/[A-Za-z0-9_.-]+)?)"
    r"(?:@(?P<region>[^@:]+))?$")
_MOVE = re.compile(
    r"^(?:@(?P<key>\S+)\s+)?(?P<target>value|scurve\.(?:start|end|midpoint|steepness)"
    r"|points\.(?:\*|\d{4}))\s*(?P<op>[-+*=])\s*(?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)$")


class TriggerError(ValueError):
    """A bad trigger definition or a move that cannot be applied; the message says where."""


@dataclass(frozen=True)
class Selector:
    """A parsed indicator selector."""

    text: str
    aggregate: str | None  # None or "markets"
    pathway: str | None
    indicator: str
    region: str | None

    @property
    def measure(self) -> str:
        return measure_of(self.indicator)

    def rows(self, evidence: pd.DataFrame) -> pd.DataFrame:
        """Evidence rows this selector reads (in the measure's own unit)."""
        if evidence.empty:
            return evidence
        ind = evidence["indicator"]
        mask = ind == self.indicator if "/" in self.indicator else ind.map(measure_of) == (
            self.indicator)
        if self.pathway is not None:
            mask &= evidence["pathway"] == self.pathway
        if self.region is not None:
            mask &= evidence["region"] == self.region
        mask &= evidence["unit"] == MEASURES[self.measure].unit
        return evidence[mask]


def parse_selector(text: str) -> Selector:
    """Parse an indicator selector; :class:`TriggerError` says what is wrong."""
    m = _SELECTOR.match(text.strip())
    inner = m and (m["inner"] or m["plain"])
    n = _INNER.match(inner.strip()) if inner else None
    if not m or not n:
        raise TriggerError(f"not an indicator selector (got {text!r}, expected "
                           "[PATHWAY:]MEASURE[/SERIES][@REGION] or markets(...))")
    if n["pathway"] is not None and n["pathway"] not in PATHWAYS:
        raise TriggerError(f"unknown pathway in {text!r} (got {n['pathway']!r}, expected one of "
                           f"{', '.join(PATHWAYS)})")
    if measure_of(n["indicator"]) not in MEASURES:
        raise TriggerError(f"unknown measure in {text!r} (got {measure_of(n['indicator'])!r}, "
                           f"expected one of {', '.join(MEASURES)})")
    return Selector(text.strip(), m["agg"], n["pathway"], n["indicator"], n["region"])


@dataclass(frozen=True)
class Move:
    """One parsed move of a parameter's path."""

    key: str | None
    target: str
    op: str
    number: float

    @property
    def text(self) -> str:
        where = f"@{self.key} " if self.key else ""
        return f"{where}{self.target} {self.op}{self.number:g}"


def parse_moves(text: str) -> list[Move]:
    """Parse ``MOVE[; MOVE...]``; :class:`TriggerError` says what is wrong."""
    moves = []
    for part in str(text).split(";"):
        m = _MOVE.match(part.strip())
        if not m:
            raise TriggerError(f"not a move (got {part.strip()!r}, expected e.g. "
                               "'scurve.midpoint -5', 'scurve.end +0.05', 'value *1.1', "
                               "'points.2030 =0.4' or '@Europe scurve.end +0.05')")
        moves.append(Move(m["key"], m["target"], m["op"], float(m["number"])))
    return moves


def shipped_triggers_path() -> Path:
    return Path(str(resources.files("evflex.data").joinpath("triggers.csv")))


def load_triggers(path: Path | str | None = None) -> pd.DataFrame:
    """The trigger definitions, validated (default: the shipped ``triggers.csv``)."""
    path = Path(path) if path is not None else shipped_triggers_path()
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if tuple(table.columns) != COLUMNS:
        raise TriggerError(f"{path} line 1: got columns {', '.join(table.columns)}, expected "
                           f"exactly {', '.join(COLUMNS)}")
    reg = registry()
    problems = []
    names: set[str] = set()
    for i, row in enumerate(table.to_dict("records")):
        where = f"{path} line {i + 2}"
        if not row["trigger"].strip() or row["trigger"] in names:
            problems.append(f"{where}, column 'trigger': got {row['trigger']!r}, expected a "
                            "unique, non-empty name")
        names.add(row["trigger"])
        try:
            parse_selector(row["indicator"])
        except TriggerError as exc:
            problems.append(f"{where}, column 'indicator': {exc}")
        try:
            if not math.isfinite(float(row["threshold"])):
                raise ValueError
        except ValueError:
            problems.append(f"{where}, column 'threshold': got {row['threshold']!r}, expected "
                            "a finite number")
        if row["direction"] not in DIRECTIONS:
            problems.append(f"{where}, column 'direction': got {row['direction']!r}, expected "
                            "'above' or 'below'")
        if row["parameter"] not in reg:
            problems.append(f"{where}, column 'parameter': got {row['parameter']!r}, expected "
                            "a parameter of data/parameters.csv")
        try:
            parse_moves(row["move"])
        except TriggerError as exc:
            problems.append(f"{where}, column 'move': {exc}")
        if not row["source"].strip():
            problems.append(f"{where}, column 'source': got '', expected a source or "
                            "'assumption'")
    if problems:
        raise TriggerError("\n".join(problems))
    out = table.copy()
    out["threshold"] = out["threshold"].astype(float)
    return out


def latest(selector: Selector, evidence: pd.DataFrame, direction: str
           ) -> tuple[float, pd.Timestamp | None, str]:
    """(latest value, its date, its source) of a selector on the evidence; NaN if none."""
    rows = selector.rows(evidence)
    if rows.empty:
        return math.nan, None, ""
    if selector.aggregate == "markets":
        active = rows[rows["value"] > 0]
        regions = sorted(active["region"].unique())
        if not regions:
            return 0.0, pd.Timestamp(rows["date"].max()), ""
        return (float(len(regions)), pd.Timestamp(active["date"].max()),
                f"{len(active)} observations in {', '.join(regions)}")
    last = rows.sort_values("date").groupby(["indicator", "region"], sort=True).tail(1)
    ordered = last.sort_values("value", kind="stable")
    pick = ordered.iloc[-1] if direction == "above" else ordered.iloc[0]
    return float(pick["value"]), pd.Timestamp(pick["date"]), str(pick["source"])


def evaluate_triggers(evidence: pd.DataFrame, triggers: pd.DataFrame | Path | str | None = None
                      ) -> pd.DataFrame:
    """Which triggers the evidence fires.

    Returns one row per trigger with :data:`RESULT_COLUMNS`: ``latest_value`` (NaN when no
    observation matches yet), ``fired``, ``proposed_change`` (the move) and the date and
    source of the observation that decided.
    """
    table = triggers if isinstance(triggers, pd.DataFrame) else load_triggers(triggers)
    rows = []
    for t in table.to_dict("records"):
        sel = parse_selector(t["indicator"])
        value, date, source = latest(sel, evidence, t["direction"])
        threshold = float(t["threshold"])
        fired = bool(not math.isnan(value) and (
            value >= threshold if t["direction"] == "above" else value <= threshold))
        rows.append({"trigger": t["trigger"], "indicator": t["indicator"],
                     "latest_value": value, "threshold": threshold, "fired": fired,
                     "parameter": t["parameter"], "proposed_change": t["move"],
                     "evidence_date": date, "source": source or "no observation yet",
                     "direction": t["direction"], "rationale": t["rationale"]})
    out = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    out["evidence_date"] = pd.to_datetime(out["evidence_date"])
    out["fired"] = out["fired"].astype(bool)
    return out


# ----------------------------------------------------------------------------- applying
def _op(old: float, move: Move) -> float:
    if move.op == "+":
        return old + move.number
    if move.op == "-":
        return old - move.number
    if move.op == "*":
        return old * move.number
    return move.number


def _clip(value: float, lo: float | None, hi: float | None) -> float:
    if lo is not None:
        value = max(lo, value)
    if hi is not None:
        value = min(hi, value)
    return value


def _shift_pinned(sc: dict[str, Any], move: Move, dist: Any,
                  named: dict[str, float] | None = None) -> str:
    """Shift the midpoint of an S-curve pinned at the present by changing its pace.

    The anchor (today's value, from evidence) stays; the steepness becomes the one whose
    midpoint is ``move`` years away: ``k' = -ln((v - s) / (e - v)) / (m' - t_a)``. A
    midpoint that would cross the anchor year stops half a year short of it.
    """
    year, value = float(sc["anchor"]["year"]), sc["anchor"]["value"]
    if isinstance(value, str) and named and value in named:
        value = named[value]
    if not isinstance(value, int | float):
        raise TriggerError(f"'{move.text}': the anchor value {value!r} is not a number; "
                           "move the steepness instead (scurve.steepness *F)")
    start, end, k = float(sc["start"]), float(sc["end"]), float(sc["steepness"])
    log_ratio = math.log((float(value) - start) / (end - float(value)))
    midpoint = year - log_ratio / k
    side = 1.0 if midpoint >= year else -1.0
    target = _op(midpoint, move)
    if (target - year) * side < 0.5:
        target = year + 0.5 * side
    new = min(max(-log_ratio / (target - year), 1e-6), 5.0)
    sc["steepness"] = new
    if isinstance(dist, dict):
        dist.pop("steepness", None)
    return (f"midpoint {midpoint:.1f} -> {year - log_ratio / new:.1f} through the "
            f"{int(year)} anchor (scurve.steepness {k:g} -> {new:.4g})")


def _move_path(path: dict[str, Any], move: Move, bounds: tuple[float | None, float | None],
               named: dict[str, float] | None = None) -> str | None:
    """Apply a move to one path mapping in place; a description, or None if not applicable."""
    form, _, field = move.target.partition(".")
    lo, hi = bounds
    dist = path.get("dist")
    if form == "value" and "value" in path:
        old = float(path["value"])
        path["value"] = _clip(_op(old, move), lo, hi)
        if isinstance(dist, dict):
            dist.pop("value", None)
        return f"value {old:g} -> {path['value']:g}"
    if form == "scurve" and isinstance(path.get("scurve"), dict):
        sc = path["scurve"]
        if field == "midpoint" and "anchor" in sc:
            if move.op not in "+-":
                raise TriggerError(f"'{move.text}': an anchored S-curve can only be shifted "
                                   "(+N or -N years)")
            return _shift_pinned(sc, move, dist, named)
        if field not in sc:
            return None
        old = float(sc[field])
        new = _op(old, move)
        if field in ("start", "end"):
            new = _clip(new, lo, hi)
        elif field == "steepness":
            new = _clip(new, 1e-6, 5.0)
        sc[field] = new
        if isinstance(dist, dict):
            dist.pop(field, None)
        return f"scurve.{field} {old:g} -> {new:g}"
    if form == "points" and isinstance(path.get("points"), dict):
        pts = path["points"]
        years = list(pts) if field == "*" else [y for y in pts if str(y) == field]
        if not years:
            return None
        for y in years:
            pts[y] = _clip(_op(float(pts[y]), move), lo, hi)
            if isinstance(dist, dict):
                dist.pop(y, None)
        return f"points {', '.join(str(y) for y in years)} moved ({move.op}{move.number:g})"
    return None


def apply_moves(raw: dict[str, Any], parameter: str, moves: list[Move], label: str
                ) -> list[str]:
    """Apply moves to ``raw['parameters'][parameter]`` in place; descriptions of changes."""
    params = raw.get("parameters") or {}
    if parameter not in params:
        raise TriggerError(f"trigger {label}: the scenario has no parameter {parameter!r}")
    info = registry().get(parameter)
    bounds = (info.min, info.max) if info is not None else (None, None)
    param = params[parameter]
    bm = raw.get("bidirectional_models")
    named = ({"bidirectional_models": min(1.0, float(bm["model_share"]) * float(
        bm["sales_weight"]))} if isinstance(bm, dict) and float(bm.get("capable_models", 0))
        else {"bidirectional_models": 0.0})
    done = []
    for move in moves:
        paths: list[tuple[str, dict[str, Any]]] = []
        if move.key in (None, "default"):
            paths.append(("default", param))
        for key, spec in (param.get("overrides") or {}).items():
            if move.key is None or move.key == key:
                paths.append((key, spec))
        changed = []
        for key, path in paths:
            what = _move_path(path, move, bounds, named)
            if what is not None:
                changed.append(f"{key}: {what}")
        if not changed:
            raise TriggerError(f"trigger {label}: move '{move.text}' does not apply to any path "
                               f"of {parameter} (its paths have no {move.target})")
        done += changed
    return done


def bump_version(version: str) -> str:
    """``3.0`` -> ``3.1``, ``3.0-slow`` -> ``3.1-slow``; a version without digits gets ``.1``."""
    matches = list(re.finditer(r"\d+", version))
    if not matches:
        return f"{version}.1"
    last = matches[-1]
    return version[:last.start()] + str(int(last.group()) + 1) + version[last.end():]


def apply_triggers(scenario: str | Path, fired: pd.DataFrame) -> str:
    """The revised scenario as YAML text: the old scenario plus the moves of fired triggers.

    ``scenario`` is a shipped name or a path (``extends`` is merged in, so the result stands
    alone). ``fired`` is the table of :func:`evaluate_triggers` (rows with ``fired`` false are
    ignored). The version is bumped, the description and each moved parameter's ``note``
    name the triggers and their evidence, and the result is validated as a scenario.

    Raises :class:`TriggerError` when a move cannot be applied or the result is invalid.
    """
    path = resolve_path(scenario)
    raw = copy.deepcopy(read_raw(path))
    rows = fired[fired["fired"].astype(bool)] if "fired" in fired.columns else fired
    applied = []
    for rec in rows.to_dict("records"):
        name = str(rec["trigger"])
        changes = apply_moves(raw, str(rec["parameter"]), parse_moves(rec["proposed_change"]),
                              name)
        date = rec.get("evidence_date")
        when = ("" if date is None or pd.isna(date)
                else f", evidence of {pd.Timestamp(date):%Y-%m-%d}")
        param = raw["parameters"][rec["parameter"]]
        note = f"moved by trigger {name} ({rec['proposed_change']}{when}): {'; '.join(changes)}"
        param["note"] = f"{param['note']}; {note}" if param.get("note") else note
        applied.append((name, str(rec["parameter"]), str(rec["proposed_change"]), when))
    old_version = str(raw.get("version", ""))
    if applied and raw.get("targets") is not None:
        # the moves change the numbers the targets were solved for: the revised scenario is
        # no longer calibrated to them, so it drops them (and says so) instead of failing
        dropped = raw.pop("targets")
        raw["description"] = (str(raw.get("description", "")).strip()
                              + f" Not calibrated to target set {dropped}: the triggers moved "
                              "numbers it was solved for.").strip()
    if applied:
        raw["version"] = bump_version(old_version)
        listed = "; ".join(f"{n} ({p}: {m}{w})" for n, p, m, w in applied)
        raw["description"] = (str(raw.get("description", "")).strip()
                              + f" Revised from version {old_version} by the update triggers "
                              f"that fired: {listed}.").strip()
    try:
        parse(copy.deepcopy(raw), f"{path} revised by triggers")
    except Exception as exc:  # ScenarioError: report which triggers made it invalid
        names = ", ".join(a[0] for a in applied) or "none"
        raise TriggerError(f"the revised scenario is not valid (triggers: {names}):\n{exc}"
                           ) from None
    header = [f"# {raw.get('name', path.stem)} v{raw.get('version', '')}: written by "
              "evflex.judgement.apply_triggers",
              f"# from {path.name} v{old_version}"
              + (" with the triggers that fired:" if applied else "; no trigger fired.")]
    header += [f"#   {n}: {p} {m}{w}" for n, p, m, w in applied]
    body = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body
