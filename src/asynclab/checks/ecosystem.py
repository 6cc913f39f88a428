"""Checks for notebook 18 (The async ecosystem).

TODO: these two checks are the scaffold's worked examples of the rules in CONTRIBUTING.md
(several argument values, concurrency counted at the server, blocking calls caught by name,
a ❌ that says what was observed and where the lesson teaches it, never the solution's code).
Replace them with this lesson's checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..servers import DemoAPI, user_record
from ._core import call_learner, checker, fail, require_callable

__all__ = ["check_ecosystem_fetch_all", "check_ecosystem_pause"]

_LATENCY = 0.1
#: Several id lists, in an order where position != id, so a hard-coded answer fails.
_CASES = ([3, 1, 4], [5, 9, 2, 6, 8])


@checker
async def check_ecosystem_fetch_all(fetch_all: Callable[..., Any]) -> str:
    """``fetch_all(base_url, ids)`` returns the users' names in the order of ``ids``, with
    all the requests in flight at once (counted by the server)."""
    require_callable(fetch_all, "fetch_all", is_async=True)
    with DemoAPI(latency=_LATENCY) as api:
        for ids in _CASES:
            api.stats.reset()
            result, elapsed = await call_learner("fetch_all", fetch_all, api.url, list(ids),
                                                 see="section 1 shows how")
            expected = [user_record(i)["name"] for i in ids]
            if result != expected:
                fail(f"fetch_all(url, {ids}) returned {result!r:.120}; expected the names of "
                     f"users {ids}, in that order.")
            if api.stats.max_in_flight < len(ids):
                fail(f"The names are right, but at most {api.stats.max_in_flight} of {len(ids)} "
                     f"requests were in flight at once ({elapsed:.2f} s): they should all wait "
                     "together (section 1).")
    return "Every request was in flight at once, and the names came back in order."


@checker
async def check_ecosystem_pause(pause: Callable[[float], Any]) -> str:
    """``pause(seconds)`` waits ``seconds`` without blocking the event loop and returns
    ``seconds``."""
    require_callable(pause, "pause", is_async=True)
    for seconds in (0.05, 0.15):
        result, elapsed = await call_learner("pause", pause, seconds, see="section 1")
        if result != seconds:
            fail(f"pause({seconds}) returned {result!r}; expected {seconds}.")
        if elapsed < seconds * 0.9:
            fail(f"pause({seconds}) returned after {elapsed:.2f} s: it did not wait.")
    return "pause waited as long as it was asked, and the event loop stayed free."
