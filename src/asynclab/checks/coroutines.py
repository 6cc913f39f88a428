"""Checks for notebook 02 (coroutines).

Every check calls the learner's code through :func:`run_learner` / :func:`call_learner` with
several argument values, names the blocking calls it catches, and says in its ❌ sentence what
it observed and which section teaches the point; the code to write is in the notebook's hints.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from ._core import blocking_message, checker, fail, require_callable, run_learner
from ._observe import fail_on_outcome, observe
from ._timers import Alarm, with_alarm

__all__ = ["BREWS", "REPORT_SIZES", "check_brew", "check_fetch_pair", "check_legacy_bridge",
           "legacy_report"]


def _call(name: str, args: tuple[Any, ...]) -> str:
    return f"{name}({', '.join(map(repr, args))})"


# -- Exercise 1: brew -------------------------------------------------------------------------
#: The (drink, seconds) cases of check_brew: different drinks and waits, so that a brew that
#: ignores an argument (always "tea", always 0.2 s) fails.
BREWS: tuple[tuple[str, float], ...] = (("coffee", 0.05), ("green tea", 0.4), ("cocoa", 0.15))

#: A wait longer than ``seconds`` + this, in seconds, means brew does not wait what it is told.
_BREW_SLACK = 0.3
#: brew must outlast an :class:`Alarm` set for this share of ``seconds``. A constant wait then
#: cannot pass: it must be at most 0.05 + 0.3 = 0.35 s (the coffee case's upper bound, which
#: lateness only makes harder) and outlast the alarm at 0.9 x 0.4 = 0.36 s in the green-tea
#: case, whatever the lateness (the alarm and its timer are late together). The old bound,
#: elapsed >= 0.8 x 0.4 = 0.32 s, let 0.32-0.35 s pass outright and 0.2 s with 0.12 s of
#: lateness.
_BREW_ALARM = 0.9


@checker
async def check_brew(brew: Callable[[str, float], Any]) -> str:
    """``brew(drink, seconds)`` must be a coroutine function that waits ``seconds`` without
    blocking the event loop, then returns ``"<drink> is ready"``."""
    require_callable(brew, "brew", is_async=True)
    took = []
    for drink, seconds in BREWS:
        args = (drink, seconds)
        call = _call("brew", args)
        alarm = Alarm(seconds * _BREW_ALARM)
        seen = await observe(with_alarm(brew, alarm), *args)
        fail_on_outcome(call, seen.outcome, time_limit=5.0,
                        see="notebook 01 shows what that costs; notebook 03, section 4, "
                            "measures it")
        result, elapsed, printed = seen.outcome.value, seen.outcome.elapsed, seen.printed
        expected = f"{drink} is ready"
        if result is None:
            shown = f" It printed {printed!r}, but" if printed else ""
            fail(f"{call} returned None.{shown} the check (like any code that awaits brew) "
                 "gets only what brew returns.")
        if result != expected:
            fail(f"{call} returned {result!r}; expected {expected!r}. The check tries several "
                 "drinks: the text must use the `drink` it is given.")
        # Returned before the alarm although the loop was free (the heartbeat ran): too short,
        # however late the loop ran. A loop blocked the whole time is the heartbeat's verdict.
        if elapsed < seconds * 0.8 or (not alarm.rang and seen.beats > 0):
            warned = (f" Python warned that the coroutine {seen.unawaited[0]!r} was never "
                      "awaited (section 2)." if seen.unawaited else "")
            fail(f"{call} returned after {elapsed:.2f} s instead of about {seconds:g} s: it did "
                 f"not wait for `seconds`.{warned}")
        if elapsed > seconds + _BREW_SLACK:
            fail(f"{call} took {elapsed:.2f} s instead of about {seconds:g} s: it does not wait "
                 "the `seconds` it is given (the check tries several).")
        if seconds >= 0.15 and seen.beats <= 1:
            fail(f"{call} waited {elapsed:.2f} s, but a heartbeat task that wants to run "
                 f"every 10 ms ran {seen.beats} time(s) meanwhile: the event loop's thread was "
                 "blocked, by a call the check could not name (notebook 03, section 4, shows the "
                 "difference between the two ways to wait).")
        took.append(f"{elapsed:.2f} s for {seconds:g} s")
    return (f"brew returned the right text for {len(BREWS)} drinks and waited what it was told "
            f"({', '.join(took)}), and the event loop stayed free while it waited.")


# -- Exercise 2: fetch_pair -------------------------------------------------------------------
class _CoroutineSpy:
    """A ``fetch_user(user_id)`` coroutine function that remembers every coroutine it made and
    which of them started running."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.made: list[Coroutine[Any, Any, dict[str, object]]] = []
        self.started = 0

    async def _fetch(self, user_id: int) -> dict[str, object]:
        self.started += 1
        await asyncio.sleep(self.delay)
        return {"id": user_id, "name": f"user {user_id}"}

    def __call__(self, user_id: int) -> Coroutine[Any, Any, dict[str, object]]:
        coro = self._fetch(user_id)
        self.made.append(coro)
        return coro

    def close_unstarted(self) -> None:
        """Close the coroutines nobody ran, so that Python does not warn about them later."""
        for coro in self.made:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()


#: The id pairs check_fetch_pair tries: a fetch_pair that ignores an id cannot pass them all.
_PAIRS: tuple[tuple[int, int], ...] = ((3, 7), (12, 5), (4, 4))


