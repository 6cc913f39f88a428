"""The checks of notebook 06 (awaitables and futures) reject a catalogue of realistic wrong
answers, each with a sentence that says what was observed and no solution code, and accept
the reference answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import time
import warnings
from asyncio import run

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.awaitables import (
    check_call_maybe_async,
    check_delay,
    check_lookup_async,
    lookup,
)

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("yield from asyncio", ".__await__()", "asyncio.sleep(", "create_future",
                 "set_result(", "set_exception(", "future.done()", "if not", "return self.value",
                 "def __await__(self)", "isawaitable(", "await result")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


def run_quietly(check):
    """Run a check; return its result and the "never awaited" warnings it let out."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(check)
        gc.collect()
    return result, [str(w.message) for w in caught if "never awaited" in str(w.message)]


# -- exercise 1: an awaitable class ----------------------------------------------------------
class Delay:
    def __init__(self, seconds, value):
        self.seconds, self.value = seconds, value

    def __await__(self):
        yield from asyncio.sleep(self.seconds).__await__()
        return self.value


class DelayOnAFuture:
    """Another right answer: a future that the loop sets after `seconds`."""

    def __init__(self, seconds, value):
        self.seconds, self.value = seconds, value

    def __await__(self):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        handle = loop.call_later(self.seconds, future.set_result, self.value)
        try:
            return (yield from future)
        finally:
            handle.cancel()


class DelayViaSleepResult:
    """Right too: asyncio.sleep returns its `result` argument."""

    def __init__(self, seconds, value):
        self.seconds, self.value = seconds, value

    def __await__(self):
        return asyncio.sleep(self.seconds, self.value).__await__()


class ReturnsCoroutine(Delay):  # the notebook's stub
    def __await__(self):
        return asyncio.sleep(self.seconds)


class AsyncDefAwait(Delay):
    async def __await__(self):
        await asyncio.sleep(self.seconds)
        return self.value


class YieldsFromCoroutine(Delay):
    def __await__(self):
        yield from asyncio.sleep(self.seconds)
        return self.value


class TimeSleep(Delay):
    def __await__(self):
        time.sleep(self.seconds)  # noqa: ASYNC251 (the mistake under test)
        return self.value
        yield


class IgnoresSeconds(Delay):
    def __await__(self):
        yield from asyncio.sleep(0.1).__await__()
        return self.value


class ReturnsSeconds(Delay):
    def __await__(self):
        yield from asyncio.sleep(self.seconds).__await__()
        return self.seconds


class ForgetsToReturn(Delay):
    def __await__(self):
        yield from asyncio.sleep(self.seconds).__await__()


class ToyProtocol(Delay):
    """Yields the seconds, as the toy loop's tasks do: asyncio's tasks take only futures."""

    def __await__(self):
        yield self.seconds
        return self.value


class NonIterator(Delay):
    def __await__(self):
        return self.value


class BusyWait(Delay):
    """Waits by spinning: no blocking call to name, but nothing else runs meanwhile."""

    def __await__(self):
        end = time.perf_counter() + self.seconds
        while time.perf_counter() < end:
            pass
        return self.value
        yield


class PollsTheClock(Delay):
    """Gives the loop a turn with bare yields until the time is up: right values, right
    times, nothing blocked, but the processor spins the whole time."""

    def __await__(self):
        end = time.perf_counter() + self.seconds
        while time.perf_counter() < end:
            yield
        return self.value


class WaitMethod(Delay):
    """Awaitable only through a method: the instances themselves are not awaitable."""

    __await__ = None

    async def wait(self):
        await asyncio.sleep(self.seconds)
        return self.value


def delay_function(seconds, value):
    return asyncio.sleep(seconds, value)


async def delay_coroutine_function(seconds, value):
    await asyncio.sleep(seconds)
    return value


def test_delay_accepts_solutions():
    for answer in (Delay, DelayOnAFuture, DelayViaSleepResult):
        result, leaked = run_quietly(check_delay(answer))
        assert result.passed, (answer.__name__, result.message)
        assert leaked == []


