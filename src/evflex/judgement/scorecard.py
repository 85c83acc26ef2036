"""The final scorecard: one verdict per pathway, by monotone rules over the evidence and the run.

Verdicts (MODEL.md section 5), best first: ``scaling``, ``progressing``, ``niche-valid``,
``activity-only``, ``stalled`` (:data:`VERDICTS`). The rules live in
``data/scorecard_rules.yaml`` (or a file or mapping passed in): named *metrics* computed
per pathway (:data:`METRIC_KINDS`), each saying which way is ``better``, and one entry per
verdict: a list of conditions ``metric op value`` that must all hold.

**Monotone by construction.** Every condition points the way its metric improves
(``>``/``>=`` on a metric where higher is better, ``<``/``<=`` where lower is), a metric
that cannot be computed fails every condition, and the verdict is the *best* one whose
conditions all hold (the default entry, the worst verdict, when none does). So a better
outcome on any metric can keep or raise the verdict, never lower it.

**Breadth.** A metric may require several programmes or markets (``min_series`` of a
growth, ``rank`` of a largest value over ``distinct`` markets), so that one programme
cannot carry a verdict whose rule asks for breadth.

**The run.** ``run_share`` and ``run_growth`` metrics read the run's state counts as an
:class:`xarray.DataArray` with named dimensions ``state`` and ``year``, summed over every
other dimension (region, segment, ...): the run's own totals, never a rendered table.

The table says, per pathway, the deciding rule, the metric values, the ledger rows they
read, why better verdicts did not apply, what evidence would move the verdict, and which
rows behind it are older than ``stale_after_years``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from evflex.glossary import STATES
from evflex.judgement.evidence import MEASURES, PATHWAYS, measure_of, series, stale_rows
from evflex.paths import FloatArray
from evflex.scenario import Scenario

#: Verdicts, best first; a verdict's index is its rank (0 = best).
VERDICTS = ("scaling", "progressing", "niche-valid", "activity-only", "stalled")
METRIC_KINDS = ("latest_sum", "growth", "latest_max", "count_regions", "count_series",
                "span_years", "run_share", "run_growth")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
OPS_FOR = {"higher": (">", ">="), "lower": ("<", "<=")}
DAYS_PER_YEAR = 365.25
COLUMNS = ("pathway", "verdict", "rule", "evidence", "evidence_rows", "reasons",
           "would_move", "stale")


class RulesError(ValueError):
    """Scorecard rules that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Metric:
    """A metric's value for one pathway, how it was computed and the ledger rows it read."""

    value: float
    detail: str
    rows: tuple[int, ...] = field(default=())


def shipped_rules_path() -> Path:
    return Path(str(resources.files("evflex.data").joinpath("scorecard_rules.yaml")))


