"""The final scorecard: one verdict per pathway, by explicit rules over the evidence and the run.

Verdicts (MODEL.md section 5): ``scaling``, ``progressing``, ``niche-valid``, ``stalled``,
``activity-only``. The rules live in ``data/scorecard_rules.yaml`` (or a file or mapping
passed in): named *metrics* computed per pathway (:data:`METRIC_KINDS`), then *verdicts*
tried in order, each a list of conditions ``metric op value`` that must all hold; the
last verdict is the default. A condition on a metric that cannot be computed (no
observation) holds only when it says ``missing: true``.

The table says which rule decided, the metric values it read (``evidence``) and why the
earlier verdicts did not apply (``reasons``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evflex.judgement.evidence import MEASURES, PATHWAYS, of_measures, series_ends
from evflex.scenario import Scenario

VERDICTS = ("scaling", "progressing", "niche-valid", "stalled", "activity-only")
STATES = ("v2g", "v2h_v2b", "grid_managed", "smart_only", "outside")
METRIC_KINDS = ("latest_sum", "growth", "latest_max", "count_regions", "span_years", "ratio",
                "run_share")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq}
DAYS_PER_YEAR = 365.25
COLUMNS = ("pathway", "verdict", "rule", "evidence", "reasons")


class RulesError(ValueError):
    """Scorecard rules that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Metric:
    """A metric's value for one pathway and a one-line account of how it was computed."""

    value: float
    detail: str


def shipped_rules_path() -> Path:
    return Path(str(resources.files("evflex.data").joinpath("scorecard_rules.yaml")))


def load_rules(rules: Mapping[str, Any] | Path | str | None = None) -> dict[str, Any]:
    """Rules as a mapping, validated; default: the shipped ``scorecard_rules.yaml``."""
    if rules is None:
        rules = shipped_rules_path()
    if isinstance(rules, str | Path):
        data = yaml.safe_load(Path(rules).read_text(encoding="utf-8"))
        label = str(rules)
    else:
        data, label = dict(rules), "(rules)"
    problems = []
    metrics = data.get("metrics") or {}
    states = data.get("pathway_states") or {}
    for p in PATHWAYS:
        bad = [s for s in states.get(p, []) if s not in STATES]
        if p not in states or bad:
            problems.append(f"pathway_states.{p}: got {states.get(p)!r}, expected a list of "
                            f"states from {', '.join(STATES)}")
    for name, spec in metrics.items():
        kind = (spec or {}).get("kind")
        if kind not in METRIC_KINDS:
            problems.append(f"metrics.{name}.kind: got {kind!r}, expected one of "
                            f"{', '.join(METRIC_KINDS)}")
        elif kind == "ratio":
            for side in ("numerator", "denominator"):
                if spec.get(side) not in metrics:
                    problems.append(f"metrics.{name}.{side}: got {spec.get(side)!r}, expected "
                                    "another metric's name")
        elif kind == "run_share":
            year = spec.get("year")
            if not (year in ("end", "evidence") or isinstance(year, int)):
                problems.append(f"metrics.{name}.year: got {year!r}, expected a year, 'end' or "
                                "'evidence'")
        else:
            unknown = [m for m in spec.get("measures") or [] if m not in MEASURES]
            if unknown or not spec.get("measures"):
                problems.append(f"metrics.{name}.measures: got {spec.get('measures')!r}, "
                                f"expected measures from {', '.join(MEASURES)}")
    verdicts = data.get("verdicts") or []
    if not verdicts or not verdicts[-1].get("default"):
        problems.append("verdicts: the last entry must be the default (default: true)")
    for i, v in enumerate(verdicts):
        if v.get("verdict") not in VERDICTS:
            problems.append(f"verdicts.{i}.verdict: got {v.get('verdict')!r}, expected one of "
                            f"{', '.join(VERDICTS)}")
        for j, c in enumerate(v.get("all") or []):
            where = f"verdicts.{i}.all.{j}"
            if c.get("metric") not in metrics:
                problems.append(f"{where}.metric: got {c.get('metric')!r}, expected one of "
                                f"{', '.join(metrics)}")
            if c.get("op") not in OPS:
                problems.append(f"{where}.op: got {c.get('op')!r}, expected one of "
                                f"{', '.join(OPS)}")
            if not isinstance(c.get("value"), int | float) or isinstance(c.get("value"), bool):
                problems.append(f"{where}.value: got {c.get('value')!r}, expected a number")
            if not str(c.get("source") or "").strip():
                problems.append(f"{where}.source: got nothing, expected a source or "
                                "'assumption: ...'")
    if problems:
        raise RulesError(f"{label}:\n" + "\n".join(problems))
    return data


