"""Checks for notebook 04 (gather and friends)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..servers import DemoAPI, user_record
from ._core import call_learner, checker, fail, require_callable

__all__ = ["check_fetch_all_safe", "check_fetch_users", "check_process_as_completed"]

_LATENCY = 0.15
_IDS = [4, 1, 7, 2, 9, 5]
_FAIL_IDS = {2, 5}


@checker
async def check_fetch_users(fetch_users: Callable[..., Any]) -> str:
    """``fetch_users(base_url, ids)`` returns the users' JSON dicts in the order of ``ids``,
    with the requests in flight together (measured on the server)."""
    require_callable(fetch_users, "fetch_users", is_async=True)
    expected = [user_record(i) for i in _IDS]
    sequential = len(_IDS) * _LATENCY
    with DemoAPI(latency=_LATENCY) as api:
        result, elapsed = await call_learner("fetch_users", fetch_users, api.url, list(_IDS))
        overlap = api.stats.max_in_flight
    if not isinstance(result, list):
        fail(f"fetch_users returned {type(result).__name__}; return a list of user dicts.")
    if result != expected:
        if len(result) == len(expected) and all(r in expected for r in result):
            fail("You got every user, but not in the order of `ids`. asyncio.gather returns "
                 "the results in the order of its arguments: return its list as it is.")
        fail(f"fetch_users(url, {_IDS}) returned {result!r:.120}; expected the user dicts "
             f"for ids {_IDS}, in that order.")
    if overlap < 2 or elapsed > sequential * 0.6:
        fail(f"The users are right, but {len(_IDS)} requests took {elapsed:.2f} s (one after "
             f"another takes about {sequential:.1f} s) and the server saw at most {overlap} at "
             "once. Build all the coroutines first, then await them together with "
             "asyncio.gather(*...).")
    return (f"{len(_IDS)} users in order in {elapsed:.2f} s instead of about {sequential:.1f} s: "
            "the server had them in flight together.")


@checker
async def check_fetch_all_safe(fetch_all_safe: Callable[..., Any]) -> str:
    """``fetch_all_safe(base_url, ids)`` returns one item per id: the user dict, or the
    exception object for a failed request. No exception escapes; the requests overlap."""
    require_callable(fetch_all_safe, "fetch_all_safe", is_async=True)
    with DemoAPI(latency=_LATENCY, fail_ids=_FAIL_IDS) as api:
        result, elapsed = await call_learner(
            "fetch_all_safe", fetch_all_safe, api.url, list(_IDS),
            hint="The first failure escaped from gather and the other results were lost: "
                    "pass return_exceptions=True so gather returns the exceptions in the list.")
        overlap = api.stats.max_in_flight
        await asyncio.sleep(0)
    if not isinstance(result, list):
        fail(f"fetch_all_safe returned {type(result).__name__}; return the list from gather.")
    if len(result) != len(_IDS):
        fail(f"fetch_all_safe returned {len(result)} items for {len(_IDS)} ids: keep one item "
             "per id, the failed ones included (as exception objects), in the order of ids.")
    for user_id, item in zip(_IDS, result, strict=True):
        if user_id in _FAIL_IDS:
            if not isinstance(item, BaseException):
                fail(f"User {user_id} fails on the server, but its place in the list holds "
                     f"{item!r:.60} instead of the exception object. Don't catch and replace "
                     "the error: return_exceptions=True puts the exception itself there.")
        elif item != user_record(user_id):
            fail(f"The item for user {user_id} is {item!r:.80}; expected its user dict.")
    if overlap < 2:
        fail(f"The list is right, but the server never saw two requests at once ({elapsed:.2f} s):"
             " fetch them together with asyncio.gather.")
    failed = ", ".join(str(i) for i in _IDS if i in _FAIL_IDS)
    return (f"Users {failed} came back as exceptions, the other {len(_IDS) - len(_FAIL_IDS)} as "
            f"dicts, in order, in {elapsed:.2f} s, and nothing escaped.")


#: (label, seconds) of the jobs in the as-completed check: they finish in another order.
_JOBS = [("A", 0.30), ("B", 0.10), ("C", 0.40), ("D", 0.02), ("E", 0.20)]


@checker
async def check_process_as_completed(process_as_completed: Callable[..., Any]) -> str:
    """``process_as_completed(aws, on_result)`` calls ``on_result(result)`` for each awaitable
    as soon as it finishes: callback order = completion order, with no long delay."""
    require_callable(process_as_completed, "process_as_completed", is_async=True)
    finished: dict[str, float] = {}
    called: list[tuple[str, float]] = []
    start = time.perf_counter()

    async def job(label: str, seconds: float) -> str:
        await asyncio.sleep(seconds)
        finished[label] = time.perf_counter() - start
        return label

    def on_result(value: object) -> None:
        called.append((str(value), time.perf_counter() - start))

    coros: list[Coroutine[Any, Any, str]] = [job(label, s) for label, s in _JOBS]
    try:
        _, elapsed = await call_learner("process_as_completed", process_as_completed,
                                          list(coros), on_result)
    finally:
        for coro in coros:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()  # the learner never ran it: no "never awaited" warning
    completion = sorted(finished, key=finished.__getitem__)
    order = [label for label, _ in called]
    labels = [label for label, _ in _JOBS]
    if sorted(order) != sorted(labels):
        fail(f"on_result was called with {order}; call it once per result, with the result "
             f"(the jobs return {labels}).")
    if order == labels:
        fail(f"on_result got the results in the order you passed them ({''.join(order)}), not "
             f"in the order they finished ({''.join(completion)}): gather waits for all and "
             "keeps argument order. Loop over asyncio.as_completed(aws) instead.")
    if order != completion:
        fail(f"on_result got {''.join(order)} but the jobs finished as {''.join(completion)}: "
             "handle each result when it arrives, with asyncio.as_completed.")
    late = max(t - finished[label] for label, t in called)
    if late > 0.1:
        fail(f"The order is right, but a result waited {late:.2f} s before on_result saw it: "
             "call on_result inside the loop, as each awaitable completes.")
    slowest = max(s for _, s in _JOBS)
    if elapsed > slowest + 0.2:
        fail(f"It took {elapsed:.2f} s; running together the jobs take about {slowest:.1f} s.")
    return (f"on_result saw {''.join(order)}, the order the jobs finished in, each as it "
            f"arrived; {elapsed:.2f} s in all.")
