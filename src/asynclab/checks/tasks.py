"""Checks for notebook 05 (tasks and TaskGroup)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._core import checker, fail, require_callable

__all__ = ["check_fetch_or_default", "check_run_all", "check_start_background"]


class _Job:
    """A zero-argument coroutine function for the checks that records what happened to it."""

    def __init__(self, value: object, seconds: float, error: BaseException | None = None) -> None:
        self.value, self.seconds, self.error = value, seconds, error
        self.state = "not started"  # -> "running" -> "done" / "failed" / "cancelled"

    async def __call__(self) -> object:
        self.state = "running"
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.state = "cancelled"
            raise
        if self.error is not None:
            self.state = "failed"
            raise self.error
        self.state = "done"
        return self.value


async def _settle(jobs: list[_Job], limit: float = 2.0) -> None:
    """Wait (at most ``limit`` s) until no job is still running: a wrong answer may leave
    them behind, and the check must not leave tasks running in the learner's notebook."""
    for _ in range(int(limit / 0.01)):
        if not any(j.state == "running" for j in jobs):
            return
        await asyncio.sleep(0.01)


async def _run(func: Callable[..., Awaitable[Any]], *args: Any,
               limit: float = 5.0) -> tuple[Any, BaseException | None, float]:
    """Await the learner's ``func(*args)``: (result, exception or None, seconds)."""
    start = time.perf_counter()
    result: Any = None
    error: BaseException | None = None
    try:
        async with asyncio.timeout(limit):
            result = await func(*args)
    except TimeoutError as exc:
        if time.perf_counter() - start >= limit:
            fail(f"It did not finish within {limit:g} s: is something waiting forever?")
        error = exc
    except Exception as exc:  # ExceptionGroup included; CancelledError is not an Exception
        error = exc
    if inspect.iscoroutine(result):
        result.close()
        fail("It returned a coroutine object instead of a value: a missing `await`?")
    return result, error, time.perf_counter() - start


@checker
async def check_run_all(run_all: Callable[..., Any]) -> str:
    """``run_all(jobs)`` runs the zero-argument coroutine functions ``jobs`` in a TaskGroup:
    their results in order when all succeed; when some raise ValueError, the others are
    cancelled and it returns the ValueErrors' messages; any other error escapes."""
    require_callable(run_all, "run_all", is_async=True)

    # 1. Everything succeeds: results in order, concurrently.
    jobs = [_Job("a", 0.2), _Job("b", 0.1), _Job("c", 0.15)]
    result, error, elapsed = await _run(run_all, jobs)
    await _settle(jobs)
    if error is not None:
        fail(f"With jobs that all succeed, run_all raised {type(error).__name__}: {error}.")
    if result != ["a", "b", "c"]:
        fail(f"With jobs that all succeed, run_all returned {result!r}; expected their results "
             "in the order of `jobs`, ['a', 'b', 'c'] (task.result() of each task you created).")
    if elapsed > 0.35:
        fail(f"The jobs took {elapsed:.2f} s, about the sum of their times: start them all in "
             "the TaskGroup (tg.create_task) before awaiting anything.")

    # 2. One job fails with ValueError: the siblings must be cancelled, the message returned.
    jobs = [_Job("a", 0.5), _Job(None, 0.05, ValueError("bad input")), _Job("c", 0.5)]
    result, error, elapsed = await _run(run_all, jobs)
    states = [j.state for j in (jobs[0], jobs[2])]
    await _settle(jobs)
    if isinstance(error, ValueError):
        fail("A bare ValueError escaped and the other jobs kept running: that is what "
             "asyncio.gather does. Run the jobs in `async with asyncio.TaskGroup() as tg:`.")
    if states != ["cancelled", "cancelled"]:
        fail(f"When one job failed, the others were {' and '.join(states)} instead of "
             "cancelled. A TaskGroup cancels the siblings for you: create every task with "
             "tg.create_task inside `async with asyncio.TaskGroup() as tg:`.")
    if isinstance(error, BaseExceptionGroup):
        fail("The siblings were cancelled, but the ExceptionGroup escaped. Catch the "
             "ValueErrors with `except* ValueError as group:`, keep "
             "[str(e) for e in group.exceptions] in a variable (`return` is not allowed "
             "inside except*) and return it after the try statement.")
    if error is not None:
        fail(f"run_all raised {type(error).__name__}: {error}; catch the ValueErrors and "
             "return their messages.")
    if result != ["bad input"]:
        fail(f"When one job raised ValueError('bad input'), run_all returned {result!r}; "
             "expected the list of messages, ['bad input'].")
    if elapsed > 0.3:
        fail(f"run_all took {elapsed:.2f} s: it should stop as soon as a job fails.")

    # 3. An error that is not a ValueError must not be swallowed.
    jobs = [_Job("a", 0.3), _Job(None, 0.05, KeyError("missing"))]
    result, error, _ = await _run(run_all, jobs)
    await _settle(jobs)
    if error is None:
        fail(f"A job raised KeyError and run_all returned {result!r}: only ValueError should "
             "be handled. `except* ValueError` lets the other errors out as an ExceptionGroup.")
    if not (isinstance(error, BaseExceptionGroup) and error.subgroup(KeyError) is not None):
        fail(f"A job raised KeyError; run_all should let it out inside an ExceptionGroup, but "
             f"raised {type(error).__name__}: {error}.")
    return ("Results in order when all succeed; on a ValueError the siblings were cancelled "
            "and the message returned; a KeyError still escapes in an ExceptionGroup.")