# ----------------------------------------------------------------------------- metrics
def _fmt(value: float) -> str:
    if math.isnan(value):
        return "none"
    if math.isinf(value):
        return "inf"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def cagr(first: float, last: float, years: float) -> float:
    """Compound annual growth rate between two positive values [1/year]."""
    if first <= 0 or years <= 0:
        return math.nan
    return float((last / first) ** (1.0 / years) - 1.0)


def _latest_rows(evidence: pd.DataFrame, measures: list[str], pathway: str) -> pd.DataFrame:
    """The last row of each series, vectorised (linear in the ledger's rows)."""
    ends = series_ends(evidence, measures, pathway)
    if ends.empty:
        return evidence.iloc[0:0]
    rows = ends[[c for c in ends.columns if c.startswith("last_")
                 and c not in ("last_date", "last_value")]]
    rows = rows.rename(columns=lambda c: c.removeprefix("last_"))
    rows.insert(0, "indicator", ends["indicator"])
    rows.insert(2, "region", ends["region"])
    rows["date"], rows["value"] = ends["last_date"], ends["last_value"]
    return rows[list(evidence.columns)].reset_index(drop=True)


def run_share(frames: Mapping[str, pd.DataFrame] | None, states: list[str], year: int | str,
              evidence_year: int | None) -> Metric:
    """World share of the EV stock in ``states`` in a year of the run."""
    if frames is None or "states" not in frames:
        return Metric(math.nan, "no run")
    df = frames["states"]
    world = df[(df["region"] == "World") & (df["segment"] == "all")]
    years = sorted(world["year"].unique())
    if not years:
        return Metric(math.nan, "no World rows in the run")
    if year == "end":
        y = int(years[-1])
    elif year == "evidence":
        y = int(min(max(evidence_year or years[0], years[0]), years[-1]))
    else:
        y = int(year)
    rows = world[(world["year"] == y) & world["state"].isin(states)]
    if rows.empty:
        return Metric(math.nan, f"year {y} not in the run")
    share = float(rows["share"].sum())
    return Metric(share, f"{'+'.join(states)} {share:.1%} of World EV stock in {y}")


