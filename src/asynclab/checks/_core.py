"""What every exercise check shares: the result object, failing with a plain message, and
calling the learner's code safely (not async? raised? hung?)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, ParamSpec

from .blocking import describe, watching_blocking_calls

P = ParamSpec("P")

__all__ = ["CheckResult", "Outcome", "Problem", "blocking_message", "call_learner", "checker",
           "fail", "require_callable", "run_learner"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of a check. Shown in a notebook as one line starting with ✅ or ❌."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'✅' if self.passed else '❌'} {self.message}"

    __str__ = __repr__


class Problem(Exception):
    """Raised inside a check to stop it with a message for the learner."""


def fail(message: str) -> NoReturn:
    """Stop the current check: the learner sees ``message``."""
    raise Problem(message)


def checker(check: Callable[P, Awaitable[str]]) -> Callable[P, Awaitable[CheckResult]]:
    """Turn an async check that returns a success message (or calls :func:`fail`) into one
    that always returns a :class:`CheckResult`, never a traceback."""

    @functools.wraps(check)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> CheckResult:
        try:
            return CheckResult(True, await check(*args, **kwargs))
        except Problem as problem:
            return CheckResult(False, str(problem))

    return wrapper


def require_callable(func: object, name: str, *, is_async: bool) -> None:
    """Fail with a clear message unless ``func`` is a function of the expected kind."""
    if inspect.iscoroutine(func):
        func.close()  # the learner called the function; close the coroutine it made
        fail(f"Pass the function itself, `{name}`, not `{name}(...)`: you passed a coroutine "
             "object, the result of calling it.")
    if not callable(func):
        fail(f"Pass the function itself, `{name}`, not the {type(func).__name__} {func!r}: "
             "did you call it?")
    if is_async and not inspect.iscoroutinefunction(func):
        fail(f"{name} must be a coroutine function: define it with `async def {name}(...)`.")
    if not is_async and inspect.iscoroutinefunction(func):
        fail(f"{name} should be a plain function here: define it with `def`, not `async def`.")


_LEARNER_CALL: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "_LEARNER_CALL", default=None)


@contextlib.asynccontextmanager
async def _cleaning_up_tasks(cancel_leftovers: bool = True) -> AsyncIterator[None]:
    """Record the tasks that the learner's code creates (directly or from its own tasks) and,
    at the end, cancel those still running and retrieve every outcome.

    A wrong answer can leave tasks behind (a plain ``gather`` that failed keeps its other
    children running); they must not go on running, or warn later, in the learner's
    notebook. Only tasks created in the learner's call are touched: a task factory notes
    them by a context variable that tasks inherit, so the kernel's own tasks are left alone.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    marker = object()
    created: list[asyncio.Future[Any]] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        task = previous(loop, coro, **kwargs) if previous else asyncio.Task(coro, loop=loop,
                                                                              **kwargs)
        if _LEARNER_CALL.get() is marker:
            created.append(task)
        return task

    loop.set_task_factory(factory)
    token = _LEARNER_CALL.set(marker)
    try:
        yield
    finally:
        _LEARNER_CALL.reset(token)
        loop.set_task_factory(previous)
        leftovers = [task for task in created if not task.done()] if cancel_leftovers else []
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=2)
        for task in created:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "Task exception was never retrieved" later


@dataclass
class Outcome:
    """What happened when the learner's function was called (see :func:`run_learner`)."""

    value: Any = None
    #: The exception the learner's code raised (a timeout of the check itself is not one).
    error: BaseException | None = None
    elapsed: float = 0.0
    #: True when the call was stopped because it ran longer than the time limit.
    timed_out: bool = False
    #: The blocking calls it made on the event loop's thread (blockbuster's names).
    blocking: list[str] = field(default_factory=list)
    #: Type name of the un-awaited coroutine/future it returned (a missing ``await``), or "".
    unawaited: str = ""


