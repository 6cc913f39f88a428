"""Checks for notebook 14 (Sync code and executors).

- ``check_fetch_all_blocking``: a blocking HTTP function (urllib) run in threads. The server
  counts the requests in flight; blocking calls on the loop's thread are caught by name; a
  heartbeat task on the loop counts how often the loop was free (waiting for threads with a
  plain, synchronous call freezes the loop without any blocking call blockbuster knows).
- ``check_crunch``: CPU work in a process pool. The check records what the learner's code
  submits to a ``ProcessPoolExecutor`` (which function, when, and when it finished), runs a
  heartbeat, and looks for worker processes still alive after the call returned.
- ``check_relay``: a blocking sensor that reports readings from its thread; the check's
  async handler notes when each reading reached it (a loop nobody woke hears of it only when
  the sensor's thread ends) and on which thread. No heartbeat here: it would wake the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import multiprocessing
import pickle
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..servers import DemoAPI, user_record
from ._core import checker, fail, require_callable, run_learner
from ._observe import fail_on_outcome, never_awaited, observe

__all__ = ["check_crunch", "check_fetch_all_blocking", "check_relay"]


def _short(value: object, width: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


# -- exercise 1: blocking calls in threads -------------------------------------------------------
_LATENCY = 0.15
#: Several id lists, in an order where position != id, so a hard-coded answer fails.
_FETCH_CASES = ((3, 1, 4), (5, 9, 2, 6, 8))
#: The heartbeat wants to run every 10 ms; a free loop lets it run many times during a call
#: that waits 0.15 s, a frozen one 0 or 1 times.
_MIN_BEATS = 3


@checker
async def check_fetch_all_blocking(fetch_all_blocking: Callable[..., Any]) -> str:
    """``fetch_all_blocking(base_url, ids)`` returns the users' names in the order of
    ``ids``, calling the blocking ``get_name`` in threads: every request in flight at once
    (counted by the server), no blocking call on the loop's thread, and the loop free while
    the threads wait (a heartbeat)."""
    require_callable(fetch_all_blocking, "fetch_all_blocking", is_async=True)
    with DemoAPI(latency=_LATENCY) as api:
        for ids in _FETCH_CASES:
            api.stats.reset()
            call = f"fetch_all_blocking(url, {list(ids)})"
            seen = await observe(fetch_all_blocking, api.url, list(ids), time_limit=5.0)
            fail_on_outcome(call, seen.outcome, time_limit=5.0, see="section 1 shows why")
            result = seen.outcome.value
            expected = [user_record(i)["name"] for i in ids]
            if result != expected:
                if isinstance(result, list | tuple) and sorted(map(str, result)) == sorted(
                        expected):
                    fail(f"{call} returned every name, but in another order: "
                         f"{_short(result)}. The names must follow the order of `ids`.")
                fail(f"{call} returned {_short(result)}; expected the names of users "
                     f"{list(ids)}, in that order: {_short(expected)}.")
            most = api.stats.max_in_flight
            if most < len(ids):
                how = "one after another" if most <= 1 else f"at most {most} at once"
                fail(f"The names are right, but for {call} the requests came {how}: all "
                     f"{len(ids)} should wait together, each in its own thread (sections 1 "
                     "and 2).")
            elapsed = seen.outcome.elapsed
            if seen.beats < _MIN_BEATS:
                fail(f"The names are right and the {len(ids)} requests overlapped, but the "
                     f"event loop was frozen while they ran: a heartbeat task that wanted to "
                     f"run every 10 ms ran {seen.beats} times in {elapsed:.2f} s. The loop "
                     "must await the threads, not wait for them with a plain call "
                     "(section 1).")
    return ("Names in order, every request in flight at once, and the event loop stayed free "
            "while the threads waited (a heartbeat kept running).")


# -- exercise 2: CPU work in a process pool ------------------------------------------------------
#: (limits, the answers): position is not identity; two lists so a hard-coded answer fails.
#: About 0.1 s of work per list on a fast idle core (more here): long enough for a heartbeat
#: every 10 ms to tell a free loop from a frozen one.
#: tests/test_checks_executors.py checks the answers against asynclab.work.count_primes.
_CRUNCH_CASES: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((48_000, 12_000, 36_000, 24_000), (4946, 1438, 3824, 2668)),
    ((30_000, 6_000, 42_000), (3245, 783, 4392)),
)
#: One call may take this long: worker processes may have to start (and, under spawn or
#: forkserver, import the module) on a busy machine.
_CRUNCH_LIMIT = 20.0
#: How long worker processes may take to end after the call returned (s).
_GRACE = 2.0


@dataclass
class _Submitted:
    """What the learner's code submitted to ProcessPoolExecutors."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    executors: list[concurrent.futures.ProcessPoolExecutor] = field(default_factory=list)
    functions: list[Callable[..., Any]] = field(default_factory=list)
    #: (time, +1 submitted / -1 finished)
    events: list[tuple[float, int]] = field(default_factory=list)

    def most_outstanding(self) -> int:
        now = most = 0
        for _, step in sorted(self.events):
            now += step
            most = max(most, now)
        return most


