"""Checks for notebook 13 (Pitfalls).

- :func:`check_summary`: ``summary(base_url, user_id)`` fetches a user and computes a CPU-heavy
  score without blocking the event loop: blocking calls are caught by name (blockbuster), the
  CPU work by a heartbeat that stops beating, and the results are compared for several users.
- :func:`check_spawn`: ``spawn(coro)`` starts a background task that survives garbage
  collection, is forgotten once it ends, reports its exception (so asyncio never logs "Task
  exception was never retrieved") and can be cancelled without an error report.
- :func:`check_worker`: ``worker(queue, process, results)`` survives an ordinary error in one
  item and ends *cancelled*, promptly, when it is cancelled in the middle of an item.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import inspect
import io
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from ..servers import DemoAPI, user_record
from ._core import checker, fail, require_callable
from ._observe import fail_on_outcome, observe

__all__ = ["check_spawn", "check_summary", "check_worker", "score"]


# -- exercise 1: a summary that does not block the loop -------------------------------------------
#: How many times :func:`score` ran on a thread with a running event loop, and elsewhere.
_SCORE_RUNS = {"loop": 0, "elsewhere": 0}
_SCORE_LOCK = threading.Lock()


def score(name: str) -> int:
    """The notebook's CPU-bound step (about 0.1 s of pure-Python arithmetic).

    It notes whether it runs on an event loop's thread: a heartbeat alone cannot tell CPU work
    on the loop from a loop thread starved of the GIL by CPU work in worker threads."""
    try:
        asyncio.get_running_loop()
        where = "loop"
    except RuntimeError:
        where = "elsewhere"
    with _SCORE_LOCK:
        _SCORE_RUNS[where] += 1
    total = 0
    for i in range(800_000):
        total = (total * 31 + i * len(name)) % 1_000_003
    return total


@functools.cache
def _expected_summary(user_id: int) -> dict[str, object]:
    name = str(user_record(user_id)["name"])
    return {"name": name, "score": score(name)}


_LATENCY = 0.1
#: Users asked for together, in an order where position != id.
_IDS = (4, 7, 2)


def _close_awaitables(value: object) -> str:
    """Close the coroutines (cancel the futures) among a dict's values, so that nothing warns
    later; return the type name of the first one, or ""."""
    found = ""
    for item in value.values() if isinstance(value, dict) else []:
        if inspect.iscoroutine(item):
            item.close()
        elif asyncio.isfuture(item):
            item.cancel()
        else:
            continue
        found = found or type(item).__name__
    return found


@checker
async def check_summary(summary: Callable[..., Any]) -> str:
    """``summary(base_url, user_id)`` returns ``{"name": ..., "score": score(name)}`` for each
    user, three users at once, with no blocking call on the loop's thread and the heartbeat
    never stopped for as long as one ``score`` takes."""
    require_callable(summary, "summary", is_async=True)
    start, cpu_start = time.perf_counter(), time.thread_time()
    score("this machine's pace")
    one_score = time.perf_counter() - start  # how long one score takes here, right now
    one_score_cpu = time.thread_time() - cpu_start  # and its processor time (load-proof)
    expected = [_expected_summary(i) for i in _IDS]
    with DemoAPI(latency=_LATENCY) as api:

        async def three_at_once() -> list[Any]:
            return list(await asyncio.gather(*(summary(api.url, i) for i in _IDS)))

        with _SCORE_LOCK:
            _SCORE_RUNS.update(loop=0, elsewhere=0)
        cpu_start = time.thread_time()  # this thread is the loop's: what ran on it
        seen = await observe(three_at_once, interval=0.005, time_limit=10)
        loop_cpu = time.thread_time() - cpu_start
        with _SCORE_LOCK:
            runs = dict(_SCORE_RUNS)
    call = f"summary(url, user_id) for users {list(_IDS)} at once"
    fail_on_outcome(call, seen.outcome, time_limit=10, see="section 2 names them",
                    unawaited_see="section 3")
    if seen.unawaited:
        fail(f"Python warned that coroutine '{seen.unawaited[0]}' was never awaited: a "
             "missing `await` (section 3).")
    for user_id, got, want in zip(_IDS, seen.outcome.value, expected, strict=True):
        forgotten = _close_awaitables(got)
        if forgotten:
            fail(f"summary(url, {user_id}) returned a {forgotten} object as a value, not its "
                 "result: a missing `await` (section 3).")
        if got != want:
            fail(f"summary(url, {user_id}) returned {got!r:.120}; expected {want!r}.")
    longest = max(seen.gaps)
    if runs["loop"]:
        fail(f"The results are right, but score() ran on the event loop's thread in "
             f"{runs['loop']} of {runs['loop'] + runs['elsewhere']} calls: while it computed, "
             f"no other task could run (the heartbeat once stopped for {longest:.2f} s; one "
             f"score() takes about {one_score:.2f} s here; section 1 measures it).")
    # A copy of score() defined elsewhere does not report where it runs: then the processor
    # time of the loop's thread decides. Timing the heartbeat cannot: a busy machine spreads
    # the three scores apart (short gaps), and CPU work in worker threads can starve the
    # loop's thread of the GIL (long gaps) without using its processor time.
    if not runs["elsewhere"] and loop_cpu > one_score_cpu:
        fail(f"The results are right and no blocking call was named, but the event loop's "
             f"thread itself computed for {loop_cpu:.2f} s of processor time during the call "
             f"(one score() takes about {one_score_cpu:.2f} s; the heartbeat once stopped for "
             f"{longest:.2f} s): the CPU-heavy work ran on the loop's thread (section 1 "
             "measures it).")
    return (f"Three correct summaries in {seen.outcome.elapsed:.2f} s, no blocking call on "
            "the loop's thread, and score() always ran in a worker thread.")


# -- exercise 2: background tasks that are kept and report their errors ---------------------------
@contextlib.contextmanager
def _loop_reports(loop: asyncio.AbstractEventLoop) -> Iterator[list[str]]:
    """Record the messages the loop's exception handler gets (and nothing reaches stderr);
    restore the previous handler at the end."""
    reports: list[str] = []
    previous = loop.get_exception_handler()

    def record(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        what = f" ({type(exc).__name__})" if exc is not None else ""
        reports.append(f"{context.get('message', 'an error')}{what}")

    loop.set_exception_handler(record)
    try:
        yield reports
    finally:
        loop.set_exception_handler(previous)


class _Capture(logging.Handler):
    """What was printed (``out``) and logged, as one text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.out = io.StringIO()

    def text(self) -> str:
        return "\n".join([self.out.getvalue(), *self.lines])

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r}"
        self.lines.append(text)


