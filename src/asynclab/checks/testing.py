"""Checks for notebook 17 (Testing async code).

The learner writes *tests*, so these checks test the tests, as mutation testing does: each
check runs the learner's test (a coroutine function that takes the code under test as its
arguments) against the correct code, where it must pass, and against broken versions of it,
where it must fail. A ❌ names the first broken version the test let through, in words, never
the test code that would catch it.

- :func:`check_user_tests`: a test of ``fetch_user_name`` and ``fetch_names`` against the
  demo server (each broken version gets a server of its own, so that what the test counts at
  the server belongs to that version alone).
- :func:`check_welcome_test`: a test of ``welcome(client, user_id)`` with ``AsyncMock``.
- :func:`check_no_leaked_tasks`: a helper ``assert_no_leaked_tasks(func, *args)``, run on an
  event loop of its own in a worker thread (a wrong helper that cancels every task must not
  cancel the kernel's), with a clean function, leaky ones, and a task of the check's that
  runs before, during and after the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import traceback
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from ..servers import USERS, DemoAPI
from ._core import Outcome, blocking_message, checker, fail, require_callable, run_learner
from ._observe import never_awaited

__all__ = ["check_no_leaked_tasks", "check_user_tests", "check_welcome_test"]


# -- what the three checks share -----------------------------------------------------------------
class _Quiet:
    """What :func:`_quietly` saw: names of coroutines never awaited, loop error reports."""

    def __init__(self) -> None:
        self.unawaited: list[str] = []
        self.reports: list[str] = []


@contextlib.asynccontextmanager
async def _quietly() -> AsyncIterator[_Quiet]:
    """Record, and print nowhere, what a test or a broken version leaves behind: "never
    awaited" warnings, ResourceWarnings and aiohttp's "Unclosed client session" report (the
    sessions are closed here, so nothing warns later in the learner's notebook)."""
    seen = _Quiet()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.reports.append(
        str(context.get("message"))))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield seen
            finally:
                gc.collect()
                for _ in range(3):  # aiohttp closes transports one loop turn later
                    await asyncio.sleep(0)
                gc.collect()
                seen.unawaited = never_awaited(caught)
                sessions = [w.source for w in caught
                            if getattr(w.source, "closed", True) is False]
                caught.clear()
                for session in sessions:
                    with contextlib.suppress(Exception):
                        await session.close()
                del sessions
                gc.collect()
    finally:
        loop.set_exception_handler(previous)


def _where(error: BaseException, test: Callable[..., Any]) -> str:
    """Where in the learner's test ``error`` was raised (or passed through), e.g. "at line 4
    of test_welcome" (counted from its ``def``); "" when the traceback does not go through the
    test. The line itself is not quoted: in a stub it is the solution's code."""
    code = getattr(test, "__code__", None)
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if code is not None and frame.filename == code.co_filename and frame.lineno]
    if not lines:
        return ""
    return f" at line {lines[-1] - code.co_firstlineno + 1} of {test.__name__}"


def _raised(error: BaseException) -> str:
    status = getattr(error, "status", None)
    if isinstance(status, int):  # aiohttp's error text holds the URL: keep it short
        return f"{type(error).__name__} (HTTP {status})"
    text = str(error)
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _counted(func: Callable[..., Any], calls: Counter[str]) -> Callable[..., Any]:
    """``func`` (a coroutine function), counting in ``calls`` how often it was awaited."""

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[func.__name__] += 1
        return await func(*args, **kwargs)

    return wrapper


def _judge_reference_run(name: str, test: Callable[..., Any], outcome: Outcome,
                         unawaited: list[str], functions: tuple[str, ...], calls: Counter[str],
                         *, time_limit: float, against: str, see: str) -> None:
    """Fail unless the learner's test passed against the correct code, and called it."""
    if outcome.blocking:
        fail(blocking_message(name, outcome.blocking, "notebook 03 shows why"))
    mine = [n for n in unawaited if n.split(".")[-1] in functions]
    if mine:
        fail(f"{name} called {mine[0]}(...) without awaiting it: the coroutine never ran, so "
             f"nothing was tested (section 1).")
    if outcome.timed_out:
        fail(f"{name} did not finish within {time_limit:g} s against {against}: is it "
             "waiting for something that never comes?")
    if outcome.error is not None:
        error = outcome.error
        why = f"A test must pass when the code is right ({see})."
        if isinstance(error, TypeError) and "await" in str(error):
            why = ("The correct code awaited something your test gave it that cannot be "
                   "awaited (section 4 shows which mock can be).")
        fail(f"{name} failed against {against}{_where(error, test)}: {_raised(error)}. {why}")
    if not any(calls[f] for f in functions):
        fail(f"{name} passed, but it never awaited {' or '.join(functions)}: a test has to "
             "run the code it tests.")