@contextmanager
def _recording_process_pools() -> Iterator[_Submitted]:
    """While active, every ``ProcessPoolExecutor.submit`` (``map`` and ``run_in_executor``
    use it) is recorded: the executor, the function, when it was submitted and finished."""
    record = _Submitted()
    original = concurrent.futures.ProcessPoolExecutor.submit

    def submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        with record.lock:
            if self not in record.executors:
                record.executors.append(self)
            record.functions.append(fn)
            record.events.append((time.perf_counter(), 1))
        try:  # what the pool would send to a worker
            pickle.dumps((fn, args, kwargs))
        except Exception as exc:  # noqa: BLE001 (any pickling error: a lambda, a local function)
            # Fail the job here, as the pool would, without queueing it: a job that cannot be
            # pickled can deadlock the pool's shutdown (its feeder thread and `with`'s
            # shutdown wait for each other: seen on Python 3.13.0, CI hung on it once).
            future = concurrent.futures.Future()
            future.set_exception(exc)
        else:
            future = original(self, fn, *args, **kwargs)

        def finished(_: Any) -> None:
            with record.lock:
                record.events.append((time.perf_counter(), -1))

        future.add_done_callback(finished)
        return future

    concurrent.futures.ProcessPoolExecutor.submit = submit  # type: ignore[method-assign]
    try:
        yield record
    finally:
        concurrent.futures.ProcessPoolExecutor.submit = original  # type: ignore[method-assign]