def _check_metric(name: str, spec: Mapping[str, Any], metrics: Mapping[str, Any]
                  ) -> list[str]:
    problems = []
    kind = (spec or {}).get("kind")
    if kind not in METRIC_KINDS:
        return [f"metrics.{name}.kind: got {kind!r}, expected one of {', '.join(METRIC_KINDS)}"]
    if spec.get("better", "higher") not in OPS_FOR:
        problems.append(f"metrics.{name}.better: got {spec.get('better')!r}, expected higher "
                        "or lower")
    if kind in ("run_share", "run_growth"):
        year = spec.get("year", spec.get("from"))
        if not (year in ("end", "evidence") or isinstance(year, int)):
            problems.append(f"metrics.{name}.year: got {year!r}, expected a year, 'end' or "
                            "'evidence'")
        if kind == "run_growth" and not (isinstance(spec.get("years"), int)
                                         and spec["years"] > 0):
            problems.append(f"metrics.{name}.years: got {spec.get('years')!r}, expected a "
                            "positive number of years")
    else:
        unknown = [m for m in spec.get("measures") or [] if m not in MEASURES]
        if unknown or not spec.get("measures"):
            problems.append(f"metrics.{name}.measures: got {spec.get('measures')!r}, "
                            f"expected measures from {', '.join(MEASURES)}")
    for key in ("min_series", "rank"):
        if key in spec and not (isinstance(spec[key], int) and spec[key] >= 1):
            problems.append(f"metrics.{name}.{key}: got {spec[key]!r}, expected an integer "
                            ">= 1")
    return problems


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
        problems += _check_metric(name, spec, metrics)
    age = data.get("stale_after_years")
    if not isinstance(age, int | float) or isinstance(age, bool) or age <= 0:
        problems.append(f"stale_after_years: got {age!r}, expected a positive number of years")
    verdicts = data.get("verdicts") or []
    if not verdicts or not verdicts[-1].get("default"):
        problems.append("verdicts: the last entry must be the default (default: true)")
    for i, v in enumerate(verdicts):
        if v.get("verdict") not in VERDICTS:
            problems.append(f"verdicts.{i}.verdict: got {v.get('verdict')!r}, expected one of "
                            f"{', '.join(VERDICTS)}")
        for j, c in enumerate(v.get("all") or []):
            where = f"verdicts.{i}.all.{j}"
            spec = metrics.get(c.get("metric"))
            if spec is None:
                problems.append(f"{where}.metric: got {c.get('metric')!r}, expected one of "
                                f"{', '.join(metrics)}")
            allowed = OPS_FOR.get((spec or {}).get("better", "higher"), tuple(OPS))
            if c.get("op") not in allowed:
                problems.append(f"{where}.op: got {c.get('op')!r}, expected "
                                f"{' or '.join(allowed)} (the way {c.get('metric')} improves, "
                                "so that a better outcome never gives a worse verdict)")
            if not isinstance(c.get("value"), int | float) or isinstance(c.get("value"), bool):
                problems.append(f"{where}.value: got {c.get('value')!r}, expected a number")
            if c.get("missing"):
                problems.append(f"{where}.missing: a condition that holds without evidence "
                                "is not monotone (a missing metric fails every condition)")
            if not str(c.get("source") or "").strip():
                problems.append(f"{where}.source: got nothing, expected a source or "
                                "'assumption: ...'")
    ranks = [VERDICTS.index(v["verdict"]) for v in verdicts if v.get("verdict") in VERDICTS]
    if ranks and verdicts[-1].get("default") and ranks[-1] != max(ranks):
        problems.append(f"verdicts: the default ({verdicts[-1].get('verdict')}) must be the "
                        "worst verdict of the rules, or a better outcome could worsen it")
    if problems:
        raise RulesError(f"{label}:\n" + "\n".join(problems))
    return data


# ----------------------------------------------------------------------------- the run
def state_totals(run: Any) -> xr.DataArray | None:
    """The run's EV counts by ``state`` and ``year`` [vehicles], summed over other dims.

    ``run`` is a :class:`evflex.model.Results`, a dataset with a ``states`` variable, a
    DataArray with ``state`` and ``year`` dimensions, or ``None``.
    """
    if run is None:
        return None
    da = run
    if hasattr(da, "data") and isinstance(da.data, xr.Dataset):
        da = da.data
    if isinstance(da, xr.Dataset):
        da = da["states"]
    if not isinstance(da, xr.DataArray) or not {"state", "year"} <= set(da.dims):
        raise TypeError("the run: expected model Results or a DataArray with 'state' and "
                        f"'year' dimensions (got {type(run).__name__})")
    other = [d for d in da.dims if d not in ("state", "year")]
    return da.sum(other) if other else da


def _year(spec_year: Any, years: list[int], evidence_year: int | None) -> int:
    if spec_year == "end":
        return years[-1]
    if spec_year == "evidence":
        return int(min(max(evidence_year or years[0], years[0]), years[-1]))
    return int(spec_year)


def run_share(totals: xr.DataArray | None, states: list[str], year: int | str,
              evidence_year: int | None) -> Metric:
    """The run's share of the EV stock in ``states`` in a year [fraction]."""
    if totals is None:
        return Metric(math.nan, "no run")
    years = [int(y) for y in totals["year"].values]
    y = _year(year, years, evidence_year)
    if y not in years:
        return Metric(math.nan, f"year {y} not in the run")
    at = totals.sel(year=y)
    total = float(at.sum())
    share = float(at.sel(state=states).sum()) / total if total > 0 else 0.0
    return Metric(share, f"{'+'.join(states)} {share:.2%} of the run's EV stock in {y}")


def run_growth(totals: xr.DataArray | None, states: list[str], start: int | str, years: int,
               evidence_year: int | None) -> Metric:
    """Annual growth of the run's share in ``states`` over ``years`` from ``start`` [1/year]."""
    a = run_share(totals, states, start, evidence_year)
    if totals is None or math.isnan(a.value):
        return Metric(math.nan, a.detail)
    axis = [int(y) for y in totals["year"].values]
    y0 = _year(start, axis, evidence_year)
    y1 = min(y0 + years, axis[-1])
    b = run_share(totals, states, y1, evidence_year)
    if y1 <= y0:
        return Metric(math.nan, f"no years after {y0} in the run")
    if a.value <= 0:
        value = math.inf if b.value > 0 else 0.0
    else:
        value = (b.value / a.value) ** (1.0 / (y1 - y0)) - 1.0
    return Metric(value, f"modelled share {a.value:.2%} in {y0} -> {b.value:.2%} in {y1} "
                         f"= {value:+.1%}/y")


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


