"""Record a finished run of the engine in the store: the call behind ``evflex run --store``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evflex.store.content import scenario_hash, scenario_text
from evflex.store.db import RunStore, StoreError

if TYPE_CHECKING:
    from evflex.capacity import Availability
    from evflex.model import Results


def availability_json(availability: Availability | None) -> dict[str, Any] | None:
    """The availability of a run as JSON-ready numbers (``None``: from the scenario)."""
    if availability is None or availability.source == "scenario":
        return None
    out: dict[str, Any] = {}
    for f in fields(availability):
        value = getattr(availability, f.name)
        out[f.name] = value if isinstance(value, str) else np.asarray(value, float).tolist()
    return out


def availability_from_json(data: Mapping[str, Any] | None) -> Availability | None:
    """The inverse of :func:`availability_json`."""
    from evflex.capacity import Availability

    if not data:
        return None
    kwargs: dict[str, Any] = {k: (v if isinstance(v, str) else np.asarray(v, float))
                              for k, v in data.items()}
    return Availability(**kwargs)


def record_run(store_path: str | Path | None, results: Results,
               tables: Mapping[str, pd.DataFrame],
               scenario_source: str | Path | None = None, *,
               availability: Availability | None = None, timeout: float | None = None) -> str:
    """Store one finished run and return its run id.

    Parameters
    ----------
    store_path : the store file; ``None`` for :func:`~evflex.store.db.default_store_path`.
    results : the run (its scenario and availability source are recorded).
    tables : the result tables to keep, e.g. ``states, fleet, funnel, capacity, checks``
        (and ``scorecard`` or any other), exactly as written to the output folder.
    scenario_source : the scenario file or shipped name that was run; its merged YAML is
        stored (it must validate to ``results.scenario``). ``None``: the validated
        scenario is stored instead.
    availability : the availability passed to the engine when it did not come from the
        scenario (``evflex run --simulate``), so that the run can be re-run exactly.

    Raises :class:`~evflex.store.db.StoreError` (one line) if the run cannot be stored;
    the store is then unchanged.
    """
    sc = results.scenario
    try:
        text, source = scenario_text(sc, scenario_source)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    store = RunStore(store_path) if timeout is None else RunStore(store_path, timeout)
    return store.add(
        scenario_name=sc.name, scenario_version=sc.version, scenario_hash=scenario_hash(sc),
        scenario_yaml=text, scenario_source=source, tables=tables,
        availability_source=str(results.data.attrs.get("availability_source", "scenario")),
        availability=availability_json(availability))