@checker
async def check_fetch_pair(fetch_pair: Callable[..., Any]) -> str:
    """``fetch_pair(fetch_user, first_id, second_id)`` must return ``[user, user]``: both
    results of awaiting ``fetch_user(...)``, not coroutine objects."""
    require_callable(fetch_pair, "fetch_pair", is_async=True)
    for first_id, second_id in _PAIRS:
        spy = _CoroutineSpy()
        call = f"fetch_pair(fetch_user, {first_id}, {second_id})"
        shown = ""
        try:
            outcome = await run_learner(fetch_pair, spy, first_id, second_id)
            shown = repr(outcome.value)
        finally:
            spy.close_unstarted()
        never_ran = len(spy.made) - spy.started
        if outcome.blocking:
            fail(blocking_message(call, outcome.blocking, "notebook 03, section 4"))
        if outcome.timed_out:
            fail(f"{call} did not finish within 5 s: is something waiting forever?")
        error = outcome.error
        if isinstance(error, TypeError | AttributeError) and "coroutine" in str(error):
            fail(f"{call} raised {type(error).__name__}: {error}. It used what "
                 "fetch_user(...) returned, a coroutine object, as if it were the user "
                 "(section 1: calling a coroutine function runs none of its body).")
        if error is not None:
            fail(f"{call} raised {type(error).__name__}: {error}")
        if outcome.unawaited:
            fail(f"{call} returned {shown}: {never_ran} of the {len(spy.made)} coroutine "
                 "objects that fetch_user(...) made never ran, so the list holds a coroutine "
                 "object where a user should be (section 2: the forgotten `await`).")
        if never_ran:
            fail(f"{call} called fetch_user {len(spy.made)} times but only {spy.started} of "
                 f"those coroutines ran: {never_ran} was made and never awaited (section 2).")
        result = outcome.value
        expected = [{"id": first_id, "name": f"user {first_id}"},
                    {"id": second_id, "name": f"user {second_id}"}]
        if not isinstance(result, list):
            fail(f"{call} returned {type(result).__name__} {result!r}; expected the list "
                 f"{expected!r}.")
        if result != expected:
            got = [u.get("id") if isinstance(u, dict) else u for u in result]
            fail(f"{call} returned the users with ids {got!r}; expected the list of users "
                 f"{first_id} and {second_id}, in that order. The check tries several pairs "
                 "of ids: use the ids it passes.")
    return (f"fetch_pair awaited both calls and returned the two users, for {len(_PAIRS)} pairs "
            "of ids.")


# -- Exercise 3: the bridge to a sync-over-async library --------------------------------------
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


#: The sizes check_legacy_bridge asks for: a bridge that ignores ``n`` cannot pass both.
REPORT_SIZES: tuple[int, ...] = (6, 3)


@checker
async def check_legacy_bridge(report_from_notebook: Callable[[int], Any]) -> str:
    """``report_from_notebook(n)`` must return ``legacy_report(n)`` from inside a running event
    loop, without blocking it and without patching asyncio (nest_asyncio)."""
    require_callable(report_from_notebook, "report_from_notebook", is_async=True)
    if getattr(asyncio, "_nest_patched", False) or getattr(
            type(asyncio.get_running_loop()), "_nest_patched", False):
        fail("asyncio is patched by nest_asyncio in this kernel (apply() was called): the "
             "check cannot tell a bridge from the patch. Restart the kernel, run the cells "
             "from the top, skipping apply(), and try again (section 10 needs no patch).")
    took = []
    for n in REPORT_SIZES:
        call = f"report_from_notebook({n})"
        seen = await observe(report_from_notebook, n)
        outcome = seen.outcome
        error = outcome.error
        if isinstance(error, RuntimeError) and "running event loop" in str(error):
            fail(f"{call} raised RuntimeError: {error}. legacy_report calls asyncio.run(), and "
                 "it ran in the notebook's thread, whose loop is already running (section 8 "
                 "shows this error, section 10 a way around it).")
        fail_on_outcome(call, outcome, time_limit=5.0,
                        see="section 10 measures a way that keeps the loop free")
        result, elapsed = outcome.value, outcome.elapsed
        squares = [i * i for i in range(n)]
        if result is None:
            fail(f"{call} returned None: return the text that legacy_report({n}) returns.")
        if not isinstance(result, str) or not result.startswith(f"{n} squares {squares}"):
            other_n = isinstance(result, str) and " squares [" in result \
                and not result.startswith(f"{n} squares")
            fail(f"{call} returned {result!r}; expected the text that legacy_report({n}) "
                 f"returns, which starts with '{n} squares {squares}'."
                 + (" The check tries several sizes: pass `n` on." if other_n else ""))
        if result.endswith(threading.main_thread().name):
            fail(f"{call} ran legacy_report in the notebook's own thread, inside its running "
                 "loop: section 10 runs it somewhere else.")
        beats = seen.beats
        if elapsed >= 0.2 and beats <= 2:
            fail(f"{call} returned the right text after {elapsed:.2f} s, but a heartbeat task "
                 f"that wants to run every 10 ms ran only {beats} time(s) meanwhile: the "
                 "notebook's event loop was blocked while legacy_report ran (section 10 shows "
                 "the heartbeat going on during the job).")
        took.append(f"{elapsed:.2f} s for n={n}")
    return (f"legacy_report ran its own event loop in a worker thread ({', '.join(took)}) while "
            "the notebook's loop stayed free.")

