"""The diff between two scenario versions, and which assumptions moved the outputs.

:func:`diff` takes two sides (each a stored run or a scenario) and returns:

- ``changes``: every assumption that differs, per parameter and per path (the default
  path and each override), per engine-relevant section (``years``, ``regions``,
  ``segments``, ``options``, ``bidirectional_models``) and, for stored runs of a vehicle
  simulation, the availability; plus changes the engine does not see (provenance,
  distributions, calibration targets, names), marked as such;
- ``outputs``: the key World outputs of A and B in the chosen years (EV stock, the share
  of the EV stock in each exclusive state, each capacity metric);
- ``attribution``: each output's change shared out between the changed assumptions by
  Shapley values (:mod:`evflex.store.shapley`). A *player* is a changed parameter (or
  section), or with ``by="group"`` a group of the parameter registry; the value of a
  coalition is the engine run on A with the players of the coalition taken from B. All
  coalitions are evaluated as one batch of the vectorised engine
  (:func:`evflex.model.compute_arrays`) wherever they share their structure;
- ``verdicts``: the denominator checks (and the judgement scorecard, where a run has
  one) of A and B side by side.

A stored run is re-run from its stored scenario (and availability) for the attribution;
``reproduced`` says whether the re-run gives the stored outputs again.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from evflex.capacity import METRICS, Availability
from evflex.model import ALL_SEGMENTS, WORLD, compute_arrays
from evflex.outputs.style import STATE_LABELS
from evflex.scenario import Scenario, ScenarioError, load_scenario, registry
from evflex.scenario.evaluate import evaluate_all
from evflex.scenario.load import parse, resolve_path
from evflex.scenario.schema import PathSpec
from evflex.states import STATES
from evflex.store import shapley
from evflex.store.content import as_mapping, load_text, scenario_hash
from evflex.store.db import RunInfo, RunStore, StoreError
from evflex.store.record import availability_from_json, availability_json

#: Years of the key outputs when none are asked for.
DEFAULT_YEARS = (2030, 2050, 2100)
#: Sections of a scenario that the engine reads (besides ``parameters``).
ENGINE_SECTIONS = ("years", "regions", "segments", "options", "bidirectional_models")
#: Fields of a section that carry provenance or prose only (the engine never reads them).
_PROSE_FIELDS = {"bidirectional_models": ("source", "sales_weight_source"),
                 "segments": ("description",)}
#: Sections that are not parameters, and the group each belongs to with ``by="group"``.
SECTION_GROUPS = {"years": "structure", "regions": "structure", "segments": "structure",
                  "options": "options", "bidirectional_models": "capability",
                  "availability": "availability"}
#: Coalitions evaluated per call of the vectorised engine.
CHUNK = 64


class DiffError(Exception):
    """A diff that cannot be made, worded as one line."""


# --------------------------------------------------------------------------- sides

@dataclass
class Side:
    """One side of a diff: a stored run or a scenario, and what to re-run it from."""

    ref: str
    label: str
    scenario: Scenario
    availability: Availability | None = None
    run: RunInfo | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "run" if self.run is not None else "scenario"


def resolve_side(ref: str, store: RunStore | None, which: str = "A") -> Side:
    """A side from a scenario file, a stored run (id, prefix, latest~N) or a shipped name.

    An existing file wins, then a run in the store, then a shipped scenario's name.
    """
    path = Path(ref)
    if path.exists() and path.is_file():
        return _scenario_side(ref)
    run_error: StoreError | None = None
    if store is not None and store.exists():
        try:
            info = store.info(ref)
        except StoreError as exc:
            if not str(exc).startswith("run:"):
                raise DiffError(f"{which}: {exc}") from None
            run_error = exc
        else:
            return _run_side(store, info, which)
    try:
        return _scenario_side(ref)
    except DiffError:
        if run_error is not None and "ambiguous" in str(run_error):
            raise DiffError(f"{which}: {run_error}") from None
        where = f"in the store {store.path}" if store is not None and store.exists() else (
            "and no run store to look in" if store is None else
            f"and no run store at {store.path}")
        raise DiffError(f"{which}: no run, scenario file or shipped scenario named {ref!r} "
                        f"{where} (expected a run id from `evflex runs list`, latest~N, "
                        "a YAML file or a shipped scenario name)") from None


def _scenario_side(ref: str) -> Side:
    try:
        path = resolve_path(ref)
    except ScenarioError:
        raise DiffError(ref) from None
    try:
        sc = load_scenario(path)
    except ScenarioError as exc:
        raise DiffError(f"{exc.source}: {exc.problems[0]}") from None
    return Side(ref=ref, label=f"scenario {ref} ({sc.name} v{sc.version})", scenario=sc)


def _run_side(store: RunStore, info: RunInfo, which: str) -> Side:
    if not info.scenario_yaml:
        raise DiffError(f"{which}: run {info.run_id} has no stored scenario, so it cannot be "
                        "re-run for the attribution (expected a run recorded with its "
                        "scenario)")
    try:
        sc = load_text(info.scenario_yaml, f"run {info.run_id}")
    except ScenarioError as exc:
        raise DiffError(f"{which}: the stored scenario of run {info.run_id} no longer "
                        f"validates: {exc.problems[0]}") from None
    wanted = [t for t in ("states", "fleet", "capacity", "checks", "scorecard")
              if t in info.tables]
    tables = store.tables(info.run_id, wanted)
    when = info.created_at.strftime("%Y-%m-%d %H:%M UTC")
    return Side(ref=info.run_id, label=f"run {info.run_id} ({sc.name} v{sc.version}, {when})",
                scenario=sc, availability=availability_from_json(info.availability),
                run=info, tables=tables)


# --------------------------------------------------------------------------- changes

def _describe(spec: PathSpec | None) -> str:
    if spec is None:
        return "(none)"
    if spec.value is not None:
        return f"value {spec.value:g}"
    if spec.scurve is not None:
        sc = spec.scurve
        mid = (f"midpoint {sc.midpoint:g}" if sc.midpoint is not None and sc.anchor is None
               else f"through {sc.anchor.value} in {sc.anchor.year}" if sc.anchor is not None
               else "")
        return f"S-curve {sc.start:g}→{sc.end:g}, {mid}, steepness {sc.steepness:g}"
    pts = spec.points or {}
    return "points " + ", ".join(f"{y}: {v:g}" for y, v in sorted(pts.items()))


def _path_of(spec: PathSpec | None) -> Any:
    """What the engine reads of a path: its form and numbers."""
    if spec is None:
        return None
    return spec.model_dump(include={"value", "scurve", "points"}, exclude_none=True)


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _engine_view(section: str, value: Any) -> Any:
    """A section as the engine sees it (prose and provenance fields dropped)."""
    prose = _PROSE_FIELDS.get(section)
    if not prose:
        return value
    if section == "segments":
        return {k: {f: v for f, v in seg.items() if f not in prose} for k, seg in value.items()}
    return {f: v for f, v in value.items() if f not in prose}


def assumption_changes(a: Scenario, b: Scenario, by: Literal["parameter", "group"] = "parameter",
                       availability: tuple[Availability | None, Availability | None] = (None,
                                                                                        None),
                       ) -> pd.DataFrame:
    """Every difference between two scenarios, one row each.

    Columns ``item, applies_to, what, a, b, player``: ``player`` is the name under which
    the change is attributed, or empty when the engine does not read it (provenance,
    distributions, calibration targets, names).
    """
    reg = registry()
    rows: list[dict[str, str]] = []

    def player_of(item: str) -> str:
        if by == "group":
            return reg[item].group if item in reg else SECTION_GROUPS.get(item, item)
        return item

    order = {n: i for i, n in enumerate(reg)}
    names = sorted(set(a.parameters) | set(b.parameters), key=lambda n: (order.get(n, 1e9), n))
    for name in names:
        pa, pb = a.parameters.get(name), b.parameters.get(name)
        if pa is None or pb is None:
            rows.append({"item": name, "applies_to": "default", "what": "parameter",
                         "a": "(none)" if pa is None else _describe(pa),
                         "b": "(none)" if pb is None else _describe(pb),
                         "player": player_of(name)})
            continue
        for key in ["default", *sorted(set(pa.overrides) | set(pb.overrides))]:
            sa = pa if key == "default" else pa.overrides.get(key)
            sb = pb if key == "default" else pb.overrides.get(key)
            if _path_of(sa) != _path_of(sb):
                what = ("override added" if sa is None else "override removed" if sb is None
                        else "path")
                rows.append({"item": name, "applies_to": key, "what": what,
                             "a": _describe(sa), "b": _describe(sb), "player": player_of(name)})
            da = sa.dist if sa is not None else None
            db = sb.dist if sb is not None else None
            if sa is not None and sb is not None and da != db:
                rows.append({"item": name, "applies_to": key, "what": "distribution",
                             "a": _short(sorted(map(str, da or {}))),
                             "b": _short(sorted(map(str, db or {}))), "player": ""})
            for prov in ("source", "year", "note"):
                va, vb = getattr(sa, prov, None), getattr(sb, prov, None)
                if sa is not None and sb is not None and va != vb:
                    rows.append({"item": name, "applies_to": key, "what": prov,
                                 "a": _short(va), "b": _short(vb), "player": ""})
        if pa.unit != pb.unit:
            rows.append({"item": name, "applies_to": "default", "what": "unit", "a": pa.unit,
                         "b": pb.unit, "player": ""})
    da_map, db_map = a.model_dump(mode="json"), b.model_dump(mode="json")
    for section in ENGINE_SECTIONS:
        va, vb = da_map[section], db_map[section]
        if _engine_view(section, va) != _engine_view(section, vb):
            rows.append({"item": section, "applies_to": "", "what": "section",
                         "a": _short(va), "b": _short(vb), "player": player_of(section)})
        elif va != vb:
            rows.append({"item": section, "applies_to": "", "what": "provenance",
                         "a": _short(va), "b": _short(vb), "player": ""})
    for section in ("name", "version", "description", "targets", "calibration",
                    "uncertainty"):
        if da_map[section] != db_map[section]:
            what = {"calibration": "calibration targets (checks only)",
                    "targets": "named target set (checks only)",
                    "uncertainty": "correlations"}.get(section, "label")
            rows.append({"item": section, "applies_to": "", "what": what,
                         "a": _short(da_map[section]), "b": _short(db_map[section]),
                         "player": ""})
    av_a, av_b = (availability_json(x) for x in availability)
    if av_a != av_b:
        rows.append({"item": "availability", "applies_to": "", "what": "simulated",
                     "a": _short((av_a or {}).get("source", "scenario")),
                     "b": _short((av_b or {}).get("source", "scenario")),
                     "player": player_of("availability")})
    return pd.DataFrame(rows, columns=["item", "applies_to", "what", "a", "b", "player"])


# --------------------------------------------------------------------------- outputs

@dataclass(frozen=True)
class Output:
    """A key World output: its name, label and unit."""

    name: str
    label: str
    unit: str


def key_outputs() -> list[Output]:
    """EV stock, the share of the EV stock in each state, and each capacity metric."""
    out = [Output("ev_stock", "EV stock", "vehicles")]
    out += [Output(f"state_share.{s}", f"{STATE_LABELS[s]} share", "fraction of EV stock")
            for s in STATES]
    out += [Output(f"capacity.{m}", m.replace("_", " "), unit) for m, unit in METRICS.items()]
    return out


def outputs_from_arrays(arrays: Mapping[str, np.ndarray], year_index: list[int]) -> np.ndarray:
    """Key outputs (:func:`key_outputs`) from :func:`compute_arrays`: (..., output, year).

    World figures are sums over regions and segments; shares are World counts over the
    World EV stock (as :meth:`evflex.model.Results.world_state_shares`).
    """
    ev_stock = arrays["ev_stock_pt"].sum(axis=(-4, -3, -2))  # (..., T)
    states = arrays["states"].sum(axis=(-4, -3))  # (..., state, T)
    safe = np.where(ev_stock > 0, ev_stock, 1.0)
    outside = np.zeros(len(STATES))
    outside[STATES.index("outside")] = 1.0
    shares = np.where(ev_stock[..., None, :] > 0, states / safe[..., None, :],
                      outside[:, None])
    caps = [arrays[f"capacity_{m}"].sum(axis=(-3, -2)) for m in METRICS]
    stacked = np.concatenate([ev_stock[..., None, :], shares, np.stack(caps, axis=-2)],
                             axis=-2)
    return stacked[..., year_index]


def _f(value: Any) -> float:
    return float(value)


def outputs_from_tables(tables: Mapping[str, pd.DataFrame], years: list[int]) -> np.ndarray:
    """Key outputs from stored result tables (``states``, ``fleet``, ``capacity``)."""
    states = tables["states"]
    states = states[(states["region"] == WORLD) & (states["segment"] == ALL_SEGMENTS)]
    share = states.pivot(index="state", columns="year", values="share")
    fleet = tables["fleet"]
    fleet = fleet[(fleet["region"] == WORLD) & (fleet["segment"] == ALL_SEGMENTS)]
    ev = fleet.set_index("year")["ev_stock"]
    cap = tables["capacity"]
    cap = cap[cap["region"] == WORLD].pivot(index="metric", columns="year", values="value")
    rows = [[float(ev[y]) for y in years]]
    rows += [[_f(share.loc[s, y]) for y in years] for s in STATES]
    rows += [[_f(cap.loc[m, y]) for y in years] for m in METRICS]
    return np.array(rows)


# --------------------------------------------------------------------------- coalitions

def _sections_of(player: str, changes: pd.DataFrame) -> list[tuple[str, ...]]:
    """The scenario keys a player moves from B into A."""
    items = changes.loc[changes["player"] == player, "item"].unique()
    keys: list[tuple[str, ...]] = []
    for item in items:
        if item == "availability":
            keys.append(("availability",))
        elif item in ENGINE_SECTIONS:
            keys.append((item,))
        else:
            keys.append(("parameters", item))
    return keys


def _strip_uncertainty(data: dict[str, Any]) -> dict[str, Any]:
    """Distributions, correlations and calibration targets removed: the engine's outputs
    compared here do not read them (and A's targets need not lie on B's year axis)."""
    data.pop("uncertainty", None)
    data.pop("calibration", None)
    data.pop("targets", None)
    for param in data.get("parameters", {}).values():
        param.pop("dist", None)
        for spec in param.get("overrides", {}).values():
            spec.pop("dist", None)
    return data


@dataclass
class Game:
    """The coalition game between two sides: players and how to build each coalition."""

    a: Side
    b: Side
    players: list[str]
    keys: list[list[tuple[str, ...]]]
    years: list[int]

    def scenario(self, coalition: np.ndarray) -> tuple[Scenario, Availability | None]:
        """The scenario (and availability) of A with the coalition's players from B."""
        data = _strip_uncertainty(as_mapping(self.a.scenario))
        b_data = as_mapping(self.b.scenario)
        availability = self.a.availability
        for member, keys in zip(coalition, self.keys, strict=True):
            if not member:
                continue
            for key in keys:
                if key == ("availability",):
                    availability = self.b.availability
                elif key[0] == "parameters":
                    data["parameters"][key[1]] = copy.deepcopy(b_data["parameters"][key[1]])
                else:
                    data[key[0]] = copy.deepcopy(b_data[key[0]])
        data = _strip_uncertainty(data)
        names = [p for p, m in zip(self.players, coalition, strict=True) if m]
        try:
            sc = parse(data, f"A with {', '.join(names) or 'nothing'} from B")
        except ScenarioError as exc:
            raise DiffError(f"coalition {{{', '.join(names)}}}: {exc.problems[0]} — these "
                            "changes only make sense together; attribute them as one (try "
                            "--by group)") from None
        return sc, availability

    def value(self, coalitions: np.ndarray) -> np.ndarray:
        """Key outputs of each coalition: shape (coalitions, output, year)."""
        built = [self.scenario(c) for c in coalitions]
        out = np.empty((len(coalitions), len(key_outputs()), len(self.years)))
        groups: dict[Any, list[int]] = {}
        for i, (sc, av) in enumerate(built):
            structure = (tuple(sc.years_axis), sc.years.history_end, tuple(sc.regions),
                         tuple((k, s.iea_mode) for k, s in sc.segments.items()),
                         sc.options, id(av))
            groups.setdefault(structure, []).append(i)
        for members in groups.values():
            sc0, av0 = built[members[0]]
            year_index = [sc0.years_axis.index(y) for y in self.years]
            for start in range(0, len(members), CHUNK):
                chunk = members[start:start + CHUNK]
                evaluated = [evaluate_all(built[i][0]) for i in chunk]
                params = {k: np.stack([e[k] for e in evaluated]) for k in evaluated[0]}
                arrays = compute_arrays(sc0, params, av0)
                out[chunk] = outputs_from_arrays(arrays, year_index)
        return out