@contextlib.contextmanager
def _printed_or_logged() -> Iterator[_Capture]:
    """Capture what is printed and logged (any logger that propagates to the root)."""
    handler = _Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(handler.out):
            yield handler
    finally:
        root.removeHandler(handler)


def _start(spawn: Callable[..., Any], coro: Any) -> asyncio.Task[Any]:
    try:
        task = spawn(coro)
    except Exception as exc:
        coro.close()
        fail(f"spawn(coro) raised {type(exc).__name__}: {exc}.")
    if not isinstance(task, asyncio.Task):
        coro.close()
        if asyncio.isfuture(task):
            task.cancel()
        fail(f"spawn(coro) returned {type(task).__name__}, not the Task it started: return "
             "the task, so that its caller can await or cancel it.")
    return task


#: Tasks a wrong answer left running that cannot be stopped: kept here, so that they are never
#: garbage-collected ("Task was destroyed but it is pending!") later in the learner's notebook.
_STUCK: list[asyncio.Task[Any]] = []


@checker
async def check_spawn(spawn: Callable[..., Any]) -> str:
    """``spawn(coro)`` starts ``coro`` as a task and returns it; the task survives
    ``gc.collect()`` while the caller drops it, is no longer referenced once done, reports its
    exception, and can be cancelled without an error report."""
    require_callable(spawn, "spawn", is_async=False)
    loop = asyncio.get_running_loop()
    with _loop_reports(loop) as reports, _printed_or_logged() as printed:
        # 1. A task that waits on a future only it references, while the caller keeps none.
        futures: list[weakref.ref[asyncio.Future[str]]] = []

        async def waiting() -> str:
            future: asyncio.Future[str] = loop.create_future()
            futures.append(weakref.ref(future))
            return await future

        task_ref = weakref.ref(_start(spawn, waiting()))
        await asyncio.sleep(0.01)
        gc.collect()
        future = futures[0]() if futures else None
        if task_ref() is None or future is None:
            fail("After `spawn(coro)` and gc.collect(), the task was gone before it finished"
                 + (f" (the loop reported: {reports[0]})" if reports else "")
                 + ": nothing kept a strong reference to it (section 6 shows why).")
        future.set_result("ok")
        del future
        for _ in range(5):
            await asyncio.sleep(0)
        task = task_ref()
        if task is not None and not task.done():
            fail("The background task had not finished 5 loop turns after it could.")
        del task
        gc.collect()
        if task_ref() is not None:
            fail("The task finished, but something still holds it after gc.collect(): a "
                 "collection that only grows keeps every finished task (and its result) "
                 "forever. Remove a task from it when the task is done (section 6).")
        # 2. A task that fails: its exception must be retrieved and reported.
        token = f"disk full on node {id(reports) % 97}"

        async def failing() -> None:
            await asyncio.sleep(0.01)
            raise OSError(token)

        failing_ref = weakref.ref(_start(spawn, failing()))
        for _ in range(20):
            await asyncio.sleep(0.01)
            task = failing_ref()
            if task is None or task.done():
                break
        del task
        await asyncio.sleep(0)
        gc.collect()
        never = [r for r in reports if "never retrieved" in r]
        if never:
            fail("A background task raised OSError and asyncio reported "
                 f"'{never[0]}': nobody asked the task for its exception (section 5).")
        if token not in printed.text():
            fail(f"A background task raised OSError('{token}'), and nothing was printed or "
                 "logged about it: the failure went unnoticed (section 5).")
        # 3. Cancelling a background task must not make the loop report an error.
        async def long_job() -> None:
            await asyncio.sleep(10)

        task = _start(spawn, long_job())
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.wait([task], timeout=2)
        await asyncio.sleep(0)
        if not task.cancelled():
            if not task.done():
                _STUCK.append(task)
            fail("A background task was cancelled but did not end cancelled.")
        del task
        gc.collect()
        if reports:
            fail(f"Cancelling a background task made the loop report '{reports[0]}': the done "
                 "callback must handle a cancelled task, whose exception() raises "
                 "CancelledError (section 5).")
    return ("Background tasks survive garbage collection, are forgotten once done, their "
            "failures are reported, and cancelling one is quiet.")


