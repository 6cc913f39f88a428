"""Checks for notebook 05 (tasks and TaskGroup).

The checks hand the learner's code jobs that record what happened to them (started, done,
failed, cancelled, and how many ran at once), call it with several argument values, and
decide from what they observed. The learner's code is called through :func:`run_learner`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from ._core import Outcome, blocking_message, checker, fail, require_callable, run_learner

__all__ = ["check_fetch_or_default", "check_run_all", "check_start_background"]

_BLOCKING_SEE = "notebook 03 shows why"


class _Counter:
    """How many jobs of one run are running now, and the most at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0


class _Job:
    """A zero-argument coroutine function for the checks that records what happened to it."""

    def __init__(self, value: object, seconds: float, error: BaseException | None = None,
                 counter: _Counter | None = None) -> None:
        self.value, self.seconds, self.error = value, seconds, error
        self.counter = counter or _Counter()
        self.state = "not started"  # -> "running" -> "done" / "failed" / "cancelled"
        #: The future it waits on (a sleep): a task.cancel() cancels it at once, before the
        #: job sees its CancelledError.
        self.waiting: asyncio.Future[None] | None = None

    async def __call__(self) -> object:
        self.state = "running"
        self.counter.now += 1
        self.counter.most = max(self.counter.most, self.counter.now)
        loop = asyncio.get_running_loop()
        self.waiting = waiting = loop.create_future()
        timer = loop.call_later(self.seconds, _wake, waiting)
        try:
            await waiting
        except asyncio.CancelledError:
            self.state = "cancelled"
            raise
        finally:
            timer.cancel()
            self.counter.now -= 1
        if self.error is not None:
            self.state = "failed"
            raise self.error
        self.state = "done"
        return self.value


def _wake(waiting: asyncio.Future[None]) -> None:
    if not waiting.done():
        waiting.set_result(None)


async def _settle(jobs: list[_Job], limit: float = 2.0) -> None:
    """Wait (at most ``limit`` s) until no job is still running: a wrong answer may leave
    them behind, and the check must not leave tasks running in the learner's notebook."""
    for _ in range(int(limit / 0.01)):
        if not any(j.state == "running" for j in jobs):
            return
        await asyncio.sleep(0.01)


async def _outcome_of(name: str, func: Callable[..., Any], *args: Any,
               time_limit: float = 5.0, cancel_leftover_tasks: bool = True) -> Outcome:
    """Call the learner's function with :func:`run_learner`; fail on what is never right
    (a blocking call, running past the time limit, an un-awaited result). The learner's
    exception, if any, is left in ``outcome.error`` for the check to judge."""
    outcome = await run_learner(func, *args, time_limit=time_limit,
                                cancel_leftover_tasks=cancel_leftover_tasks)
    if outcome.blocking:
        fail(blocking_message(name, outcome.blocking, _BLOCKING_SEE))
    if outcome.timed_out:
        fail(f"{name} did not finish within {time_limit:g} s: is something waiting forever?")
    if outcome.unawaited:
        fail(f"{name} returned a {outcome.unawaited} object instead of a value: a missing "
             "`await` somewhere?")
    return outcome


def _raised(error: BaseException) -> str:
    """The learner's exception for a sentence: its repr, or an ExceptionGroup with what it
    holds."""
    if isinstance(error, BaseExceptionGroup):
        inner = ", ".join(repr(e) for e in error.exceptions)
        return f"{type(error).__name__} holding [{inner}]"
    text = repr(error)
    return text if len(text) <= 100 else text[:97] + "..."