# --------------------------------------------------------------------------- the diff

@dataclass
class Diff:
    """Everything :func:`diff` found; see the module docstring."""

    a: Side
    b: Side
    years: list[int]
    changes: pd.DataFrame
    players: list[str]
    outputs: pd.DataFrame  # output, label, unit, year, value_a, value_b, change
    attribution: pd.DataFrame  # the rows of diff.csv
    verdicts: pd.DataFrame  # kind, item, a, b, changed
    method: str
    evaluations: int
    permutations: int | None
    seed: int | None
    reproduced: dict[str, float | None]  # side → largest relative gap to the stored run

    def summary(self) -> dict[str, Any]:
        """Metadata of the diff, for ``diff.json``."""
        def side(s: Side) -> dict[str, Any]:
            return {"ref": s.ref, "kind": s.kind, "label": s.label, "scenario": s.scenario.name,
                    "version": s.scenario.version, "hash": scenario_hash(s.scenario),
                    "run_id": s.run.run_id if s.run else None,
                    "availability": s.availability.source if s.availability else "scenario"}
        return {"a": side(self.a), "b": side(self.b), "years": self.years,
                "players": self.players, "method": self.method,
                "coalitions_evaluated": self.evaluations, "permutations": self.permutations,
                "seed": self.seed, "reproduced_max_relative_gap": self.reproduced}


