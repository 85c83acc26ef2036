"""Shapley values: the share of a change due to each of several changed inputs.

Players are the groups of assumptions that differ between two scenarios A and B; the
value of a coalition S is the model's outputs with the assumptions in S taken from B and
all others from A, so ``v(∅)`` is A's outputs and ``v(N)`` is B's. The Shapley value of
player i is its marginal contribution averaged over every order in which the players
could be switched from A to B (Shapley 1953):

    φ_i = Σ_{S ⊆ N \\ {i}} |S|! (n - |S| - 1)! / n!  ·  (v(S ∪ {i}) - v(S))

Properties used and tested: *efficiency* (Σ φ_i = v(N) - v(∅), the whole change is
shared out), *symmetry*, *dummy* (a player that never changes the value gets 0) and
*additivity* (for an additive value each player gets its own effect).

- :func:`exact` evaluates all 2^n coalitions (for a few players);
- :func:`sampled` averages marginal contributions over random orders (Castro, Gómez and
  Tejada 2009, "Polynomial calculation of the Shapley value based on sampling"), drawn in
  antithetic pairs (each order and its reverse, which lowers the variance). Each order's
  contributions telescope to ``v(N) - v(∅)``, so the estimate is efficient too, up to
  floating-point rounding.

A value function takes a boolean matrix of coalitions (one row per coalition, one column
per player) and returns the values as an array with one row per coalition (any trailing
shape: here, one column per output). It is called once per method with every coalition
needed, so the engine can evaluate them as one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import factorial

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
ValueFunction = Callable[[BoolArray], FloatArray]

#: Up to this many players the default is the exact sum over all 2^n coalitions.
EXACT_MAX_PLAYERS = 8
#: Default number of sampled orders (rounded up to an even number: antithetic pairs).
DEFAULT_PERMUTATIONS = 128


@dataclass(frozen=True)
class Attribution:
    """Shapley values of ``n`` players for each output, and how they were computed.

    ``values`` has shape (n, ...) (player first), ``empty`` and ``full`` the values of
    the empty and the full coalition, shape (...).
    """

    values: FloatArray
    empty: FloatArray
    full: FloatArray
    method: str  # "exact" or "sampled"
    evaluations: int  # distinct coalitions evaluated
    permutations: int | None = None
    seed: int | None = None

    @property
    def total(self) -> FloatArray:
        """``v(N) - v(∅)``: the change to be shared out."""
        return self.full - self.empty


def coalitions(n: int) -> BoolArray:
    """All 2^n coalitions of ``n`` players; row ``m`` is the bit pattern of ``m``."""
    masks = np.arange(2**n)[:, None]
    return ((masks >> np.arange(n)) & 1).astype(bool)


def _weights(n: int) -> FloatArray:
    """``w(s) = s! (n - s - 1)! / n!`` for coalition sizes s = 0..n-1."""
    return np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])


def exact(n: int, value: ValueFunction) -> Attribution:
    """Shapley values from all 2^n coalitions.

    Computed from marginal differences ``v(S ∪ {i}) - v(S)``, so a player that changes
    nothing gets exactly 0, not a rounding residue.
    """
    if n < 1:
        raise ValueError(f"players: need at least one (got {n}, expected >= 1)")
    sets = coalitions(n)
    v = np.asarray(value(sets), dtype=float)
    if v.shape[0] != len(sets):
        raise ValueError(f"value: one row per coalition (got {v.shape[0]}, expected {len(sets)})")
    size = sets.sum(axis=1)
    w = _weights(n)
    phi = np.zeros((n, *v.shape[1:]))
    for i in range(n):
        idx = np.flatnonzero(~sets[:, i])
        marginal = v[idx | (1 << i)] - v[idx]
        phi[i] = np.tensordot(w[size[idx]], marginal, axes=1)
    return Attribution(values=phi, empty=v[0], full=v[-1], method="exact",
                       evaluations=len(sets))


def sampled(n: int, value: ValueFunction, permutations: int = DEFAULT_PERMUTATIONS,
            seed: int = 1) -> Attribution:
    """Shapley values estimated from random orders of the players (antithetic pairs).

    Every coalition an order passes through is evaluated once (coalitions shared by
    several orders are not evaluated again).
    """
    if n < 1:
        raise ValueError(f"players: need at least one (got {n}, expected >= 1)")
    if permutations < 2:
        raise ValueError(f"permutations: too few (got {permutations}, expected >= 2)")
    rng = np.random.default_rng(seed)
    half = (permutations + 1) // 2
    orders = np.array([rng.permutation(n) for _ in range(half)])
    orders = np.concatenate([orders, orders[:, ::-1]])
    # prefix masks: coalition after k players of each order, k = 0..n
    bits = np.zeros((len(orders), n + 1), dtype=np.int64)
    bits[:, 1:] = np.cumsum(1 << orders, axis=1)
    unique, index = np.unique(bits, return_inverse=True)
    index = index.reshape(bits.shape)
    sets = ((unique[:, None] >> np.arange(n)) & 1).astype(bool)
    v = np.asarray(value(sets), dtype=float)
    if v.shape[0] != len(sets):
        raise ValueError(f"value: one row per coalition (got {v.shape[0]}, expected {len(sets)})")
    marginal = v[index[:, 1:]] - v[index[:, :-1]]  # (orders, n, ...)
    phi = np.zeros((n, *v.shape[1:]))
    for k in range(n):
        np.add.at(phi, orders[:, k], marginal[:, k])
    phi /= len(orders)
    empty = v[int(np.flatnonzero(unique == 0)[0])]
    full = v[int(np.flatnonzero(unique == 2**n - 1)[0])]
    return Attribution(values=phi, empty=empty, full=full, method="sampled",
                       evaluations=len(sets), permutations=len(orders), seed=seed)


def shapley(n: int, value: ValueFunction, *, exact_max: int = EXACT_MAX_PLAYERS,
            permutations: int = DEFAULT_PERMUTATIONS, seed: int = 1) -> Attribution:
    """Exact Shapley values for up to ``exact_max`` players, sampled beyond."""
    if n <= exact_max:
        return exact(n, value)
    return sampled(n, value, permutations, seed)
