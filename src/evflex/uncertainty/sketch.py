"""Quantiles of many draws in flat memory: a mergeable histogram sketch per cell.

A Monte Carlo run can have far more draws than fit in memory at once, so each output
cell (e.g. World V2G share in 2063) is summarised by a fixed-bin histogram whose edges
come from a *pilot*: the first :data:`PILOT_DRAWS` draws, widened by
:data:`PAD` of their span on each side. Values that fall outside the edges are kept
exactly, with each cell's minimum and maximum. Sketches of chunks merge by adding
counts, so the result does not depend on how the draws were chunked or where the
chunks ran, and memory does not grow with the number of draws.

A run with no more draws than the pilot keeps every value and gives exact quantiles
(numpy's default, linear interpolation between order statistics). Beyond that each
order statistic inside the edges is placed uniformly within its bin, so a quantile is
within one bin width, ``(1 + 2 PAD) x pilot span / BINS``, of the exact one
(:func:`test_sketch_matches_exact_quantiles` checks this).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evflex.paths import FloatArray

PILOT_DRAWS = 1000
BINS = 1000
PAD = 0.25
QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)


@dataclass(frozen=True)
class Edges:
    """Histogram edges per cell: ``lo`` and bin ``width``, shape (C,)."""

    lo: FloatArray
    width: FloatArray
    bins: int = BINS

    @classmethod
    def from_pilot(cls, values: FloatArray, bins: int = BINS, pad: float = PAD) -> Edges:
        """Edges from pilot values (n, C): [min - pad·span, max + pad·span] in ``bins``."""
        lo, hi = values.min(axis=0), values.max(axis=0)
        span = hi - lo
        return cls(lo - pad * span, span * (1 + 2 * pad) / bins, bins)

    @property
    def hi(self) -> FloatArray:
        return self.lo + self.width * self.bins


@dataclass
class Binned:
    """One chunk of draws on the edges: what a worker sends back (compact).

    ``bins`` (n, C) holds each value's bin, or ``edges.bins`` for a value outside the
    edges, which is kept exactly in ``out_cells``/``out_values``.
    """

    bins: np.ndarray  # (n, C) uint16
    out_cells: np.ndarray
    out_values: FloatArray
    vmin: FloatArray
    vmax: FloatArray

    @classmethod
    def of(cls, values: FloatArray, edges: Edges) -> Binned:
        """Values (n, C) on the edges."""
        values = np.asarray(values, dtype=float)
        b = edges.bins
        flat_width = edges.width > 0
        inverse = np.where(flat_width, 1.0 / np.where(flat_width, edges.width, 1.0), 0.0)
        idx = values - edges.lo
        idx *= inverse
        np.floor(idx, out=idx)
        np.clip(idx, 0, b - 1, out=idx)
        outside = (values < edges.lo) | (values > edges.hi)
        if not flat_width.all():  # a cell whose pilot was constant holds only that value
            zero = np.flatnonzero(~flat_width)
            outside[:, zero] |= values[:, zero] != edges.lo[zero]
        bins = idx.astype(np.uint16)
        bins[outside] = b
        rows, cells = np.nonzero(outside)
        return cls(bins, cells.astype(np.int64), values[rows, cells], values.min(axis=0),
                   values.max(axis=0))


@dataclass
class Sketch:
    """Counts per (cell, bin), the exact values outside the edges, and cell min/max."""

    edges: Edges
    counts: np.ndarray  # (C, B) int64
    n: int
    vmin: FloatArray
    vmax: FloatArray
    out_cells: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    out_values: FloatArray = field(default_factory=lambda: np.zeros(0))
    exact: FloatArray | None = None  # all values (n, C), while the run fits in the pilot

    @classmethod
    def empty(cls, edges: Edges) -> Sketch:
        c = len(edges.lo)
        return cls(edges, np.zeros((c, edges.bins), dtype=np.int64), 0,
                   np.full(c, np.inf), np.full(c, -np.inf))

    @classmethod
    def of(cls, values: FloatArray, edges: Edges, keep_exact: bool = False) -> Sketch:
        """Sketch of values (n, C) on given edges."""
        sketch = cls.empty(edges).add(Binned.of(values, edges))
        if keep_exact:
            sketch.exact = np.array(values, dtype=float)
        return sketch

    def add(self, binned: Binned) -> Sketch:
        """Add a chunk's values (in place; commutative and exact); returns ``self``."""
        n, c = binned.bins.shape
        b = self.edges.bins
        flat = binned.bins.astype(np.int64)
        flat += (np.arange(c, dtype=np.int64) * (b + 1))[None, :]
        counts = np.bincount(flat.ravel(), minlength=c * (b + 1)).reshape(c, b + 1)
        self.counts += counts[:, :b]
        self.n += n
        self.vmin = np.minimum(self.vmin, binned.vmin)
        self.vmax = np.maximum(self.vmax, binned.vmax)
        self.out_cells = np.concatenate([self.out_cells, binned.out_cells])
        self.out_values = np.concatenate([self.out_values, binned.out_values])
        self.exact = None
        return self

    def merge(self, other: Sketch) -> Sketch:
        """The sketch of both sets of draws (commutative and exact); reuses ``self``."""
        exact = (np.concatenate([self.exact, other.exact])
                 if self.exact is not None and other.exact is not None else None)
        self.counts += other.counts
        return Sketch(self.edges, self.counts, self.n + other.n,
                      np.minimum(self.vmin, other.vmin), np.maximum(self.vmax, other.vmax),
                      np.concatenate([self.out_cells, other.out_cells]),
                      np.concatenate([self.out_values, other.out_values]), exact)

    def quantiles(self, qs: tuple[float, ...] = QUANTILES) -> FloatArray:
        """Quantiles per cell, shape (len(qs), C)."""
        if self.exact is not None:
            return np.asarray(np.quantile(self.exact, qs, axis=0))
        c, b = self.counts.shape
        # exact values outside the edges, sorted by cell then value
        order = np.lexsort((self.out_values, self.out_cells))
        o_cells, o_vals = self.out_cells[order], self.out_values[order]
        below = o_vals < self.edges.lo[o_cells]
        n_below = np.bincount(o_cells[below], minlength=c)
        n_above = np.bincount(o_cells[~below], minlength=c)
        start_below = np.searchsorted(o_cells, np.arange(c), side="left")
        start_above = start_below + n_below
        cum = np.concatenate([np.zeros((c, 1), dtype=np.int64),
                              np.cumsum(self.counts, axis=1)], axis=1)  # (C, B+1)
        cells = np.arange(c)

        def order_stat(j: np.ndarray) -> FloatArray:
            """Approximate j-th smallest value (0-based) of each cell."""
            j = np.clip(j, 0, self.n - 1)
            in_below = j < n_below
            in_above = j >= self.n - n_above
            jb = np.clip(j - n_below, 0, None)
            k = np.clip((cum <= jb[:, None]).sum(axis=1) - 1, 0, b - 1)
            in_bin = np.maximum(self.counts[cells, k], 1)
            binned = self.edges.lo + self.edges.width * (
                k + (jb - cum[cells, k] + 0.5) / in_bin)
            safe_idx = np.clip(np.where(in_below, start_below + j,
                                        start_above + j - (self.n - n_above)),
                               0, max(len(o_vals) - 1, 0))
            exact = o_vals[safe_idx] if len(o_vals) else np.zeros(c)
            return np.where(in_below | in_above, exact, binned)

        out = []
        for q in qs:
            h = q * (self.n - 1)
            lo_j = np.full(c, int(np.floor(h)))
            frac = h - np.floor(h)
            a, z = order_stat(lo_j), order_stat(lo_j + 1)
            out.append(np.clip(a + frac * (z - a), self.vmin, self.vmax))
        return np.stack(out)
