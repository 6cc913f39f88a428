"""Checks for notebook 07 (async iteration and context).

``check_connection`` hands the learner's async context manager toy connection pools that
record every connection going out and coming back, and uses it three ways: a block that ends
normally, one that raises, and one whose task is cancelled. ``check_take`` hands ``take``
generators that count the items pulled from them and note when their ``finally`` ran.
``check_stream_users`` reads the learner's async generator against the demo server's
JSON-lines stream: it notes when each user arrived and compares it with the server's own log
(when the stream started and ended), and it stops early to see, on the server, that the
stream is closed when the generator is.
The learner's code is called through :func:`run_learner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import time
import warnings
from collections.abc import Callable
from typing import Any

from ..servers import DemoAPI
from ..servers.api import USERS, user_record
from ._core import Outcome, Problem, blocking_message, checker, fail, require_callable, run_learner
from ._observe import never_awaited

__all__ = ["Connection", "Pool", "check_connection", "check_stream_users", "check_take"]

_BLOCKING_SEE = "notebook 03 shows why"


# -- exercise 1: an async context manager ---------------------------------------------------------
class Connection:
    """A toy connection of a :class:`Pool`: it knows its pool and its number."""

    def __init__(self, pool: Pool, number: int) -> None:
        self.pool, self.number = pool, number

    def __repr__(self) -> str:
        return f"<Connection {self.number} of pool {self.pool.name!r}>"


class Pool:
    """A toy pool of ``size`` connections. ``await pool.acquire()`` waits for a free one
    (and a short handshake) and returns it; ``pool.release(conn)`` gives it back.
    ``pool.out`` holds the connections checked out now."""

    def __init__(self, name: str = "db", size: int = 2, handshake: float = 0.01) -> None:
        self.name, self.size, self.handshake = name, size, handshake
        self._free = [Connection(self, i) for i in range(1, size + 1)]
        self._slots = asyncio.Semaphore(size)
        self.out: list[Connection] = []
        self.acquired = 0

    async def acquire(self) -> Connection:
        """Wait for a free connection and return it."""
        await self._slots.acquire()
        try:
            await asyncio.sleep(self.handshake)
        except BaseException:
            self._slots.release()
            raise
        conn = self._free.pop(0)
        self.out.append(conn)
        self.acquired += 1
        return conn

    def release(self, conn: Connection) -> None:
        """Give ``conn`` back (ValueError if it is not one of this pool's checked-out
        connections)."""
        if conn not in self.out:
            raise ValueError(f"{conn!r} is not checked out from pool {self.name!r}")
        self.out.remove(conn)
        self._free.append(conn)
        self._slots.release()

    def __repr__(self) -> str:
        return f"<Pool {self.name!r}: {len(self.out)} of {self.size} out>"


class _BlockError(Exception):
    """Raised by the check inside the learner's ``async with`` block."""


def _describe_manager(manager: object) -> str:
    """What the learner's function returned, when it cannot be used with ``async with``."""
    kind = type(manager).__name__
    if inspect.iscoroutine(manager):
        return ("returned a coroutine object, not an async context manager: `async with` "
                "needs an object with __aenter__ and __aexit__ (sections 1 and 2)")
    if hasattr(manager, "__enter__"):
        return (f"returned a {kind}, a context manager for a plain `with`: `async with` "
                "needs __aenter__ and __aexit__, which can await (section 2)")
    if inspect.isasyncgen(manager):
        return ("returned an async generator: on its own it is not a context manager; "
                "section 2 shows what turns one into a context manager")
    return (f"returned {kind} {_short(manager)}, which has no __aenter__/__aexit__: "
            "`async with` cannot use it (sections 1 and 2)")


def _short(value: object, width: int = 90) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


