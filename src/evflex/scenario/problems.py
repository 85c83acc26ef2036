"""What is wrong with a scenario: one :class:`Problem` per line, gathered in a
:class:`ScenarioError` (the loader, the cross-field rules and the editor all raise it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    path: str
    problem: str
    got: str
    expected: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem} (got {self.got}, expected {self.expected})"


class ScenarioError(Exception):
    """A scenario file that cannot be used; ``problems`` says why, one line each."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


__all__ = ["Problem", "ScenarioError"]
