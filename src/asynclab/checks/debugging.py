"""Checks for notebook 16 (Debugging).

- ``check_task_name_filter``: the learner's ``logging.Filter`` puts the name of the logging
  task on every record (``record.task``), ``"-"`` outside a task (a loop callback, another
  thread), and drops nothing. Three named tasks log in turns, so a name taken once (when the
  filter was made, or from the first task) is caught.
- ``check_my_tasks``: the learner's ``my_tasks(prefix)`` returns exactly the running tasks
  whose name starts with ``prefix``, without the task that asks; two prefixes, tasks that
  finished, decoys whose names contain the prefix elsewhere, and the kernel's own tasks
  around (in a notebook) show a hard-coded, unfiltered or half-filtered answer.
- ``check_find_slow``: the learner's ``find_slow(jobs, threshold)`` runs named jobs in debug
  mode and returns the names that asyncio's slow-callback warnings name; jobs that block once,
  block after an await, block just below the threshold or wait politely for long, two
  thresholds; the loop's debug mode and ``slow_callback_duration`` are read by every job
  while it runs (so a hard-coded threshold is caught without relying on timing), and
  compared, with the ``asyncio`` logger's handlers, before and after the call.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ._core import checker, fail, require_callable, run_learner

__all__ = ["check_find_slow", "check_my_tasks", "check_task_name_filter"]

_PLACEHOLDER = "-"
_counter = itertools.count(1)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _make_filter(filter_class: Any) -> Any:
    """An instance of the learner's filter: the class is called, an instance is used."""
    if inspect.isclass(filter_class):
        try:
            return filter_class()
        except Exception as exc:  # noqa: BLE001 (the learner's constructor: report it)
            fail(f"TaskNameFilter() raised {type(exc).__name__}: {exc}. Subclass "
                 "logging.Filter and override only filter(self, record).")
    if hasattr(filter_class, "filter") or callable(filter_class):
        return filter_class
    fail(f"Pass the filter class, TaskNameFilter; got the {type(filter_class).__name__} "
         f"{filter_class!r:.60}.")


