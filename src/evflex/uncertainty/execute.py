"""Chunks of draws, their seeds, and where they run: in-process or on a Dask cluster.

Draws are generated in blocks of :data:`BLOCK`; block ``b`` draws from its own generator
``numpy.random.default_rng(SeedSequence(seed).spawn(n_blocks)[b])``. A chunk is a run
of whole blocks, so every draw is the same whatever the chunk size, and whether the
chunks run in this process or on the workers of a ``distributed`` cluster
(``--scheduler tcp://HOST:PORT``). Results are merged in chunk order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from evflex.errors import InputError
from evflex.paths import FloatArray

if TYPE_CHECKING:
    from evflex.uncertainty.distributions import Space

#: Draws per seed block; chunk sizes are rounded up to a multiple of it.
BLOCK = 64

T = TypeVar("T")
R = TypeVar("R")


class SchedulerError(InputError):
    """The Dask scheduler cannot be reached or used (field ``scheduler``)."""


@dataclass(frozen=True)
class Chunk:
    """Draws ``first .. first + n - 1`` and the seeds of the blocks they cover."""

    index: int
    first: int
    n: int
    seeds: tuple[np.random.SeedSequence, ...]

    def normal_scores(self, k: int) -> FloatArray:
        """Independent standard normal scores of the chunk's draws, shape (n, k)."""
        parts = []
        left = self.n
        for seed in self.seeds:
            m = min(BLOCK, left)
            parts.append(np.random.default_rng(seed).standard_normal((m, k)))
            left -= m
        return np.concatenate(parts) if parts else np.zeros((0, k))

    def draw(self, space: Space) -> FloatArray:
        """The chunk's draws of every number of ``space``, shape (n, k)."""
        return space.values(space.uniforms(self.normal_scores(len(space))))


def chunks(seed: int, first: int, stop: int, chunk_size: int) -> list[Chunk]:
    """Chunks covering draws ``first .. stop - 1`` (``first`` a multiple of :data:`BLOCK`)."""
    if first % BLOCK:
        raise ValueError(f"first draw must be a multiple of {BLOCK} (got {first})")
    size = max(BLOCK, -(-chunk_size // BLOCK) * BLOCK)
    n_blocks = -(-stop // BLOCK)
    seeds = np.random.SeedSequence(seed).spawn(n_blocks)
    out = []
    for i, start in enumerate(range(first, stop, size)):
        n = min(size, stop - start)
        b0 = start // BLOCK
        out.append(Chunk(i, start, n, tuple(seeds[b0: b0 + -(-n // BLOCK)])))
    return out


class Executor:
    """Runs a function over items in this process, or on a Dask distributed cluster.

    ``scheduler`` is the address of a running scheduler (``tcp://HOST:PORT``); ``client``
    an existing :class:`distributed.Client`. With neither, items run here on ``threads``
    threads (default: one per core; numpy releases the GIL in its array loops), at most
    ``threads + 1`` at a time so that memory stays bounded.
    """

    def __init__(self, scheduler: str | None = None, client: Any = None,
                 threads: int | None = None):
        self._own_client = False
        self.client = client
        self.threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
        if client is None and scheduler:
            try:
                from distributed import Client
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise SchedulerError("scheduler", "the 'distributed' package is not "
                                     "installed (got none, expected dask[distributed])") from exc
            try:
                self.client = Client(scheduler, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise SchedulerError("scheduler", f"cannot connect (got {scheduler!r}: "
                                     f"{exc}, expected the address of a running Dask "
                                     "scheduler, e.g. tcp://127.0.0.1:8786)") from None
            self._own_client = True

    @property
    def where(self) -> str:
        if self.client is None:
            return f"in-process, {self.threads} thread(s)"
        workers = len(self.client.scheduler_info().get("workers", {}))
        return f"Dask scheduler {self.client.scheduler.address} ({workers} workers)"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """``(position, fn(item))`` for each item, in completion order."""
        if self.client is None:
            yield from self._map_here(fn, items)
            return
        from distributed import as_completed

        futures = self.client.map(fn, list(items), pure=False)
        position = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                result = future.result()
                yield position[future.key], result
                future.release()
        finally:
            for f in futures:
                f.release()

    def _map_here(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if self.threads == 1 or len(items) < 2:
            for i, item in enumerate(items):
                yield i, fn(item)
            return
        with ThreadPoolExecutor(self.threads) as pool:
            pending: dict[Future[R], int] = {}
            queue = iter(enumerate(items))
            for i, item in queue:
                pending[pool.submit(fn, item)] = i
                if len(pending) > self.threads:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
                for i, item in queue:
                    pending[pool.submit(fn, item)] = i
                    if len(pending) > self.threads:
                        break

    def close(self) -> None:
        if self._own_client and self.client is not None:
            self.client.close()
            self.client = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
