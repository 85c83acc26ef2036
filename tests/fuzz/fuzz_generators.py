"""Fuzz generators: broken scenario files and random valid scenarios.

Used by the property tests in this folder and by ``benchmarks/fuzz_scenarios.py``. All
randomness comes from the ``numpy.random.Generator`` passed in.

- :func:`fuzz_file` writes bytes an attacker or a careless user could hand to ``evflex
  validate``: mutated scenarios (NaN, infinity, huge numbers, wrong types, unknown keys,
  long ``extends``), text damage (flipped bytes, truncation, non-UTF-8, duplicate keys)
  and hostile YAML (deep nesting, alias bombs, huge integers).
- :func:`random_valid_raw` draws a scenario mapping inside every documented bound
  (registry bounds, years, regions, options), for the "whatever validates runs" property.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import yaml

from evflex.scenario.load import KNOWN_REGIONS, read_raw, registry, resolve_path

#: Checks that hold for every valid scenario (accounting identities and physical bounds);
#: calibration and history checks compare with targets, so random scenarios may miss them.
INVARIANT_PREFIXES = ("states_", "nest_", "funnel_monotone", "stock_reconciles",
                      "ev_stock_reconciles", "retirements_nonnegative", "ev_sales_le_sales",
                      "world_is_sum", "world_shares_from_counts",
                      "capable_stock_share_lags_sales", "model_count_converted",
                      "model_share_not_used_as_stock_share", "capacity_")


def base_raw() -> dict[str, Any]:
    """The shipped base scenario as a merged mapping."""
    return read_raw(resolve_path("base"))


_HOSTILE_VALUES: list[Any] = [
    math.nan, math.inf, -math.inf, "NaN", "inf", True, False, None, 0, -1, 1e308, -1e308,
    10**25, "", "x" * 300, [], {}, [[[[1]]]], {"a": {"b": {"c": 1}}}, 2**63, -(2**63),
    0.5, "2025-01-01", "0000-01-01", "\u202e\u0000", "=cmd|' /C calc'!A0", 1e-320,
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = node
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return node


def _random_value(rng: np.random.Generator) -> Any:
    kind = rng.integers(0, 6)
    if kind == 0:
        return _HOSTILE_VALUES[int(rng.integers(0, len(_HOSTILE_VALUES)))]
    if kind == 1:
        return float(rng.normal(0, 10.0 ** rng.integers(-3, 12)))
    if kind == 2:
        return int(rng.integers(-(10**9), 10**9))
    if kind == 3:
        return "".join(chr(int(c)) for c in rng.integers(32, 0x2FF, rng.integers(0, 20)))
    if kind == 4:
        return [float(x) for x in rng.normal(size=rng.integers(0, 4))]
    return {str(rng.integers(0, 3000)): float(rng.random())}


def _mutated_mapping(rng: np.random.Generator, raw: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    for _ in range(int(rng.integers(1, 4))):
        paths = _paths(data)[1:]
        path = paths[int(rng.integers(0, len(paths)))]
        action = rng.integers(0, 4)
        if action == 0:  # replace the value
            data = _set(data, path, _random_value(rng))
        elif action == 1 and len(path) >= 1:  # delete the key
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
        elif action == 2:  # add an unknown key next to it
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            if isinstance(parent, dict):
                parent[f"unknown_{rng.integers(0, 99)}"] = _random_value(rng)
        else:  # scale a number
            parent = data
            for part in path[:-1]:
                parent = parent[part]
            value = parent[path[-1]]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                parent[path[-1]] = value * float(10.0 ** rng.integers(-6, 300))
    return data


def _hostile_text(rng: np.random.Generator) -> bytes:
    kind = rng.integers(0, 8)
    if kind == 0:
        depth = int(rng.integers(50, 5000))
        return ("a: " + "[" * depth + "]" * depth).encode()
    if kind == 1:
        return ("x: " + "9" * int(rng.integers(31, 6000))).encode()
    if kind == 2:
        lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
        lines += [f"{c}: &{c} [{', '.join(['*' + chr(ord(c) - 1)] * 9)}]" for c in "bcdefgh"]
        return "\n".join(lines).encode()
    if kind == 3:
        return ("extends: " + "x" * int(rng.integers(100, 5000))).encode()
    if kind == 4:
        return b"name: a\nname: b\n"
    if kind == 5:
        return bytes(rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8))
    if kind == 6:
        return ("{" * int(rng.integers(1, 3000))).encode()
    return ("date: " + ["0000-01-01", "2025-13-45", "9999-99-99"][int(rng.integers(0, 3))]
            ).encode()


def fuzz_file(rng: np.random.Generator, raw: dict[str, Any], text: bytes) -> bytes:
    """Bytes of one fuzzed scenario file (``raw``/``text``: the base scenario)."""
    kind = rng.integers(0, 10)
    if kind <= 4:
        data = _mutated_mapping(rng, raw)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
    if kind <= 7:
        out = bytearray(text)
        for _ in range(int(rng.integers(1, 6))):
            where = int(rng.integers(0, max(len(out), 1)))
            op = rng.integers(0, 4)
            if op == 0 and out:
                out[where % len(out)] = int(rng.integers(0, 256))
            elif op == 1:
                del out[where:]
            elif op == 2:
                out[where:where] = bytes(rng.integers(0, 256, int(rng.integers(1, 8)),
                                               dtype=np.uint8))
            else:
                line_start = out.rfind(b"\n", 0, where) + 1
                line_end = out.find(b"\n", where)
                line = out[line_start:line_end if line_end >= 0 else len(out)]
                out[line_start:line_start] = bytes(line) + b"\n"
        return bytes(out)
    return _hostile_text(rng)


def _random_path(rng: np.random.Generator, lo: float, hi: float) -> dict[str, Any]:
    """A value or S-curve inside ``[lo, hi]``, edges included now and then."""

    def number() -> float:
        edge = rng.random()
        if edge < 0.1:
            return lo
        if edge < 0.2:
            return hi
        return float(lo + (hi - lo) * rng.random())

    if rng.random() < 0.6:
        return {"value": number()}
    start, end = number(), number()
    if start == end:
        end = hi if start < hi else lo
    return {"scurve": {"start": start, "end": end,
                       "midpoint": float(rng.uniform(1990, 2150)),
                       "steepness": float(rng.uniform(0.01, 5.0))}}


def random_valid_raw(rng: np.random.Generator, raw: dict[str, Any]) -> dict[str, Any]:
    """A scenario mapping drawn inside every documented bound (it may still break a
    cross-field rule, e.g. a vehicle stock too small for the IEA EV history)."""
    data = copy.deepcopy(raw)
    data.pop("uncertainty", None)
    regions = [r for r in KNOWN_REGIONS if rng.random() < 0.7] or ["China"]
    data["regions"] = regions
    start = int(rng.integers(2000, 2025))
    history_end = int(rng.integers(start, 2025))
    end = int(rng.integers(max(2030, history_end + 1), 2201))
    data["years"] = {"start": start, "history_end": history_end, "end": end}
    data["options"] = {"phev_v2g_eligible": bool(rng.random() < 0.5),
                       "survival_max_age": int(rng.integers(10, 121))}
    bm = data["bidirectional_models"]
    bm["capable_models"] = int(rng.integers(0, 500))
    bm["model_share"] = float(rng.uniform(0.001, 1.0) if rng.random() < 0.1
                              else rng.uniform(0.001, 0.05))
    bm["sales_weight"] = float(rng.uniform(0.01, 50.0) if rng.random() < 0.1
                               else rng.uniform(0.2, 5.0))
    cal = data.get("calibration") or {}
    for key in ("anchors", "states"):
        block = cal.get(key)
        if block and not start <= block["year"] <= end:
            cal.pop(key)
    reg = registry()
    for name, param in data["parameters"].items():
        param.pop("dist", None)
        for spec in (param.get("overrides") or {}).values():
            spec.pop("dist", None)
        info = reg[name]
        if rng.random() < 0.5:
            continue
        lo = info.min if info.min is not None else 0.0
        hi = info.max if info.max is not None else 1e10
        for form in ("value", "scurve", "points"):
            param.pop(form, None)
        param.update(_random_path(rng, lo, hi))
        if rng.random() < 0.5:
            param.pop("overrides", None)
    return data


def full_run(scenario: Any, ledger: Any) -> list[str]:
    """Take a valid scenario through ``evflex run``'s path (:func:`evflex.pipeline.run`:
    engine, checks, energy funnel, judgement) and return the invariant violations found
    (empty: none)."""
    from evflex.pipeline import run

    the_run = run(scenario, evidence=ledger)
    problems = []
    tables = {**the_run.results.frames(), "energy_funnel": the_run.energy_funnel}
    for name, df in tables.items():
        numbers = df.select_dtypes("number")
        if name == "energy_funnel":  # power is given only at the last stage
            numbers = numbers.drop(columns=["power_gw"])
        bad = ~np.isfinite(numbers.to_numpy(dtype=float))
        if bad.any():
            problems.append(f"{name}: {int(bad.sum())} values not finite")
    checks = the_run.checks
    if not np.isfinite(checks["value"].to_numpy(dtype=float)).all():
        problems.append("checks: a value is not finite")
    inv = checks[checks["check"].str.startswith(INVARIANT_PREFIXES)]
    for row in inv[inv["status"] == "fail"].itertuples():
        problems.append(f"check {row.check} failed (value {row.value:.3g}): {row.detail}")
    if "scorecard" not in the_run.judgement:
        problems.append("judgement: no scorecard")
    return problems
