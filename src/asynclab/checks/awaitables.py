"""Checks for notebook 06 (awaitables and futures), and the callback-style API its third
exercise wraps.

``check_delay`` is given the learner's class ``Delay(seconds, value)``: it makes instances
with several (seconds, value) pairs, awaits them through :func:`run_learner` (blocking calls
caught by name; an :class:`~._timers.Alarm` tells a wait that is too short, however late
the loop runs) and awaits four of them together, each inside a span of a
:class:`~asynclab.Timeline`, to count how many waited at once; every await goes through a
counting iterator, to count the bare ``None``s yielded (a poll that spins instead of waiting).

``check_call_maybe_async`` is given ``call_maybe_async(func, *args)`` and eight kinds of
functions (plain, async, a partial, a plain-def wrapper that returns a coroutine, one that
returns a future, one an awaitable object...), each counting its calls; a coroutine made and
dropped is seen in the "never awaited" warnings.

``check_lookup_async`` is given ``lookup_async(lookup, user_id)``. It passes its own
``lookup`` (:class:`_CallbackAPI`: it answers later from the event loop with
``loop.call_later``, counts the lookups waiting for an answer, and catches what the
learner's callbacks raise) and cancels the awaiting task before the answer comes, to see
whether the late answer still lands in a cancelled future.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import inspect
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from ..servers import USERS, user_record
from ..timeline import Timeline
from ._core import Outcome, blocking_message, checker, fail, require_callable, run_learner
from ._observe import never_awaited
from ._timers import Alarm

__all__ = ["check_call_maybe_async", "check_delay", "check_lookup_async", "lookup"]

_BLOCKING_SEE = "notebook 03 shows why"


# -- the callback API of exercise 3 ----------------------------------------------------------
def lookup(user_id: int, on_done: Callable[[dict[str, Any]], object],
           on_error: Callable[[BaseException], object]) -> None:
    """A callback-style lookup, as older libraries offer: it returns at once; about 0.1 s
    later the event loop calls ``on_done(user)`` with the user's dict, or ``on_error(exc)``
    with a ``LookupError`` when no user has that id (1 to 20 exist). It must be called while
    an event loop runs (in a coroutine)."""
    loop = asyncio.get_running_loop()
    if user_id in USERS:
        loop.call_later(0.1, on_done, user_record(user_id))
    else:
        loop.call_later(0.1, on_error, LookupError(f"no user with id {user_id}"))


class _CallbackAPI:
    """``lookup`` for the check: the same contract, with a latency per user id; it records
    the calls, the lookups waiting for their answer, and what the learner's callbacks raise
    (caught here, so that nothing reaches the learner's log)."""

    def __init__(self, latencies: dict[int, float], default: float = 0.1) -> None:
        self.loop = asyncio.get_running_loop()
        self.latencies, self.default = latencies, default
        self.calls: list[int] = []
        self.answered: dict[int, float] = {}  # user id -> when its answer was sent
        self.errors_sent: dict[int, LookupError] = {}
        #: (user id, "on_done"/"on_error", the exception the learner's callback raised)
        self.raised: list[tuple[int, str, BaseException]] = []
        self.waiting = 0
        self.most = 0
        self._handles: list[asyncio.TimerHandle] = []
        #: Ids whose answers wait for :meth:`release` (then come when due, or at once).
        self.held: set[int] = set()
        self._held_calls: list[tuple[float, int, Callable[..., object],
                                     Callable[..., object]]] = []

    def __call__(self, user_id: int, on_done: Callable[..., object],
                 on_error: Callable[..., object]) -> None:
        self.calls.append(user_id)
        self.waiting += 1
        self.most = max(self.most, self.waiting)
        when = self.loop.time() + self.latencies.get(user_id, self.default)
        if user_id in self.held:
            self._held_calls.append((when, user_id, on_done, on_error))
        else:
            self._handles.append(self.loop.call_at(when, self._answer, user_id, on_done,
                                                   on_error))

    def release(self) -> None:
        """Let the held answers come: each when it is due, or at once if that is past."""
        self.held.clear()
        for when, user_id, on_done, on_error in self._held_calls:
            self._handles.append(self.loop.call_at(max(when, self.loop.time()), self._answer,
                                                   user_id, on_done, on_error))
        self._held_calls.clear()

    def _answer(self, user_id: int, on_done: Callable[..., object],
                on_error: Callable[..., object]) -> None:
        self.waiting -= 1
        self.answered[user_id] = self.loop.time()
        if user_id in USERS:
            callback, name, argument = on_done, "on_done", user_record(user_id)
        else:
            argument = self.errors_sent[user_id] = LookupError(f"no user with id {user_id}")
            callback, name = on_error, "on_error"
        try:
            callback(argument)
        except Exception as exc:  # the learner's callback failed: recorded for the verdict
            self.raised.append((user_id, name, exc))

    def close(self) -> None:
        """Cancel the answers not sent yet: nothing fires in the notebook after the check."""
        for handle in self._handles:
            handle.cancel()


@contextlib.contextmanager
def _loop_reports(loop: asyncio.AbstractEventLoop) -> Iterator[list[BaseException]]:
    """Collect the InvalidStateErrors the event loop reports from callbacks (a learner's
    callback may schedule ``set_result`` with ``call_soon``); everything else goes on to the
    handler that was there before."""
    previous = loop.get_exception_handler()
    seen: list[BaseException] = []

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, asyncio.InvalidStateError):
            seen.append(exc)
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    try:
        yield seen
    finally:
        loop.set_exception_handler(previous)