# -- exercise 3: a worker that handles errors but lets cancellation through -----------------------
_ITEMS = (1, 2, 3, 4, 8, 13)


async def _process(item: int) -> int:
    """What the check's worker must do with each item: slow for items >= 100, fails for
    items where item % 5 == 3."""
    await asyncio.sleep(2 if item >= 100 else 0.01)
    if item % 5 == 3:
        raise ValueError(f"bad item {item}")
    return item * 10


def _same(got: object, want: object) -> bool:
    if isinstance(want, Exception):
        return type(got) is type(want) and str(got) == str(want)
    return got == want


async def _stop(task: asyncio.Task[Any]) -> None:
    """Stop a worker left running by a wrong answer (or keep it referenced if it won't)."""
    for _ in range(3):
        if task.done():
            break
        task.cancel()
        await asyncio.wait([task], timeout=0.5)
    if task.done():
        if not task.cancelled():
            task.exception()  # retrieved: no report later
    else:
        _STUCK.append(task)


@checker
async def check_worker(worker: Callable[..., Any]) -> str:
    """``worker(queue, process, results)`` takes items from ``queue`` forever, stores
    ``results[item] = await process(item)`` (or the exception an ordinary error raised), calls
    ``task_done()`` for each, and ends cancelled when it is cancelled during ``process``."""
    require_callable(worker, "worker", is_async=True)
    queue: asyncio.Queue[int] = asyncio.Queue()
    results: dict[int, Any] = {}
    for item in _ITEMS:
        queue.put_nowait(item)
    task = asyncio.create_task(worker(queue, _process, results), name="check-worker")
    try:
        joined = asyncio.ensure_future(queue.join())
        await asyncio.wait([joined, task], timeout=1.5, return_when=asyncio.FIRST_COMPLETED)
        all_done = joined.done()
        if not all_done:
            joined.cancel()
            await asyncio.gather(joined, return_exceptions=True)
        expected = {i: ValueError(f"bad item {i}") if i % 5 == 3 else i * 10 for i in _ITEMS}
        if task.done():
            if task.cancelled():
                fail("worker ended cancelled although nobody cancelled it.")
            exc = task.exception()
            done = [i for i in _ITEMS if i in results]
            if exc is None and len(done) == len(_ITEMS):
                fail("worker returned once the queue was empty: it should wait for the next "
                     "item (more may come) until it is cancelled.")
            what = f"raised {type(exc).__name__}: {exc}" if exc else "returned"
            fail(f"worker {what} after handling items {done} of {list(_ITEMS)}: one bad item "
                 "stopped it, and the items after it were never processed (section 8).")
        if not all_done:
            fail(f"queue.join() did not return within 1.5 s (results so far: "
                 f"{dict(sorted(results.items()))!r:.120}): the worker must call task_done() "
                 "once for every item, also for an item that failed.")
        wrong = [i for i in _ITEMS if i not in results or not _same(results[i], expected[i])]
        if wrong:
            i = wrong[0]
            got = repr(results[i]) if i in results else "nothing"
            fail(f"For item {i}, results holds {got}; expected {expected[i]!r} "
                 "(the value process(item) returned, or the exception it raised).")
        # Cancel it in the middle of a slow item.
        queue.put_nowait(100)
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.wait([task], timeout=0.5)
        if not task.done():
            fail("The worker's task was cancelled while it processed an item, and 0.5 s later "
                 "it was still running: it caught the CancelledError and carried on "
                 "(section 8). A worker that cannot be cancelled hangs a TaskGroup, a timeout "
                 "and the end of your program.")
        if not task.cancelled():
            exc = task.exception()
            how = f"raised {type(exc).__name__}" if exc else "returned normally"
            fail(f"After cancel(), the worker stopped but {how} instead of ending cancelled: "
                 "whoever cancelled it (a TaskGroup, asyncio.timeout) cannot tell that it was "
                 "cancelled (section 8).")
    finally:
        await _stop(task)
    return ("The worker survived a bad item, recorded its error, and ended cancelled as soon "
            "as it was cancelled.")