@dataclass(frozen=True)
class _Broken:
    """A broken version of the code under test, and how a ❌ describes it."""

    what: str
    see: str


def _verdict(name: str, broken: list[_Broken], failed: list[bool], done: str) -> str:
    """The ❌ for the first broken version the test let through, or the ✅ message."""
    missed = [b for b, caught in zip(broken, failed, strict=True) if not caught]
    if missed:
        caught = len(broken) - len(missed)
        more = (f" ({len(missed) - 1} other broken version{'s' if len(missed) > 2 else ''} "
                "passed it too.)") if len(missed) > 1 else ""
        fail(f"{name} passes against the correct code and failed {caught} of {len(broken)} "
             f"broken versions, but it also passed for a version where {missed[0].what} "
             f"({missed[0].see}).{more}")
    return done


async def _against_each(test: Callable[..., Any], cases: list[tuple[Any, ...]]) -> list[bool]:
    """Run ``test(*args)`` for every case, concurrently; whether each failed (raised).

    Only a bool is kept: the exception's traceback holds the test's frames, and with them
    what a broken version returned (coroutine objects that must be collected, and warn,
    while the check still records the warnings)."""

    async def one(args: tuple[Any, ...]) -> bool:
        try:
            await test(*args)
        except Exception:  # a failed test: what we are looking for
            return True
        return False

    return list(await asyncio.gather(*(one(args) for args in cases)))


# -- exercise 1: tests against the demo server --------------------------------------------------
_LATENCY = 0.15


class _UsersAPI(DemoAPI):
    """The demo API; an unknown user's 404 comes at once (a test that checks it stays fast)."""

    def delay_for(self, request: web.Request) -> float:
        tail = request.path.rsplit("/", 1)[-1]
        if request.path.startswith("/users/") and tail.isdigit() and int(tail) not in USERS:
            return 0.0
        return super().delay_for(request)


async def _name_of(session: aiohttp.ClientSession, base_url: str, user_id: int) -> str:
    async with session.get(f"{base_url}/users/{user_id}") as response:
        response.raise_for_status()
        return (await response.json())["name"]


async def fetch_user_name(session: aiohttp.ClientSession, base_url: str, user_id: int) -> str:
    """The correct code: the user's name; the HTTP error (404) for an unknown user."""
    return await _name_of(session, base_url, user_id)


async def fetch_names(session: aiohttp.ClientSession, base_url: str,
                      ids: list[int]) -> list[str]:
    """The correct code: the names of ``ids``, in that order, all requests at once."""
    return list(await asyncio.gather(*(_name_of(session, base_url, i) for i in ids)))


async def _user_1(session: aiohttp.ClientSession, base_url: str, user_id: int) -> str:
    return await _name_of(session, base_url, 1)


async def _next_user(session: aiohttp.ClientSession, base_url: str, user_id: int) -> str:
    return await _name_of(session, base_url, user_id % len(USERS) + 1)


async def _none_for_404(session: aiohttp.ClientSession, base_url: str,
                        user_id: int) -> str | None:
    async with session.get(f"{base_url}/users/{user_id}") as response:
        if response.status == 404:
            return None
        response.raise_for_status()
        return (await response.json())["name"]


async def _names_sorted(session: aiohttp.ClientSession, base_url: str,
                        ids: list[int]) -> list[str]:
    return list(await asyncio.gather(*(_name_of(session, base_url, i) for i in sorted(ids))))


async def _names_sequential(session: aiohttp.ClientSession, base_url: str,
                            ids: list[int]) -> list[str]:
    return [await _name_of(session, base_url, i) for i in ids]


async def _names_in_pairs(session: aiohttp.ClientSession, base_url: str,
                          ids: list[int]) -> list[str]:
    names: list[str] = []
    for k in range(0, len(ids), 2):
        names += await asyncio.gather(*(_name_of(session, base_url, i) for i in ids[k:k + 2]))
    return names


async def _names_unawaited(session: aiohttp.ClientSession, base_url: str,
                           ids: list[int]) -> list[Any]:
    return [_name_of(session, base_url, i) for i in ids]