def _label(rows: pd.DataFrame, i: int) -> str:
    rec = rows.loc[i].to_dict()
    return (f"{rec['indicator']}@{rec['region']} {_fmt(float(rec['value']))} "
            f"({pd.Timestamp(rec['date']):%Y-%m-%d})")


def compute_metrics(evidence: pd.DataFrame, totals: xr.DataArray | None, pathway: str,
                    rules: Mapping[str, Any]) -> dict[str, Metric]:
    """Every metric of the rules for one pathway (``totals`` from :func:`state_totals`)."""
    out: dict[str, Metric] = {}
    mine = evidence[evidence["pathway"] == pathway]
    evidence_year = int(mine["date"].max().year) if not mine.empty else None
    states = list(rules["pathway_states"][pathway])
    for name, spec in rules["metrics"].items():
        kind = spec["kind"]
        measures = list(spec.get("measures") or [])
        by_series = series(evidence, measures, pathway) if measures else {}
        latest = [rows.index[-1] for rows in by_series.values()]
        if kind == "latest_sum":
            total = float(evidence.loc[latest, "value"].sum()) if latest else 0.0
            out[name] = Metric(total, "; ".join(_label(evidence, i) for i in latest)
                               or "no observation", tuple(latest))
        elif kind == "latest_max":
            picks = evidence.loc[latest]
            if spec.get("distinct") == "region" and not picks.empty:
                picks = picks.sort_values("value").groupby("region").tail(1)
            rank = int(spec.get("rank", 1))
            ordered = picks.sort_values("value", ascending=False, kind="stable")
            if len(ordered) < rank:
                out[name] = Metric(math.nan, f"{len(ordered)} series, the rule needs {rank}",
                                   tuple(ordered.index))
            else:
                i = ordered.index[rank - 1]
                out[name] = Metric(float(ordered.loc[i, "value"]),
                                   f"{rank}. largest: {_label(evidence, i)}",
                                   tuple(ordered.index[:rank]))
        elif kind == "growth":
            rates, parts, used = [], [], []
            for (ind, region), rows in by_series.items():
                span = (rows["date"].iloc[-1] - rows["date"].iloc[0]).days / DAYS_PER_YEAR
                if len(rows) < 2 or span < float(spec.get("min_years", 0.5)):
                    continue
                rate = cagr(float(rows["value"].iloc[0]), float(rows["value"].iloc[-1]), span)
                if math.isnan(rate):
                    continue
                rates.append(rate)
                used += [rows.index[0], rows.index[-1]]
                parts.append(f"{ind}@{region} {_fmt(rows['value'].iloc[0])} -> "
                             f"{_fmt(rows['value'].iloc[-1])} over {span:.1f} y = {rate:+.0%}/y")
            need = int(spec.get("min_series", 1))
            value = float(np.median(rates)) if len(rates) >= need else math.nan
            note = "" if len(rates) >= need else f" ({len(rates)} series, the rule needs {need})"
            out[name] = Metric(value, ("; ".join(parts) or "no series with two observations")
                               + note, tuple(used))
        elif kind in ("count_regions", "count_series"):
            hits = [i for i in latest if evidence.loc[i, "value"] > 0]
            keys = (sorted({str(evidence.loc[i, "region"]) for i in hits})
                    if kind == "count_regions" else
                    sorted(f"{evidence.loc[i, 'indicator']}@{evidence.loc[i, 'region']}"
                           for i in hits))
            out[name] = Metric(float(len(keys)), ", ".join(keys) or "none", tuple(hits))
        elif kind == "span_years":
            rows = pd.concat(list(by_series.values())) if by_series else mine.iloc[0:0]
            if rows.empty:
                out[name] = Metric(math.nan, "no observation")
            else:
                first, last = rows["date"].min(), rows["date"].max()
                out[name] = Metric((last - first).days / DAYS_PER_YEAR,
                                   f"{first:%Y-%m-%d} to {last:%Y-%m-%d}", tuple(rows.index))
        elif kind == "run_share":
            out[name] = run_share(totals, states, spec["year"], evidence_year)
        elif kind == "run_growth":
            out[name] = run_growth(totals, states, spec["from"], int(spec["years"]),
                                   evidence_year)
    return out