#: The all-succeed cases of run_all: (value, seconds) per job. The fastest job is never first,
#: so a list in completion order is not the list in the order of ``jobs``.
_SUCCESS_CASES: tuple[tuple[tuple[str, float], ...], ...] = (
    (("a", 0.20), ("b", 0.10), ("c", 0.15)),
    (("north", 0.12), ("east", 0.05), ("south", 0.18), ("west", 0.08), ("up", 0.10)),
)
#: The failing cases: (jobs as (value, seconds, error message or None), expected messages).
_FAIL_CASES: tuple[tuple[tuple[tuple[str | None, float, str | None], ...], list[str]], ...] = (
    ((("a", 0.5, None), (None, 0.05, "bad input"), ("c", 0.5, None)), ["bad input"]),
    ((("p", 0.5, None), ("q", 0.5, None), (None, 0.08, "no such city"),
      (None, 0.08, "negative price")), ["negative price", "no such city"]),
)


@checker
async def check_run_all(run_all: Callable[..., Any]) -> str:
    """``run_all(jobs)`` runs the zero-argument coroutine functions ``jobs`` in a TaskGroup:
    their results in order when all succeed; when some raise ValueError, the others are
    cancelled and it returns the ValueErrors' messages; any other error escapes."""
    require_callable(run_all, "run_all", is_async=True)

    # 1. Everything succeeds: results in the order of jobs, all running at once.
    for case in _SUCCESS_CASES:
        counter = _Counter()
        jobs = [_Job(value, seconds, counter=counter) for value, seconds in case]
        values = [value for value, _ in case]
        outcome = await _outcome_of("run_all", run_all, jobs)
        await _settle(jobs)
        if outcome.error is not None:
            fail(f"With {len(jobs)} jobs that all succeed, run_all raised "
                 f"{_raised(outcome.error)}.")
        if outcome.value != values:
            fail(f"With {len(jobs)} jobs that all succeed and return {values}, run_all returned "
                 f"{outcome.value!r}; expected their results in the order of `jobs`.")
        if counter.most < len(jobs):
            fail(f"run_all returned the right results, but at most {counter.most} of the "
                 f"{len(jobs)} jobs ran at once ({outcome.elapsed:.2f} s): start them all "
                 "before waiting for any (section 5).")

    # 2. Jobs fail with ValueError: the siblings are cancelled, the messages returned.
    for spec, messages in _FAIL_CASES:
        jobs = [_Job(value, seconds, ValueError(msg) if msg else None)
                for value, seconds, msg in spec]
        healthy = [job for job, (_, _, msg) in zip(jobs, spec, strict=True) if msg is None]
        states: list[str] = []

        async def observed(jobs: list[_Job] = jobs, healthy: list[_Job] = healthy,
                           states: list[str] = states) -> object:
            try:
                return await run_all(jobs)
            finally:  # as run_all left them, before the check cancels what it left running
                states.extend(job.state for job in healthy)

        outcome = await _outcome_of("run_all", observed)
        await _settle(jobs)
        error = outcome.error
        what = (f"a job raised ValueError({messages[0]!r})" if len(messages) == 1 else
                f"two jobs raised ValueError ({', '.join(map(repr, messages))})")
        if "running" in states or "done" in states:
            ended = f"raised {_raised(error)}" if error is not None else "returned"
            if "running" in states:
                others = f"were still running when run_all {ended}"
            else:
                others = "ran on to the end" + (f", then run_all {ended}" if error else "")
            fail(f"When {what}, the other {len(healthy)} jobs {others}: they should have been "
                 "cancelled (section 6 compares gather and TaskGroup on this failure).")
        if isinstance(error, BaseExceptionGroup) and error.subgroup(ValueError) is not None:
            fail(f"When {what}, the other jobs were cancelled, but {_raised(error)} escaped "
                 "from run_all: handle the ValueErrors of the group by type and return their "
                 "messages (section 5).")
        if error is not None:
            fail(f"When {what}, run_all raised {_raised(error)}; it should return the "
                 "messages.")
        got = outcome.value
        if not isinstance(got, list) or sorted(map(str, got)) != sorted(messages):
            fail(f"When {what}, run_all returned {got!r}; expected the list of the messages, "
                 f"{messages} (in any order).")

    # 3. An error that is not a ValueError must not be swallowed.
    jobs = [_Job("a", 0.3), _Job(None, 0.05, KeyError("missing"))]
    outcome = await _outcome_of("run_all", run_all, jobs)
    await _settle(jobs)
    error = outcome.error
    if error is None:
        fail(f"A job raised KeyError('missing') and run_all returned {outcome.value!r}: only "
             "ValueErrors should be handled; other errors must reach the caller (section 5).")
    if not (isinstance(error, BaseExceptionGroup) and error.subgroup(KeyError) is not None):
        fail(f"A job raised KeyError('missing'); it should escape from run_all inside an "
             f"ExceptionGroup, but run_all raised {_raised(error)}.")
    return ("Results in order with all jobs running at once; on ValueErrors the others were "
            "cancelled and the messages returned; a KeyError still escapes in an "
            "ExceptionGroup.")


