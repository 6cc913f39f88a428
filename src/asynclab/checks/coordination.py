"""Checks for notebook 08 (Coordination).

The checks observe the learner's code from the server's side: the demo server logs when each
request arrived and ended, so the checks count the requests in flight at every moment (a limit
is both respected *and* used), measure the gaps between retries, and count how many requests a
retry loop made; the waits a retry loop asks of ``asyncio.sleep`` are recorded too and judged
exactly (lateness cannot lift them). They also count the tasks the learner's code created
and look for tasks left running after it returned. The learner's code is called through
:func:`run_learner`.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import sysconfig
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiohttp
from aiohttp import web

from ..servers import DemoAPI, Request, user_record
from ._core import Outcome, blocking_message, checker, fail, require_callable, run_learner
from ._observe import never_awaited
from ._timers import asked_sleeps, short_wait

__all__ = ["check_fetch_all", "check_fetch_with_retry", "check_process"]

_BLOCKING_SEE = "notebook 03 shows why"


#: Users slower than the rest in check_fetch_all (id -> s): see _IDLE.
_SLOW_USERS = {7: 1.2}


class _CheckAPI(DemoAPI):
    """The demo API with two twists the checks need.

    - Each user takes its own time (0.05 to 0.35 s, by id; user 7 takes 1.2 s), so a batch of
      requests waits for its slowest one: a pool that refills a free slot at once stays full,
      batches do not.
    - The first request for ``/flaky/slow-...`` takes 0.5 s (a client timeout cuts it); the
      next ones answer at the usual latency.
    """

    def __init__(self, *, uneven: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uneven = uneven
        self._slowed: set[str] = set()

    def delay_for(self, request: web.Request) -> float:
        path = request.path
        if path.startswith("/flaky/slow-") and path not in self._slowed:
            self._slowed.add(path)
            return 0.5
        if self.uneven and path.startswith("/users/"):
            tail = path.rsplit("/", 1)[-1]
            if tail.isdigit():
                return _SLOW_USERS.get(int(tail), 0.05 + 0.1 * (int(tail) % 4))
        return super().delay_for(request)


def _in_flight(log: Sequence[Request]) -> tuple[int, list[tuple[float, int]]]:
    """The most requests in flight at once, and the count after every start or end."""
    events = sorted([(r.started, 1) for r in log] +
                    [(r.finished, -1) for r in log if r.finished is not None])
    now = most = 0
    steps = []
    for when, step in events:
        now += step
        most = max(most, now)
        steps.append((when, now))
    return most, steps


def _longest_under(log: Sequence[Request], limit: int) -> float:
    """The longest stretch, between the first and the last request's arrival, during which
    the server had fewer than ``limit`` requests in flight: a pool that refills a free slot
    at once keeps it near zero; batches and a sequential tail do not."""
    if not log:
        return 0.0
    first = min(r.started for r in log)
    last = max(r.started for r in log)
    _, steps = _in_flight(log)
    longest = 0.0
    under_since: float | None = None
    for when, now in steps:
        if when > last:
            break
        if now < limit and under_since is None and when >= first:
            under_since = when
        elif now >= limit and under_since is not None:
            longest = max(longest, when - under_since)
            under_since = None
    if under_since is not None:
        longest = max(longest, last - under_since)
    return longest


async def _outcome_of(name: str, func: Callable[..., Any], *args: Any,
                      time_limit: float = 5.0, cancel_leftover_tasks: bool = True) -> Outcome:
    """Call the learner's function with :func:`run_learner`; fail on what is never right
    (a blocking call, running past the time limit, an un-awaited result). The learner's
    exception, if any, is left in ``outcome.error`` for the check to judge."""
    outcome = await run_learner(func, *args, time_limit=time_limit,
                                cancel_leftover_tasks=cancel_leftover_tasks)
    if outcome.timed_out and not outcome.blocking:
        fail(f"{name} did not finish within {time_limit:g} s: is something waiting forever?")
    _judge(outcome, name)
    return outcome


def _judge(outcome: Outcome, name: str) -> None:
    """Fail on a blocking call or an un-awaited result (the time limit is judged before)."""
    if outcome.blocking:
        fail(blocking_message(name, outcome.blocking, _BLOCKING_SEE))
    if outcome.unawaited:
        fail(f"{name} returned a {outcome.unawaited} object instead of a value: a missing "
             "`await` somewhere?")


def _short(value: object, width: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _raised(error: BaseException) -> str:
    status = getattr(error, "status", None)
    if isinstance(status, int):  # aiohttp's error text holds the URL: keep it short
        return f"{type(error).__name__} (HTTP {status})"
    return _short(error)


# -- exercise 1: a Semaphore -------------------------------------------------------------------
#: (ids, limit): position is not identity; limits differ, so a hard-coded limit fails.
_LIMIT_CASES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((4, 1, 7, 2, 9, 5, 12), 3),
    ((13, 3, 18, 6, 11), 2),
)
#: The longest time (s) the server may have fewer than ``limit`` requests while more are to
#: come: a refill takes milliseconds; batches of users of uneven speed leave slots idle, a
#: sequential tail for a whole request or more. The first batch of 3, users 4, 1 and 7
#: (0.05, 0.15 and 1.2 s), leaves places idle for 1.15 s: batches pass only if the server is
#: about 1.0 s later with user 4's answer than with user 7's (1.15 - 0.17); the other batches
#: leave 0.1-0.3 s idle.
_IDLE = 0.17


@checker
async def check_fetch_all(fetch_all: Callable[..., Any]) -> str:
    """``fetch_all(base_url, ids, limit)`` returns the users' names in the order of ``ids``,
    with at most ``limit`` requests in flight, and ``limit`` in flight whenever enough are
    left (counted by the server)."""
    require_callable(fetch_all, "fetch_all", is_async=True)
    seen = []
    with _CheckAPI(uneven=True) as api:
        for ids, limit in _LIMIT_CASES:
            api.stats.reset()
            call = f"fetch_all(url, {list(ids)}, limit={limit})"
            outcome = await _outcome_of("fetch_all", fetch_all, api.url, list(ids), limit)
            if outcome.error is not None:
                fail(f"{call} raised {_raised(outcome.error)}.")
            result = outcome.value
            expected = [user_record(i)["name"] for i in ids]
            if result != expected:
                if isinstance(result, list | tuple) and sorted(map(str, result)) == sorted(
                        expected) and list(result) != expected:
                    fail(f"{call} returned every name, but in another order: {_short(result)}. "
                         "The names must follow the order of `ids`.")
                if isinstance(result, tuple):
                    fail(f"{call} returned a tuple; the exercise asks for a list.")
                fail(f"{call} returned {_short(result)}; expected the names of users "
                     f"{list(ids)}, in that order: {_short(expected)}.")
            most, _ = _in_flight(api.stats.log)
            if most > limit:
                fail(f"The names are right, but for {call} the server had {most} requests in "
                     f"flight at once: the limit is {limit} (section 1).")
            if most < limit:
                how = ("one after another: the server never had two at once" if most <= 1
                       else f"at most {most} at once")
                fail(f"The names are right, but for {call} the requests came {how}. With "
                     f"limit={limit}, {limit} should be in flight together (section 1).")
            idle = _longest_under(api.stats.log, limit)
            if idle > _IDLE:
                fail(f"The names are right and at most {limit} requests were in flight, but "
                     f"for {call} the server had fewer than {limit} for {idle:.2f} s while "
                     "more requests were still to come: a place freed by one request should "
                     "be taken at once by the next one (section 1 shows the bands).")
            seen.append(f"{most} of {len(ids)}")
    return (f"Names in order; the server saw at most {', '.join(seen)} requests at once, "
            "exactly each limit, and every freed place was taken again at once.")


# -- exercise 2: a worker pool -----------------------------------------------------------------
#: (ids, workers); users in _POOL_FAILS always fail (HTTP 503).
_POOL_CASES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((4, 1, 7, 2, 9, 5, 12, 3, 8), 3),
    ((13, 3, 18, 6, 11), 2),
)
_POOL_FAILS = frozenset({7, 13})
#: The time limit of one call (s); a right answer takes about 0.3 s.
_POOL_LIMIT = 2.5
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")})


def _learner_made(task: asyncio.Task[Any]) -> bool:
    """Whether a task runs the learner's own coroutine (not aiohttp's or asyncio's)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and not code.co_filename.startswith(_LIBRARY_DIRS)


