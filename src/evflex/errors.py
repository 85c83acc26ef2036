"""Errors of bad input to the domain functions, in the domain's own words.

A domain function (simulate, solve, Monte Carlo, ...) names the *field* it was given in
its own vocabulary (``vehicles``, ``draws``, ``target``) and says what is wrong with
it; it never names a command-line flag. The edges map fields to their own names: the
CLI to its options (``draws`` → ``--draws``, or ``vehicles`` → ``--sim-vehicles`` under
``evflex run``), the explorer to its JSON fields.

>>> err = InputError("draws", "too few (got 1, expected at least 2)")
>>> str(err)
'draws: too few (got 1, expected at least 2)'
>>> err.as_option({"draws": "--draws"})
'--draws: too few (got 1, expected at least 2)'
"""

from __future__ import annotations

from collections.abc import Mapping


class InputError(ValueError):
    """Bad input: ``field`` (a domain name) and ``problem`` (what is wrong, with the value
    got and what was expected)."""

    def __init__(self, field: str, problem: str | None = None):
        if problem is None:  # one message "field: problem" (an option name is tolerated)
            head, sep, rest = field.partition(": ")
            field, problem = ((head.lstrip("-").replace("-", "_"), rest) if sep
                              else ("input", field))
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem

    def as_option(self, options: Mapping[str, str] | None = None) -> str:
        """The message with the field named as the edge names it (default ``--field``)."""
        name = (options or {}).get(self.field, "--" + self.field.replace("_", "-"))
        return f"{name}: {self.problem}"


__all__ = ["InputError"]