@pytest.mark.parametrize(("answer", "words"), [
    (ReturnsCoroutine, ["Awaiting Delay(0.05, 'first') raised TypeError: __await__() returned "
                        "a coroutine", "must return an iterator", "section 2"]),
    (AsyncDefAwait, ["Your `__await__` is an `async def`", "section 2"]),
    (YieldsFromCoroutine, ["cannot 'yield from' a coroutine object",
                           "a plain generator cannot delegate to a coroutine itself"]),
    (TimeSleep, ["time.sleep()", "event loop's thread"]),
    (IgnoresSeconds, ["`await Delay(0.4, {'id': 7})` gave its value after 0.1", "should wait "
                      "0.4 s", "Are the seconds used?"]),
    (ReturnsSeconds, ["gave 0.05 (the seconds, not the value); expected 'first'"]),
    (ForgetsToReturn, ["gave None; expected 'first'"]),
    (ToyProtocol, ["RuntimeError: Task got bad yield: 0.05", "toy loop's protocol",
                  "section 8"]),
    (NonIterator, ["returned non-iterator of type 'str'", "section 2"]),
    (BusyWait, ["at most 1 of them waited at once", "section 2"]),
    (PollsTheClock, ["yielded None to the event loop", "times while it waited",
                     "sections 6 and 8"]),
    (WaitMethod, ["is not awaitable", "`__await__` method"]),
    (delay_function, ["Delay is a function, not a class"]),
    (delay_coroutine_function, ["Delay is an `async def` function"]),
])
def test_delay_rejects(answer, words):
    result, leaked = run_quietly(check_delay(answer))
    rejected(result, *words)
    assert leaked == [], "a wrong answer's coroutines must not warn after the check"