@checker
async def check_fetch_or_default(fetch_or_default: Callable[..., Any]) -> str:
    """``fetch_or_default(fetch, limit, default)`` awaits ``fetch()`` for at most ``limit``
    seconds; on timeout it returns ``default`` (the slow call cancelled); other errors
    propagate."""
    require_callable(fetch_or_default, "fetch_or_default", is_async=True)

    fast = _Job("fresh", 0.05)
    result, error, elapsed = await _run(fetch_or_default, fast, 0.3, "fallback")
    if error is not None:
        fail(f"With a fetch that answers in 0.05 s and a 0.3 s limit, it raised "
             f"{type(error).__name__}: {error}.")
    if result != "fresh":
        fail(f"With a fetch that answers in 0.05 s and a 0.3 s limit, it returned {result!r}; "
             "expected the fetch's own result, 'fresh'.")

    slow = _Job("too late", 0.8)
    result, error, elapsed = await _run(fetch_or_default, slow, 0.2, "fallback")
    state = slow.state
    await _settle([slow])
    if isinstance(error, TimeoutError):
        fail("The slow call was cut, but TimeoutError escaped: catch it (`except TimeoutError:`) "
             "and return the default.")
    if error is not None:
        fail(f"With a slow fetch it raised {type(error).__name__}: {error}.")
    if elapsed > 0.6:
        fail(f"A fetch that takes 0.8 s with a 0.2 s limit took {elapsed:.2f} s: nothing cut "
             "it short. Wrap the await in `async with asyncio.timeout(limit):`.")
    if result != "fallback":
        fail(f"A slow fetch should give the default 'fallback'; it returned {result!r}.")
    if state == "running":
        fail("You returned the default, but the slow call kept running in the background: "
             "cancel it (asyncio.timeout and wait_for do this for you).")
    if elapsed < 0.15:
        fail(f"It gave up after {elapsed:.2f} s, before the 0.2 s limit.")

    broken = _Job(None, 0.02, ValueError("server said no"))
    result, error, _ = await _run(fetch_or_default, broken, 0.3, "fallback")
    if not isinstance(error, ValueError):
        fail(f"A fetch that fails with ValueError gave {result!r}: only a timeout should give "
             "the default. Catch TimeoutError, not every Exception.")
    return (f"The slow call was cut at {elapsed:.2f} s (limit 0.2 s) and cancelled, the fast "
            "one returned its value, and a real error still propagates.")


@checker
async def check_start_background(start_background: Callable[..., Any]) -> str:
    """``start_background(coro, tasks)`` schedules ``coro`` as a task, keeps it in the set
    ``tasks`` while it runs, removes it when it finishes, and returns the task."""
    require_callable(start_background, "start_background", is_async=False)
    ran: list[int] = []

    async def work(i: int) -> None:
        await asyncio.sleep(0.05)
        ran.append(i)

    tasks: set[Any] = set()
    coros = [work(i) for i in range(5)]
    returned = []
    try:
        for coro in coros:
            returned.append(start_background(coro, tasks))
    except Exception as exc:
        fail(f"start_background raised {type(exc).__name__}: {exc}")
    finally:
        for coro in coros:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED and not any(
                    isinstance(t, asyncio.Task) and t.get_coro() is coro for t in returned):
                coro.close()
    held = set(tasks)
    if not all(isinstance(t, asyncio.Task) for t in returned):
        fail(f"start_background returned {type(returned[0]).__name__}; return the task that "
             "asyncio.create_task(coro) gives you.")
    for _ in range(100):  # at most 1 s
        if len(ran) == len(coros):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0)  # done callbacks run one loop iteration after the task ends
    if len(held) != len(coros) or not held <= set(returned):
        fail(f"Right after 5 calls the set held {len(held)} task(s): add each new task to "
             "`tasks` (tasks.add(task)). The event loop keeps only a weak reference to a "
             "task; without yours it can be garbage-collected before it finishes.")
    if len(ran) < len(coros):
        fail(f"Only {len(ran)} of {len(coros)} background jobs ran: create a task for each.")
    if tasks:
        fail(f"All jobs finished, but the set still holds {len(tasks)} task(s): it grows for "
             "ever. Register `task.add_done_callback(tasks.discard)` so each task removes "
             "itself when it is done.")
    return ("The set kept all 5 tasks alive while they ran and was empty once they finished.")