@checker
async def check_task_name_filter(filter_class: Any) -> str:
    """Records logged by three named tasks carry their names; a record from a loop callback
    and one from a thread carry ``"-"``; no record is dropped or crashes the filter."""
    log_filter = _make_filter(filter_class)
    if inspect.iscoroutinefunction(getattr(log_filter, "filter", log_filter)):
        fail("filter(self, record) must be a plain method (def, not async def): logging "
             "calls it and never awaits it.")
    registry = logging.Logger.manager.loggerDict
    # getLogger also registers a placeholder for each missing parent: removed with the logger.
    parents = [name for name in ("asynclab", "asynclab.check16") if name not in registry]
    logger = logging.getLogger(f"asynclab.check16.{next(_counter)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _Collect()
    handler.addFilter(log_filter)
    logger.addHandler(handler)
    errors: list[tuple[str, BaseException]] = []
    sent: list[tuple[str, str]] = []  # (message, the task name expected on it)

    def emit(message: str, expected: str) -> None:
        sent.append((message, expected))
        try:
            logger.info(message, extra={"check16_id": len(sent)})
        except Exception as exc:  # noqa: BLE001 (a filter that raises: reported below)
            errors.append((message, exc))

    async def worker(name: str, delay: float) -> None:
        for step in range(3):
            emit(f"{name} step {step}", name)
            await asyncio.sleep(delay)

    try:
        async with asyncio.TaskGroup() as tg:
            for name, delay in (("chef-ana", 0.01), ("chef-bo", 0.013), ("chef-cy", 0.017)):
                tg.create_task(worker(name, delay), name=name)
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.call_soon(lambda: (emit("from a loop callback", _PLACEHOLDER),
                                done.set_result(None)))
        await done
        thread = threading.Thread(target=emit, args=("from a thread", _PLACEHOLDER))
        thread.start()
        thread.join()
    finally:
        logger.removeHandler(handler)
        registry.pop(logger.name, None)
        for name in parents:
            if isinstance(registry.get(name), logging.PlaceHolder):  # nobody made it real since
                registry.pop(name)

    if errors:
        message, exc = errors[0]
        where = (f"inside the task {message.split()[0]!r}" if " step " in message
                 else f"{message} (outside any task)")
        fail(f"Logging {where} raised {type(exc).__name__}: {exc}. A filter must handle every "
             "record; outside a task there is no current task (section 1).")
    arrived = {record.check16_id: record for record in handler.records}
    missing = [message for i, (message, _) in enumerate(sent, 1) if i not in arrived]
    if missing:
        fail(f"{len(sent) - len(missing)} of {len(sent)} records reached the handler "
             f"(missing: {', '.join(repr(m) for m in missing[:3])}): whatever filter() returns "
             "decides whether a record is kept, and a false value (None too) drops it "
             "(section 1).")
    for i, (message, expected) in enumerate(sent, 1):
        record = arrived[i]
        if not hasattr(record, "task"):
            fail(f"The record {message!r} has no attribute `task`: the filter must set "
                 "record.task, so that a format can use %(task)s.")
        got = record.task
        if got != expected:
            who = (f"logged in the task {expected!r}" if expected != _PLACEHOLDER
                   else "logged outside any task")
            fail(f"The record {message!r}, {who}, carried task={got!r}; expected "
                 f"{expected!r} (section 1).")
    return ("Every record carried the name of the task that logged it, \"-\" outside a task, "
            "and none was dropped.")


_CASES = (
    # prefix, (name, seconds) of the tasks to start; the inspector is named prefix + "inspector"
    ("fetch-", [("fetch-1", 0.02), ("fetch-2", 2.0), ("fetch-3", 2.0), ("refetch-9", 2.0),
                ("parse-1", 2.0), ("fetch-4", 0.02)]),
    ("parse-", [("parse-a", 2.0), ("parse-b", 0.02), ("fetch-x", 2.0), ("parse-c", 2.0),
                ("reparse-1", 2.0)]),
)


def _names(tasks: Any) -> list[str]:
    return sorted(t.get_name() if isinstance(t, asyncio.Task) else repr(t) for t in tasks)


def _judge(call: str, outcome: Any, asker: asyncio.Task[Any], expected: set[Any],
           prefix: str, known: set[str]) -> None:
    """Fail unless what my_tasks returned is exactly ``expected`` (looked at while the
    started tasks still run)."""
    if outcome.error is not None:
        fail(f"{call} raised {type(outcome.error).__name__}: {outcome.error}.")
    value = outcome.value
    if inspect.iscoroutine(value) or not isinstance(value, list | tuple | set | frozenset):
        if inspect.iscoroutine(value):
            value.close()
        fail(f"{call} returned {type(value).__name__} {value!r:.80}; expected a list of tasks.")
    not_tasks = [item for item in value if not isinstance(item, asyncio.Task)]
    if not_tasks:
        kinds = sorted({type(item).__name__ for item in not_tasks})
        fail(f"{call} returned {len(not_tasks)} {'/'.join(kinds)} object(s) instead of Task "
             "objects: give back the tasks themselves (section 5).")
    got = set(value)
    done = [t.get_name() for t in got - {asker} if t.done()]
    if done:
        fail(f"{call} included tasks that had finished ({', '.join(sorted(done))}): only "
             "running tasks count.")
    extra, lacking = got - expected - {asker}, expected - got
    if extra:
        # The check's own tasks by name; the others (the kernel's: how many depends on the
        # ipykernel version) in words, so the message is the same on every install.
        ours = sorted(t.get_name() for t in extra if t.get_name() in known)
        others = ("tasks the check did not start (the kernel's own, or yours)"
                  if len(ours) < len(extra) else "")
        listed = ", ".join(ours + [others] if others else ours)
        fail(f"{call} returned tasks that are not named {prefix}...: {listed}. Filter by the "
             "name's start (section 5).")
    if asker in got:
        fail(f"{call} included the task that called it ({asker.get_name()!r}): leave out the "
             "current task (section 5).")
    if lacking:
        fail(f"{call} left out the running tasks {', '.join(_names(lacking))}; expected "
             f"{', '.join(_names(expected))}.")


@checker
async def check_my_tasks(my_tasks: Callable[[str], Any]) -> str:
    """``my_tasks(prefix)`` returns the running tasks named ``prefix...``, not the caller."""
    require_callable(my_tasks, "my_tasks", is_async=False)
    for prefix, specs in _CASES:
        started = [asyncio.create_task(asyncio.sleep(seconds), name=name)
                   for name, seconds in specs]
        try:
            await asyncio.sleep(0.15)  # the short ones finish
            expected: set[asyncio.Task[Any]] = set()

            async def inspector(prefix: str = prefix, started: list[Any] = started,
                                expected: set[Any] = expected) -> Any:
                # what is running at the moment of the call (no loop turn in between)
                expected.update(t for t in started
                                if not t.done() and t.get_name().startswith(prefix))
                return await run_learner(my_tasks, prefix)

            asker = asyncio.create_task(inspector(), name=f"{prefix}inspector")
            outcome = await asker
            _judge(f"my_tasks({prefix!r})", outcome, asker, expected, prefix,
                   {name for name, _ in specs})
        finally:
            for task in started:
                task.cancel()
            await asyncio.gather(*started, return_exceptions=True)
    return ("my_tasks found exactly the running tasks with the prefix, for two prefixes, "
            "without the task that asked.")


def _blocks(seconds: float, after_wait: float = 0.0) -> Callable[[], Any]:
    async def job() -> None:
        if after_wait:
            await asyncio.sleep(after_wait)
        time.sleep(seconds)  # noqa: ASYNC251 (blocks the loop on purpose: find_slow must catch it)
    return job


def _waits(seconds: float) -> Callable[[], Any]:
    async def job() -> None:
        for _ in range(3):
            await asyncio.sleep(seconds / 3)
    return job


def _watched(name: str, job: Callable[[], Any],
             seen: dict[str, tuple[bool, float]]) -> Callable[[], Any]:
    """``job`` that first notes the debug settings of the loop running it: what find_slow
    set is judged from these, not from timing (a hard-coded threshold between the blocks
    of a case, 0.05 say, finds the same jobs as the real one)."""
    async def watched() -> None:
        loop = asyncio.get_running_loop()
        seen[name] = (loop.get_debug(), loop.slow_callback_duration)
        await job()
    return watched


#: threshold, the loop's slow_callback_duration before the call, the jobs, the slow ones.
_SLOW_CASES = (
    (0.1, 0.1, {"resize": _blocks(0.16), "parse": _blocks(0.02), "download": _waits(0.25),
                "render": _blocks(0.16, after_wait=0.03), "ping": _waits(0.05)},
     {"resize", "render"}),
    (0.04, 0.25, {"thumbnail": _blocks(0.07), "index": _blocks(0.004), "upload": _waits(0.15),
                  "export": _blocks(0.07, after_wait=0.02)},
     {"thumbnail", "export"}),
)


@checker
async def check_find_slow(find_slow: Callable[..., Any]) -> str:
    """``find_slow(jobs, threshold)`` returns the names of the jobs whose steps blocked the
    loop longer than ``threshold`` (debug mode's warnings), and leaves the loop's debug
    settings and the ``asyncio`` logger as they were."""
    require_callable(find_slow, "find_slow", is_async=True)
    loop = asyncio.get_running_loop()
    asyncio_log = logging.getLogger("asyncio")
    saved = loop.get_debug(), loop.slow_callback_duration, list(asyncio_log.handlers)
    try:
        for threshold, before, jobs, slow in _SLOW_CASES:
            loop.set_debug(False)
            loop.slow_callback_duration = before
            call = f"find_slow(jobs, {threshold})"
            seen: dict[str, tuple[bool, float]] = {}
            outcome = await run_learner(
                find_slow, {name: _watched(name, job, seen) for name, job in jobs.items()},
                threshold)
            # the jobs block with time.sleep on purpose: outcome.blocking is not the learner's
            after = loop.get_debug(), loop.slow_callback_duration, list(asyncio_log.handlers)
            if outcome.timed_out:
                fail(f"{call} did not finish within 5 s: does it wait for every job?")
            if outcome.error is not None:
                fail(f"{call} raised {type(outcome.error).__name__}: {outcome.error}.")
            if outcome.unawaited:
                fail(f"{call} returned {outcome.unawaited} objects: a missing `await`?")
            value = outcome.value
            if not isinstance(value, list | tuple | set | frozenset) or not all(
                    isinstance(name, str) for name in value):
                fail(f"{call} returned {value!r:.80}; expected the job names (strings) in a "
                     "list or a set.")
            got = set(value)
            missed, wrong = sorted(slow - got), sorted(got - slow)
            if missed:
                fail(f"{call} did not report {', '.join(missed)}, which blocked the loop for "
                     f"longer than {threshold:g} s in one step (found: {sorted(got)}). Is "
                     "debug mode on while they run, with the threshold you were given "
                     "(section 2)?")
            if wrong:
                fail(f"{call} reported {', '.join(wrong)}, which never blocked the loop "
                     f"longer than {threshold:g} s (they waited politely, or blocked for less): "
                     "report only what debug mode's warnings name (section 2).")
            for name, (debug, duration) in seen.items():
                if not debug:
                    fail(f"{call} found the right jobs, but the job {name!r} ran with the "
                         "loop's debug mode off (section 2).")
                if duration != threshold:
                    fail(f"{call} found the right jobs, but the job {name!r} ran with "
                         f"slow_callback_duration={duration:g}, not the threshold "
                         f"{threshold:g} that find_slow was given (section 2).")
            if after[0]:
                fail(f"{call} found the right jobs, but left the loop in debug mode: turn it "
                     "off again (it was off before).")
            if after[1] != before:
                fail(f"{call} found the right jobs, but left slow_callback_duration at "
                     f"{after[1]:g}; it was {before:g} before the call: put back the value "
                     "you found.")
            if after[2] != saved[2]:
                fail(f"{call} found the right jobs, but left {len(after[2]) - len(saved[2])} "
                     "extra handler(s) on the asyncio logger: remove yours when done (each "
                     "call would add one more).")
    finally:
        loop.set_debug(saved[0])
        loop.slow_callback_duration = saved[1]
        for handler in asyncio_log.handlers[:]:
            if handler not in saved[2]:
                asyncio_log.removeHandler(handler)
    return ("find_slow named exactly the jobs that blocked the loop, for two thresholds, and "
            "left debug mode and the asyncio logger as it found them.")
