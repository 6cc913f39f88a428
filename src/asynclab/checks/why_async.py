"""Checks for notebook 01 (why async)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..servers import DemoAPI, user_record
from ._core import call_learner, checker, fail, require_callable

__all__ = ["JOBS", "check_fetch_names", "check_io_or_cpu"]

_LATENCY = 0.2
_IDS = [3, 1, 4, 5, 2]


@checker
async def check_fetch_names(fetch_names: Callable[..., Any]) -> str:
    """``fetch_names(base_url, ids)`` must return the users' names, in the order of ``ids``,
    with the requests in flight at the same time."""
    require_callable(fetch_names, "fetch_names", is_async=True)
    expected = [user_record(i)["name"] for i in _IDS]
    with DemoAPI(latency=_LATENCY) as api:
        result, elapsed = await call_learner("fetch_names", fetch_names, api.url, list(_IDS))
        overlap = api.stats.max_in_flight
    if not isinstance(result, list):
        fail(f"fetch_names returned {type(result).__name__} {result!r}; return a list of names.")
    if result != expected:
        if sorted(map(str, result)) == sorted(expected):
            fail(f"The names are right but in the wrong order: {result!r}. Return them in the "
                 "order of `ids` (asyncio.gather keeps the order of its arguments).")
        fail(f"fetch_names(url, {_IDS}) returned {result!r}; expected {expected!r}.")
    if overlap < 2:
        fail(f"The names are right, but the server never saw two requests at once, and it took "
             f"{elapsed:.2f} s for {len(_IDS)} requests of {_LATENCY} s each: they ran one after "
             "another. Create all the requests first, then await them together with "
             "asyncio.gather.")
    return (f"{len(_IDS)} requests took {elapsed:.2f} s instead of about "
            f"{len(_IDS) * _LATENCY:.1f} s: up to {overlap} were in flight at once.")


#: The jobs of the I/O-or-CPU exercise, with why each is what it is.
JOBS: dict[str, tuple[str, str]] = {
    "download 200 web pages": (
        "io", "nearly all the time is spent waiting for the servers to answer"),
    "count the words in a 1 GB string already in memory": (
        "cpu", "the data is already in memory: the processor is busy the whole time"),
    "wait for 50 database queries": (
        "io", "the program waits for the database; the processor is idle"),
    "find the prime numbers below 10 million in pure Python": (
        "cpu", "pure-Python arithmetic keeps the processor busy; nothing is waited for"),
    "keep 1000 chat connections open and relay messages": (
        "io", "the connections are idle almost all the time, waiting for messages"),
}


@checker
async def check_io_or_cpu(answers: Mapping[str, str]) -> str:
    """``answers`` maps each job in :data:`JOBS` to ``"io"`` or ``"cpu"``."""
    if not isinstance(answers, Mapping):
        fail("Pass a dict that maps each job to 'io' or 'cpu'.")
    missing = [job for job in JOBS if job not in answers]
    if missing:
        fail(f"No answer for {missing[0]!r}: copy the job names exactly from JOBS.")
    for job, (truth, why) in JOBS.items():
        given = str(answers[job]).strip().lower()
        if given not in ("io", "cpu"):
            fail(f"Answer 'io' or 'cpu' for {job!r}, not {answers[job]!r}.")
        if given != truth:
            fail(f"{job!r} is {truth.upper()}-bound, because {why}.")
    return ("All right. Async helps with the I/O-bound jobs; the CPU-bound ones need "
            "processes (notebook 15), not coroutines.")
