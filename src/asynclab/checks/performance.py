"""Checks for notebook 15 (Performance: when async pays).

- ``check_bytes_per_task``: the learner measures the memory one task holds. The check counts,
  with a task factory, the tasks the learner's code creates and how many are alive at once
  (also at each ``tracemalloc.get_traced_memory()`` the code makes), notes those still running
  when it returns, and compares the figure with its own
  ``tracemalloc`` measurement of tasks like the lesson's (bytes do not depend on the machine's
  load, so the comparison holds on a busy machine).
- ``check_best_times``: the learner writes a timing harness. The check's ``run`` records every
  run (size, start, end); its first run is slow (a cold start) and so is the last run of the
  last size (a busy moment), so a mean, a first run or a last run shows up; runs that overlap,
  a wrong count of runs, and figures shorter than the runs took are observed directly.
"""

from __future__ import annotations

import asyncio
import collections
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._core import checker, fail, require_callable, run_learner
from ._observe import fail_on_outcome, observe

__all__ = ["check_best_times", "check_bytes_per_task"]


def _short(value: object, width: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


# -- exercise 1: what a task costs ---------------------------------------------------------------
#: Several sizes, so that a hard-coded figure or a forgotten division shows.
_TASK_SIZES = (1_000, 3_000)
#: The learner's bytes per task may differ from the check's (another awaitable to wait on, a
#: list of tasks, a gather): a factor of 3 either way is allowed; a total instead of a figure
#: per task, or memory read after the tasks ended, is off by far more.
_BYTES_FACTOR = 3.0


@dataclass
class _TaskCount:
    """Tasks created through the loop's task factory while the learner's call ran."""

    created: int = 0
    alive: int = 0
    most_alive: int = 0
    #: How many were alive each time the learner's code read ``tracemalloc``'s traced memory.
    alive_at_reads: list[int] = field(default_factory=list)

    def done(self, _: object) -> None:
        self.alive -= 1


@contextmanager
def _counting_tasks() -> Iterator[_TaskCount]:
    """Count the tasks created on the running loop (and how many are alive at once)."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    count = _TaskCount()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        task = previous(loop, coro, **kwargs) if previous else asyncio.Task(coro, loop=loop,
                                                                              **kwargs)
        count.created += 1
        count.alive += 1
        count.most_alive = max(count.most_alive, count.alive)
        task.add_done_callback(count.done)
        return task

    read = tracemalloc.get_traced_memory

    def get_traced_memory() -> tuple[int, int]:
        count.alive_at_reads.append(count.alive)
        return read()

    loop.set_task_factory(factory)
    tracemalloc.get_traced_memory = get_traced_memory  # type: ignore[assignment]
    try:
        yield count
    finally:
        tracemalloc.get_traced_memory = read  # type: ignore[assignment]
        loop.set_task_factory(previous)


async def _reference_bytes_per_task(n: int = 1_000) -> float:
    """Bytes of Python objects per task, ``n`` tasks waiting on an event, as in section 3."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        release = asyncio.Event()
        before = tracemalloc.get_traced_memory()[0]
        tasks = [asyncio.create_task(release.wait()) for _ in range(n)]
        await asyncio.sleep(0)
        used = tracemalloc.get_traced_memory()[0] - before
        release.set()
        await asyncio.gather(*tasks)
    finally:
        if started:
            tracemalloc.stop()
    return used / n


def _pair(value: object) -> tuple[float, float] | None:
    if (isinstance(value, tuple | list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        return float(value[0]), float(value[1])
    return None


@checker
async def check_bytes_per_task(bytes_per_task: Callable[[int], Any]) -> str:
    """``bytes_per_task(n)`` returns the bytes of Python objects one task holds, measured with
    ``n`` tasks alive at once (counted by a task factory), all finished when it returns; the
    figure agrees with the check's own ``tracemalloc`` measurement within a factor of 3."""
    require_callable(bytes_per_task, "bytes_per_task", is_async=True)
    reference = await _reference_bytes_per_task()
    for n in _TASK_SIZES:
        call = f"bytes_per_task({n})"
        with _counting_tasks() as count:
            still_running: list[int] = []

            async def measured(n: int, still_running: list[int] = still_running,
                               count: _TaskCount = count) -> Any:
                value = await bytes_per_task(n)
                still_running.append(count.alive)  # before the check cleans up
                return value

            outcome = await run_learner(measured, n, time_limit=10.0)
        fail_on_outcome(call, outcome, time_limit=10.0, see="section 3")
        if still_running and still_running[0]:
            fail(f"{call} returned while {still_running[0]} of the tasks it started were still "
                 "running: release them and wait for them before returning (section 3).")
        size = outcome.value
        if not isinstance(size, int | float) or isinstance(size, bool):
            fail(f"{call} returned {_short(size)}; expected a number: the bytes one task holds.")
        if count.created < n:
            fail(f"{call} created {count.created} tasks; it should create {n}, the tasks it "
                 "measures.")
        if count.most_alive < n:
            were = "was" if count.most_alive == 1 else "were"
            fail(f"{call} created {count.created} tasks, but at most {count.most_alive} {were} "
                 f"alive at once: a task that has finished gives its memory back, so the "
                 f"measurement saw at most {count.most_alive} of them. All {n} must be alive "
                 "together while you measure (section 3).")
        if count.alive_at_reads and max(count.alive_at_reads) < n:
            most = max(count.alive_at_reads)
            fail(f"{call} created {n} tasks, but each time it read the traced memory, at most "
                 f"{most} of them {'was' if most == 1 else 'were'} alive: the memory of a task "
                 "that has finished (or not started) is not what you want to measure. Read it "
                 "while all of them wait (section 3).")
        if not reference / _BYTES_FACTOR <= size <= reference * _BYTES_FACTOR:
            what = ("about the memory of all the tasks, not of one" if size > reference * n / 3
                    else "far from what one waiting task holds")
            fail(f"{call} returned {size:,.0f} bytes; the check measured about "
                 f"{reference:,.0f} bytes per waiting task with tracemalloc: your figure is "
                 f"{what}. Is tracemalloc tracing, and read while all the tasks are alive "
                 "(section 3)?")
    return (f"One task, measured with {_TASK_SIZES[-1]:,} alive at once: {size:,.0f} bytes "
            f"(the check measured about {reference:,.0f} bytes).")


# -- exercise 2: a timing harness ----------------------------------------------------------------
#: (sizes, repeat, slow): several, so that an ignored argument shows.
_TIMING_CASES = (([2, 1, 4], 3, 0.6), ([3, 5], 2, 0.2))
_STEP = 0.005  # run(n) waits n x 5 ms
#: ... and two of its runs wait `slow` s more: the very first (a cold start) and the last run
#: of the last size (a busy moment). So a mean, a first run and a last run all show.
#: A fastest run measured from outside may be longer than the check measured inside (the call
#: and the loop's scheduling: microseconds, more on a busy machine): _SLACK.
#: A wrong figure passes a size only if lateness x added to every fast run of it makes them
#: nearly as slow as its slow run: the first or the last run needs x >= slow - _SLACK, a mean
#: x >= slow - repeat * _SLACK. With slow = 0.6 in the first case (0.2 in the second: its
#: slow runs only add to that), a first or last run needs x >= 0.55 s, a mean x >= 0.45 s,
#: in both fast runs of a size, and two sizes at once.
_SLACK = 0.05


@dataclass
class _Runs:
    """What the check's ``run`` saw: (n, started, ended) per run, and how many overlapped."""

    last_size: int
    repeat: int
    slow: float
    runs: list[tuple[int, float, float]] = field(default_factory=list)
    active: int = 0
    most_active: int = 0
    started: collections.Counter[int] = field(default_factory=collections.Counter)

    async def run(self, n: int) -> int:
        slow = not self.started or (n == self.last_size and self.started[n] == self.repeat - 1)
        self.started[n] += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        start = time.perf_counter()
        try:
            await asyncio.sleep(_STEP * n + (self.slow if slow else 0.0))
        finally:
            self.active -= 1
        self.runs.append((n, start, time.perf_counter()))
        return n


@checker
async def check_best_times(best_times: Callable[..., Any]) -> str:
    """``best_times(run, sizes, repeat)`` awaits ``run(n)`` ``repeat`` times per size, one at
    a time, and returns ``{n: fastest seconds}``; the check's ``run`` records each run."""
    require_callable(best_times, "best_times", is_async=True)
    for sizes, repeat, slow in _TIMING_CASES:
        runs = _Runs(sizes[-1], repeat, slow)
        call = f"best_times(run, {sizes}, {repeat})"
        seen = await observe(best_times, runs.run, list(sizes), repeat, time_limit=10.0)
        fail_on_outcome(call, seen.outcome, time_limit=10.0, see="exercise 2's task")
        if seen.unawaited or not runs.runs:
            fail(f"{call}: run never ran to its end (Python warned that "
                 f"{', '.join(seen.unawaited) or 'a coroutine'} was never awaited?): the times "
                 "measured creating a coroutine object, not running it.")
        if runs.most_active > 1:
            fail(f"{call}: up to {runs.most_active} runs were in flight at once. Runs that "
                 "overlap compete for the CPU and the network, so each figure includes the "
                 "others' work: time them one at a time.")
        calls = collections.Counter(n for n, _, _ in runs.runs)
        for n in sizes:
            if calls[n] != repeat:
                fail(f"{call} ran run({n}) {calls[n]} time(s); with repeat={repeat}, each size "
                     f"should run {repeat} times. Sizes run: {dict(calls)}.")
        if sorted(calls) != sorted(sizes):
            fail(f"{call} ran sizes {sorted(calls)}; expected exactly {sorted(sizes)}.")
        result = seen.outcome.value
        if not isinstance(result, dict) or sorted(result, key=str) != sorted(sizes, key=str):
            fail(f"{call} returned {_short(result)}; expected a dict with one entry per size, "
                 f"keyed by the sizes {sizes}.")
        for n in sizes:
            durations = [end - start for m, start, end in runs.runs if m == n]
            fastest, value = min(durations), result[n]
            if not isinstance(value, int | float) or isinstance(value, bool):
                fail(f"{call}[{n}] is {_short(value)}; expected a number of seconds.")
            if value < fastest * 0.9:
                fail(f"{call} says {n} took {value:.3f} s, but the fastest run({n}) took "
                     f"{fastest:.3f} s: the stopwatch was not around the awaited run.")
            if value > fastest + _SLACK:
                fail(f"{call} says {n} took {value:.3f} s; its runs took "
                     f"{', '.join(f'{d:.3f}' for d in durations)} s. The figure should be the "
                     "fastest of them: a cold start or a busy moment only ever makes a run "
                     "slower.")
    return (f"Every run timed one at a time, repeated, and the fastest kept: for example "
            f"{', '.join(f'{n}: {result[n]:.3f} s' for n in sizes)}.")
