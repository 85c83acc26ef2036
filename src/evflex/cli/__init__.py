"""The ``evflex`` command line: a thin edge over the pipeline and the analyses.

Exit codes: 0 success; 1 bad input (scenario, file, option value); 2 usage errors from
the parser; 3 the run finished but denominator checks failed (unless
``--allow-failed-checks``); 4 ``solve`` found no reachable solution. Errors are one line
per problem, never a traceback.

Each command group lives in its own module of this package and is imported only when
its command runs (:class:`LazyGroup`), so ``evflex --help`` and ``evflex --version``
import none of the engine, and a command whose optional extra is not installed says
which extra to install instead of failing at start-up.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

EXIT_BAD_INPUT = 1


@dataclass(frozen=True)
class CommandSpec:
    """Where a command lives and what it needs: module, optional extra, one-line help."""

    module: str
    help: str
    extra: str | None = None


#: Every command, in the order ``evflex --help`` lists them. The module's
#: ``register(app)`` adds the command (or group) of that name.
COMMANDS: dict[str, CommandSpec] = {
    "run": CommandSpec("evflex.cli.run", "Run a scenario: states, capacity, checks, judgement, "
                       "workbook and report."),
    "validate": CommandSpec("evflex.cli.run", "Validate scenario files: exit 0, or one line "
                            "per problem and exit 1."),
    "scenarios": CommandSpec("evflex.cli.run", "List the shipped scenarios."),
    "simulate": CommandSpec("evflex.cli.simulate", "Simulate vehicles' days: unmanaged, "
                            "managed and V2G charging profiles.", "sim"),
    "montecarlo": CommandSpec("evflex.cli.uncertainty", "Monte Carlo over the scenario's "
                              "distributions: quantiles, fan charts, verdict probabilities.",
                              "uncertainty"),
    "sensitivity": CommandSpec("evflex.cli.uncertainty", "Sobol sensitivity indices of the "
                               "key outputs (SALib).", "uncertainty"),
    "solve": CommandSpec("evflex.cli.uncertainty", "Filter end values closest to the base "
                         "that reach given targets.", "uncertainty"),
    "runs": CommandSpec("evflex.cli.store", "Browse the run store: list, show, export, "
                        "check.", "store"),
    "diff": CommandSpec("evflex.cli.store", "Compare two runs or scenarios and attribute the "
                        "change to the assumptions that moved it.", "store"),
    "serve": CommandSpec("evflex.cli.web", "Serve the interactive explorer in the browser.",
                         "web"),
    "export": CommandSpec("evflex.export.command", "Export the run for energy-system models: "
                          "PyPSA components (also the pypsa extra), NetCDF.", "sim"),
}

#: Top-level packages of each optional extra (see ``pyproject.toml``).
EXTRA_PACKAGES: dict[str, tuple[str, ...]] = {
    "sim": ("numba", "llvmlite"),
    "uncertainty": ("dask", "distributed", "SALib"),
    "store": ("duckdb",),
    "web": ("fastapi", "uvicorn", "starlette"),
    "pypsa": ("pypsa", "linopy", "highspy"),
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra that provides the module ``exc`` could not find, if it is one of ours."""
    top = (exc.name or "").split(".")[0]
    for extra, packages in EXTRA_PACKAGES.items():
        if top in packages:
            return extra
    return None


def extra_hint(command: str, extra: str, module: str | None) -> str:
    """One line: what to install for ``command``."""
    return (f"evflex {command}: needs the optional '{extra}' extra ({module} is not "
            f"installed); install it with: pip install 'evflex[{extra}]'")


def _unavailable(ctx: Any, name: str, line: str) -> Any:
    """A stand-in command that prints why the real one cannot run, and exits 1."""
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @sub.command(name, help=line, context_settings={
        "ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
    def _stand_in(context: typer.Context) -> None:
        typer.echo(line, err=True)
        raise typer.Exit(EXIT_BAD_INPUT)

    return typer.main.get_group(sub).get_command(ctx, name)


class LazyGroup(TyperGroup):
    """A typer group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        try:
            module = importlib.import_module(spec.module)
        except ModuleNotFoundError as exc:
            extra = missing_extra(exc)
            if extra is None:
                raise
            return _unavailable(ctx, cmd_name, extra_hint(cmd_name, extra, exc.name))
        sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        module.register(sub)
        command: Any = typer.main.get_group(sub).get_command(ctx, cmd_name)
        invoke = command.invoke

        def invoke_or_name_the_extra(context: Any) -> Any:
            # A command may import an extra's package only on some paths (e.g.
            # `sensitivity` needs SALib, `montecarlo --scheduler` needs dask).
            try:
                return invoke(context)
            except ModuleNotFoundError as exc:
                extra = missing_extra(exc)
                if extra is None:
                    raise
                typer.echo(extra_hint(cmd_name, extra, exc.name), err=True)
                raise typer.Exit(EXIT_BAD_INPUT) from None

        command.invoke = invoke_or_name_the_extra
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # Plain help: typer's rich formatter would import every command to list it.
        super(TyperGroup, self).format_help(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, spec.help + (f" [extra: {spec.extra}]" if spec.extra else ""))
                for name, spec in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="evflex",
    cls=LazyGroup,
    help="How much of the EV fleet is really a grid resource, year by year to 2100.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from evflex import __version__

        typer.echo(f"evflex {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """evflex: the EV fleet counted once by its highest active grid use case."""


__all__ = ["COMMANDS", "EXTRA_PACKAGES", "LazyGroup", "app", "extra_hint", "missing_extra"]