def _verdicts(a: Side, b: Side) -> pd.DataFrame:
    """Checks and scorecard verdicts of both sides, side by side.

    A side without stored tables (a shipped scenario name, a scenario file, or a run
    recorded without them) is run through the pipeline with the shipped evidence, so
    that a verdict change always appears.
    """
    from evflex.pipeline import run

    rows = []
    tables = {}
    for name, s in (("a", a), ("b", b)):
        if "checks" not in s.tables or "scorecard" not in s.tables:
            # A scenario side (shipped name or file), or a run stored without its
            # judgement: judge it the way `evflex run` does, so verdicts always appear.
            full = run(s.scenario, availability=s.availability).tables
            s.tables.update({k: v for k, v in full.items() if k not in s.tables})
        tables[name] = s.tables
    ca = tables["a"]["checks"].set_index("check")["status"]
    cb = tables["b"]["checks"].set_index("check")["status"]
    for check in list(dict.fromkeys([*ca.index, *cb.index])):
        va, vb = str(ca.get(check, "(none)")), str(cb.get(check, "(none)"))
        rows.append({"kind": "check", "item": check, "a": va, "b": vb, "changed": va != vb})
    sa, sb = tables["a"]["scorecard"], tables["b"]["scorecard"]
    ma = sa.set_index("pathway")["verdict"].astype(str)
    mb = sb.set_index("pathway")["verdict"].astype(str)
    for item in list(dict.fromkeys([*ma.index, *mb.index])):
        va, vb = str(ma.get(item, "(none)")), str(mb.get(item, "(none)"))
        rows.append({"kind": "scorecard", "item": item, "a": va, "b": vb,
                     "changed": va != vb})
    return pd.DataFrame(rows, columns=["kind", "item", "a", "b", "changed"])


