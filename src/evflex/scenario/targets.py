"""Named target sets: calibration targets a scenario applies only by declaring them.

A scenario that says ``targets: seed-v3.0`` is held to the target set shipped in
``evflex/data/targets/seed-v3.0.yaml`` (the seed analysis's 2100 split by state); the
set becomes the scenario's ``calibration.states``. ``extends`` never passes ``targets``
on (see :func:`evflex.scenario.load.read_raw`), so a variant of a calibrated scenario is
not held to its parent's calibration. A missed target is reported, not failed
(:func:`evflex.checks.check_calibration_states`).
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

#: Folder of the shipped target sets, in the package data.
FOLDER = "targets"


def target_sets() -> dict[str, Path]:
    """Names and paths of the shipped target sets."""
    folder = resources.files("evflex.data").joinpath(FOLDER)
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir()
            if p.name.endswith(".yaml")}


@cache
def _read(name: str) -> dict[str, Any]:
    data = yaml.safe_load(target_sets()[name].read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("states"), dict), name
    return data


def target_set(name: str) -> dict[str, Any]:
    """The state targets of a shipped set (a ``calibration.states`` mapping).

    Raises :class:`KeyError` for a name that is not shipped.
    """
    if name not in target_sets():
        raise KeyError(name)
    return copy.deepcopy(_read(name)["states"])


def apply_targets(data: dict[str, Any]) -> tuple[str, str, str, str] | None:
    """Put the declared target set into a scenario mapping's ``calibration.states``.

    Returns ``None`` when all is well (or nothing is declared), else a problem as
    ``(field, problem, got, expected)`` for the loader to report.
    """
    name = data.get("targets")
    if name is None:
        return None
    if not isinstance(name, str) or name not in target_sets():
        return ("targets", "no such target set", repr(name)[:60],
                "one of " + ", ".join(sorted(target_sets())))
    calibration = data.get("calibration")
    given = calibration.get("states") if isinstance(calibration, dict) else None
    if given is not None and given == target_set(name):
        return None  # already applied (a validated scenario dumped and parsed again)
    if given is not None:
        return ("calibration.states", "state targets given twice",
                f"calibration.states and targets: {name}",
                "either a named target set or calibration.states, not both")
    if not isinstance(calibration, dict):
        calibration = {}
        data["calibration"] = calibration
    calibration["states"] = target_set(name)
    return None