def compute_metrics(evidence: pd.DataFrame, frames: Mapping[str, pd.DataFrame] | None,
                    pathway: str, rules: Mapping[str, Any]) -> dict[str, Metric]:
    """Every metric of the rules for one pathway."""
    out: dict[str, Metric] = {}
    specs = rules["metrics"]
    mine = evidence[evidence["pathway"] == pathway]
    evidence_year = int(mine["date"].max().year) if not mine.empty else None
    for name, spec in specs.items():
        kind = spec["kind"]
        measures = list(spec.get("measures") or [])
        if kind == "latest_sum":
            rows = _latest_rows(evidence, measures, pathway)
            total = float(rows["value"].sum()) if not rows.empty else 0.0
            parts = [f"{ind}@{reg} {_fmt(float(val))} ({pd.Timestamp(day):%Y-%m-%d})"
                     for ind, reg, val, day in zip(rows["indicator"], rows["region"],
                                                   rows["value"], rows["date"], strict=True)]
            out[name] = Metric(total, "; ".join(parts) or "no observation")
        elif kind == "latest_max":
            rows = _latest_rows(evidence, measures, pathway)
            if rows.empty:
                out[name] = Metric(math.nan, "no observation")
            else:
                top = rows.sort_values("value", kind="stable").iloc[-1]
                out[name] = Metric(float(top["value"]),
                                   f"{top['indicator']}@{top['region']} {_fmt(top['value'])} "
                                   f"({top['date']:%Y-%m-%d})")
        elif kind == "growth":
            rates, parts = [], []
            ends = series_ends(evidence, measures, pathway)
            for ind, region, n, d0, d1, v0, v1 in zip(
                    ends["indicator"], ends["region"], ends["n"], ends["first_date"],
                    ends["last_date"], ends["first_value"], ends["last_value"], strict=True):
                span = (d1 - d0).days / DAYS_PER_YEAR
                if n < 2 or span < float(spec.get("min_years", 0.5)):
                    continue
                rate = cagr(float(v0), float(v1), span)
                if math.isnan(rate):
                    continue
                rates.append(rate)
                parts.append(f"{ind}@{region} {_fmt(v0)} -> "
                             f"{_fmt(v1)} over {span:.1f} y = {rate:+.0%}/y")
            value = float(np.median(rates)) if rates else math.nan
            out[name] = Metric(value, "; ".join(parts) or "no series with two observations")
        elif kind == "count_regions":
            rows = mine[of_measures(mine["indicator"], measures)
                        & (mine["value"] > 0)]
            regions = sorted(rows["region"].unique())
            out[name] = Metric(float(len(regions)), ", ".join(regions) or "none")
        elif kind == "span_years":
            rows = mine[of_measures(mine["indicator"], measures)]
            if rows.empty:
                out[name] = Metric(math.nan, "no observation")
            else:
                first, last = rows["date"].min(), rows["date"].max()
                out[name] = Metric((last - first).days / DAYS_PER_YEAR,
                                   f"{first:%Y-%m-%d} to {last:%Y-%m-%d}")
        elif kind == "run_share":
            states = list(rules["pathway_states"][pathway])
            out[name] = run_share(frames, states, spec["year"], evidence_year)
    for name, spec in specs.items():  # ratios last: they read other metrics
        if spec["kind"] != "ratio":
            continue
        num, den = out[spec["numerator"]].value, out[spec["denominator"]].value
        if math.isnan(num) or math.isnan(den) or (num == 0 and den == 0):
            value = math.nan
        elif den == 0:
            value = math.inf
        else:
            value = num / den
        out[name] = Metric(value, f"{spec['numerator']} {_fmt(num)} / {spec['denominator']} "
                           f"{_fmt(den)}")
    return out


def _holds(cond: Mapping[str, Any], metrics: Mapping[str, Metric]) -> bool:
    value = metrics[cond["metric"]].value
    if math.isnan(value):
        return bool(cond.get("missing", False))
    return bool(OPS[cond["op"]](value, float(cond["value"])))


def _cond_text(cond: Mapping[str, Any]) -> str:
    extra = " (or none)" if cond.get("missing") else ""
    return f"{cond['metric']} {cond['op']} {cond['value']:g}{extra}"


def decide(metrics: Mapping[str, Metric], rules: Mapping[str, Any]
           ) -> tuple[Mapping[str, Any], list[str]]:
    """The first verdict entry whose conditions all hold, and why the earlier ones failed."""
    reasons: list[str] = []
    for v in rules["verdicts"]:
        conds = v.get("all") or []
        failed = [c for c in conds if not _holds(c, metrics)]
        if v.get("default") or not failed:
            return v, reasons
        reasons.append(f"not {v['verdict']}: " + "; ".join(
            f"{_cond_text(c)} fails ({c['metric']} = {_fmt(metrics[c['metric']].value)})"
            for c in failed))
    return rules["verdicts"][-1], reasons