def _holds(cond: Mapping[str, Any], metrics: Mapping[str, Metric]) -> bool:
    value = metrics[cond["metric"]].value
    if math.isnan(value):
        return False
    return bool(OPS[cond["op"]](value, float(cond["value"])))


def _cond_text(cond: Mapping[str, Any]) -> str:
    return f"{cond['metric']} {cond['op']} {cond['value']:g}"


def _now(cond: Mapping[str, Any], metrics: Mapping[str, Metric]) -> str:
    return f"{_cond_text(cond)} (now {_fmt(metrics[cond['metric']].value)})"


def decide(metrics: Mapping[str, Metric], rules: Mapping[str, Any]
           ) -> tuple[Mapping[str, Any], list[str]]:
    """The best verdict whose conditions all hold, and why the better ones failed."""
    entries = sorted(rules["verdicts"][:-1], key=lambda v: VERDICTS.index(v["verdict"]))
    reasons: list[str] = []
    for v in entries:
        failed = [c for c in v.get("all") or [] if not _holds(c, metrics)]
        if not failed:
            return v, reasons
        reasons.append(f"not {v['verdict']}: " + "; ".join(
            f"{_cond_text(c)} fails ({c['metric']} = {_fmt(metrics[c['metric']].value)})"
            for c in failed))
    return rules["verdicts"][-1], reasons


def would_move(chosen: Mapping[str, Any], metrics: Mapping[str, Metric],
               rules: Mapping[str, Any]) -> str:
    """What evidence would move the verdict: the unmet conditions of the next better
    verdict, and the conditions whose loss would drop this one."""
    rank = VERDICTS.index(chosen["verdict"])
    better = sorted((v for v in rules["verdicts"][:-1] if VERDICTS.index(v["verdict"]) < rank),
                    key=lambda v: -VERDICTS.index(v["verdict"]))
    parts = []
    if better:
        up = better[0]
        unmet = [c for c in up.get("all") or [] if not _holds(c, metrics)]
        parts.append(f"up to {up['verdict']} with " + "; ".join(_now(c, metrics) for c in unmet))
    conds = chosen.get("all") or []
    if conds and not chosen.get("default"):
        parts.append(f"down from {chosen['verdict']} if any of " + "; ".join(
            _now(c, metrics) for c in conds) + " stops holding")
    return " | ".join(parts) or "nothing: the best verdict, with nothing to lose"


def judge_pathway(evidence: pd.DataFrame, totals: xr.DataArray | None, pathway: str,
                  rules: Mapping[str, Any]) -> dict[str, str]:
    """The scorecard row of one pathway."""
    metrics = compute_metrics(evidence, totals, pathway, rules)
    chosen, reasons = decide(metrics, rules)
    conds = chosen.get("all") or []
    rule = (f"{chosen['verdict']}: " + " and ".join(_cond_text(c) for c in conds)
            if conds else f"{chosen['verdict']}: default, no better verdict applies")
    used = [c["metric"] for c in conds] or list(metrics)
    shown = list(dict.fromkeys([*used, *metrics]))
    evidence_text = " | ".join(f"{m} = {_fmt(metrics[m].value)} [{metrics[m].detail}]"
                               for m in shown)
    behind = sorted({i for m in used for i in metrics[m].rows})
    read = evidence.loc[behind] if behind else evidence.iloc[0:0]
    rows_text = "; ".join(f"{r['indicator']}@{r['region']} {r['date']:%Y-%m-%d} ({r['url']})"
                          for _, r in read.iterrows()) or "none"
    old = stale_rows(read, float(rules["stale_after_years"]),
                     as_of=evidence["retrieved"].max() if not evidence.empty else None)
    stale = "; ".join(f"{r['indicator']}@{r['region']} "
                      + ("undated" if r["date_basis"] == "undated" else f"{r['date']:%Y-%m-%d}")
                      for _, r in old.iterrows())
    return {"pathway": pathway, "verdict": str(chosen["verdict"]), "rule": rule,
            "evidence": evidence_text, "evidence_rows": rows_text,
            "reasons": " | ".join(reasons) or "the best verdict applies",
            "would_move": would_move(chosen, metrics, rules),
            "stale": (f"older than {rules['stale_after_years']:g} years or undated: {stale}"
                      if stale else "none")}


