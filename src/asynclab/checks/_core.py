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
from dataclasses import dataclass
from typing import Any, NoReturn, ParamSpec

P = ParamSpec("P")

__all__ = ["CheckResult", "Problem", "call_learner", "checker", "fail", "require_callable"]


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
async def _cleaning_up_tasks() -> AsyncIterator[None]:
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
        leftovers = [task for task in created if not task.done()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=2)
        for task in created:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: no "Task exception was never retrieved" later


async def call_learner(name: str, func: Callable[..., Any], *args: Any,
                       time_limit: float = 5.0, hint: str = "",
                       **kwargs: Any) -> tuple[Any, float]:
    """Await ``func(*args, **kwargs)``, for at most ``time_limit`` s; return (result, seconds).

    Exceptions from the learner's code become a one-line :class:`Problem`, followed by
    ``hint`` when given.
    """
    start = time.perf_counter()
    try:
        async with _cleaning_up_tasks():
            outcome = func(*args, **kwargs)
            if inspect.isawaitable(outcome):
                async with asyncio.timeout(time_limit):
                    outcome = await outcome
            elapsed = time.perf_counter() - start  # before any clean-up
    except TimeoutError:
        fail(f"{name} did not finish within {time_limit:g} s: is something waiting forever, "
             "or running one step after another?")
    except Problem:
        raise
    except Exception as exc:
        status = getattr(exc, "status", None)  # aiohttp's error text holds the URL: keep it short
        what = f"HTTP {status}" if isinstance(status, int) else str(exc)
        fail(f"{name} raised {type(exc).__name__}: {what}. {hint}".strip())
    items = outcome if isinstance(outcome, list | tuple) else [outcome]
    pending = [item for item in items if inspect.isawaitable(item)]
    if pending:
        for item in pending:  # clean up what the learner left running, so nothing warns later
            if inspect.iscoroutine(item):
                item.close()
            elif asyncio.isfuture(item):
                item.cancel()
                await asyncio.gather(item, return_exceptions=True)
        what = "a list holding " if items is outcome else ""
        fail(f"{name} returned {what}{type(pending[0]).__name__} objects instead of values: "
             "a missing `await` somewhere?")
    return outcome, elapsed