@checker
async def check_connection(connection: Callable[..., Any]) -> str:
    """``connection(pool)`` is an async context manager: it acquires a connection from
    ``pool`` on entry, gives it to the block, and releases it on the way out, whether the
    block ends normally, raises (the error goes on) or is cancelled (so does the
    cancellation)."""
    if not callable(connection):
        fail(f"Pass the function itself, `connection`, not the {type(connection).__name__} "
             f"{_short(connection)}: did you call it?")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            message = await _check_connection(connection)
        finally:
            gc.collect()  # a forgotten await warns "never awaited" when collected
    names = never_awaited(caught)
    if names:
        fail(f"The pool's connections came and went right, but a coroutine was never "
             f"awaited: {names[0]}.")
    return message


async def _use(connection: Callable[..., Any], pool: Pool, seen: dict[str, Any],
               then: str) -> None:
    """``async with connection(pool) as conn:`` and then: "return", "raise" or "wait"
    (to be cancelled). Records what the block saw."""
    manager = connection(pool)
    if not (hasattr(manager, "__aenter__") and hasattr(manager, "__aexit__")):
        if inspect.iscoroutine(manager):
            manager.close()  # never awaited on purpose: no warning later
        raise Problem(f"connection(pool) {_describe_manager(manager)}.")
    async with manager as conn:
        seen["conn"] = conn
        seen["out_inside"] = list(pool.out)
        if then == "raise":
            raise _BlockError("raised inside the block")
        if then == "wait":
            seen["entered"].set()
            await asyncio.sleep(10)
    seen["after"] = True


async def _run_use(connection: Callable[..., Any], pool: Pool, then: str,
                   seen: dict[str, Any]) -> Outcome:
    """Run one use through :func:`run_learner`; fail on what is never right."""
    if then == "wait":
        seen["entered"] = asyncio.Event()

        async def cancelled_use() -> str:
            task = asyncio.create_task(_use(connection, pool, seen, "wait"))
            entered = asyncio.create_task(seen["entered"].wait())
            await asyncio.wait({task, entered}, return_when=asyncio.FIRST_COMPLETED)
            entered.cancel()
            if task.done():  # it ended before the block was entered: report how
                task.result()
                raise Problem("connection(pool)'s block ended before the check could "
                              "cancel it.")
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return "cancelled"
            return "returned"

        outcome = await run_learner(cancelled_use, time_limit=5.0)
    else:
        outcome = await run_learner(_use, connection, pool, seen, then, time_limit=5.0)
    if isinstance(outcome.error, Problem):
        raise outcome.error
    if outcome.blocking:
        fail(blocking_message("connection", outcome.blocking, _BLOCKING_SEE))
    if outcome.timed_out:
        fail("connection(pool) did not finish within 5 s: is it waiting for a connection "
             "that is never given back?")
    return outcome


#: The pools of the check: (name, size). One of size 1: a connection that is not given back
#: makes the next use wait for ever.
_POOLS = (("orders", 2), ("users", 1))


