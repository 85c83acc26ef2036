"""One run, end to end: scenario → engine → checks → energy funnel → judgement → tables.

Every edge (the CLI, the explorer, the workbook and report writers, the run store, the
tests) gets its tables from :func:`run`, so that no two of them can assemble a run
differently.

>>> from evflex.pipeline import run
>>> r = run("base")                                   # doctest: +SKIP
>>> r.tables["scorecard"]                             # doctest: +SKIP
>>> r.failed_checks                                   # doctest: +SKIP

The scenario is always validated, objects built in code included: a
:class:`~evflex.scenario.Scenario` edited with ``model_copy`` goes through the same
schema and cross-field checks as a YAML file (:func:`evflex.scenario.validated`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from evflex.checks import failed, run_checks
from evflex.energy_funnel import energy_funnel
from evflex.glossary import DEFAULT_FUNNEL_YEAR
from evflex.model import Results, compute
from evflex.scenario import Scenario, parameter_table, validated

if TYPE_CHECKING:
    from evflex.capacity import Availability
    from evflex.simulate.run import SimulationConfig

#: The engine's own tables, in the order they are written.
ENGINE_TABLES: tuple[str, ...] = ("states", "fleet", "funnel", "capacity")
#: The judgement's tables, in the order they are written.
JUDGEMENT_TABLES: tuple[str, ...] = ("evidence", "triggers", "scorecard", "comparators",
                                     "implications", "summary")


class PipelineError(ValueError):
    """A run that cannot be made from these inputs (e.g. a funnel year outside the run)."""


@dataclass(frozen=True, repr=False)
class Run:
    """Everything one run produced.

    Attributes
    ----------
    results : the engine's :class:`~evflex.model.Results` (dataset and scenario).
    checks : the denominator checks (``check, status, value, limit, detail``).
    energy_funnel : naive battery → deliverable GWh and GW in ``funnel_year``.
    judgement : ``evidence, triggers, scorecard, comparators, implications, summary``
        (empty when the run was made with ``judgement=False``).
    hourly : the simulated hourly profile and availability, when vehicles were simulated
        (each region's binding week).
    simulated : the simulation's per-region rows of the assumption table and its
        per-region, per-season figures (``simulation_seasons``), when simulated.
    funnel_year : the year of the energy funnel.
    regions : the regions the tables keep (with the aggregates containing them), or
        ``None`` for every region; the run itself always covers the whole scenario.
    """

    results: Results
    checks: pd.DataFrame
    energy_funnel: pd.DataFrame
    judgement: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    hourly: pd.DataFrame | None = None
    simulated: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    funnel_year: int = DEFAULT_FUNNEL_YEAR
    regions: list[str] | None = None

    @property
    def scenario(self) -> Scenario:
        return self.results.scenario

    @property
    def availability(self) -> Availability | None:
        """The simulated availability, or ``None`` when it came from the scenario."""
        return self.results.availability

    @cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the run, in the order ``evflex run`` writes them."""
        out: dict[str, pd.DataFrame] = dict(self.results.frames(self.regions))
        out["checks"] = self.checks
        out["energy_funnel"] = self.energy_funnel
        out["assumptions"] = parameter_table(self.scenario)
        if "assumptions" in self.simulated:  # the simulated values this run used
            out["assumptions"] = pd.concat([out["assumptions"],
                                            self.simulated["assumptions"]],
                                           ignore_index=True)
        if self.results.blocks:  # a country run: each region's EV stock against the IEA's
            history = self.results.history_frame()
            if self.regions is not None:
                keep = self.results.output_regions(self.regions)
                history = history[history["region"].isin(keep)].reset_index(drop=True)
            out["history"] = history
            if "evidence" in self.judgement:  # the present against the country's evidence
                from evflex.nowcast import nowcast_table

                out["nowcast"] = nowcast_table(self.results, self.judgement["evidence"],
                                             self.regions)
        if self.hourly is not None:
            out["hourly"] = self.hourly
        if "seasons" in self.simulated:
            out["simulation_seasons"] = self.simulated["seasons"]
        for name in JUDGEMENT_TABLES:
            if name in self.judgement:
                out[name] = self.judgement[name]
        return out

    @property
    def data(self) -> xr.Dataset:
        """The engine's dataset (:attr:`evflex.model.Results.data`)."""
        return self.results.data

    def world_state_shares(self, year: int) -> dict[str, float]:
        """World shares of the EV stock by state in one year [fraction]."""
        return self.results.world_state_shares(year)

    @property
    def failed_checks(self) -> pd.DataFrame:
        """The checks that failed (empty when all pass)."""
        return failed(self.checks)

    def __repr__(self) -> str:
        sc = self.scenario
        n_pass = int((self.checks["status"] == "pass").sum())
        verdicts = ""
        if "scorecard" in self.judgement:
            verdicts = ", " + ", ".join(f"{r.pathway}={r.verdict}"
                                        for r in self.judgement["scorecard"].itertuples())
        return (f"<evflex Run {sc.name} v{sc.version}: {len(sc.regions)} regions × "
                f"{len(sc.segments)} segments × {len(sc.years_axis)} years, checks "
                f"{n_pass}/{len(self.checks)} pass{verdicts}>")


def run(scenario: Scenario | str | Path | None = None, *,
        evidence: pd.DataFrame | None = None,
        simulate: SimulationConfig | None = None,
        availability: Availability | None = None,
        funnel_year: int | None = None,
        regions: list[str] | None = None,
        judgement: bool = True,
        progress: Callable[[int, int], None] | None = None) -> Run:
    """Run a scenario end to end.

    Parameters
    ----------
    scenario : a :class:`Scenario` object, a shipped name or a YAML path (default
        ``base``); always validated (:class:`evflex.scenario.ScenarioError` if not valid).
    evidence : the evidence ledger; default the shipped one.
    simulate : simulate each region's vehicles over a year of representative weeks and
        take its availability at the peak from the simulation
        (:func:`evflex.simulate.regional.simulate_regions`).
    availability : availability to use directly (e.g. a stored run's); not with
        ``simulate``.
    funnel_year : year of the energy funnel; default 2050, or the run's last year.
    regions : keep only these regions (and the aggregates containing them) in the tables.
    judgement : judge the run (evidence, triggers, scorecard, comparators, implications,
        summary); the explorer's chart requests skip it.
    progress : ``progress(done, total)`` while vehicles are simulated.
    """
    sc = validated(scenario)
    if funnel_year is not None and funnel_year not in sc.years_axis:
        raise PipelineError(f"funnel year outside the scenario's years (got {funnel_year}, "
                            f"expected {sc.years.start} to {sc.years.end})")
    if simulate is not None and availability is not None:
        raise PipelineError("give either a simulation or an availability, not both")

    hourly = None
    simulated: dict[str, pd.DataFrame] = {}
    if simulate is not None:
        from evflex.simulate.regional import simulate_regions

        sim = simulate_regions(sc, simulate, progress=progress)
        availability = sim.availability
        hourly = sim.hourly
        simulated = {"assumptions": sim.assumptions, "seasons": sim.seasons}

    results = Results(scenario=sc, data=compute(sc, availability), availability=availability)
    return finish(results, evidence=evidence, funnel_year=funnel_year, judgement=judgement,
                  hourly=hourly, regions=regions, simulated=simulated)


def finish(results: Results, *, evidence: pd.DataFrame | None = None,
           funnel_year: int | None = None, judgement: bool = True,
           hourly: pd.DataFrame | None = None, regions: list[str] | None = None,
           simulated: Mapping[str, pd.DataFrame] | None = None) -> Run:
    """The rest of the pipeline on an engine run already made (the explorer caches
    engine runs): checks, energy funnel and judgement. Parameters as :func:`run`."""
    years = results.scenario.years_axis
    if funnel_year is None:
        funnel_year = DEFAULT_FUNNEL_YEAR if DEFAULT_FUNNEL_YEAR in years else int(years[-1])
    elif funnel_year not in years:
        raise PipelineError(f"funnel year outside the scenario's years (got {funnel_year}, "
                            f"expected {years[0]} to {years[-1]})")
    checks = run_checks(results)
    funnel = energy_funnel(results.data, funnel_year)
    judged: dict[str, pd.DataFrame] = {}
    if judgement:
        from evflex.judgement import judge, load_evidence

        ledger = load_evidence() if evidence is None else evidence
        judged = judge(results, ledger)
    return Run(results=results, checks=checks, energy_funnel=funnel, judgement=judged,
               hourly=hourly, simulated=dict(simulated or {}), funnel_year=funnel_year,
               regions=regions)