class _OwnTimeout(_Job):
    """A fetch that fails with its own TimeoutError (as aiohttp's client timeouts do)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(None, seconds, TimeoutError("the server did not answer in time"))


#: fetch_or_default cases: (fetch seconds, limit, a default) -> value or the default.
#: A limit that is ignored (a constant) fails one of them.
#: A constant that passes the value cases is above 0.5 s, so it cuts the 0.1 s case late.
_VALUE_CASES = ((0.05, 0.3), (0.5, 1.0))
_DEFAULT_CASES = ((0.9, 0.1), (0.8, 0.35))
#: How long after the limit the default may come (a loaded machine wakes timers late).
_LATE = 0.3
#: A default case looks at the fetch _EARLY before its limit, with a timer of its own set
#: before the call: a timer the learner sets for the limit is due later, so it cannot have
#: cancelled the fetch yet, however late the loop runs its timers (they run in the order
#: they are due). A shorter limit (limit * 0.6, limit - 0.1) with asyncio.timeout has,
#: whatever the load. (0.02 s: more than the 15.6 ms clock steps of Windows.) Other ways
#: (asyncio.wait or 3.11's wait_for) cancel one turn later; for them the time the call took
#: is the test: no less than the limit, within 0.05 s (the clocks differ) or 20%.
_EARLY = 0.02


@checker
async def check_fetch_or_default(fetch_or_default: Callable[..., Any]) -> str:
    """``fetch_or_default(fetch, limit, default)`` awaits ``fetch()`` for at most ``limit``
    seconds; on its own timeout it returns ``default`` (the slow call cancelled); every other
    error, a TimeoutError raised by ``fetch`` itself included, propagates."""
    require_callable(fetch_or_default, "fetch_or_default", is_async=True)

    for seconds, limit in _VALUE_CASES:
        fetch = _Job(f"fresh after {seconds:g} s", seconds)
        outcome = await _outcome_of("fetch_or_default", fetch_or_default, fetch, limit, "fallback")
        await _settle([fetch])
        head = f"With a fetch that answers in {seconds:g} s and a {limit:g} s limit, it"
        if outcome.error is not None:
            fail(f"{head} raised {_raised(outcome.error)}.")
        if outcome.value != fetch.value:
            more = (" after cutting the fetch short: is the limit the one you were given?"
                    if fetch.state == "cancelled" else ".")
            fail(f"{head} returned {outcome.value!r} instead of the fetch's own result "
                 f"{fetch.value!r}{more}")

    cut_at = []
    for seconds, limit in _DEFAULT_CASES:
        fetch = _Job("too late", seconds)
        state: list[str] = []

        async def observed(fetch: _Job = fetch, limit: float = limit,
                           state: list[str] = state) -> object:
            value = await fetch_or_default(fetch, limit, "fallback")
            state.append(fetch.state)  # at the moment it returned, before any clean-up
            return value

        loop = asyncio.get_running_loop()
        looked: list[bool] = []  # whether the fetch had been cancelled, _EARLY before the limit
        probe = loop.call_at(loop.time() + limit - _EARLY, lambda fetch=fetch, looked=looked:
                             looked.append(fetch.waiting is not None
                                           and fetch.waiting.cancelled()))
        try:
            outcome = await _outcome_of("fetch_or_default", observed)
        finally:
            probe.cancel()
        await _settle([fetch])
        head = f"With a fetch that takes {seconds:g} s and a {limit:g} s limit, it"
        if isinstance(outcome.error, TimeoutError):
            fail(f"{head} let TimeoutError escape after {outcome.elapsed:.2f} s; on a timeout "
                 "it should return the default (section 7).")
        if outcome.error is not None:
            fail(f"{head} raised {_raised(outcome.error)}.")
        if outcome.value == fetch.value and outcome.elapsed >= seconds * 0.9:
            fail(f"{head} waited {outcome.elapsed:.2f} s for the whole fetch: nothing cut it "
                 "at the limit (section 7).")
        if outcome.value != "fallback":
            fail(f"{head} returned {outcome.value!r}; expected the default, 'fallback'.")
        if state and state[0] == "running":
            fail(f"{head} returned the default, but the fetch was still running in the "
                 "background: it should have been cancelled (section 7).")
        if state and state[0] == "done":
            fail(f"{head} returned the default only after the fetch had run to the end "
                 f"({outcome.elapsed:.2f} s): the fetch should be cut at the limit "
                 "(section 7).")
        if not looked or looked[0]:
            fail(f"{head} cut the fetch short before {limit:g} s had passed (it returned "
                 f"after {outcome.elapsed:.2f} s): is the limit the one you were given?")
        if outcome.elapsed < max(limit * 0.8, limit - 0.05):
            fail(f"{head} gave up after {outcome.elapsed:.2f} s, before the limit: is the "
                 "limit the one you were given?")
        if outcome.elapsed > limit + _LATE:
            fail(f"{head} returned the default only after {outcome.elapsed:.2f} s, long past "
                 "the limit: is the limit the one you were given?")
        cut_at.append(f"{outcome.elapsed:.2f} s (limit {limit:g} s)")

    broken = _Job(None, 0.02, ValueError("server said no"))
    outcome = await _outcome_of("fetch_or_default", fetch_or_default, broken, 0.3, "fallback")
    await _settle([broken])
    if not isinstance(outcome.error, ValueError):
        got = (f"raised {_raised(outcome.error)}" if outcome.error is not None
               else f"returned {outcome.value!r}")
        fail(f"A fetch that fails with ValueError('server said no') after 0.02 s {got}: only "
             "the time limit running out should give the default; other errors must reach "
             "the caller.")

    own = _OwnTimeout(0.02)
    outcome = await _outcome_of("fetch_or_default", fetch_or_default, own, 0.3, "fallback")
    await _settle([own])
    if not isinstance(outcome.error, TimeoutError):
        got = (f"raised {_raised(outcome.error)}" if outcome.error is not None
               else f"returned {outcome.value!r}")
        fail(f"A fetch that raised its own TimeoutError after 0.02 s, well within the 0.3 s "
             f"limit, {got}: that error came from fetch (a client's timeout, say), not from "
             "your limit, and must reach the caller. Section 7 shows how to tell the two "
             "apart.")
    return (f"Slow calls were cut at {' and '.join(cut_at)} and cancelled, fast ones returned "
            "their value, and other errors, fetch's own TimeoutError included, still "
            "propagate.")


#: Background jobs, in the order they finish (another order than they start). Each waits
#: for its own gate, which the watcher opens only after it has seen the job before finished
#: and its task let go: every job ends while the later ones are surely still running,
#: however late the watcher's turns come (no durations, so lateness cannot reorder a look).
_FINISH_ORDER = (1, 3, 0, 4, 2)


@checker
async def check_start_background(start_background: Callable[..., Any]) -> str:
    """``start_background(coro, tasks)`` schedules ``coro`` as a task, keeps it in the set
    ``tasks`` while it runs, removes it when it finishes, and returns the task. The set is
    looked at after each job finishes."""
    require_callable(start_background, "start_background", is_async=False)
    n = len(_FINISH_ORDER)
    ran: list[int] = []
    gates = [asyncio.Event() for _ in range(n)]

    async def work(i: int) -> None:
        await gates[i].wait()
        ran.append(i)

    tasks: set[Any] = set()
    coros = [work(i) for i in range(n)]

    returned: list[Any] = []

    def start_all() -> None:  # returns nothing: run_learner would cancel returned tasks
        returned.extend(start_background(coro, tasks) for coro in coros)

    try:
        outcome = await _outcome_of("start_background", start_all, cancel_leftover_tasks=False)
        if outcome.error is not None:
            fail(f"start_background raised {_raised(outcome.error)}.")
        if not all(isinstance(t, asyncio.Task) for t in returned):
            odd = next(t for t in returned if not isinstance(t, asyncio.Task))
            what = "None" if odd is None else f"a {type(odd).__name__}"
            fail(f"start_background returned {what}; the exercise asks for the task it "
                 "started.")
        held = set(tasks)
        if held != set(returned):
            strangers = [t for t in held if t not in set(returned)]
            if strangers:
                fail(f"Right after {n} calls the set held {len(held)} item(s), among them a "
                     f"{type(strangers[0]).__name__}: it should hold the tasks themselves, "
                     "the ones start_background returns.")
            fail(f"Right after {n} calls the set held {len(held)} of the {n} tasks: the event "
                 "loop keeps only weak references to tasks, so the set must hold every "
                 "running one (section 3).")
        await _watch_the_set(tasks, returned, [gates[i] for i in _FINISH_ORDER])
        if len(ran) < n:
            fail(f"Only {len(ran)} of {n} background jobs ran to the end.")
    finally:
        for gate in gates:  # the jobs still waiting (a failed look, tasks never returned) end
            gate.set()
        leftovers = [t for t in returned if isinstance(t, asyncio.Task) and not t.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=2)
        for _ in range(2):  # tasks the check never got (not returned) take their first step
            await asyncio.sleep(0)
        for coro in coros:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
                coro.close()  # never wrapped in a task: no "never awaited" warning
        for _ in range(200):  # jobs in tasks the check never got: let them end (< 0.5 s)
            if all(inspect.getcoroutinestate(c) == inspect.CORO_CLOSED for c in coros):
                break
            await asyncio.sleep(0.01)
    return (f"The set held all {n} tasks while they ran, let each one go as it finished "
            "(checked after every finish), and was empty at the end.")


async def _watch_the_set(tasks: set[Any], returned: list[asyncio.Task[Any]],
                         gates: list[asyncio.Event], limit: float = 3.0) -> None:
    """Look at the set every 10 ms until every task is done: a task that was already done at
    the previous look (its done-callbacks have run) must have left the set; a running task
    must still be in it. The jobs finish one at a time, when their gate (in ``gates``' order)
    is opened: the next one is opened once every job let go so far was seen done at a look
    before this one."""
    n = len(returned)
    done_before: set[asyncio.Task[Any]] = set()
    opened = 0
    for _ in range(int(limit / 0.01)):
        running = {t for t in returned if not t.done()}
        held = set(tasks)
        missing = running - held
        if missing:
            finished = n - len(running)
            fail(f"When {finished} of the {n} jobs had finished, the set held {len(held)} "
                 f"task(s) although {len(running)} were still running: only the finished "
                 "ones should leave it (section 3).")
        stale = done_before & held
        if stale and running:
            fail(f"A job finished, but its task stayed in the set while {len(running)} others "
                 "ran on: each task should leave the set when it is done (section 3).")
        if not running and done_before == set(returned):
            if held:
                fail(f"All {n} jobs finished, but the set still holds {len(held)} task(s): it "
                     "grows for ever. Each task should leave the set when it is done "
                     "(section 3).")
            return
        if opened < len(gates) and len(done_before) >= opened:
            gates[opened].set()
            opened += 1
        done_before = set(returned) - running
        await asyncio.sleep(0.01)
    fail(f"The background jobs were not all done after {limit:g} s.")