async def _check_connection(connection: Callable[..., Any]) -> str:
    for name, size in _POOLS:
        pool = Pool(name, size)
        # 1. A block that ends normally, twice in a row.
        for use in (1, 2):
            seen: dict[str, Any] = {}
            outcome = await _run_use(connection, pool, "return", seen)
            if outcome.error is not None:
                fail(f"`async with connection(pool)` raised {_short(outcome.error)} before "
                     "its block ran.")
            conn = seen.get("conn")
            if inspect.iscoroutine(conn):
                conn.close()
                fail("Inside `async with connection(pool) as conn:`, conn was a coroutine "
                     "object, not a connection: something was not awaited (section 2).")
            if not isinstance(conn, Connection) or conn.pool is not pool:
                where = ("a connection of another pool, "
                         f"{conn.pool.name!r}" if isinstance(conn, Connection) else
                         f"{_short(conn)}")
                fail(f"With pool {pool.name!r}, `async with connection(pool) as conn:` gave "
                     f"the block {where}; expected a connection acquired from the pool it "
                     "was given.")
            if conn not in seen["out_inside"]:
                fail(f"Inside the block, {conn!r} was not checked out of the pool any more: "
                     "it was given back before the block ran (section 2).")
            if pool.out:
                fail(f"After a block that ended normally, {len(pool.out)} connection(s) of "
                     f"pool {pool.name!r} were still checked out: the exit did not give it "
                     "back (sections 1 and 2).")
            if pool.acquired != use:
                fail(f"One `async with` acquired {pool.acquired - use + 1} connections from "
                     "the pool; expected one.")

        # 2. A block that raises: the connection comes back, the error goes on.
        seen = {}
        outcome = await _run_use(connection, pool, "raise", seen)
        leaked = len(pool.out)
        if leaked:
            for conn in list(pool.out):  # tidy up for the next case
                pool.release(conn)
            fail(f"When the block raised an error, the connection was not given back "
                 f"({leaked} of pool {pool.name!r} still checked out): the clean-up must run "
                 "on an error too (section 2).")
        if outcome.error is None:
            fail("The block raised _BlockError('raised inside the block'), but "
                 "`async with connection(pool)` ended without it: the exit swallowed the "
                 "error (section 1 shows what suppresses an exception).")
        if not isinstance(outcome.error, _BlockError):
            fail(f"The block raised _BlockError('raised inside the block'), but the caller "
                 f"got {_short(outcome.error)}: the exit should let the block's error "
                 "through unchanged.")

        # 3. A task cancelled inside the block: the connection comes back, the task ends
        # cancelled.
        seen = {}
        outcome = await _run_use(connection, pool, "wait", seen)
        leaked = len(pool.out)
        if leaked:
            for conn in list(pool.out):
                pool.release(conn)
            fail(f"When the task was cancelled inside the block, the connection was not given "
                 f"back ({leaked} of pool {pool.name!r} still checked out), although an error "
                 "gave it back: a cancellation arrives as CancelledError, which is not an "
                 "Exception (section 1).")
        if outcome.error is not None:
            fail(f"When the task was cancelled inside the block, it raised "
                 f"{_short(outcome.error)} instead of ending cancelled.")
        if outcome.value == "returned":
            fail("The task was cancelled inside the block, but it finished normally: the "
                 "exit swallowed the CancelledError, so the task cannot be stopped "
                 "(section 1).")
    return ("The connection came from the pool it was given and went back after a normal "
            "block, after an error (which still reached the caller) and after a "
            "cancellation (which still stopped the task).")


# -- exercise 2: take the first n items and close --------------------------------------------
class _Source:
    """An async generator for the take check that records how many items were pulled from
    it and when its ``finally`` ran (and in which task)."""

    def __init__(self, items: list[str], interval: float = 0.01) -> None:
        self.items, self.interval = items, interval
        self.pulled = 0
        self.closed_in: asyncio.Task[Any] | None = None
        self.finally_ran = False

    async def gen(self) -> Any:
        try:
            for item in self.items:
                await asyncio.sleep(self.interval)
                self.pulled += 1
                yield item
        finally:
            self.finally_ran = True
            self.closed_in = asyncio.current_task()


#: (items the source has, n asked for). A short source: fewer items than asked.
_TAKE_CASES = ((["ada", "alan", "grace", "guido", "barbara", "ken", "margaret", "dennis"], 3),
               (["north", "east", "south", "west"], 1),
               (["only", "two"], 4),
               (["a", "b", "c", "d", "e", "f"], 5))