def _spin(seconds):
    """Hold the event loop's thread without a blocking call: a stalled, busy machine."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class ConstantWokenLate(Delay):
    """The constant that comes closest (0.34 s) on a machine that wakes it 0.3 s late in the
    0.4 s case (the loop stalls from 0.3 s to 0.6 s): it gives its value after 0.6 s."""

    def __await__(self):
        if self.seconds == 0.4:
            asyncio.get_running_loop().call_later(0.3, _spin, 0.3)
        yield from asyncio.sleep(0.34).__await__()
        return self.value


class PollsLateToStart(PollsTheClock):
    """A poll on a machine that stalls for 0.25 s as the four awaited together start: they
    yield few Nones there, but thousands when awaited alone."""

    def __await__(self):
        if self.value == "value 0":  # the first of the four awaited together
            asyncio.get_running_loop().call_soon(_spin, 0.25)
        return (yield from super().__await__())


def test_delay_rejects_a_constant_woken_late():
    """0.34 s lies 0.01 s under the first case's upper bound (0.05 + 0.3 s): a loaded machine
    may wake it that much late, and then the first case catches it. Either sentence is right."""
    result = run(check_delay(ConstantWokenLate))
    rejected(result, "Are the seconds used?")
    assert ("`await Delay(0.4, {'id': 7})` gave its value after" in result.message
            or "`await Delay(0.05, 'first')` took" in result.message), result.message


def test_delay_rejects_a_poll_whose_together_phase_stalls():
    rejected(run(check_delay(PollsLateToStart)), "`await Delay(0.05, 'first')` gave the right "
             "value, but it yielded None to the event loop", "sections 6 and 8")


@pytest.mark.parametrize("constant", [0.1, 0.3, 0.34, 0.35, 0.4])
def test_delay_rejects_any_constant_wait(constant):
    class Constant(Delay):
        def __await__(self):
            yield from asyncio.sleep(constant).__await__()
            return self.value

    rejected(run(check_delay(Constant)), "Are the seconds used?")


@pytest.mark.load
def test_delay_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_delay(Delay))
        assert result.passed, result.message


# -- exercise 2: await only what can be awaited ---------------------------------------------------
async def maybe_solution(func, *args):
    result = func(*args)
    if inspect.isawaitable(result):
        return await result
    return result


async def maybe_hasattr(func, *args):
    """Right too: what isawaitable checks for, in most cases."""
    result = func(*args)
    if hasattr(result, "__await__"):
        return await result
    return result


async def asks_the_function(func, *args):  # the notebook's stub
    if inspect.iscoroutinefunction(func):
        return await func(*args)
    return func(*args)


async def only_coroutines(func, *args):
    result = func(*args)
    if asyncio.iscoroutine(result):
        return await result
    return result


async def coroutines_and_futures(func, *args):
    result = func(*args)
    if inspect.iscoroutine(result) or isinstance(result, asyncio.Future):
        return await result
    return result


async def always_awaits(func, *args):
    return await func(*args)


async def calls_twice(func, *args):
    if inspect.isawaitable(func(*args)):
        return await func(*args)
    return func(*args)


async def swallows_type_error(func, *args):
    result = func(*args)
    try:
        return await result
    except TypeError:
        return result


async def drops_the_arguments(func, *args):
    result = func()
    if inspect.isawaitable(result):
        return await result
    return result


def test_maybe_accepts_solutions():
    for answer in (maybe_solution, maybe_hasattr):
        result, leaked = run_quietly(check_call_maybe_async(answer))
        assert result.passed, (answer.__name__, result.message)
        assert leaked == []


@pytest.mark.parametrize(("answer", "words"), [
    (asks_the_function, ["call_maybe_async(logged(greet), 'Grace') returned a coroutine object "
                         "instead of 'hello Grace'", "a plain def whose result is a coroutine",
                         "section 3"]),
    (only_coroutines, ["call_maybe_async(later, 7) returned a Future object instead of "
                       "'future 7'"]),
    (coroutines_and_futures, ["returned a _Ticket object", "an awaitable object"]),
    (always_awaits, ["call_maybe_async(double, 21) raised TypeError: object int can't",
                     "its result, 42, is not awaitable (section 3)"]),
    (calls_twice, ["called double 2 times; it should call it once"]),
    (swallows_type_error, ["raises TypeError(\"bad input 'Linus'\")", "returned a coroutine "
                           "object", "should reach the caller"]),
    (drops_the_arguments, ["missing 1 required positional argument"]),
])
def test_maybe_rejects(answer, words):
    result, leaked = run_quietly(check_call_maybe_async(answer))
    rejected(result, *words)
    assert leaked == []


def test_maybe_counts_a_dropped_coroutine_as_a_call():
    async def peeks_at_async(func, *args):
        if not isinstance(func, functools.partial) and inspect.iscoroutinefunction(func):
            func(*args)  # made and dropped: "just to see what comes back"
        return await maybe_solution(func, *args)

    result, leaked = run_quietly(check_call_maybe_async(peeks_at_async))
    rejected(result, "call_maybe_async(greet, 'Ada') called greet 2 times")
    assert leaked == []


def test_maybe_drops_the_plain_value_note_for_other_type_errors():
    result = run(check_call_maybe_async(drops_the_arguments))
    assert "not awaitable" not in result.message


@pytest.mark.load
def test_maybe_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_call_maybe_async(maybe_solution))
        assert result.passed, result.message


# -- exercise 3: a callback API behind a future --------------------------------------------------
async def lookup_solution(lookup, user_id):
    future = asyncio.get_running_loop().create_future()

    def on_done(user):
        if not future.done():
            future.set_result(user)

    def on_error(error):
        if not future.done():
            future.set_exception(error)

    lookup(user_id, on_done, on_error)
    return await future


async def lookup_with_event(lookup, user_id):
    """Another right answer, without a future: an Event and a box."""
    done, box = asyncio.Event(), {}
    lookup(user_id, lambda user: (box.setdefault("user", user), done.set()),
           lambda error: (box.setdefault("error", error), done.set()))
    await done.wait()
    if "error" in box:
        raise box["error"]
    return box["user"]


async def errors_lost(lookup, user_id):  # the notebook's stub
    future = asyncio.get_running_loop().create_future()
    lookup(user_id, future.set_result, lambda error: None)
    return await future


async def no_done_check(lookup, user_id):
    future = asyncio.get_running_loop().create_future()
    lookup(user_id, future.set_result, future.set_exception)
    return await future


async def checks_only_on_done(lookup, user_id):
    future = asyncio.get_running_loop().create_future()

    def on_done(user):
        if not future.done():
            future.set_result(user)

    lookup(user_id, on_done, future.set_exception)
    return await future


async def error_as_result(lookup, user_id):
    future = asyncio.get_running_loop().create_future()
    lookup(user_id, future.set_result, future.set_result)
    return await future


async def returns_the_future(lookup, user_id):
    future = asyncio.get_running_loop().create_future()
    lookup(user_id, future.set_result, future.set_exception)
    return future


async def result_without_waiting(lookup, user_id):
    future = asyncio.get_running_loop().create_future()
    lookup(user_id, future.set_result, future.set_exception)
    return future.result()


async def sleeps_first(lookup, user_id):
    future = asyncio.get_running_loop().create_future()
    lookup(user_id, future.set_result, future.set_exception)
    time.sleep(0.15)  # noqa: ASYNC251 (the mistake under test: "give it time to answer")
    return await future


_SHARED: dict[asyncio.AbstractEventLoop, asyncio.Future] = {}


async def one_future_for_all(lookup, user_id):
    loop = asyncio.get_running_loop()
    future = _SHARED.setdefault(loop, loop.create_future())  # made once, reused

    def settle(method, value):
        if not future.done():
            method(value)

    lookup(user_id, functools.partial(settle, future.set_result),
           functools.partial(settle, future.set_exception))
    return await future


async def swallows_cancel(lookup, user_id):
    try:
        return await lookup_solution(lookup, user_id)
    except asyncio.CancelledError:
        return None


async def wraps_the_error(lookup, user_id):
    try:
        return await lookup_solution(lookup, user_id)
    except LookupError as exc:
        raise RuntimeError(f"lookup failed: {exc}") from exc


def one_at_a_time():
    """A lock "to be safe": the lookups wait one after another."""
    locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def lookup_async(lookup, user_id):
        lock = locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:
            return await lookup_solution(lookup, user_id)

    return lookup_async


async def scheduled_setters(lookup, user_id):
    """Hands the setting to the loop with call_soon, without a look at the future."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    lookup(user_id, lambda user: loop.call_soon(future.set_result, user),
           lambda error: loop.call_soon(future.set_exception, error))
    return await future


