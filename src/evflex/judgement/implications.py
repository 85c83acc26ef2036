"""Decision implications for utilities, regulators, carmakers, charger makers, aggregators.

The sentences are templates in ``data/implications.yaml``; which are kept, and every
number in them, come from :func:`evflex.judgement.facts.compute_facts` on the run, the
scorecard, the comparator stack, the triggers and the evidence.
"""

from __future__ import annotations

import math
import operator
import string
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

AUDIENCES = ("utilities", "regulators", "carmakers", "charger makers", "aggregators")
COLUMNS = ("audience", "implication", "basis", "source")
_OPS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
        "<": operator.lt, "<=": operator.le}


class ImplicationsError(ValueError):
    """A template or condition that cannot be used; the message names the entry."""


def shipped_templates_path() -> Path:
    return Path(str(resources.files("evflex.data").joinpath("implications.yaml")))


def load_templates(path: Path | str | None = None) -> list[dict[str, Any]]:
    """The implication templates, validated for structure."""
    path = Path(path) if path is not None else shipped_templates_path()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    problems = []
    for i, entry in enumerate(data):
        if entry.get("audience") not in AUDIENCES:
            problems.append(f"{path} entry {i}: audience {entry.get('audience')!r}, expected one "
                            f"of {', '.join(AUDIENCES)}")
        if not str(entry.get("text") or "").strip():
            problems.append(f"{path} entry {i}: empty text")
        for j, cond in enumerate(entry.get("when") or []):
            if cond.get("op") not in (*_OPS, "in") or "fact" not in cond:
                problems.append(f"{path} entry {i} condition {j}: got {cond!r}, expected "
                                "{fact, op, value} with op one of " + ", ".join([*_OPS, "in"]))
    if problems:
        raise ImplicationsError("\n".join(problems))
    return list(data)


def fields(text: str) -> list[str]:
    """The fact names a template uses."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def _holds(cond: Mapping[str, Any], facts: Mapping[str, Any], where: str) -> bool:
    if cond["fact"] not in facts:
        raise ImplicationsError(f"{where}: unknown fact {cond['fact']!r}")
    value = facts[cond["fact"]]
    if isinstance(value, float) and math.isnan(value):
        return False
    if cond["op"] == "in":
        return bool(value in cond["value"])
    return bool(_OPS[cond["op"]](value, cond["value"]))


def implications(facts: Mapping[str, Any], templates: list[dict[str, Any]] | None = None
                 ) -> pd.DataFrame:
    """One row per kept implication: ``audience, implication, basis, source``."""
    entries = templates if templates is not None else load_templates()
    rows = []
    for i, entry in enumerate(entries):
        where = f"implication {i} ({entry['audience']})"
        if not all(_holds(c, facts, where) for c in entry.get("when") or []):
            continue
        text = " ".join(str(entry["text"]).split())
        names = fields(text)
        unknown = [n for n in names if n not in facts]
        if unknown:
            raise ImplicationsError(f"{where}: unknown fact(s) {', '.join(unknown)}")
        if any(isinstance(facts[n], float) and math.isnan(facts[n]) for n in names):
            continue  # a figure this run cannot give: leave the sentence out
        rows.append({"audience": entry["audience"], "implication": text.format_map(facts),
                     "basis": ", ".join(dict.fromkeys(names)),
                     "source": "computed from the run, the scorecard, the comparator stack, "
                               "the triggers and the evidence ledger"})
    order = {a: k for k, a in enumerate(AUDIENCES)}
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out.sort_values("audience", key=lambda c: c.map(order), kind="stable"
                           ).reset_index(drop=True)
