"""evflex: how much of the electric-vehicle fleet is really a grid resource, to 2100.

The fleet is counted once by its highest active use case (``v2g``, ``v2h_v2b``,
``grid_managed``, ``smart_only``, ``outside``) after each condition of the filter stack
has been checked, then turned into the GW and GWh a grid operator can count on.

>>> import evflex
>>> results = evflex.run("base")            # doctest: +SKIP
>>> results.frames()["states"]              # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evflex")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def run(scenario=None, availability=None):
    """Run the engine; see :func:`evflex.model.run`."""
    from evflex.model import run as _run

    return _run(scenario, availability)


__all__ = ["__version__", "run"]