#: (broken fetch_user_name or None, broken fetch_names or None, how a ❌ describes it)
_BROKEN_USERS: tuple[tuple[Any, Any, _Broken], ...] = (
    (_user_1, None, _Broken("fetch_user_name returns user 1's name whatever the id",
                            "ask for a user other than 1")),
    (_next_user, None, _Broken("fetch_user_name asks the server for the next user "
                               "(user_id + 1)", "compare a name with user_record(id)")),
    (_none_for_404, None, _Broken("fetch_user_name returns None for a user that does not "
                                  "exist, instead of raising the HTTP 404 error",
                                  "sections 2 and 3 test that an error is raised")),
    (None, _names_sorted, _Broken("fetch_names returns the names sorted by id, not in the "
                                  "order of ids", "ask for ids that are not in order")),
    (None, _names_sequential, _Broken("fetch_names sends the requests one after another "
                                      "(right names, right order)",
                                      "count at the server: section 5")),
    (None, _names_in_pairs, _Broken("fetch_names sends the requests two at a time",
                                    "'all at once' means every id: section 5")),
    (None, _names_unawaited, _Broken("fetch_names returns coroutine objects instead of names "
                                     "(a missing await)", "compare the names")),
)


@checker
async def check_user_tests(test_users: Callable[..., Any]) -> str:
    """``test_users(fetch_user_name, fetch_names, api)`` must pass for the correct functions
    and fail for each broken version; ``api`` is a running demo server (latency 0.15 s)."""
    require_callable(test_users, "test_users", is_async=True)
    name, limit = "test_users", 5.0
    calls: Counter[str] = Counter()
    correct = (_counted(fetch_user_name, calls), _counted(fetch_names, calls))
    async with _quietly() as seen:
        with _UsersAPI(latency=_LATENCY) as api:
            outcome = await run_learner(test_users, *correct, api, time_limit=limit)
    _judge_reference_run(name, test_users, outcome, seen.unawaited,
                         ("fetch_user_name", "fetch_names"), calls, time_limit=limit,
                         against="the correct fetch_user_name and fetch_names",
                         see="its expectations must match the task")
    servers = [_UsersAPI(latency=_LATENCY) for _ in _BROKEN_USERS]
    async with _quietly():
        try:
            cases = [(_counted(user or fetch_user_name, Counter()),
                      _counted(names or fetch_names, Counter()), server.start())
                     for (user, names, _), server in zip(_BROKEN_USERS, servers, strict=True)]
            outcome = await run_learner(_against_each, test_users, cases, time_limit=limit)
        finally:
            for server in servers:
                server.stop()
    if outcome.timed_out or outcome.error is not None:
        fail(f"{name} did not finish within {limit:g} s against the broken versions: does it "
             "wait for something that a broken version never does?")
    return _verdict(name, [b for *_, b in _BROKEN_USERS], outcome.value,
                    f"{name} passes against the correct code and fails against all "
                    f"{len(_BROKEN_USERS)} broken versions (a hard-coded id, the wrong user, a "
                    "swallowed 404, the wrong order, sequential, two at a time, not awaited).")


# -- exercise 2: a test with AsyncMock ------------------------------------------------------------
async def welcome(client: Any, user_id: int) -> str | None:
    """The correct code: fetch the user, email a welcome, return the name; None for an
    unknown user (``client.get_user`` raises LookupError), and no email then."""
    try:
        user = await client.get_user(user_id)
    except LookupError:
        return None
    await client.send_email(user["email"], f"Welcome, {user['name']}!")
    return user["name"]


async def _email_not_awaited(client: Any, user_id: int) -> str | None:
    try:
        user = await client.get_user(user_id)
    except LookupError:
        return None
    client.send_email(user["email"], f"Welcome, {user['name']}!")  # the bug: no await
    return user["name"]


async def _email_to_name(client: Any, user_id: int) -> str | None:
    try:
        user = await client.get_user(user_id)
    except LookupError:
        return None
    await client.send_email(user["name"], f"Welcome, {user['name']}!")
    return user["name"]


async def _email_twice(client: Any, user_id: int) -> str | None:
    try:
        user = await client.get_user(user_id)
    except LookupError:
        return None
    for _ in range(2):
        await client.send_email(user["email"], f"Welcome, {user['name']}!")
    return user["name"]


