"""Worker functions for process pools (notebooks 14 and 15).

A ``ProcessPoolExecutor`` sends a function to its worker processes *by name*: module and
function name. Under the ``spawn`` start method (macOS, Windows) and ``forkserver`` (Linux's
default from Python 3.14) a worker is a fresh interpreter that imports the module to find the
function. A function defined in a notebook cell lives in ``__main__``, which a fresh worker
cannot import; the functions here live in a module, so every start method finds them.
"""

from __future__ import annotations

import time

__all__ = ["count_primes", "wait"]


def count_primes(limit: int) -> int:
    """How many primes are below ``limit``, by trial division in pure Python.

    Deliberately slow, CPU-bound work that holds the GIL: ``count_primes(30_000)`` takes
    about 0.1 s on a laptop. ``count_primes(10) == 4`` (2, 3, 5, 7).
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit!r}")
    count = 0
    for n in range(2, limit):
        d = 2
        while d * d <= n:
            if n % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def wait(seconds: float) -> float:
    """Block for ``seconds`` (``time.sleep``), as a blocking I/O call would, and return
    ``seconds``: the "I/O wait" of notebook 15's scaling study, run in worker processes."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds!r}")
    time.sleep(seconds)
    return seconds
