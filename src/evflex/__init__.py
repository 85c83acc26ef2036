"""evflex: how much of the electric-vehicle fleet is really a grid resource, to 2100.

The fleet is counted once by its highest active use case (``v2g``, ``v2h_v2b``,
``grid_managed``, ``smart_only``, ``outside``) after each condition of the filter stack
has been checked, then turned into the GW and GWh a grid operator can count on.

>>> import evflex
>>> r = evflex.run("base")                  # doctest: +SKIP
>>> r.tables["states"]                      # doctest: +SKIP
>>> r.tables["scorecard"]                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evflex.pipeline import Run

    __version__: str


def __getattr__(name: str) -> Any:
    """``__version__`` is read from the installed metadata on first use (importing
    :mod:`importlib.metadata` costs more than the rest of ``import evflex``)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("evflex")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0.0.0"
    raise AttributeError(f"module 'evflex' has no attribute {name!r}")


def run(scenario: Any = None, **options: Any) -> Run:
    """Run a scenario end to end: see :func:`evflex.pipeline.run` (imported on first use,
    so that ``import evflex`` stays light)."""
    from evflex.pipeline import run as _run

    return _run(scenario, **options)


__all__ = ["__version__", "run"]