async def _user_1_welcome(client: Any, user_id: int) -> str | None:
    return await welcome(client, 1)


async def _unknown_raises(client: Any, user_id: int) -> str | None:
    user = await client.get_user(user_id)
    await client.send_email(user["email"], f"Welcome, {user['name']}!")
    return user["name"]


async def _returns_email(client: Any, user_id: int) -> str | None:
    try:
        user = await client.get_user(user_id)
    except LookupError:
        return None
    await client.send_email(user["email"], f"Welcome, {user['name']}!")
    return user["email"]


_BROKEN_WELCOMES: tuple[tuple[Any, _Broken], ...] = (
    (_email_not_awaited, _Broken("welcome calls client.send_email but never awaits it, so no "
                                 "email is sent", "called is not awaited: section 4")),
    (_email_to_name, _Broken("welcome sends the email to the user's name instead of their "
                             "address", "check the arguments the mock was awaited with")),
    (_email_twice, _Broken("welcome sends the email twice", "once means once: section 4")),
    (_user_1_welcome, _Broken("welcome asks the client for user 1 whatever the id",
                              "check the id get_user was awaited with")),
    (_unknown_raises, _Broken("welcome lets the LookupError out for a user that does not "
                              "exist", "side_effect makes a mock raise: section 4")),
    (_returns_email, _Broken("welcome returns the email address instead of the name",
                             "check what welcome returns")),
)


@checker
async def check_welcome_test(test_welcome: Callable[..., Any]) -> str:
    """``test_welcome(welcome)`` must pass for the correct ``welcome`` and fail for each
    broken version. No server: the test brings its own mock client."""
    require_callable(test_welcome, "test_welcome", is_async=True)
    name, limit = "test_welcome", 3.0
    calls: Counter[str] = Counter()
    async with _quietly() as seen:
        outcome = await run_learner(test_welcome, _counted(welcome, calls), time_limit=limit)
    _judge_reference_run(name, test_welcome, outcome, seen.unawaited, ("welcome",), calls,
                         time_limit=limit, against="the correct welcome",
                         see="section 4")
    async with _quietly():
        cases = [(_counted(broken, Counter()),) for broken, _ in _BROKEN_WELCOMES]
        outcome = await run_learner(_against_each, test_welcome, cases, time_limit=limit)
    if outcome.timed_out or outcome.error is not None:
        fail(f"{name} did not finish within {limit:g} s against the broken versions.")
    return _verdict(name, [b for _, b in _BROKEN_WELCOMES], outcome.value,
                    f"{name} passes against the correct welcome and fails against all "
                    f"{len(_BROKEN_WELCOMES)} broken versions, with no network at all.")


# -- exercise 3: a helper that catches leaked tasks -----------------------------------------------
_LEAK_LIMIT = 2.0