def _what(outcome: Outcome) -> str:
    """What a call ended with, for a sentence."""
    if outcome.error is not None:
        return f"raised {type(outcome.error).__name__}: {outcome.error}"
    return f"returned {outcome.value!r:.100}"


# -- exercise 1: an awaitable class ------------------------------------------------------------
#: (seconds, value): the value is never the number of seconds, so returning one for the other
#: fails; a constant wait passes at most one of the first two (the bounds below).
_DELAYS: tuple[tuple[float, object], ...] = ((0.05, "first"), (0.4, {"id": 7}), (0.15, 0))
#: How much later than asked an await may return (a loaded machine wakes timers late).
_LATE = 0.3
#: An await must outlast an :class:`~._timers.Alarm` set, before the instance is made, for
#: this share of its seconds. A constant wait must be at most 0.05 + 0.3 = 0.35 s (the first
#: case's upper bound, which lateness only makes harder) and outlast the alarm at 0.9 x 0.4 =
#: 0.36 s in the second, whatever the lateness: the alarm and the instance's timer are late
#: together and keep the order of their deadlines. The old bound, elapsed >= 0.4 - 0.01 s, let
#: a constant of 0.30-0.345 s pass with 0.045-0.09 s of lateness (0.1 s with 0.29 s).
_ALARM = 0.9
#: Four instances awaited together: each waits this long.
_TOGETHER = 0.2
#: Bare ``None`` yields allowed per instance, in each await alone and in the four together
#: (``asyncio.sleep(0)`` yields one; a poll of the clock yields thousands in 0.2 s, still
#: hundreds on a loaded machine). A poll passes only if a stall covers most of its wait in
#: every one of the four awaits, not just in the four together.
_MOST_BARE_YIELDS = 20


async def _awaiting(awaitable: Any, alarm: Alarm) -> Any:
    try:
        return await awaitable
    finally:
        alarm.stop()  # in the step in which the await ends


class _CountingIterator:
    """Passes on everything between a task and the iterator that an ``__await__`` returned,
    and counts the bare ``None``s it yields: each one sends the task straight back to the
    ready queue, with nothing to wait on (a poll)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.bare = 0
        #: Everything it yielded (futures and bare Nones): 0 means the loop never got a turn.
        self.yields = 0

    def __iter__(self) -> _CountingIterator:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        send = getattr(self._inner, "send", None)
        item = send(value) if send is not None else next(self._inner)
        self.yields += 1
        if item is None:
            self.bare += 1
        return item

    def throw(self, *args: Any) -> Any:
        throw = getattr(self._inner, "throw", None)
        if throw is None:
            raise args[0] if len(args) == 1 else args[1]
        item = throw(*args)
        self.yields += 1
        if item is None:
            self.bare += 1
        return item

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _Counted:
    """An awaitable around the learner's instance, counting its yields. What ``__await__``
    returned is passed on as it is when it is not an iterator to wrap (a coroutine, a plain
    value): awaiting it then fails with Python's own TypeError, as awaiting the instance
    does."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance
        self.iterator: _CountingIterator | None = None

    def __await__(self) -> Any:
        inner = type(self.instance).__await__(self.instance)
        if inspect.iscoroutine(inner) or not isinstance(inner, Iterator) or (
                inspect.isgenerator(inner)
                and inner.gi_code.co_flags & inspect.CO_ITERABLE_COROUTINE):
            return inner
        self.iterator = _CountingIterator(inner)
        return self.iterator

    @property
    def bare(self) -> int:
        return self.iterator.bare if self.iterator is not None else 0


