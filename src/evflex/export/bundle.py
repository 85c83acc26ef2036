"""One export: scenario → simulation → engine run → EV components, overlay, networks.

:func:`build_export` checks its inputs (years inside the run, known regions, a
simulation for every segment) and raises :class:`ExportInputError` with one line naming
the field; it writes nothing. :func:`export_files` maps each output file to the
function that writes it, for the atomic writer of :mod:`evflex.outputs.tables`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evflex.export.components import ExportInputError, export_tables, segment_fleets
from evflex.export.network import (
    RegionSystem,
    compare,
    compare_chart,
    compare_markdown,
    efficiencies,
    ev_network,
    export_figures,
    require_pypsa,
)
from evflex.export.overlay import overlay
from evflex.export.simulation import ExportSimulation, groups_table, simulate_segments
from evflex.model import Results
from evflex.scenario import Scenario

DEFAULT_YEARS = (2030, 2040, 2050)


@dataclass
class ExportBundle:
    """Everything one export writes, in memory."""

    results: Results
    checks: pd.DataFrame
    simulation: ExportSimulation
    years: list[int]
    regions: list[str]
    nodes: pd.DataFrame
    series: pd.DataFrame

    @property
    def meta(self) -> dict[str, Any]:
        sc = self.results.scenario
        return {"scenario": sc.name, "version": sc.version,
                "availability": self.results.data.attrs.get("availability_source", ""),
                "years": self.years, "regions": self.regions}

    def region_systems(self, year: int) -> list[RegionSystem]:
        """The regions' fleets and toy systems for :func:`compare`."""
        from evflex.simulate.run import read_base_load

        data = self.results.data
        segs = [str(s) for s in data["segment"].values]
        groups = [self.simulation.groups[s] for s in segs]
        pu = read_base_load()
        return [RegionSystem(region=r, fleets=segment_fleets(data, r, year), groups=groups,
                             vehicle_stock=float(data["stock"].sel(region=r, year=year).sum()),
                             base_load_pu=pu)
                for r in self.regions]


def parse_years(text: str | None, scenario: Scenario) -> list[int]:
    """Years from ``2030,2040,2050``, each inside the run."""
    axis = list(scenario.years_axis)
    if text is None:
        return [y for y in DEFAULT_YEARS if y in axis] or [axis[-1]]
    years: list[int] = []
    for part in str(text).split(","):
        try:
            year = int(part.strip())
        except ValueError:
            raise ExportInputError(f"years: not a year (got {part.strip()!r}, expected e.g. "
                                   "2030,2040,2050)") from None
        if year not in axis:
            raise ExportInputError(f"years: outside the run (got {year}, expected "
                                   f"{axis[0]} to {axis[-1]})")
        if year not in years:
            years.append(year)
    return years


def parse_regions(text: str | None, scenario: Scenario) -> list[str]:
    """Regions from ``Europe,USA``: region ids, IEA names or blocks (``EU27``) of the run."""
    from evflex.regions import RegionError, hierarchy

    if text is None:
        return list(scenario.regions)
    try:
        regions = hierarchy().resolve(str(text).split(","), list(scenario.regions))
    except RegionError as exc:
        raise ExportInputError(str(exc)) from None
    if not regions:
        raise ExportInputError(f"regions: none selected (got {text!r}, expected region ids, "
                               "names or blocks of the run)")
    return regions


def build_export(scenario: Scenario, years: Sequence[int], regions: Sequence[str],
                 sim_vehicles: int = 2000, sim_days: int = 7,
                 sim_seed: int = 1) -> ExportBundle:
    """Simulate, run the pipeline with the simulated availability, build the components."""
    from evflex.pipeline import run as run_pipeline

    segments = list(scenario.segments)
    sim = simulate_segments(segments, sim_vehicles, sim_days, sim_seed)
    done = run_pipeline(scenario, availability=sim.seam(segments), judgement=False)
    results = done.results
    nodes, series = export_tables(results.data, regions, years, sim.groups, efficiencies())
    return ExportBundle(results=results, checks=done.checks, simulation=sim, years=list(years),
                        regions=list(regions), nodes=nodes, series=series)


def export_tables_for_files(bundle: ExportBundle) -> dict[str, pd.DataFrame]:
    """The CSV tables of an export (name → table)."""
    capacity = bundle.results.frames()["capacity"]
    keep = capacity["region"].isin(bundle.regions) & capacity["year"].isin(bundle.years)
    figures = export_figures().reset_index()
    return {
        "nodes": bundle.nodes,
        "timeseries": bundle.series,
        "capacity": capacity[keep].reset_index(drop=True),
        "checks": bundle.checks,
        "simulation_summary": bundle.simulation.summary,
        "simulation_groups": groups_table(bundle.simulation.groups),
        "figures": figures,
    }


def export_files(bundle: ExportBundle, netcdf: bool = True, compare_year: int | None = None,
                 full_year: bool = False) -> dict[str, Callable[[Path], None]]:
    """Files beyond the CSV tables: overlay (YAML, JSON), networks, comparison.

    ``full_year``: the networks cover every hour of their year (the week repeated).
    """
    over = overlay(bundle.nodes, bundle.series, bundle.meta)
    text = {
        "pypsa_eur_overlay.yaml": "# evflex overlay for PyPSA-Eur: fields documented in "
        "docs/export_pypsa.md\n" + yaml.safe_dump(over, sort_keys=False),
        "pypsa_eur_overlay.json": json.dumps(over, indent=2),
    }
    files: dict[str, Callable[[Path], None]] = {
        name: partial(_write_text, content=content) for name, content in text.items()}
    if netcdf or compare_year is not None:
        require_pypsa()
    if netcdf:
        for year in bundle.years:
            files[f"network_{year}.nc"] = partial(_write_network, bundle=bundle, year=year,
                                                  full_year=full_year)
    if compare_year is not None:
        table, networks = compare(bundle.region_systems(compare_year), compare_year,
                                  efficiencies())
        files["compare.csv"] = lambda p: table.to_csv(p, index=False)
        files["compare.md"] = partial(_write_text,
                                      content=compare_markdown(table, bundle.meta))
        files["compare.png"] = lambda p: compare_chart(table, networks, _chart_region(table),
                                                       p)
    return files


def _chart_region(table: pd.DataFrame) -> str:
    """The region whose week the chart shows: the one with the largest unmanaged peaker."""
    un = table[table["case"] == "unmanaged"].reset_index(drop=True)
    return str(un["region"].iloc[int(un["peaker_mw"].to_numpy().argmax())])


def _write_text(path: Path, content: str) -> None:
    path.write_text(content, encoding="utf-8")


def _write_network(path: Path, bundle: ExportBundle, year: int, full_year: bool) -> None:
    import logging

    logging.getLogger("pypsa").setLevel(logging.WARNING)
    n = ev_network(bundle.nodes, bundle.series, year,
                   name=f"evflex EV components {bundle.meta['scenario']} {year}",
                   full_year=full_year)
    n.export_to_netcdf(str(path))