@dataclass
class _Run:
    """One call of the learner's helper, as the check saw it from inside the worker loop."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False
    leaked_done: bool = True
    leaked_cancelled: bool = True
    background_alive: bool = True


async def _clean(x: int) -> int:
    """Creates a task and waits for it: nothing is left running."""
    helper = asyncio.create_task(asyncio.sleep(0.01, result=x * 2))
    return await helper


def _leaky(leaked: list[asyncio.Task[Any]], pause: float) -> Callable[[int], Any]:
    async def start_refresher(x: int) -> int:
        async def refresh() -> None:
            await asyncio.sleep(60)  # stands for a loop that refreshes a cache for ever

        await asyncio.sleep(pause)
        leaked.append(asyncio.create_task(refresh(), name=f"refresh-{x}"))  # never awaited
        return x * 3

    return start_refresher


async def _one_call(helper: Callable[..., Any], func: Callable[..., Any], arg: int,
                    leaked: list[asyncio.Task[Any]], background_for: float) -> _Run:
    """Call ``helper(func, arg)`` while a task of the check's own runs (for
    ``background_for`` seconds: it may end during the call); clean up whatever is left."""
    run = _Run()

    async def background() -> None:
        await asyncio.sleep(background_for)

    bg = asyncio.create_task(background(), name="check-background")
    await asyncio.sleep(0)
    try:
        async with asyncio.timeout(_LEAK_LIMIT):
            run.value = await helper(func, arg)
    except TimeoutError:
        run.timed_out = True
    except Exception as exc:
        run.error = exc
    run.leaked_done = all(t.done() for t in leaked)
    run.leaked_cancelled = all(t.cancelled() for t in leaked)
    run.background_alive = background_for > 1 and not bg.done()
    for task in [*leaked, bg]:
        task.cancel()
    await asyncio.gather(*leaked, bg, return_exceptions=True)
    return run


async def _all_calls(helper: Callable[..., Any]) -> dict[str, _Run]:
    leaked_a: list[asyncio.Task[Any]] = []
    leaked_b: list[asyncio.Task[Any]] = []
    calls = {
        "clean": lambda: _one_call(helper, _clean, 7, [], background_for=10),
        "leaky": lambda: _one_call(helper, _leaky(leaked_a, 0.0), 5, leaked_a,
                                   background_for=10),
        # a task of the check's ends during the call while another leaks: the same count
        "swap": lambda: _one_call(helper, _leaky(leaked_b, 0.05), 4, leaked_b,
                                  background_for=0.01),
    }
    runs: dict[str, _Run] = {}
    for name, call in calls.items():
        runs[name] = run = await call()
        if run.timed_out:  # one time-out says it all; do not wait for the next
            break
    return runs


@checker
async def check_no_leaked_tasks(assert_no_leaked_tasks: Callable[..., Any]) -> str:
    """``await assert_no_leaked_tasks(func, *args)`` awaits ``func(*args)`` and returns its
    result; if tasks that the call started are still running, it cancels them, waits for
    them to end, and raises AssertionError naming them. Tasks that were running before the
    call are not its business."""
    require_callable(assert_no_leaked_tasks, "assert_no_leaked_tasks", is_async=True)
    name = "assert_no_leaked_tasks"
    # Its own loop, in a worker thread: a wrong helper that cancels every task it sees
    # cancels the check's tasks there, never the kernel's.
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        runs = await asyncio.to_thread(asyncio.run, _all_calls(assert_no_leaked_tasks))
        gc.collect()
    for run in runs.values():
        if run.timed_out:
            fail(f"{name} did not return within {_LEAK_LIMIT:g} s: is it waiting for a task "
                 "that never ends on its own? Cancel it first (section 3).")
    clean, leaky, swap = runs["clean"], runs["leaky"], runs["swap"]
    if clean.error is not None:
        where = _where(clean.error, assert_no_leaked_tasks)
        fail(f"{name} failed a function that leaves nothing running{where}: "
             f"{_raised(clean.error)}. Only tasks started during the call count: the check "
             "had a task of its own running before the call, and it kept running "
             "(section 3).")
    if not clean.background_alive:
        fail(f"{name} cancelled a task that was running before the call (the check's own): "
             "only tasks started during the call are leaks (section 3).")
    if clean.value != 14:
        fail(f"{name}(func, 7) returned {clean.value!r}; it should return what func "
             "returned (14).")
    if leaky.error is None:
        more = "" if leaky.leaked_done else ", and the task went on running"
        fail(f"{name} returned normally for a function that left a task running{more}: it "
             "must fail (raise AssertionError) when something leaked (section 3).")
    if not isinstance(leaky.error, AssertionError):
        fail(f"For a function that left a task running, {name} raised "
             f"{_raised(leaky.error)}: a failed test raises AssertionError (what `assert` "
             "raises).")
    if not leaky.leaked_done:
        fail(f"{name} raised, but the leaked task was still running when it did: cancel "
             "it, and wait until it has ended, before failing (section 3).")
    if not leaky.leaked_cancelled:
        fail(f"{name} raised, but the leaked task had ended without being cancelled: "
             "cancel what leaked (section 3).")
    if "refresh" not in str(leaky.error):
        fail(f"{name} raised AssertionError({str(leaky.error)!r:.80}): the message should "
             "name the leaked task (its name or its coroutine), to tell what leaked.")
    if not leaky.background_alive:
        fail(f"{name} also cancelled a task that was running before the call (the check's "
             "own): only tasks started during the call are leaks (section 3).")
    if swap.error is None:
        fail(f"{name} missed a leak: while the function ran, one task (the check's) ended and "
             "the function started another that kept running, so the number of tasks did "
             "not change. Compare which tasks run, not how many (section 3).")
    if not swap.leaked_done:
        fail(f"{name} raised, but the leaked task was still running when it did (section 3).")
    return (f"{name} returned the result of a clean call, failed both leaks by name "
            "(also the one that kept the number of tasks the same), cancelled them, and "
            "left the check's own task alone.")