@checker
async def check_take(take: Callable[..., Any]) -> str:
    """``take(agen, n)`` returns a list of the first ``n`` items of the async generator
    ``agen`` (fewer if it ends first), pulls no more than it returns, and has closed the
    generator (its ``finally`` has run) by the time it returns."""
    require_callable(take, "take", is_async=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for items, n in _TAKE_CASES:
                await _check_take_case(take, items, n)
        finally:
            gc.collect()
    names = never_awaited(caught)
    if names:
        fail(f"The lists were right, but a coroutine was never awaited: {names[0]}.")
    return ("The first n items every time, none pulled for nothing, and the generator "
            "closed (its finally had run, in your task) before take returned.")


async def _check_take_case(take: Callable[..., Any], items: list[str], n: int) -> None:
    source = _Source(items)
    agen = source.gen()
    seen: dict[str, Any] = {}

    async def observed() -> object:
        value = await take(agen, n)
        seen["finally_ran"] = source.finally_ran  # at the moment take returned
        seen["task"] = asyncio.current_task()
        return value

    try:
        outcome = await run_learner(observed, time_limit=5.0)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with contextlib.suppress(BaseException):
                await agen.aclose()  # the check tidies up what a wrong answer left open
    call = f"take(agen, {n}) on a generator of {len(items)} items"
    if outcome.blocking:
        fail(blocking_message("take", outcome.blocking, _BLOCKING_SEE))
    if outcome.timed_out:
        fail(f"{call} did not finish within 5 s.")
    if outcome.error is not None:
        exc = outcome.error
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        more = (" The generator ended before n items: take should then return what there was."
                if isinstance(exc, StopAsyncIteration) else "")
        fail(f"{call} raised {what}.{more}")
    expected = items[:n]
    if outcome.unawaited:
        fail(f"{call} returned a {outcome.unawaited} object instead of a list: a missing "
             "`await` somewhere?")
    if outcome.value != expected:
        fail(f"{call} returned {_short(outcome.value)}; expected the first {n}: "
             f"{expected}.")
    if source.pulled > len(expected):
        fail(f"{call} returned the right {len(expected)} item(s) but pulled {source.pulled} "
             f"from the generator: each item pulled and thrown away is waited for (on a "
             "stream, one more interval), so stop as soon as you have n.")
    if not seen.get("finally_ran"):
        fail(f"When {call} returned, the generator's finally had not run: it was left open "
             "at its yield, to be closed later, when the loop's hook sees it garbage-collected "
             "or at shutdown (section 7).")
    if source.closed_in is not seen.get("task"):
        fail(f"{call} closed the generator, but in another task: close it in take's own "
             "task (section 7).")


# -- exercise 3: an async generator over a stream -------------------------------------------------
#: The server's interval between two lines of /users/stream (its default).
_INTERVAL = 0.1
_LATENCY = 0.05
#: The counts asked for, one after another; the first-arrival test uses the longest.
_COUNTS = (3, 5)
#: A whole-body reader (or one that collects the users before yielding them) gets its first
#: user after the last line is written, never before _LATENCY + count * _INTERVAL (0.55 s
#: for count 5) from the request's start: a first user later than 0.54 s is a fail, whatever
#: the load (the server's own `finished` is not used: a server thread stalled after its
#: last line would move it). A streamed answer hands it out after 0.15 s: 0.39 s of
#: lateness is allowed, and more when its users still come spread out over the stream (at
#: least _SPREAD apart; (count - 1) * _INTERVAL = 0.4 s normally), which a collected body
#: does not do (no await between its users: it would need a 0.2 s stall inside that loop).
_LAST_LINE_AFTER = _LATENCY + max(_COUNTS) * _INTERVAL - 0.01
_SPREAD = (max(_COUNTS) - 1) * _INTERVAL / 2
#: The early stop: read this many users of a stream of that many, then close the generator.
_READ, _OF = 2, 12
#: How long after the generator is closed the server may go on writing: its next line (one
#: interval) plus a margin for a busy machine. Streaming to the end takes about 1 s more.
_CLOSE_MARGIN = _INTERVAL + 0.3


class _Resources:
    """ResourceWarnings and loop error reports (aiohttp's "Unclosed client session") seen
    while the check runs; printed nowhere."""

    def __init__(self) -> None:
        self.reports: list[str] = []

    def unclosed(self, caught: list[warnings.WarningMessage]) -> list[str]:
        texts = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
        return [t.split(":")[0].split(" <")[0] for t in texts + self.reports]


@checker
async def check_stream_users(stream_users: Callable[..., Any]) -> str:
    """``stream_users(base_url, count)`` is an async generator that yields the first
    ``count`` users of ``/users/stream`` as dicts, each as soon as its line arrives, and
    closes the response (and its session) when it is closed early."""
    if not callable(stream_users):
        fail(f"Pass the function itself, `stream_users`, not the {type(stream_users).__name__} "
             f"{_short(stream_users)}: did you call it?")
    if inspect.iscoroutinefunction(stream_users):
        fail("stream_users is a coroutine function (`async def` without yield): it can only "
             "return everything at the end. An async generator hands out each user as it "
             "arrives (section 4).")
    if inspect.isgeneratorfunction(stream_users):
        fail("stream_users is a plain generator (`def` with yield): `async for` needs an "
             "async iterator, and a plain generator cannot await the network between two "
             "users (section 4).")
    loop = asyncio.get_running_loop()
    resources = _Resources()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(
        lambda _loop, context: resources.reports.append(str(context.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with DemoAPI(latency=_LATENCY) as api:
                    message = await _check_stream(stream_users, api)
            finally:
                gc.collect()
                for _ in range(3):  # aiohttp closes transports one loop turn later
                    await asyncio.sleep(0)
                gc.collect()
        unclosed = resources.unclosed(caught)
        names = never_awaited(caught)
        await _close_leftovers(caught)
    finally:
        loop.set_exception_handler(previous)
    if unclosed:
        fail(f"The users were right, but aiohttp reported '{unclosed[0]}' after the check "
             "closed the generator: everything stream_users opens must be closed when it "
             "ends or is closed early (section 2, and section 8 on closing).")
    if names:
        fail(f"The users were right, but a coroutine was never awaited: {names[0]}.")
    return message


async def _close_leftovers(caught: list[warnings.WarningMessage]) -> None:
    """Close the aiohttp sessions a wrong answer left open. Their "Unclosed client session"
    warning holds the session (its source), and the session its connector: closed here, the
    connector does not warn later in the learner's notebook."""
    sessions = [w.source for w in caught if getattr(w.source, "closed", True) is False]
    caught.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for session in sessions:
            with contextlib.suppress(Exception):
                await session.close()
        del sessions
        gc.collect()


async def _consume(stream_users: Callable[..., Any], base_url: str, count: int,
                   stop_after: int | None = None) -> tuple[list[Any], list[float], float]:
    """Iterate the learner's generator like `async for` does (at most count + 3 items, or
    ``stop_after``); close it. Returns the items, when each arrived, and when it was closed."""
    agen = stream_users(base_url, count)
    if inspect.iscoroutine(agen):
        agen.close()
        raise Problem("stream_users(...) returned a coroutine object: it must be iterated "
                      "with `async for`, so it should be an async generator (section 4).")
    if not hasattr(agen, "__anext__"):
        if inspect.isgenerator(agen):
            agen.close()
        raise Problem(f"stream_users(...) returned {_short(agen)}, which `async for` cannot "
                      "iterate: an async generator hands out users as they arrive "
                      "(section 4).")
    items: list[Any] = []
    arrivals: list[float] = []
    limit = count + 3 if stop_after is None else stop_after
    try:
        while len(items) < limit:
            try:
                item = await agen.__anext__()
            except StopAsyncIteration:
                break
            arrivals.append(time.perf_counter())
            items.append(item)
    finally:
        closed_at = time.perf_counter()
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            await aclose()
            closed_at = time.perf_counter()
    return items, arrivals, closed_at


def _expected(count: int) -> list[dict[str, object]]:
    return [{"id": u, "name": user_record(u)["name"]} for u in USERS[:count]]


async def _stream_outcome(stream_users: Callable[..., Any], base_url: str, count: int,
                          stop_after: int | None = None) -> tuple[list[Any], list[float], float]:
    outcome = await run_learner(_consume, stream_users, base_url, count, stop_after,
                                time_limit=6.0)
    if isinstance(outcome.error, Problem):
        raise outcome.error
    call = f"stream_users(url, {count})"
    if outcome.blocking:
        fail(blocking_message(call, outcome.blocking, _BLOCKING_SEE))
    if outcome.timed_out:
        fail(f"Reading {call} did not finish within 6 s: is it waiting for something that "
             "never comes?")
    if outcome.error is not None:
        exc = outcome.error
        status = getattr(exc, "status", None)
        what = f"HTTP {status}" if isinstance(status, int) else _short(str(exc), 120)
        fail(f"Reading {call} raised {type(exc).__name__}: {what}.")
    return outcome.value


def _stream_entry(api: DemoAPI) -> Any:
    entries = [r for r in api.stats.log if r.path.startswith("/users/stream")]
    if not entries:
        fail("stream_users did not send a request to /users/stream at the URL it was given.")
    return entries[-1]


async def _check_stream(stream_users: Callable[..., Any], api: DemoAPI) -> str:
    first_at = ""
    for count in _COUNTS:
        api.stats.reset()
        items, arrivals, _ = await _stream_outcome(stream_users, api.url, count)
        expected = _expected(count)
        call = f"stream_users(url, {count})"
        if items and isinstance(items[0], bytes | str):
            fail(f"{call} yielded {_short(items[0], 60)}: a line of text. Yield each user as "
                 "a dict, parsed from its JSON line (section 6).")
        if items != expected:
            got = len(items)
            if got > count and items[:count] == expected:
                fail(f"{call} went on past {count} users (the check stopped reading after "
                     f"{got}): is count passed on to the server?")
            if got < count and items == expected[:got]:
                fail(f"{call} yielded {got} user(s); expected the first {count}.")
            fail(f"{call} yielded {_short(items, 120)}; expected the first {count} users, "
                 f"as dicts like {expected[0]}, in the order they arrive.")
        entry = _stream_entry(api)
        if f"count={count}" not in entry.path:
            fail(f"{call} asked the server for {entry.path!r}: pass count on to the server, "
                 "or it streams every user.")
        if count == max(_COUNTS):
            # The streamed answer hands out the first user about (count - 1) intervals
            # before the stream ends; one that reads the whole body first, after it.
            deadline = time.perf_counter() + 2.0
            while entry.finished is None and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
                entry = _stream_entry(api)
            if entry.finished is None:
                fail(f"{call} yielded the right users, but the server was still streaming "
                     "2 s after the generator ended: was the response left open?")
            first, took = arrivals[0] - entry.started, entry.finished - entry.started
            spread = arrivals[-1] - arrivals[0]
            if first > _LAST_LINE_AFTER and spread < _SPREAD:
                fail(f"With {call}, the first user arrived {first:.2f} s after the request "
                     f"started, when the stream took {took:.2f} s, and the last one "
                     f"{spread:.2f} s after the first: it waited for the whole body instead "
                     "of handing out each user as its line arrived (section 6).")
            first_at = f"the first of {count} users came after {first:.2f} s of {took:.2f} s"

    # Stop early: the server must see the stream closed soon after the generator is.
    api.stats.reset()
    items, _, closed_at = await _stream_outcome(stream_users, api.url, _OF, stop_after=_READ)
    if items != _expected(_READ):
        fail(f"Reading {_READ} users of stream_users(url, {_OF}) gave {_short(items, 120)}.")
    deadline = closed_at + _CLOSE_MARGIN + 1.5
    entry = _stream_entry(api)
    while entry.finished is None and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
        entry = _stream_entry(api)
    after = (entry.finished if entry.finished is not None else time.perf_counter()) - closed_at
    if after > _CLOSE_MARGIN:
        fail(f"After reading {_READ} users of stream_users(url, {_OF}), the check closed the "
             f"generator, but the server went on streaming for {after:.2f} s more: the "
             "response stayed open. Open it so that closing the generator closes it "
             "(sections 7 and 8).")
    return (f"Users in order for counts {', '.join(map(str, _COUNTS))}; {first_at}; closed "
            f"after {_READ} users, the server stopped streaming {max(after, 0):.2f} s later.")