def scorecard(evidence: pd.DataFrame, run: Any = None,
              rules: Mapping[str, Any] | Path | str | None = None) -> pd.DataFrame:
    """One verdict per pathway with its rule, evidence, reasons and what would move it.

    Parameters
    ----------
    evidence : the ledger (:func:`evflex.judgement.evidence.load_evidence`).
    run : the model :class:`~evflex.model.Results` (or its ``states`` counts, see
        :func:`state_totals`); ``None`` judges on the evidence alone.
    rules : a rules file, mapping, or ``None`` for the shipped rules.
    """
    data = load_rules(rules)
    totals = state_totals(run)
    rows = [judge_pathway(evidence, totals, p, data) for p in PATHWAYS]
    return pd.DataFrame(rows, columns=list(COLUMNS))


@dataclass(frozen=True)
class QuantityRule:
    """A scorecard rule over modelled quantities, evaluated on a batch of draws.

    ``quantities`` are ``NAME[@REGION]:YEAR`` reads (see
    :class:`evflex.uncertainty.ensemble.Quantity`); ``classify`` maps them (arrays over
    the draws) to each draw's verdict, an index into ``verdicts``.
    """

    pathway: str
    verdicts: tuple[str, ...]
    quantities: tuple[str, ...]
    classify: Callable[[Mapping[str, FloatArray]], np.ndarray]
    rule: str = ""


def quantity_rules(scenario: Scenario, evidence: pd.DataFrame | None = None,
                   rules: Mapping[str, Any] | Path | str | None = None
                   ) -> list[QuantityRule]:
    """The scorecard as rules over modelled quantities, for verdict probabilities.

    Returns one :class:`QuantityRule` per pathway: the
    evidence metrics are fixed (the ledger does not vary between draws) and the run
    metrics are read on every draw from ``STATE:YEAR`` share quantities. The verdict of a
    draw is the one :func:`scorecard` would give on that draw's run (Monte Carlo's verdict
    probabilities, :mod:`evflex.uncertainty.verdicts`).
    """
    from evflex.judgement.evidence import load_evidence

    data = load_rules(rules)
    ledger = load_evidence() if evidence is None else evidence
    axis = list(range(scenario.years.start, scenario.years.end + 1))
    out = []
    for pathway in PATHWAYS:
        fixed = compute_metrics(ledger, None, pathway, data)
        mine = ledger[ledger["pathway"] == pathway]
        ev_year = int(mine["date"].max().year) if not mine.empty else None
        states = list(data["pathway_states"][pathway])
        reads: dict[str, tuple[str, list[list[str]], int]] = {}
        for name, spec in data["metrics"].items():
            if spec["kind"] == "run_share":
                y = _year(spec["year"], axis, ev_year)
                reads[name] = ("share", [[f"{s}:{y}" for s in states]], 0)
            elif spec["kind"] == "run_growth":
                y0 = _year(spec["from"], axis, ev_year)
                y1 = min(y0 + int(spec["years"]), axis[-1])
                reads[name] = ("growth", [[f"{s}:{y0}" for s in states],
                                          [f"{s}:{y1}" for s in states]], y1 - y0)
        quantities = tuple(dict.fromkeys(q for _, groups, _ in reads.values()
                                         for g in groups for q in g))

        def classify(q: Mapping[str, np.ndarray], fixed: dict[str, Metric] = fixed,
                     reads: dict[str, tuple[str, list[list[str]], int]] = reads
                     ) -> np.ndarray:
            n = len(next(iter(q.values()))) if q else 1
            index = np.empty(n, dtype=np.int64)
            for i in range(n):
                metrics = dict(fixed)
                for name, (kind, groups, span) in reads.items():
                    sums = [float(sum(q[k][i] for k in g)) for g in groups]
                    if kind == "share":
                        value = sums[0]
                    elif span <= 0:
                        value = math.nan
                    elif sums[0] <= 0:
                        value = math.inf if sums[1] > 0 else 0.0
                    else:
                        value = (sums[1] / sums[0]) ** (1.0 / span) - 1.0
                    metrics[name] = Metric(value, "draw")
                chosen, _ = decide(metrics, data)
                index[i] = VERDICTS.index(chosen["verdict"])
            return index

        out.append(QuantityRule(pathway, VERDICTS, quantities, classify,
                                f"scorecard rules on the evidence ledger ({len(mine)} "
                                f"observations); run shares {', '.join(quantities)} per draw"))
    return out


def verdict_rank(verdict: str) -> int:
    """The rank of a verdict, 0 = best (``scaling``)."""
    return VERDICTS.index(verdict)


__all__ = ["COLUMNS", "VERDICTS", "Metric", "QuantityRule", "RulesError", "cagr", "compute_metrics",
           "decide", "load_rules", "measure_of", "quantity_rules", "run_growth", "run_share",
           "scorecard", "state_totals", "verdict_rank", "would_move"]