def judge_pathway(evidence: pd.DataFrame, frames: Mapping[str, pd.DataFrame] | None,
                  pathway: str, rules: Mapping[str, Any]) -> dict[str, str]:
    """The scorecard row of one pathway."""
    metrics = compute_metrics(evidence, frames, pathway, rules)
    chosen, reasons = decide(metrics, rules)
    conds = chosen.get("all") or []
    rule = (f"{chosen['verdict']}: " + " and ".join(_cond_text(c) for c in conds)
            if conds else f"{chosen['verdict']}: default, no earlier verdict applies")
    used = [c["metric"] for c in conds] or list(metrics)
    shown = list(dict.fromkeys([*used, *metrics]))
    evidence_text = " | ".join(f"{m} = {_fmt(metrics[m].value)} [{metrics[m].detail}]"
                               for m in shown)
    return {"pathway": pathway, "verdict": str(chosen["verdict"]), "rule": rule,
            "evidence": evidence_text, "reasons": " | ".join(reasons) or "first rule applies"}


def scorecard(evidence: pd.DataFrame, frames: Mapping[str, pd.DataFrame] | None,
              rules: Mapping[str, Any] | Path | str | None = None) -> pd.DataFrame:
    """One verdict per pathway with the rule, the evidence it read and the reasons.

    Parameters
    ----------
    evidence : the ledger (:func:`evflex.judgement.evidence.load_evidence`).
    frames : the run's tables (``states`` is read for the run-share metrics).
    rules : a rules file, mapping, or ``None`` for the shipped rules.
    """
    data = load_rules(rules)
    rows = [judge_pathway(evidence, frames, p, data) for p in PATHWAYS]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def quantity_rules(scenario: Scenario, evidence: pd.DataFrame | None = None,
                   rules: Mapping[str, Any] | Path | str | None = None) -> list[Any]:
    """The scorecard as rules over modelled quantities, for verdict probabilities.

    Returns one :class:`evflex.uncertainty.verdicts.QuantityRule` per pathway: the
    evidence metrics are fixed (the ledger does not vary between draws) and the run-share
    metrics are read on every draw as ``STATE:YEAR`` quantities (World). The verdict of a
    draw is the one :func:`scorecard` would give on that draw's run. This is the contract
    ``evflex.uncertainty.verdicts`` looks for under the name ``modelled_rules``.
    """
    from evflex.judgement.evidence import load_evidence
    from evflex.uncertainty.verdicts import QuantityRule

    data = load_rules(rules)
    ledger = load_evidence() if evidence is None else evidence
    start, end = scenario.years.start, scenario.years.end
    out = []
    for pathway in PATHWAYS:
        fixed = compute_metrics(ledger, None, pathway, data)
        mine = ledger[ledger["pathway"] == pathway]
        ev_year = int(mine["date"].max().year) if not mine.empty else start
        states = list(data["pathway_states"][pathway])
        shares: dict[str, list[str]] = {}
        for name, spec in data["metrics"].items():
            if spec["kind"] != "run_share":
                continue
            year = spec["year"]
            y = end if year == "end" else min(max(ev_year, start), end) if year == "evidence" \
                else int(year)
            shares[name] = [f"{s}:{y}" for s in states]
        quantities = tuple(dict.fromkeys(q for qs in shares.values() for q in qs))

        def classify(q: Mapping[str, np.ndarray], fixed: dict[str, Metric] = fixed,
                     shares: dict[str, list[str]] = shares) -> np.ndarray:
            n = len(next(iter(q.values()))) if q else 1
            index = np.empty(n, dtype=np.int64)
            for i in range(n):
                metrics = dict(fixed)
                for name, qs in shares.items():
                    metrics[name] = Metric(float(sum(q[k][i] for k in qs)), "draw")
                chosen, _ = decide(metrics, data)
                index[i] = VERDICTS.index(chosen["verdict"])
            return index

        out.append(QuantityRule(pathway, VERDICTS, quantities, classify,
                                f"scorecard rules on the evidence ledger ({len(mine)} "
                                f"observations); run shares {', '.join(quantities)} per draw"))
    return out