async def _run_quietly(func: Callable[..., Any], *args: Any,
                       time_limit: float) -> Outcome:
    """:func:`run_learner`, with the "never awaited" warnings that a wrong ``__await__``
    causes (Python drops the coroutine it returned) caught here, not shown later."""
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        outcome = await run_learner(func, *args, time_limit=time_limit)
        gc.collect()
    return outcome


def _await_error(call: str, error: BaseException, cls: type) -> str:
    """The ❌ sentence for an exception raised while awaiting an instance."""
    text = f"{type(error).__name__}: {error}"
    method = getattr(cls, "__await__", None)
    if "returned a coroutine" in str(error):
        if inspect.iscoroutinefunction(method):
            return (f"Awaiting {call} raised {text}. Your `__await__` is an `async def`: "
                    "calling it gives a coroutine, and `__await__` must return an iterator "
                    "(section 2).")
        return (f"Awaiting {call} raised {text}: `__await__` must return an iterator, not a "
                "coroutine (section 2 shows how to get one from another awaitable).")
    if "non-coroutine generator" in str(error):
        return (f"Awaiting {call} raised {text}: a plain generator cannot delegate to a "
                "coroutine itself (section 2 shows what it can delegate to).")
    if "bad yield" in str(error):
        return (f"Awaiting {call} raised {text}: an asyncio task takes only futures (or a "
                "bare None, one turn of the loop) from an `__await__`; yielding the seconds "
                "is the toy loop's protocol (section 8 compares the two).")
    if "non-iterator" in str(error):
        return f"Awaiting {call} raised {text}: `__await__` must return an iterator (section 2)."
    return f"Awaiting {call} raised {text}."


