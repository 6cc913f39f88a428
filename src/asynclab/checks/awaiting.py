"""Checks for notebook 03 (await)."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Callable
from typing import Any

import aiohttp

from ..looplag import LagMonitor
from ..servers import USERS, DemoAPI, profile_record, user_record
from ._core import call_learner, checker, fail, require_callable

__all__ = ["CRUNCH_SIZE", "check_crunch", "check_profile_of", "check_warm_up"]

_MAX_LAG = 0.05  # seconds: a heartbeat later than this means the loop was blocked


@checker
async def check_profile_of(profile_of: Callable[..., Any]) -> str:
    """``profile_of(session, base_url, name)`` must find the user called ``name`` in
    ``GET /users``, then return the JSON of ``GET /users/{id}/profile`` for that user."""
    require_callable(profile_of, "profile_of", is_async=True)
    names = {user_record(i)["name"]: i for i in USERS}
    cases = ["Grace Hopper", "Linus Torvalds"]
    with DemoAPI(latency=0.05) as api:
        async with aiohttp.ClientSession() as session:
            for name in cases:
                user_id = names[name]
                before = api.stats.requests
                result, _ = await call_learner("profile_of", profile_of, session, api.url, name)
                requests = api.stats.requests - before
                expected = profile_record(user_id)
                if isinstance(result, aiohttp.ClientResponse):
                    fail("profile_of returned the response object: return "
                         "`await response.json()`, the data.")
                if result is None:
                    fail(f"profile_of(session, url, {name!r}) returned None: `return` the "
                         "profile.")
                if not isinstance(result, dict):
                    fail(f"profile_of returned {type(result).__name__} {result!r}; expected "
                         f"the profile dict {expected!r}.")
                got_id = result.get("user_id")
                if got_id != user_id and isinstance(got_id, int) and abs(got_id - user_id) == 1:
                    fail(f"profile_of(..., {name!r}) returned the profile of user {got_id}, but "
                         f"{name} has id {user_id}: take the id from the user's JSON, not "
                         "from the position in the list.")
                if result != expected:
                    fail(f"profile_of(..., {name!r}) returned {result!r}; expected "
                         f"{expected!r} (the JSON of /users/{user_id}/profile).")
                if requests > 3:
                    fail(f"profile_of made {requests} requests for one name: one request for "
                         "the list of users, then one for the profile is enough.")
    return ("profile_of found each user in the list, then fetched the profile: two steps "
            "where the second needs the result of the first.")


@checker
async def check_warm_up(warm_up: Callable[[int], Any]) -> str:
    """``warm_up(steps)`` must wait 0.05 s per step without freezing the event loop and
    return ``"warm after <steps> steps"``."""
    require_callable(warm_up, "warm_up", is_async=True)
    steps = 4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with LagMonitor(interval=0.01) as lag:
            result, elapsed = await call_learner("warm_up", warm_up, steps)
        gc.collect()
    forgot_await = any("never awaited" in str(w.message) for w in caught)
    expected = f"warm after {steps} steps"
    if result != expected:
        fail(f"warm_up({steps}) returned {result!r}; expected {expected!r}.")
    if elapsed < steps * 0.05 * 0.8:
        fail(f"warm_up({steps}) finished after {elapsed:.2f} s instead of about "
             f"{steps * 0.05:.1f} s: it did not wait."
             + (" A coroutine was never awaited: write `await asyncio.sleep(0.05)`."
                if forgot_await else ""))
    if lag.max_lag > _MAX_LAG:
        fail(f"The event loop was frozen for up to {lag.max_lag * 1000:.0f} ms at a time "
             f"(allowed: {_MAX_LAG * 1000:.0f} ms): time.sleep blocks the loop. Use "
             "`await asyncio.sleep(0.05)`.")
    return (f"warm_up waited {elapsed:.2f} s and the heartbeat was never more than "
            f"{lag.max_lag * 1000:.0f} ms late: the loop stayed free.")


#: How many numbers ``crunch`` gets in the check.
CRUNCH_SIZE = 1_500_000


@checker
async def check_crunch(crunch: Callable[[int], Any]) -> str:
    """``crunch(n)`` must return ``sum(i * i for i in range(n))``, computed in a loop that
    lets other tasks run (``await asyncio.sleep(0)`` every few thousand numbers)."""
    require_callable(crunch, "crunch", is_async=True)
    n = CRUNCH_SIZE
    beats: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        while not stop.is_set():
            beats.append(time.perf_counter())
            await asyncio.sleep(0.005)

    beat_task = asyncio.create_task(heartbeat(), name="check-heartbeat")
    await asyncio.sleep(0)
    try:
        async with LagMonitor(interval=0.01) as lag:
            start = time.perf_counter()
            result, elapsed = await call_learner("crunch", crunch, n, time_limit=10)
            end = time.perf_counter()
    finally:
        stop.set()
        beat_task.cancel()
        await asyncio.gather(beat_task, return_exceptions=True)
    expected = n * (n - 1) * (2 * n - 1) // 6
    if result != expected:
        fail(f"crunch({n}) returned {result!r}; expected {expected} (the sum of i*i).")
    during = sum(1 for t in beats if start < t < end)
    # The heartbeat count is what tells a loop that yields from one that does not; the lag
    # bound is looser than _MAX_LAG so that a busy machine does not fail a right answer.
    if during < 3 or lag.max_lag > 3 * _MAX_LAG:
        fail(f"The sum is right, but crunch kept the loop to itself: in {elapsed:.2f} s a "
             f"heartbeat task ran {during} time(s) and was up to {lag.max_lag * 1000:.0f} ms "
             "late. Add `await asyncio.sleep(0)` inside the loop, every few thousand numbers "
             "(for example `if i % 10_000 == 0:`).")
    return (f"crunch took {elapsed:.2f} s and a heartbeat task kept running meanwhile "
            f"(worst delay {lag.max_lag * 1000:.0f} ms).")