def diff(a: str | Side, b: str | Side, store: RunStore | None = None,
         years: list[int] | None = None, by: Literal["parameter", "group"] = "parameter",
         exact_max: int = shapley.EXACT_MAX_PLAYERS,
         permutations: int = shapley.DEFAULT_PERMUTATIONS, seed: int = 1) -> Diff:
    """Compare two runs or scenarios and attribute the change of each key output.

    ``a`` and ``b`` are refs (see :func:`resolve_side`) or sides. ``years`` default to
    :data:`DEFAULT_YEARS` (those on both year axes). Raises :class:`DiffError`.
    """
    side_a = a if isinstance(a, Side) else resolve_side(a, store, "A")
    side_b = b if isinstance(b, Side) else resolve_side(b, store, "B")
    axis = sorted(set(side_a.scenario.years_axis) & set(side_b.scenario.years_axis))
    if years:
        bad = [y for y in years if y not in axis]
        if bad:
            raise DiffError(f"--year: not on both year axes (got {bad[0]}, expected "
                            f"{axis[0]} to {axis[-1]})")
        chosen = sorted(set(years))
    else:
        chosen = [y for y in DEFAULT_YEARS if y in axis] or [axis[-1]]

    changes = assumption_changes(side_a.scenario, side_b.scenario, by,
                                 (side_a.availability, side_b.availability))
    players = list(dict.fromkeys(p for p in changes["player"] if p))
    outs = key_outputs()
    if players:
        game = Game(side_a, side_b, players, [_sections_of(p, changes) for p in players],
                    chosen)
        result = shapley.shapley(len(players), game.value, exact_max=exact_max,
                                 permutations=permutations, seed=seed)
        phi, v_a, v_b = result.values, result.empty, result.full
    else:
        game = Game(side_a, side_b, [], [], chosen)
        v_a = game.value(np.zeros((1, 0), dtype=bool))[0]
        v_b = v_a
        phi = np.zeros((0, *v_a.shape))
        result = shapley.Attribution(phi, v_a, v_b, "none", 1)

    reproduced: dict[str, float | None] = {}
    for name, s, v in (("a", side_a, v_a), ("b", side_b, v_b)):
        if s.run is None:
            reproduced[name] = None
            continue
        stored = outputs_from_tables(s.tables, chosen)
        scale = np.maximum(np.abs(stored), 1e-12)
        reproduced[name] = float(np.max(np.abs(stored - v) / scale))

    out_rows, rows = [], []
    for j, o in enumerate(outs):
        for k, year in enumerate(chosen):
            total = float(v_b[j, k] - v_a[j, k])
            out_rows.append({"output": o.name, "label": o.label, "unit": o.unit, "year": year,
                             "value_a": float(v_a[j, k]), "value_b": float(v_b[j, k]),
                             "change": total})
            for i, p in enumerate(players):
                att = float(phi[i, j, k])
                rows.append({"output": o.name, "label": o.label, "unit": o.unit, "year": year,
                             "group": p, "attribution": att, "total_change": total,
                             "share_of_change": att / total if total != 0 else float("nan"),
                             "value_a": float(v_a[j, k]), "value_b": float(v_b[j, k]),
                             "method": result.method})
    attribution = pd.DataFrame(rows, columns=[
        "output", "label", "unit", "year", "group", "attribution", "total_change",
        "share_of_change", "value_a", "value_b", "method"])
    return Diff(a=side_a, b=side_b, years=chosen, changes=changes, players=players,
                outputs=pd.DataFrame(out_rows), attribution=attribution,
                verdicts=_verdicts(side_a, side_b), method=result.method,
                evaluations=result.evaluations, permutations=result.permutations,
                seed=result.seed, reproduced=reproduced)