@checker
async def check_delay(Delay: Any) -> str:  # noqa: N803 (the learner's class)
    """``Delay(seconds, value)`` is a class whose instances are awaitable: ``await`` waits
    ``seconds`` without blocking the event loop and gives ``value``; several awaited together
    wait at the same time."""
    if inspect.iscoroutinefunction(Delay):
        fail("Delay is an `async def` function: calling it gives a coroutine. The exercise "
             "asks for a class whose instances can be awaited (section 2).")
    require_callable(Delay, "Delay", is_async=False)
    if not inspect.isclass(Delay):
        fail(f"Delay is a {type(Delay).__name__}, not a class: the exercise asks for a class "
             "whose instances can be awaited (section 2).")

    for seconds, value in _DELAYS:
        call = f"Delay({seconds:g}, {value!r})"
        alarm = Alarm(seconds * _ALARM)
        alarm.set()  # before the instance exists: no timer it sets can be due before
        try:
            instance = Delay(seconds, value)
        except Exception as exc:
            alarm.stop()
            fail(f"{call} raised {type(exc).__name__}: {exc}; the class takes the seconds "
                 "and the value.")
        if inspect.iscoroutine(instance):
            alarm.stop()
            instance.close()
            fail(f"{call} gave a coroutine, not an instance of your class (section 2).")
        if not inspect.isawaitable(instance):
            alarm.stop()
            fail(f"{call} is not awaitable (`inspect.isawaitable` says False): its class "
                 "needs an `__await__` method (section 2).")
        single = _Counted(instance)
        outcome = await _run_quietly(_awaiting, single, alarm, time_limit=seconds + 3)
        if outcome.blocking:
            fail(blocking_message(f"Awaiting {call}", outcome.blocking, _BLOCKING_SEE))
        if outcome.timed_out:
            fail(f"Awaiting {call} did not finish within {seconds + 3:g} s: is something "
                 "waiting forever?")
        if outcome.error is not None:
            fail(_await_error(call, outcome.error, Delay))
        got, elapsed = outcome.value, outcome.elapsed
        if outcome.unawaited:
            fail(f"`await {call}` gave a {outcome.unawaited} object, not the value: something "
                 "in `__await__` was never awaited.")
        if got != value or type(got) is not type(value):
            which = " (the seconds, not the value)" if got == seconds else ""
            fail(f"`await {call}` gave {got!r}{which}; expected {value!r}, the value passed "
                 "in.")
        if single.bare > _MOST_BARE_YIELDS:
            fail(f"`await {call}` gave the right value, but it yielded None to the event loop "
                 f"{single.bare} times while it waited: it kept the processor busy checking "
                 "the clock, where a future that the loop sets when the time is up costs "
                 "nothing (sections 6 and 8).")
        # It gave the loop turns and still ended before the alarm: too short, however late
        # the loop ran. One that never let the loop run is caught when four wait together.
        gave_turns = single.iterator is not None and single.iterator.yields > 0
        if elapsed < seconds - 0.01 or (not alarm.rang and gave_turns):
            fail(f"`await {call}` gave its value after {elapsed:.2f} s; it should wait "
                 f"{seconds:g} s. Are the seconds used?")
        if elapsed > seconds + _LATE:
            fail(f"`await {call}` took {elapsed:.2f} s; it should wait about {seconds:g} s. "
                 "Are the seconds used?")

    timeline = Timeline()

    counted: list[_Counted] = []

    async def one(i: int, instance: Any) -> Any:
        with timeline.track(f"Delay {i}"):
            return await instance

    async def together() -> list[Any]:
        counted.extend(_Counted(Delay(_TOGETHER, f"value {i}")) for i in range(4))
        return await asyncio.gather(*(one(i, d) for i, d in enumerate(counted)))

    outcome = await _run_quietly(together, time_limit=4 * _TOGETHER + 3)
    if outcome.blocking:
        fail(blocking_message("Awaiting four Delays together", outcome.blocking, _BLOCKING_SEE))
    if outcome.error is not None or outcome.timed_out:
        what = ("did not finish" if outcome.timed_out else
                f"raised {type(outcome.error).__name__}: {outcome.error}")
        fail(f"Each Delay worked alone, but four awaited together with gather {what}.")
    expected = [f"value {i}" for i in range(4)]
    if outcome.value != expected:
        fail(f"Four Delay({_TOGETHER:g}, 'value i') awaited together gave {outcome.value!r}; "
             f"expected {expected}.")
    overlap = timeline.max_overlap()
    if overlap < 4:
        fail(f"Four Delay({_TOGETHER:g}, ...) awaited together took {outcome.elapsed:.2f} s: "
             f"at most {overlap} of them waited at once. While one waits, the event loop must "
             "be free to run the others (section 2 measures this).")
    polls = max((c.bare for c in counted), default=0)
    if polls > _MOST_BARE_YIELDS:
        fail(f"Four Delay({_TOGETHER:g}, ...) awaited together gave the right values at the "
             f"right time, but one of them yielded None to the event loop {polls} times while "
             "it waited: it kept the processor busy checking the clock, where a future that "
             "the loop sets when the time is up costs nothing (sections 6 and 8).")
    return (f"await gave the value after the right time for {len(_DELAYS)} pairs, without "
            f"blocking, and four Delays awaited together waited at the same time "
            f"({outcome.elapsed:.2f} s).")