def _inside_wait_for() -> bool:
    """Whether the task being created is the one ``asyncio.wait_for`` makes on Python 3.11
    around what it waits for (3.12+ makes none): not a task of the learner's design."""
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return False
        if frame.f_code.co_name == "wait_for" and "asyncio" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


@contextmanager
def _counting_tasks() -> Iterator[list[asyncio.Task[Any]]]:
    """Record the tasks created on this loop while the block runs (run_learner's own task
    factory calls this one)."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    created: list[asyncio.Task[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task = previous(loop, coro, **kwargs) if previous else asyncio.Task(coro, loop=loop,
                                                                              **kwargs)
        if not _inside_wait_for():
            created.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(previous)


@checker
async def check_process(process: Callable[..., Any]) -> str:
    """``process(base_url, ids, workers)`` fetches every user with ``workers`` worker tasks
    that take ids from an ``asyncio.Queue``; it returns ``{id: name}``, with None for a user
    whose request failed; no task of it is left running when it returns."""
    require_callable(process, "process", is_async=True)
    summary = []
    with DemoAPI(latency=0.1, fail_ids=_POOL_FAILS) as api:
        for ids, workers in _POOL_CASES:
            api.stats.reset()
            call = f"process(url, {list(ids)}, workers={workers})"
            failing = [i for i in ids if i in _POOL_FAILS]
            before = asyncio.all_tasks()
            with _counting_tasks() as created:
                outcome = await run_learner(process, api.url, list(ids), workers,
                                            time_limit=_POOL_LIMIT, cancel_leftover_tasks=False)
            for _ in range(3):  # tasks cancelled just before the return end at the next turns
                await asyncio.sleep(0)
            left = [t for t in asyncio.all_tasks() - before
                    if not t.done() and _learner_made(t)]
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            if outcome.blocking:
                fail(blocking_message("process", outcome.blocking, _BLOCKING_SEE))
            if outcome.timed_out:
                fail(f"{call} did not finish within {_POOL_LIMIT:g} s (user {failing[0]} fails "
                     "on the server). Is something waiting forever? Waiting for a queue to be "
                     "finished ends only when every item taken from it has been marked done, "
                     "the failed ones too (section 4).")
            if outcome.unawaited:
                fail(f"process returned a {outcome.unawaited} object instead of a value: a "
                     "missing `await` somewhere?")
            if outcome.error is not None:
                fail(f"{call} raised {_raised(outcome.error)}; user {failing[0]} fails on the "
                     "server: record None for it and let the worker go on with the next id "
                     "(section 4).")
            result = outcome.value
            expected = {i: (None if i in _POOL_FAILS else user_record(i)["name"]) for i in ids}
            if not isinstance(result, dict):
                fail(f"{call} returned a {type(result).__name__} ({_short(result, 60)}); the "
                     "exercise asks for a dict {id: name}.")
            if set(result) != set(ids):
                missing = sorted(set(ids) - set(result))
                extra = sorted(set(result) - set(ids), key=str)
                fail(f"{call} returned a dict whose keys are not the ids: "
                     + (f"missing {missing}" if missing else "")
                     + ("; " if missing and extra else "")
                     + (f"unexpected {_short(extra, 60)}" if extra else "") + ".")
            for i in ids:
                if result[i] != expected[i]:
                    why = (f"user {i} fails on the server, so its value should be None"
                           if i in _POOL_FAILS else f"expected {expected[i]!r}")
                    fail(f"{call} returned {result[i]!r} for user {i}: {why}.")
            if left:
                fail(f"The results are right, but when {call} returned, {len(left)} of its "
                     "tasks were still running (waiting for the queue, probably): the "
                     "workers must be stopped before process returns (section 4).")
            most = api.stats.max_in_flight
            if most > workers:
                fail(f"The results are right, but for {call} the server had {most} requests "
                     f"in flight at once: {workers} workers make at most {workers} "
                     "(section 4).")
            if most < workers:
                how = ("one after another" if most <= 1 else f"at most {most} at once")
                fail(f"The results are right, but for {call} the requests came {how}: "
                     f"{workers} workers should keep {workers} in flight (section 4).")
            mine = [t for t in created if _learner_made(t)]
            if len(mine) > workers + 2:
                fail(f"The results are right, but {call} created {len(mine)} tasks for "
                     f"{len(ids)} ids: a pool of {workers} workers handles every id with "
                     f"{workers} tasks that take ids from a queue (section 4).")
            summary.append(f"{workers} workers for {len(ids)} ids")
    return (f"{' and '.join(summary)}: every user fetched, the failed one as None, exactly the "
            "number of workers in flight, and no task left running.")


# -- exercise 3: retries with backoff ----------------------------------------------------------
#: The time limit of one call in the retry check (s); right answers take 0.4 s at most.
_RETRY_LIMIT = 3.0
#: The server's latency in the retry check (s).
_RETRY_LATENCY = 0.02
#: The client's timeout in the retry check: the first request of /flaky/slow-... takes 0.5 s.
_CLIENT_TIMEOUT = 0.25
#: How much of the shortest allowed wait (half of base_delay * 2**k) a gap must show, at
#: least, when the waits were not asked of asyncio.sleep (those are judged exactly, see
#: short_wait); a busy machine only makes gaps longer, so then a constant wait passes with
#: 0.07 s of lateness on wait 6 of the base_delay=0.005 case.
_LOWER = 0.9
#: Extra time the retries of one call may take on a busy machine (s).
_SLACK = 0.3


def _waits(arrivals: list[float]) -> list[float]:
    """The waits between retries as the server saw them: gaps minus the server's latency."""
    return [b - a - _RETRY_LATENCY for a, b in zip(arrivals, arrivals[1:], strict=False)]


