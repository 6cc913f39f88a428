"""What the checks observe while the learner's code runs, beyond :func:`run_learner`: a
heartbeat that counts how often the loop was free, the "never awaited" warnings, what the code
printed; and the ❌ sentences every check shares about an :class:`Outcome`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import time
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ._core import Outcome, blocking_message, fail, run_learner

__all__ = ["Heartbeat", "Observed", "fail_on_outcome", "heartbeat", "never_awaited", "observe"]


@dataclass
class Heartbeat:
    """A task on the loop that wants to run every ``interval`` s; it records when it ran.

    It tells whether the event loop was free *during* a call: a loop that is blocked (by a
    blocking call the check cannot name, or by a long computation) lets it run 0 or 1 times,
    while a free one lets it run many times even on a busy machine. Counting beats holds under
    load much better than a bound on one heartbeat's lateness.
    """

    interval: float = 0.01
    beats: list[float] = field(default_factory=list)

    def count(self, start: float, end: float) -> int:
        """How many times it ran strictly between ``start`` and ``end`` (perf_counter)."""
        return sum(1 for t in self.beats if start < t < end)

    def gaps(self, start: float, end: float) -> list[float]:
        """The waits between two beats, from ``start`` to ``end`` included."""
        times = [start, *(t for t in self.beats if start < t < end), end]
        return [b - a for a, b in zip(times, times[1:], strict=False)]


@contextlib.asynccontextmanager
async def heartbeat(interval: float = 0.01) -> AsyncIterator[Heartbeat]:
    """Run a :class:`Heartbeat` while the block runs; cancel and await it at the end."""
    beat = Heartbeat(interval)

    async def run() -> None:
        while True:
            beat.beats.append(time.perf_counter())
            await asyncio.sleep(interval)

    task = asyncio.create_task(run(), name="check-heartbeat")
    await asyncio.sleep(0)  # let it start before the block runs
    try:
        yield beat
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def never_awaited(caught: list[warnings.WarningMessage]) -> list[str]:
    """The names of the coroutines Python warned were never awaited."""
    names = []
    for w in caught:
        text = str(w.message)
        if issubclass(w.category, RuntimeWarning) and "never awaited" in text:
            names.append(text.split("'")[1] if text.count("'") >= 2 else "a coroutine")
    return names


@dataclass
class Observed:
    """What :func:`observe` saw of one call of the learner's function."""

    outcome: Outcome
    #: How many times the heartbeat ran while the call ran.
    beats: int
    #: Names of the coroutines Python warned were never awaited.
    unawaited: list[str]
    #: What the call printed.
    printed: str
    #: The heartbeat's waits between two beats while the call ran (start and end included).
    gaps: list[float]


async def observe(func: Callable[..., Any], *args: Any, interval: float = 0.01,
                  time_limit: float = 5.0) -> Observed:
    """Run the learner's ``func(*args)`` with :func:`run_learner` while a :class:`Heartbeat`
    runs; also record "never awaited" warnings and what it printed."""
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with heartbeat(interval) as beat:
            start = time.perf_counter()
            with contextlib.redirect_stdout(printed):
                outcome = await run_learner(func, *args, time_limit=time_limit)
        gc.collect()  # an un-awaited coroutine warns when it is collected
    end = start + outcome.elapsed
    return Observed(outcome, beat.count(start, end), never_awaited(caught),
                    printed.getvalue().strip(), beat.gaps(start, end))


def fail_on_outcome(call: str, outcome: Outcome, *, time_limit: float, see: str = "",
                    hint: str = "", unawaited_see: str = "section 2") -> None:
    """The ❌ sentences every check shares, about the call shown as ``call``: blocking calls,
    the time limit, an exception, an un-awaited value (``unawaited_see`` says where the
    lesson shows what a coroutine object is)."""
    if outcome.blocking:
        fail(blocking_message(call, outcome.blocking, see))
    if outcome.timed_out:
        fail(f"{call} did not finish within {time_limit:g} s: is something waiting forever?")
    if outcome.error is not None:
        exc = outcome.error
        fail(f"{call} raised {type(exc).__name__}: {exc}. {hint}".strip())
    if outcome.unawaited:
        fail(f"{call} returned a {outcome.unawaited} object, not a value: something it "
             f"returned was never awaited ({unawaited_see} shows what a coroutine object is).")