# -- exercise 2: await only what can be awaited ---------------------------------------------------
class _Ticket:
    """An awaitable that is neither a coroutine nor a future: it gives its value after
    0.05 s."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from asyncio.sleep(0.05).__await__()
        return self.value


#: The cases whose function gives a plain value, not an awaitable.
_PLAIN_RESULTS = ("double", "nothing")


def _settle(future: asyncio.Future[Any], value: object) -> None:
    if not future.done():
        future.set_result(value)


def _maybe_cases(calls: Counter[str]) -> list[tuple[str, str, Callable[..., Any],
                                                      tuple[Any, ...], Any]]:
    """(how the sentence names it, what kind of function it is, the function, its arguments,
    what call_maybe_async must give; an exception: it must be raised). Each function counts
    its calls in ``calls`` (an async def counts when its coroutine runs: one that is made and
    dropped is seen in the "never awaited" warnings instead)."""

    async def greet(name: str) -> str:
        calls["greet"] += 1
        await asyncio.sleep(0.02)
        return f"hello {name}"

    async def refuse(name: str) -> str:
        calls["refuse"] += 1
        await asyncio.sleep(0.02)
        raise TypeError(f"bad input {name!r}")

    def logged(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any) -> Any:
            calls["logged(greet)"] += 1
            return func(*args)  # a plain def: it returns the coroutine
        return wrapper

    def double(x: int) -> int:
        calls["double"] += 1
        return 2 * x

    def nothing(x: object) -> None:
        calls["nothing"] += 1

    def ticket(value: object) -> _Ticket:
        calls["ticket"] += 1
        return _Ticket(value)

    def later(n: int) -> asyncio.Future[str]:
        calls["later"] += 1
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        loop.call_later(0.05, _settle, future, f"future {n}")
        return future

    return [
        ("double", "a plain def", double, (21,), 42),
        ("greet", "an async def", greet, ("Ada",), "hello Ada"),
        ("partial(greet, 'Alan')", "a partial of an async def",
         functools.partial(greet, "Alan"), (), "hello Alan"),
        ("logged(greet)", "a plain def whose result is a coroutine", logged(greet),
         ("Grace",), "hello Grace"),
        ("later", "a plain def whose result is a Future", later, (7,), "future 7"),
        ("ticket", "a plain def whose result is an awaitable object", ticket, ("seat 12",),
         "seat 12"),
        ("nothing", "a plain def that returns None", nothing, ("x",), None),
        ("refuse", "an async def that raises", refuse, ("Linus",),
         TypeError("bad input 'Linus'")),
    ]


@checker
async def check_call_maybe_async(call_maybe_async: Callable[..., Any]) -> str:
    """``call_maybe_async(func, *args)`` calls ``func(*args)`` once and awaits the result when
    it is awaitable (a coroutine, a future, any object with ``__await__``), whatever kind of
    function ``func`` is; a plain result comes back as it is; errors come through."""
    require_callable(call_maybe_async, "call_maybe_async", is_async=True)
    calls: Counter[str] = Counter()
    cases = _maybe_cases(calls)
    for name, kind, func, args, expected in cases:
        call = f"call_maybe_async({name}{''.join(f', {a!r}' for a in args)})"
        counted = "greet" if name.startswith("partial(") else name
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = await run_learner(call_maybe_async, func, *args, time_limit=2)
            gc.collect()
        dropped = [w for w in never_awaited(caught) if w.split(".")[-1] in ("greet", "refuse")]
        if outcome.blocking:
            fail(blocking_message(call, outcome.blocking, _BLOCKING_SEE))
        if outcome.timed_out:
            fail(f"{call} did not finish within 2 s: is something waiting forever?")
        times = calls[counted] + len(dropped)
        if times > 1:
            fail(f"{call} called {name} {times} times; it should call it once (each call "
                 "does the work again: another request, another payment...).")
        calls.clear()
        if isinstance(expected, BaseException):
            error = outcome.error
            if type(error) is type(expected) and str(error) == str(expected):
                continue
            value = ("a coroutine object" if inspect.iscoroutine(outcome.value) else
                     f"{outcome.value!r:.80}")
            got = (f"raised {type(error).__name__}: {error}" if error is not None else
                   f"returned {value}")
            fail(f"{name} is {kind}: awaiting its coroutine raises {expected!r}, and {call} "
                 f"{got}. That error should reach the caller.")
        if outcome.error is not None:
            exc = outcome.error
            plain = (f" {name} is {kind}: its result, {expected!r}, is not awaitable "
                     "(section 3)." if name in _PLAIN_RESULTS and "await" in str(exc) else "")
            fail(f"{call} raised {type(exc).__name__}: {exc}.{plain}")
        if outcome.unawaited:
            fail(f"{call} returned a {outcome.unawaited} object instead of {expected!r}: "
                 f"{name} is {kind}, and that result had to be awaited (section 3 compares "
                 "the ways to tell).")
        if outcome.value != expected:
            fail(f"{call} returned {outcome.value!r:.80}; expected {expected!r}.")
    return (f"{len(cases)} kinds of functions, each called once: plain results came back as "
            "they were; coroutines (from a plain-def wrapper and a partial too), a future and "
            "an awaitable object were awaited; an error raised inside came through.")


# -- exercise 3: a callback API behind a future --------------------------------------------------
#: Latencies per user id: answers come back in another order than they were asked for.
_LATENCIES = {3: 0.12, 11: 0.05, 7: 0.09, 99: 0.05, 2: 0.06, 14: 0.1, 5: 0.25, 98: 0.25,
              18: 0.03}
_ONE_BY_ONE = (3, 11, 7)
_TOGETHER_IDS = (2, 14, 18, 3, 11)
_UNKNOWN = 99
#: Cancelled after this long, before their answer comes (0.25 s): one user, one unknown id.
#: Their answers are held until the check has seen both tasks end (or for at most
#: _LIMIT / 2), so that however late the loop runs (a 0.2 s stall once delivered them before
#: the cancellation, and a callback that never looks at the future passed) they come after it.
_CANCEL_AFTER = 0.05
_CANCELLED_IDS = (5, 98)
_LIMIT = 1.0


async def _lookup_outcome(lookup_async: Callable[..., Any], api: _CallbackAPI,
                          user_id: int) -> Outcome:
    outcome = await run_learner(lookup_async, api, user_id, time_limit=_LIMIT)
    call = f"lookup_async(lookup, {user_id})"
    if outcome.blocking:
        fail(blocking_message(call, outcome.blocking, _BLOCKING_SEE))
    for uid, name, exc in api.raised:
        fail(f"When the API answered for user {uid}, your {name} callback raised "
             f"{type(exc).__name__}: {exc}.")
    if outcome.timed_out:
        if user_id not in api.calls:
            fail(f"{call} did not finish within {_LIMIT:g} s, and it never called `lookup`.")
        how = "on_error" if user_id not in USERS else "on_done"
        sent = api.errors_sent.get(user_id)
        argument = f"({sent!r})" if sent is not None else " with the user"
        fail(f"{call} did not finish within {_LIMIT:g} s, although the API called "
             f"{how}{argument} after {_LATENCIES.get(user_id, 0.1):g} s: that answer never "
             f"reached the waiting coroutine (section {4 if sent is not None else 5}).")
    if outcome.unawaited:
        fail(f"{call} returned a {outcome.unawaited} object instead of the user: a missing "
             "`await` (section 4)?")
    return outcome


@checker
async def check_lookup_async(lookup_async: Callable[..., Any]) -> str:
    """``lookup_async(lookup, user_id)`` calls the callback API ``lookup(user_id, on_done,
    on_error)`` and waits for its answer: the user's dict, or the API's exception raised;
    a late answer after the caller was cancelled must not fail."""
    require_callable(lookup_async, "lookup_async", is_async=True)
    api = _CallbackAPI(_LATENCIES)
    try:
        # 1. One by one: the user the API gave, for several ids.
        for user_id in _ONE_BY_ONE:
            outcome = await _lookup_outcome(lookup_async, api, user_id)
            call = f"lookup_async(lookup, {user_id})"
            if isinstance(outcome.error, asyncio.InvalidStateError):
                fail(f"{call} raised InvalidStateError: {str(outcome.error).rstrip('.')}. "
                     "It asked the future "
                     "for its result before the API had answered; section 4 shows how to "
                     "wait until a future is done.")
            if outcome.error is not None:
                fail(f"{call} raised {type(outcome.error).__name__}: {outcome.error}.")
            if outcome.value != user_record(user_id):
                earlier = [i for i in _ONE_BY_ONE[:_ONE_BY_ONE.index(user_id)]
                           if outcome.value == user_record(i)]
                whose = f" (user {earlier[0]}'s, the answer to an earlier call)" if earlier else ""
                fail(f"{call} returned {outcome.value!r:.100}{whose}; expected the dict the "
                     f"API passed to on_done, {user_record(user_id)!r}.")

        # 2. An unknown id: the API's exception must be raised in the caller.
        outcome = await _lookup_outcome(lookup_async, api, _UNKNOWN)
        sent = api.errors_sent.get(_UNKNOWN)
        call = f"lookup_async(lookup, {_UNKNOWN})"
        error = outcome.error
        same = error is sent or (type(error) is type(sent) and str(error) == str(sent))
        if not same:
            got = (f"returned {outcome.value!r}" if error is None else
                   f"raised {type(error).__name__}: {error}")
            fail(f"For the unknown id {_UNKNOWN} the API called on_error({sent!r}), and "
                 f"{call} {got}: that error should be raised in the caller, as if the "
                 "lookup itself had raised it (section 4).")

        # 3. Five at once: all five waiting for the API at the same time.
        api.most = 0

        async def five() -> list[Any]:
            return await asyncio.gather(*(lookup_async(api, i) for i in _TOGETHER_IDS))

        outcome = await run_learner(five, time_limit=_LIMIT)
        if outcome.blocking:
            fail(blocking_message("lookup_async", outcome.blocking, _BLOCKING_SEE))
        for uid, name, exc in api.raised:
            fail(f"When the API answered for user {uid}, your {name} callback raised "
                 f"{type(exc).__name__}: {exc}.")
        expected = [user_record(i) for i in _TOGETHER_IDS]
        if outcome.timed_out or outcome.error is not None or outcome.value != expected:
            what = "did not finish" if outcome.timed_out else _what(outcome)
            fail(f"Each lookup worked alone, but {len(_TOGETHER_IDS)} of them gathered "
                 f"(ids {list(_TOGETHER_IDS)}) {what}.")
        if api.most < len(_TOGETHER_IDS):
            fail(f"{len(_TOGETHER_IDS)} lookups were gathered, but at most {api.most} of them "
                 f"waited for the API at once ({outcome.elapsed:.2f} s): each call should "
                 "start its lookup and wait without holding up the others.")

        # 4. Cancelled before the answer comes: the late answer must not fail.
        ends: dict[int, str] = {}

        async def cancel_then_answer() -> None:
            api.held.update(_CANCELLED_IDS)
            tasks = {i: asyncio.create_task(lookup_async(api, i)) for i in _CANCELLED_IDS}
            await asyncio.sleep(_CANCEL_AFTER)
            for task in tasks.values():
                task.cancel()
            # The answers come after the tasks have ended (one that waits for its answer
            # even so gets it after _LIMIT / 2).
            await asyncio.wait(tasks.values(), timeout=_LIMIT / 2)
            api.release()
            for i, task in tasks.items():
                try:
                    value = await task
                except asyncio.CancelledError:
                    ends[i] = "cancelled"
                except Exception as exc:
                    ends[i] = f"raised {type(exc).__name__}: {exc}"
                else:
                    ends[i] = f"returned {value!r:.60}"
            for _ in range(int(_LIMIT / 0.01)):  # until every answer has been sent
                if all(i in api.answered for i in _CANCELLED_IDS):
                    break
                await asyncio.sleep(0.01)
            for _ in range(3):  # what the learner's callbacks scheduled in turn
                await asyncio.sleep(0)

        with _loop_reports(api.loop) as reports:
            outcome = await run_learner(cancel_then_answer, time_limit=_LIMIT + 1)
        if outcome.blocking:
            fail(blocking_message("lookup_async", outcome.blocking, _BLOCKING_SEE))
        if outcome.error is not None:
            fail(f"Cancelling a task awaiting lookup_async made the check's task raise "
                 f"{type(outcome.error).__name__}: {outcome.error}.")
        for i in _CANCELLED_IDS:
            if ends.get(i, "cancelled") != "cancelled":
                fail(f"The task awaiting lookup_async(lookup, {i}) was cancelled after "
                     f"{_CANCEL_AFTER:g} s, and it {ends[i]} instead of ending cancelled: let "
                     "the CancelledError through (notebook 05, section 4).")
        late = [(uid, name, exc) for uid, name, exc in api.raised if uid in _CANCELLED_IDS]
        if late or reports:
            uid, name, exc = late[0] if late else (None, "a callback", reports[0])
            which = (f"lookup_async(lookup, {uid})" if uid is not None else "lookup_async")
            where = f"your {name} callback" if late else "a callback it scheduled"
            fail(f"The task awaiting {which} was cancelled after {_CANCEL_AFTER:g} s; when "
                 f"the API's answer came {_LATENCIES[_CANCELLED_IDS[0]] - _CANCEL_AFTER:g} s "
                 f"later, {where} raised {type(exc).__name__} ({exc}): the future had been "
                 "cancelled with the task. A callback that can come late must look at the "
                 "future's state first (section 5).")
    finally:
        api.close()
    return ("The users came back for every id, the unknown id raised the API's LookupError, "
            f"{len(_TOGETHER_IDS)} gathered lookups waited at once, and answers that came "
            "after a cancellation were dropped quietly.")