def _defined_in_notebook(fn: Callable[..., Any]) -> str:
    """The name of a function that lives in ``__main__`` (a notebook cell), else ""."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if getattr(fn, "__module__", None) == "__main__":
        return getattr(fn, "__qualname__", repr(fn))
    return ""


async def _children_after(before: set[int], grace: float) -> list[multiprocessing.Process]:
    """The child processes started since ``before`` (pids) still alive after ``grace`` s."""
    deadline = time.perf_counter() + grace
    while True:
        left = [p for p in multiprocessing.active_children() if p.pid not in before]
        if not left or time.perf_counter() > deadline:
            return left
        await asyncio.sleep(0.05)


async def _shut_down(record: _Submitted) -> None:
    """Shut down the pools the learner left running (off the loop's thread)."""
    for executor in record.executors:
        await asyncio.to_thread(functools.partial(executor.shutdown, wait=True,
                                                  cancel_futures=True))


def _loop_thread_time(crunch: Callable[..., Any],
                      spent: list[tuple[float, float]]) -> Callable[..., Any]:
    """``crunch``, noting in ``spent`` the CPU time the calling thread (the loop's) and the
    whole process used while it ran: the loop's share is nearly all of it if the computation
    ran there, a small part if threads did it. A share, not a time: on a busy machine every
    thread gets less CPU than the wall clock shows, the loop's as much as the others."""
    @functools.wraps(crunch)
    async def timed(*args: Any) -> Any:
        thread, process = time.thread_time(), time.process_time()
        try:
            return await crunch(*args)
        finally:
            spent.append((time.thread_time() - thread, time.process_time() - process))
    return timed


@checker
async def check_crunch(crunch: Callable[..., Any]) -> str:
    """``crunch(limits)`` returns ``[count_primes(n) for n in limits]``, computed by
    ``asynclab.work.count_primes`` in a ``ProcessPoolExecutor``: all jobs submitted together,
    the loop free meanwhile, no function from the notebook sent to the pool, and no worker
    process left running."""
    require_callable(crunch, "crunch", is_async=True)
    for limits, expected in _CRUNCH_CASES:
        call = f"crunch({list(limits)})"
        before = {p.pid for p in multiprocessing.active_children()}
        on_loop: list[tuple[float, float]] = []  # CPU time: the loop's thread, the process
        with _recording_process_pools() as record:
            seen = await observe(_loop_thread_time(crunch, on_loop), list(limits),
                                 time_limit=_CRUNCH_LIMIT)
        left = await _children_after(before, _GRACE)
        if left:
            await _shut_down(record)
        from_notebook = sorted({name for fn in record.functions
                                if (name := _defined_in_notebook(fn))})
        if from_notebook:  # on every platform: a forked worker runs it, a fresh one breaks
            error = seen.outcome.error
            what = (f"raised {type(error).__name__}" if error is not None
                    else "returned" if seen.outcome.value == list(expected)
                    else f"returned {_short(seen.outcome.value, 60)}")
            fail(f"{call} {what} after sending `{from_notebook[0]}`, a function defined in "
                 "the notebook (module `__main__`), to the process pool. Only workers forked "
                 "from the notebook (Linux up to Python 3.13) can run it; under spawn (macOS, "
                 "Windows) and forkserver (Linux from Python 3.14) a worker cannot find it. "
                 "Send the function from asynclab.work (section 4).")
        fail_on_outcome(call, seen.outcome, time_limit=_CRUNCH_LIMIT, see="section 3 shows why",
                        hint="(Section 4: the worker function must come from a module.)")
        result = seen.outcome.value
        if result != list(expected):
            fail(f"{call} returned {_short(result)}; expected the prime counts "
                 f"{list(expected)}, in the order of the limits.")
        elapsed = seen.outcome.elapsed
        loop_cpu = sum(thread for thread, _ in on_loop)
        process_cpu = sum(process for _, process in on_loop)
        if seen.beats < 2 and not record.functions and loop_cpu < process_cpu / 2:
            # Starved, not frozen: the loop's thread did a small part of the process's work (a
            # fast machine makes threads fighting for one GIL give the heartbeat as few turns
            # as a blocked loop).
            fail(f"The counts are right, but {call} sent no job to a ProcessPoolExecutor (the "
                 "check counts them), and a heartbeat task that wanted to run every 10 ms ran "
                 f"{seen.beats} times in {elapsed:.2f} s: the work ran in threads of this "
                 "process, where pure-Python code takes turns on one GIL, with the event loop "
                 "too (section 3).")
        if seen.beats < 2:
            fail(f"The counts are right, but the event loop was frozen while {call} ran: a "
                 f"heartbeat task that wanted to run every 10 ms ran {seen.beats} times in "
                 f"{elapsed:.2f} s. The computation, or the wait for it, happened on the "
                 "loop's thread (sections 3 and 4).")
        if not record.functions:
            fail(f"The counts are right and the loop stayed free, but {call} sent no job to a "
                 "ProcessPoolExecutor (the check counts them): in threads, pure-Python work "
                 "takes turns on one GIL (section 3).")
        most = record.most_outstanding()
        if most < min(2, len(limits)):
            fail(f"The counts are right, but {call} gave the pool one job at a time: each "
                 f"of the {len(limits)} jobs was submitted after the previous one had "
                 "finished, so the workers never ran side by side (section 4).")
        if left:
            fail(f"The counts are right, but {len(left)} worker process(es) were still "
                 f"running {_GRACE:g} s after {call} returned: shut the pool down when the "
                 "work is done (section 4).")
    return ("Prime counts right, computed by asynclab.work in worker processes, all jobs in "
            "the pool together, the loop free meanwhile, and no worker left running.")


# -- exercise 3: from a thread into the loop -----------------------------------------------------
#: Two sensors: readings whose order is not sorted, two lengths, so a hard-coded count fails.
_SENSOR_CASES = ((17, 4, 23, 9), (8, 15, 2))
#: The sensor reports a reading every _EVERY s, then works on for _TAIL s before it returns.
_EVERY = 0.05
_TAIL = 0.4
#: A reading woken for promptly reaches ``handle`` in milliseconds; a missed wake-up waits
#: for the next event of the loop, here the sensor's return (_TAIL s or more).
_PROMPT = 0.2


@dataclass
class _Sensor:
    """The check's blocking sensor and async handler, with what they observed."""

    readings: tuple[int, ...]
    loop_thread: int
    sent: dict[int, float] = field(default_factory=dict)
    #: (reading, delay since it was sent, handled on the loop's thread)
    handled: list[tuple[int, float, bool]] = field(default_factory=list)

    def read_sensor(self, report: Callable[[int], Any]) -> str:
        """Blocking: report each reading from the calling thread, then work on a while."""
        for reading in self.readings:
            time.sleep(_EVERY)
            self.sent[reading] = time.perf_counter()
            report(reading)
        time.sleep(_TAIL)
        return "sensor done"

    async def handle(self, reading: int) -> None:
        now = time.perf_counter()
        on_loop = threading.get_ident() == self.loop_thread
        self.handled.append((reading, now - self.sent.get(reading, now), on_loop))
        await asyncio.sleep(0)


@checker
async def check_relay(relay: Callable[..., Any]) -> str:
    """``relay(read_sensor, handle)`` runs the blocking ``read_sensor(report)`` in a thread
    and gets every reading that ``report`` receives to ``await handle(reading)`` on the event
    loop, promptly and in order; it returns when the sensor is done and every reading has
    been handled."""
    require_callable(relay, "relay", is_async=True)
    for readings in _SENSOR_CASES:
        sensor = _Sensor(readings, threading.get_ident())
        call = f"relay(read_sensor, handle) with a sensor that reports {list(readings)}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = await run_learner(relay, sensor.read_sensor, sensor.handle,
                                        time_limit=5.0)
            gc.collect()  # an un-awaited coroutine warns when it is collected
        forgotten = never_awaited(caught)
        if forgotten and not outcome.blocking:
            fail(f"{call}: {len(forgotten)} coroutine(s) of {forgotten[0]}() were never "
                 "awaited. Calling `handle(reading)` in the thread only makes a coroutine "
                 "object; the loop must run it (section 5).")
        fail_on_outcome(call, outcome, time_limit=5.0, see="section 1 shows how to avoid it")
        got = [reading for reading, _, _ in sensor.handled]
        if sorted(got) != sorted(readings):
            fail(f"{call}: handle received {got} before relay returned; expected every "
                 f"reading, {list(readings)}.")
        if got != list(readings):
            fail(f"{call}: handle received every reading, but in another order: {got}.")
        elsewhere = [r for r, _, on_loop in sensor.handled if not on_loop]
        if elsewhere:
            fail(f"{call}: handle ran for reading {elsewhere[0]} on another thread than the "
                 "event loop's (another loop, in the sensor's thread?): asyncio objects "
                 "belong to the loop that runs them (sections 5 and 6).")
        late = [(r, d) for r, d, _ in sensor.handled if d > _PROMPT]
        if late:
            reading, delay = late[0]
            fail(f"{call}: every reading arrived, but reading {reading} reached handle "
                 f"{delay:.2f} s after the sensor reported it ({len(late)} of {len(readings)} "
                 f"later than {_PROMPT:g} s). Each reading should reach the loop while the "
                 "sensor still runs, and a thread that hands something over must also wake "
                 "the loop (section 5).")
    return ("Every reading reached handle on the event loop's thread, in order, within "
            f"{_PROMPT:g} s of being reported.")
