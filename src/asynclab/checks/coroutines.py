"""Checks for notebook 02 (coroutines)."""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from ..looplag import LagMonitor
from ._core import Problem, call_learner, checker, fail, require_callable

__all__ = ["check_brew", "check_fetch_pair", "check_legacy_bridge", "legacy_report"]

_MAX_LAG = 0.05  # seconds: a heartbeat later than this means the loop was blocked


def _never_awaited(caught: list[warnings.WarningMessage]) -> bool:
    return any(issubclass(w.category, RuntimeWarning) and "never awaited" in str(w.message)
               for w in caught)


@checker
async def check_brew(brew: Callable[[str, float], Any]) -> str:
    """``brew(drink, seconds)`` must be a coroutine function that waits ``seconds`` without
    blocking the event loop, then returns ``"<drink> is ready"``."""
    require_callable(brew, "brew", is_async=True)
    seconds = 0.2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with LagMonitor(interval=0.01) as lag:
            result, elapsed = await call_learner("brew", brew, "tea", seconds)
        gc.collect()  # a forgotten `await asyncio.sleep(...)` warns when it is collected
    if result is None:
        fail("brew('tea', 0.2) returned None: `return` the text, do not print it.")
    if result != "tea is ready":
        fail(f"brew('tea', 0.2) returned {result!r}; expected 'tea is ready'.")
    if elapsed < seconds * 0.8:
        hint = (" Python warned that a coroutine was never awaited: put `await` before "
                "asyncio.sleep(...)." if _never_awaited(caught) else
                " Wait with `await asyncio.sleep(seconds)`.")
        fail(f"brew('tea', 0.2) finished after {elapsed:.2f} s instead of about 0.2 s: "
             f"it did not wait.{hint}")
    if lag.max_lag > _MAX_LAG:
        fail(f"brew waited, but it froze the event loop for {lag.max_lag:.2f} s (a heartbeat "
             "task could not run): use `await asyncio.sleep(seconds)`, not time.sleep.")
    return (f"brew('tea', 0.2) returned 'tea is ready' after {elapsed:.2f} s, and the event "
            "loop stayed free while it waited.")


class _CoroutineSpy:
    """A ``fetch_user(user_id)`` coroutine function that remembers every coroutine it made."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.made: list[Coroutine[Any, Any, dict[str, object]]] = []

    async def _fetch(self, user_id: int) -> dict[str, object]:
        await asyncio.sleep(self.delay)
        return {"id": user_id, "name": f"user {user_id}"}

    def __call__(self, user_id: int) -> Coroutine[Any, Any, dict[str, object]]:
        coro = self._fetch(user_id)
        self.made.append(coro)
        return coro

    def close_unstarted(self) -> int:
        """Close the coroutines nobody ran (so Python does not warn); return how many."""
        unstarted = [c for c in self.made
                     if inspect.getcoroutinestate(c) == inspect.CORO_CREATED]
        for coro in unstarted:
            coro.close()
        return len(unstarted)


@checker
async def check_fetch_pair(fetch_pair: Callable[..., Any]) -> str:
    """``fetch_pair(fetch_user, first_id, second_id)`` must return ``[user, user]``: both
    results of ``await fetch_user(...)``, not coroutine objects."""
    require_callable(fetch_pair, "fetch_pair", is_async=True)
    spy = _CoroutineSpy()
    try:
        try:
            outcome = fetch_pair(spy, 1, 2)
            result = await asyncio.wait_for(outcome, 5) if inspect.isawaitable(outcome) \
                else outcome
        except TypeError as exc:
            if "coroutine" in str(exc):
                fail(f"fetch_pair raised TypeError: {exc}. You used what fetch_user(...) "
                     "returned without awaiting it: write `await fetch_user(...)`.")
            fail(f"fetch_pair raised TypeError: {exc}")
        except TimeoutError:
            fail("fetch_pair did not finish within 5 s.")
        except Exception as exc:
            fail(f"fetch_pair raised {type(exc).__name__}: {exc}")
    finally:
        never_run = spy.close_unstarted()
    items = list(result) if isinstance(result, list | tuple) else [result]
    if any(inspect.iscoroutine(item) for item in items) or inspect.iscoroutine(result):
        fail(f"fetch_pair returned {result!r}: {never_run} coroutine object(s) that never ran. "
             "Calling a coroutine function only creates the coroutine; put `await` before "
             "every fetch_user(...) call.")
    if never_run:
        fail(f"{never_run} call(s) of fetch_user(...) were never awaited: await each one.")
    expected = [{"id": 1, "name": "user 1"}, {"id": 2, "name": "user 2"}]
    if not isinstance(result, list) or result != expected:
        fail(f"fetch_pair(fetch_user, 1, 2) returned {result!r}; expected the list {expected!r}.")
    return "fetch_pair awaits both calls and returns the two users."


def legacy_report(n: int) -> str:
    """A *synchronous* library function that runs its own event loop with ``asyncio.run``, like
    the sync wrappers many SDKs ship. It waits 0.05 s per item and says which thread ran it."""

    async def collect() -> list[int]:
        results = []
        for i in range(n):
            await asyncio.sleep(0.05)
            results.append(i * i)
        return results

    coro = collect()
    try:
        squares = asyncio.run(coro)
    finally:
        coro.close()  # when asyncio.run() refused to start, no "never awaited" warning
    return f"{n} squares {squares} computed in {threading.current_thread().name}"


@checker
async def check_legacy_bridge(report_from_notebook: Callable[[int], Any]) -> str:
    """``report_from_notebook(n)`` must return ``legacy_report(n)`` from inside a running event
    loop, without blocking it and without patching asyncio (nest_asyncio)."""
    require_callable(report_from_notebook, "report_from_notebook", is_async=True)
    if getattr(asyncio, "_nest_patched", False):
        fail("asyncio has been patched by nest_asyncio in this kernel: the bridge must work "
             "without it. Restart the kernel, then run `await asyncio.to_thread(asyncio.run, "
             "...)` style code instead.")
    n = 4
    async with LagMonitor(interval=0.01) as lag:
        try:
            result, elapsed = await call_learner("report_from_notebook", report_from_notebook, n)
        except Problem as problem:
            if "cannot be called from a running event loop" in str(problem):
                fail("legacy_report calls asyncio.run(), which cannot run inside the notebook's "
                     "running event loop: give it a thread of its own with "
                     "`await asyncio.to_thread(legacy_report, n)`.")
            raise
    if result is None:
        fail("report_from_notebook returned None: return what legacy_report(n) returns.")
    if not isinstance(result, str) or not result.startswith(f"{n} squares [0, 1, 4, 9]"):
        fail(f"report_from_notebook({n}) returned {result!r}; expected the text that "
             f"legacy_report({n}) returns.")
    if result.endswith(threading.main_thread().name):
        fail("legacy_report ran in the main thread, inside the notebook's event loop "
             "(nest_asyncio?): run it in a worker thread with asyncio.to_thread.")
    if lag.max_lag > _MAX_LAG:
        fail(f"The result is right, but the event loop was frozen for {lag.max_lag:.2f} s while "
             "legacy_report ran: await asyncio.to_thread(legacy_report, n) so it runs in a "
             "worker thread.")
    return (f"legacy_report ran its own event loop in a worker thread ({elapsed:.2f} s) while "
            "the notebook's loop stayed free.")
