"""Checks for notebook 04 (gather and friends).

Each check calls the learner's function several times, with id lists of different lengths in
a shuffled order (ids are not positions), and observes concurrency where it happens: the
demo server counts the requests in flight, and the as-completed check counts the jobs
running at once. "All at once" means all N in flight together, not "faster than in turn".
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..servers import DemoAPI, user_record
from ._core import call_learner, checker, fail, require_callable

__all__ = ["check_fetch_all_safe", "check_fetch_users", "check_process_as_completed"]

#: Server latency in the checks: long enough that N requests started together are all in
#: flight at once on a loaded machine, short enough to keep a check under a few seconds.
_LATENCY = 0.25
#: The id lists each check asks for, one after another (shuffled, different lengths).
_CASES: tuple[tuple[int, ...], ...] = ((4, 1, 7, 2, 9, 5), (13, 3, 18), (8, 20, 11, 6, 15, 2, 17))
#: Users that always fail (HTTP 503) in the fetch_all_safe check, and its id lists.
_FAIL_IDS = frozenset({2, 5, 13})
_SAFE_CASES: tuple[tuple[int, ...], ...] = ((4, 2, 7, 5, 9), (13, 1, 18, 6), (3, 8))
_BLOCKING_SEE = "notebook 03 shows why"


def _in_flight_sentence(what: str, seen: int, ids: Sequence[int]) -> str:
    """What the server observed when not all requests were in flight together."""
    n = len(ids)
    if seen <= 1:
        how = f"the {n} requests came one after another: the server never had two at once"
    else:
        how = f"at most {seen} of {n} requests were in flight at once (counted by the server)"
    return (f"{what} right, but for ids {list(ids)} {how}. All {n} should be in flight "
            "together (sections 1 and 4 of this notebook).")


def _short(value: object, width: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


@checker
async def check_fetch_users(fetch_users: Callable[..., Any]) -> str:
    """``fetch_users(base_url, ids)`` returns the users' JSON dicts in the order of ``ids``,
    with all the requests in flight at once (counted by the server)."""
    require_callable(fetch_users, "fetch_users", is_async=True)
    times = []
    with DemoAPI(latency=_LATENCY) as api:
        for ids in _CASES:
            api.stats.reset()
            result, elapsed = await call_learner("fetch_users", fetch_users, api.url, list(ids),
                                                 see=_BLOCKING_SEE)
            seen = api.stats.max_in_flight
            expected = [user_record(i) for i in ids]
            if not isinstance(result, list):
                fail(f"fetch_users(url, {list(ids)}) returned a {type(result).__name__}; the "
                     "exercise asks for a list of user dicts.")
            if result != expected:
                got = [item.get("id") if isinstance(item, dict) else item for item in result]
                if sorted(map(str, got)) == sorted(map(str, ids)):
                    fail(f"For ids {list(ids)} you got every user, but in the order {got}: "
                         "the list must follow the order of `ids` (section 3).")
                if all(isinstance(item, dict) and "id" in item for item in result):
                    fail(f"fetch_users(url, {list(ids)}) returned the users with ids {got}: "
                         "does it use the ids it is given?")
                fail(f"fetch_users(url, {list(ids)}) returned {_short(result)}; expected the "
                     f"user dicts for ids {list(ids)}, in that order.")
            if seen < len(ids):
                fail(_in_flight_sentence("The users are", seen, ids))
            times.append(elapsed)
    counts = "/".join(str(len(ids)) for ids in _CASES)
    return (f"{counts} users, in order, all in flight together each time "
            f"({', '.join(f'{t:.2f} s' for t in times)}; one request takes {_LATENCY:g} s).")


@checker
async def check_fetch_all_safe(fetch_all_safe: Callable[..., Any]) -> str:
    """``fetch_all_safe(base_url, ids)`` returns one item per id, in order: the user dict, or
    the exception object for a failed request. No exception escapes; all requests are in
    flight at once."""
    require_callable(fetch_all_safe, "fetch_all_safe", is_async=True)
    failed_total = 0
    with DemoAPI(latency=_LATENCY, fail_ids=_FAIL_IDS) as api:
        for ids in _SAFE_CASES:
            api.stats.reset()
            failing = [i for i in ids if i in _FAIL_IDS]
            if failing:
                who = (f"User {failing[0]} fails" if len(failing) == 1 else
                       f"Users {', '.join(map(str, failing))} fail")
                hint = (f"{who} on the server: the error escaped from "
                        f"fetch_all_safe(url, {list(ids)}) and the other results were lost. "
                        "Section 6 shows how to get every outcome in the list instead.")
            else:
                hint = ""
            result, _ = await call_learner("fetch_all_safe", fetch_all_safe, api.url, list(ids),
                                           hint=hint, see=_BLOCKING_SEE)
            seen = api.stats.max_in_flight
            if not isinstance(result, list):
                fail(f"fetch_all_safe(url, {list(ids)}) returned a {type(result).__name__}; the "
                     "exercise asks for a list with one item per id.")
            if len(result) != len(ids):
                fail(f"For {len(ids)} ids ({list(ids)}, of which {failing or 'none'} fail) "
                     f"fetch_all_safe returned {len(result)} items: keep one item per id, in "
                     "the order of ids, the failed ones included as exception objects.")
            for user_id, item in zip(ids, result, strict=True):
                if user_id in _FAIL_IDS:
                    if isinstance(item, dict) and item.get("id") not in (None, user_id):
                        fail(f"For ids {list(ids)}, the place of user {user_id} (which fails "
                             f"on the server) holds the dict of user {item['id']}: the list "
                             "must follow the order of ids (section 3).")
                    if not isinstance(item, BaseException):
                        fail(f"User {user_id} fails on the server (HTTP 503), but its place in "
                             f"the list holds {_short(item, 60)} instead of the exception "
                             "object: the caller can no longer tell what went wrong "
                             "(section 6).")
                elif item != user_record(user_id):
                    where = ("an exception, " + type(item).__name__
                             if isinstance(item, BaseException) else _short(item, 80))
                    fail(f"For ids {list(ids)}, the item for user {user_id} is {where}; "
                         "expected its user dict (the list follows the order of ids).")
            if seen < len(ids):
                fail(_in_flight_sentence("The list is", seen, ids))
            failed_total += len(failing)
            await asyncio.sleep(0)
    calls = len(_SAFE_CASES)
    return (f"{calls} calls, {failed_total} failing users came back as exception objects and "
            "the others as dicts, each in its place, all requests in flight together, and "
            "nothing escaped.")


#: Job sets for the as-completed check: (label, seconds); each finishes in another order
#: than it is passed. Gaps of at least 0.08 s between finishes.
_JOB_SETS: tuple[tuple[tuple[str, float], ...], ...] = (
    (("A", 0.30), ("B", 0.10), ("C", 0.40), ("D", 0.02), ("E", 0.20)),
    (("P", 0.05), ("Q", 0.35), ("R", 0.15), ("S", 0.25)),
)
#: How late on_result may see a result (s).
_LATE = 0.15
#: An answer that holds results back (reports them all at the end, or in batches of two) is
#: caught whatever the machine's lateness (a loop stall squeezes the finish times together, and
#: a stall of 0.15-0.25 s made a report at the end pass the bound above): each job, once its
#: time is up, waits until on_result has seen every job that finished before it, at most this
#: long. A right answer has made those calls by then (finishes are 0.08 s or more apart, and
#: a result handed on at once is seen a few loop steps after its job returns), so it never
#: waits; one that holds a result back makes the next job wait it out. It costs a right answer
#: nothing, and a wrong one about this much per set.
_REPORT_WAIT = 0.5


@checker
async def check_process_as_completed(process_as_completed: Callable[..., Any]) -> str:
    """``process_as_completed(aws, on_result)`` calls ``on_result(result)`` for each awaitable
    as soon as it finishes: all jobs run at once, callback order = completion order, each
    result is handled without waiting for the others."""
    require_callable(process_as_completed, "process_as_completed", is_async=True)
    summary = []
    for jobs in _JOB_SETS:
        summary.append(await _one_job_set(process_as_completed, jobs))
    return (f"on_result saw {' and '.join(summary)}: the order the jobs finished in, each "
            "result as it arrived, with all jobs running at once.")


async def _one_job_set(process_as_completed: Callable[..., Any],
                       jobs: tuple[tuple[str, float], ...]) -> str:
    finished: dict[str, float] = {}
    called: list[tuple[object, float]] = []
    running = 0
    most_running = 0
    progress = asyncio.Event()  # set by every on_result call
    held_back = False  # a job waited _REPORT_WAIT for on_result to see an earlier result
    start = time.perf_counter()

    async def earlier_results_seen(earlier: list[str]) -> bool:
        """Wait until on_result has seen each of `earlier`; False if _REPORT_WAIT ran out."""
        try:
            async with asyncio.timeout(_REPORT_WAIT):
                while not all(any(label == value for value, _ in called) for label in earlier):
                    progress.clear()
                    await progress.wait()
        except TimeoutError:
            return False
        return True

    async def job(label: str, seconds: float) -> str:
        nonlocal running, most_running, held_back
        running += 1
        most_running = max(most_running, running)
        try:
            await asyncio.sleep(seconds)
            if not await earlier_results_seen(list(finished)):
                held_back = True
        finally:
            running -= 1
        finished[label] = time.perf_counter() - start
        return label

    def on_result(value: object) -> None:
        called.append((value, time.perf_counter() - start))
        progress.set()

    labels = [label for label, _ in jobs]
    coros: list[Coroutine[Any, Any, str]] = [job(label, s) for label, s in jobs]
    try:
        await call_learner("process_as_completed", process_as_completed, list(coros), on_result,
                           see=_BLOCKING_SEE)
    finally:
        for coro in coros:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()  # the learner never ran it: no "never awaited" warning
    values = [value for value, _ in called]
    for value in values:
        if inspect.iscoroutine(value):
            value.close()  # handed on un-awaited: no "never awaited" warning later
    odd = [v for v in values if v not in labels]
    if odd:
        kind = type(odd[0]).__name__
        fail(f"on_result was called with a {kind} ({_short(odd[0], 60)}) instead of a job's "
             f"result (the jobs return {labels}): await each item before handing it on "
             "(section 7).")
    order = "".join(str(v) for v in values)
    completion = "".join(sorted(finished, key=finished.__getitem__))
    if sorted(values) != sorted(labels):
        fail(f"on_result was called {len(values)} times, with {values}, for {len(labels)} jobs "
             f"that return {labels}: call it once per result.")
    if most_running < len(jobs):
        fail(f"The jobs {''.join(labels)} never all ran at once: at most {most_running} of "
             f"{len(jobs)} were running together, so each waited for the one before "
             "(section 7 runs them together).")
    if order != completion:
        passed = "".join(labels)
        which = (f"the order you passed them ({passed})" if order == passed
                 else f"the order {order}")
        fail(f"on_result got the results in {which}, not in the order they finished "
             f"({completion}): handle each result when it arrives (section 7).")
    late = max(t - finished[str(value)] for value, t in called)
    if late > _LATE or held_back:
        fail(f"The order is right ({order}), but a result waited {late:.2f} s after its job "
             "finished before on_result saw it: hand each result on as soon as it arrives, "
             "not together with later ones (section 7).")
    return order