def test_lookup_accepts_solutions():
    for answer in (lookup_solution, lookup_with_event):
        result = run(check_lookup_async(answer))
        assert result.passed, (answer.__name__, result.message)


@pytest.mark.parametrize(("answer", "words"), [
    (errors_lost, ["lookup_async(lookup, 99) did not finish within 1 s", "called "
                   "on_error(LookupError('no user with id 99')) after 0.05 s", "section 4"]),
    (no_done_check, ["The task awaiting lookup_async(lookup, 5) was cancelled after 0.05 s",
                     "0.2 s later, your on_done callback raised InvalidStateError (invalid "
                     "state)", "section 5"]),
    (checks_only_on_done, ["lookup_async(lookup, 98)", "your on_error callback raised "
                           "InvalidStateError"]),
    (error_as_result, ["on_error(LookupError('no user with id 99'))", "returned "
                       "LookupError('no user with id 99')", "should be raised in the caller"]),
    (returns_the_future, ["returned a Future object instead of the user", "section 4"]),
    (result_without_waiting, ["raised InvalidStateError: Result is not set. It asked",
                              "before the API had answered", "section 4"]),
    (sleeps_first, ["time.sleep()", "event loop's thread"]),
    (one_future_for_all, ["lookup_async(lookup, 11) returned {'id': 3",
                         "the answer to an earlier call"]),
    (swallows_cancel, ["was cancelled after 0.05 s, and it returned None instead of ending "
                       "cancelled"]),
    (wraps_the_error, ["raised RuntimeError: lookup failed: no user with id 99",
                       "should be raised in the caller"]),
    (one_at_a_time(), ["at most 1 of them waited for the API at once"]),
    (scheduled_setters, ["a callback it scheduled raised InvalidStateError"]),
])
def test_lookup_rejects(answer, words):
    rejected(run(check_lookup_async(answer)), *words)


@pytest.mark.parametrize("answer", [no_done_check, checks_only_on_done, scheduled_setters],
                         ids=lambda v: v.__name__)
def test_lookup_rejects_a_missing_done_check_on_a_stalled_loop(answer):
    """The loop stalls from 0.04 s to 0.26 s, over both the cancellation (0.05 s) and the
    answers (0.25 s): the answers must still come after the cancellation."""
    async def stalled(lookup, user_id):
        if user_id == 5:
            asyncio.get_running_loop().call_later(0.04, _spin, 0.22)
        return await answer(lookup, user_id)

    rejected(run(check_lookup_async(stalled)), "was cancelled after 0.05 s", "raised "
             "InvalidStateError", "section 5")


def test_lookup_check_leaves_nothing_behind():
    """A wrong answer's late callbacks do not reach the loop's handler after the check, and
    no task or timer is left running."""
    async def main():
        reports = []
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: reports.append(context))
        result = await check_lookup_async(no_done_check)
        await asyncio.sleep(0.3)  # longer than any latency of the check's API
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, reports, left, len(loop._scheduled)

    result, reports, left, timers = run(main())
    assert not result.passed and reports == [] and left == [] and timers == 0


def test_the_notebook_lookup_answers_and_fails_by_callback():
    async def main():
        loop = asyncio.get_running_loop()
        answers = []
        for user_id in (3, 99):
            future = loop.create_future()
            lookup(user_id, future.set_result, future.set_exception)
            answers.append(await asyncio.gather(future, return_exceptions=True))
        return answers

    (user,), (error,) = run(main())
    assert user["id"] == 3 and user["name"] == "Grace Hopper"
    assert isinstance(error, LookupError) and "99" in str(error)


@pytest.mark.load
def test_lookup_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_lookup_async(lookup_solution))
        assert result.passed, result.message