async def run_learner(func: Callable[..., Any], *args: Any, time_limit: float = 5.0,
                      cancel_leftover_tasks: bool = True, **kwargs: Any) -> Outcome:
    """Call the learner's ``func(*args, **kwargs)`` and await the coroutine it returns (a
    coroutine function's result), for at most ``time_limit`` seconds. Never raises for the
    learner's mistakes: they are in the returned :class:`Outcome`.

    While it runs, blocking calls on the event loop's thread are caught by name
    (:mod:`.blocking`); afterwards the tasks it created and left running are cancelled (unless
    ``cancel_leftover_tasks`` is False: a check of background tasks waits for them itself), and
    un-awaited coroutines or futures that a coroutine function returned are closed or cancelled
    (a plain function may return a task on purpose), so nothing runs on or warns later in the
    learner's notebook.
    """
    outcome = Outcome()
    was_async = False
    with watching_blocking_calls() as outcome.blocking:
        start = time.perf_counter()
        try:
            async with _cleaning_up_tasks(cancel_leftover_tasks):
                value = func(*args, **kwargs)
                # A coroutine is awaited; a task that a plain function returns is its value.
                was_async = inspect.isawaitable(value) and (
                    inspect.iscoroutine(value) or inspect.iscoroutinefunction(func))
                if was_async:
                    limit = asyncio.timeout(time_limit)
                    try:
                        async with limit:
                            value = await value
                    except TimeoutError:
                        if not limit.expired():
                            raise  # the learner's own TimeoutError
                        outcome.timed_out = True
                outcome.value = value
                outcome.elapsed = time.perf_counter() - start  # before any clean-up
        except Exception as exc:  # CancelledError and KeyboardInterrupt go through
            outcome.error = exc
            outcome.elapsed = time.perf_counter() - start
    # Awaitables in what a coroutine function returned were forgotten; a plain function may
    # return a task on purpose (e.g. one that starts background work).
    items = outcome.value if isinstance(outcome.value, list | tuple) else [outcome.value]
    pending = [item for item in items if inspect.isawaitable(item)] if was_async else []
    for item in pending:  # clean up what the learner left unawaited, so nothing warns later
        if inspect.iscoroutine(item):
            item.close()
        elif asyncio.isfuture(item):
            item.cancel()
            await asyncio.gather(item, return_exceptions=True)
    if pending:
        outcome.unawaited = type(pending[0]).__name__
    return outcome


def blocking_message(name: str, calls: list[str], see: str = "") -> str:
    """The ❌ sentence for blocking calls made on the event loop's thread."""
    where = f" ({see})" if see else ""
    return (f"{name} called {describe(calls)} on the event loop's thread: while that call "
            f"waited, no other task could run{where}.")


async def call_learner(name: str, func: Callable[..., Any], *args: Any,
                       time_limit: float = 5.0, hint: str = "", see: str = "",
                       **kwargs: Any) -> tuple[Any, float]:
    """Await ``func(*args, **kwargs)`` with :func:`run_learner`; return (result, seconds).

    Fails the check with one plain sentence when the learner's code made a blocking call on the
    event loop's thread, raised (followed by ``hint`` when given), ran past ``time_limit`` or
    returned un-awaited coroutines. ``see`` names the section that teaches the point
    (e.g. "section 4 shows why").
    """
    outcome = await run_learner(func, *args, time_limit=time_limit, **kwargs)
    if outcome.blocking:
        fail(blocking_message(name, outcome.blocking, see))
    if outcome.timed_out:
        fail(f"{name} did not finish within {time_limit:g} s: is something waiting forever, "
             "or running one step after another?")
    if outcome.error is not None:
        exc = outcome.error
        status = getattr(exc, "status", None)  # aiohttp's error text holds the URL: keep it short
        what = f"HTTP {status}" if isinstance(status, int) else str(exc)
        fail(f"{name} raised {type(exc).__name__}: {what}. {hint}".strip())
    if outcome.unawaited:
        what = "a list holding " if isinstance(outcome.value, list | tuple) else ""
        fail(f"{name} returned {what}{outcome.unawaited} objects instead of values: "
             "a missing `await` somewhere?")
    return outcome.value, outcome.elapsed
