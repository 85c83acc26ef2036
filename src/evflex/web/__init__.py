"""The interactive explorer: ``evflex serve`` (FastAPI + uvicorn), a page and a JSON API.

Move an assumption and watch the fleet re-sort: each change re-runs the engine on the
server (:func:`evflex.model.run` on a shipped scenario whose parameters are overridden,
see :mod:`evflex.web.overrides`), and the page redraws the exclusive states, the energy
funnel and the grid capacity. The server holds no model logic: it validates, runs and
reshapes (:mod:`evflex.web.view`).
"""

from evflex.web.app import create_app, serve

__all__ = ["create_app", "serve"]
