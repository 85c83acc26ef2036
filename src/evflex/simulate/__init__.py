"""Vehicle simulation: availability, state-of-charge headroom and hourly profiles.

Sessions are sampled from sourced archetypes (:mod:`.archetypes`), scheduled three
ways (:mod:`.strategies`: unmanaged, exact min-peak managed, V2G) with compiled
kernels (:mod:`.kernels`), in chunks of vehicles reduced to per-step sums
(:mod:`.run`). :func:`availability_from_simulation` is the seam to the engine's
capacity layer; ``evflex simulate`` is :func:`evflex.cli.simulate.simulate`.

>>> from evflex.simulate import SimulationConfig, simulate, availability_from_simulation
>>> result = simulate(SimulationConfig(vehicles=50, days=1, seed=1))
>>> 0 < availability_from_simulation(result).plug_in_share_at_peak <= 1
True
"""

from evflex.simulate.archetypes import SimulationInputError, load_archetypes, parse_step
from evflex.simulate.run import (
    SimulationConfig,
    SimulationResult,
    availability_from_simulation,
    read_base_load,
    simulate,
    simulate_for_run,
)

__all__ = [
    "SimulationConfig",
    "SimulationInputError",
    "SimulationResult",
    "availability_from_simulation",
    "load_archetypes",
    "parse_step",
    "read_base_load",
    "simulate",
    "simulate_for_run",
]
