"""Worker processes, for the stages that a large territory makes long (parsing, the label,
rendering, open data).

Workers are *forked*: they start with the build's memory as it is (the records, the
templates), so little but their results crosses between processes (the parsing workers are
also sent the files' bytes, as they are read). Forking is only
safe in a process without other threads: `dote serve` (its web server runs in threads)
and a program that embeds the build with threads work in one process, as does a
machine with one core or ``DOTE_PROCESSUS=1``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

#: How many processes a stage may use (1: none, everything in the build's own process).
WORKERS_ENV = "DOTE_PROCESSUS"

T = TypeVar("T")
R = TypeVar("R")


def count() -> int:
    """Worker processes: $DOTE_PROCESSUS, or one per core (at most 4)."""
    wanted = os.environ.get(WORKERS_ENV, "")
    if wanted.isdigit():
        return int(wanted)
    return min(os.cpu_count() or 1, 4)


def available() -> bool:
    """Whether worker processes can be forked here and now (see the module's docstring)."""
    return (
        count() >= 2 and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    )


def pool(size: int | None = None) -> ProcessPoolExecutor:
    """A pool of ``size`` forked workers, :func:`count` by default (check :func:`available` first)."""
    return ProcessPoolExecutor(size or count(), mp_context=multiprocessing.get_context("fork"))


def imap_forked(function: Callable[[T], R], items: Iterable[T], chunk: int = 64) -> Iterator[R]:
    """``function(item)`` for each item, computed by forked workers, given in order as they come
    (the caller can let each result go before the next: they are not all held at once)."""
    with pool() as executor:
        yield from executor.map(function, items, chunksize=chunk)