async def _call_retry(func: Callable[..., Any], when: str, *args: Any,
                      late: str = "is something waiting forever?",
                      asked: list[float] | None = None) -> Outcome:
    """Call the learner's fetch_with_retry with :func:`run_learner`, also recording the
    coroutines it created and never awaited (an ``asyncio.sleep(...)`` without ``await``)
    and, into ``asked``, the delays it asked of ``asyncio.sleep``; fail on what is never
    right. Its exception is left in ``outcome.error``."""
    with warnings.catch_warnings(record=True) as caught, asked_sleeps() as sleeps:
        warnings.simplefilter("always")
        outcome = await run_learner(func, *args, time_limit=_RETRY_LIMIT)
        gc.collect()  # an un-awaited coroutine warns when it is collected
    if asked is not None:
        asked[:] = sleeps
    forgotten = never_awaited(caught)
    if forgotten:
        fail(f"{when} made coroutines of {forgotten[0]}() that were never awaited "
             f"({len(forgotten)} of them): calling a coroutine function does not wait; is an "
             "`await` missing?")
    if outcome.timed_out and not outcome.blocking:
        fail(f"{when} did not finish within {_RETRY_LIMIT:g} s, {late}")
    _judge(outcome, "fetch_with_retry")
    return outcome


def _requests(n: int) -> str:
    return f"{n} request" if n == 1 else f"{n} requests"


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error and its explicit causes (``raise ... from error``)."""
    while error is not None:
        yield error
        error = error.__cause__


@checker
async def check_fetch_with_retry(fetch_with_retry: Callable[..., Any]) -> str:
    """``fetch_with_retry(session, url, attempts, base_delay)`` returns the JSON of ``url``,
    trying at most ``attempts`` times; it retries 5xx answers and timeouts after waiting a
    random time between ``base_delay * 2**k / 2`` and ``base_delay * 2**k`` (k = 0, 1, ...),
    does not retry other errors, and raises the last error when it gives up."""
    require_callable(fetch_with_retry, "fetch_with_retry", is_async=True)
    timeout = aiohttp.ClientTimeout(total=_CLIENT_TIMEOUT)
    notes = []
    with _CheckAPI(latency=_RETRY_LATENCY) as api:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            # A timeout is retried: the next request may be answered in time. (First, so that
            # the server's slow answer ends while the other cases run.)
            api.stats.reset()
            outcome = await _call_retry(fetch_with_retry, "For a URL whose first answer comes "
                                        "too late, fetch_with_retry", session,
                                        f"{api.url}/flaky/slow-d?fails=0", 3, 0.02)
            made = len(api.stats.arrivals("/flaky/slow-d"))
            if outcome.error is not None:
                fail(f"The first request to a URL took longer than the session's "
                     f"{_CLIENT_TIMEOUT:g} s timeout; fetch_with_retry(session, url, "
                     f"attempts=3, base_delay=0.02) raised {_raised(outcome.error)} after "
                     f"{_requests(made)}: a timeout is worth retrying (section 7).")
            if outcome.value != {"key": "slow-d", "attempt": 1}:
                fail(f"After a timed-out first request, fetch_with_retry returned "
                     f"{_short(outcome.value, 80)}; expected the JSON of the second answer.")

            # (key, fails, attempts, base_delay): two succeed at the last allowed attempts,
            # one gives up; base delays far apart, so a hard-coded delay fails one of them.
            # The first's is large for an answer that waits without asyncio.sleep (judged by
            # the server's gaps): one that does not wait at all passes it only if its two
            # gaps are 0.11 s and 0.22 s late.
            for key, fails, attempts, base in (("a", 2, 4, 0.25), ("b", 6, 7, 0.005),
                                               ("c", 5, 3, 0.05)):
                path = f"/flaky/{key}"
                url = f"{api.url}{path}?fails={fails}"
                call = f"fetch_with_retry(session, url, attempts={attempts}, base_delay={base:g})"
                when = f"For a URL that fails {fails} times with HTTP 503, {call}"
                api.stats.reset()
                most = sum(base * 2 ** k for k in range(min(fails, attempts - 1)))
                asked: list[float] = []
                outcome = await _call_retry(
                    fetch_with_retry, when, session, url, attempts, base,
                    late=f"although its waits add up to {most:.2f} s at most: does it wait "
                         "longer than asked, or never give up?", asked=asked)
                arrivals = api.stats.arrivals(path)
                made = len(arrivals)
                gives_up = fails >= attempts
                if gives_up:
                    if outcome.error is None:
                        got = (f"returned {_short(outcome.value, 60)} after {made} requests"
                               if made > attempts else
                               f"returned {_short(outcome.value, 60)} instead of raising")
                        fail(f"{when} {got}: after {attempts} failed attempts it should give "
                             "up and raise the last error, so the caller knows (section 7).")
                    if made != attempts:
                        fail(f"{when} raised after {made} requests: it should try exactly "
                             f"{attempts} times before giving up.")
                    if not any(getattr(e, "status", None) == 503 for e in _chain(outcome.error)):
                        fail(f"{when} raised {_raised(outcome.error)} after {made} requests: "
                             "raise the last error itself (an HTTP 503), so the caller sees "
                             "what went wrong (section 7).")
                else:
                    if outcome.error is not None:
                        fail(f"{when} raised {_raised(outcome.error)} after {_requests(made)}; "
                             f"with {attempts} attempts it should have got the answer at "
                             f"request {fails + 1}.")
                    if made != fails + 1:
                        fail(f"{when} made {made} requests; the answer comes at request "
                             f"{fails + 1}.")
                    expected = {"key": key, "attempt": fails + 1}
                    if outcome.value != expected:
                        fail(f"{when} returned {_short(outcome.value, 80)}; expected the JSON "
                             f"of the answer, {expected}.")
                waits = _waits(arrivals)
                short = short_wait(waits, asked, base, _LOWER)
                if short is not None:
                    k, wait, exact = short
                    cap = base * 2 ** k
                    how = ("asked asyncio.sleep for waits of" if exact else "waited")
                    seen = "" if exact else " (as the server saw them)"
                    shown = ", ".join(f"{w:.3f}" for w in (asked if exact else waits))
                    fail(f"{when} {how} {shown} s between its requests{seen}: wait {k + 1} "
                         f"was {wait:.3f} s, below {cap / 2:.3f} s (half of {cap:g} s), the "
                         "shortest wait allowed there. The waits start from base_delay and "
                         "double each time (section 7).")
                most = sum(base * 2 ** k for k in range(len(waits)))
                if waits and sum(waits) > most + _SLACK:
                    shown = ", ".join(f"{w:.2f}" for w in waits)
                    fail(f"{when} waited {sum(waits):.2f} s in all between its requests "
                         f"({shown} s); with base_delay={base:g} they add up to {most:.2f} s "
                         "at most: the first wait is at most base_delay, and each next one at "
                         "most twice the one before (section 7).")
                if waits:
                    notes.append(f"{waits[0] * 1000:.0f} ms up to {waits[-1] * 1000:.0f} ms "
                                 f"for base_delay={base:g}")

            # A 404 is not retried: the page will not appear by asking again.
            api.stats.reset()
            outcome = await _call_retry(fetch_with_retry, "For a URL that answers 404, "
                                        "fetch_with_retry", session, f"{api.url}/users/99", 4,
                                        0.05)
            made = len(api.stats.arrivals("/users/99"))
            if outcome.error is None:
                fail(f"For a URL that answers 404 Not Found, fetch_with_retry returned "
                     f"{_short(outcome.value, 60)} after {made} request(s): it should raise "
                     "the error.")
            if made > 1:
                fail(f"For a URL that answers 404 Not Found, fetch_with_retry made {made} "
                     "requests: a 404 will not go away by asking again; raise it at once "
                     "(section 7 says which errors to retry).")
            if not any(getattr(e, "status", None) == 404 for e in _chain(outcome.error)):
                fail(f"For a URL that answers 404 Not Found, fetch_with_retry raised "
                     f"{_raised(outcome.error)}: let the 404 error itself reach the caller.")

    await asyncio.sleep(0)
    return (f"Waits that grow (seen at the server: {'; '.join(notes)}), the answer when it "
            "came in time, the 503 raised after the last attempt, a 404 raised at once and a "
            "timeout retried.")

