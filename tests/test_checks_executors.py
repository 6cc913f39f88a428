"""The checks of notebook 14 (Sync code and executors) reject a catalogue of realistic wrong
answers, each with a sentence that says what was observed and no solution code, and accept
the reference answers, also repeatedly under a bursty CPU load. Also: asynclab.work."""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing
import sys
import threading
import urllib.request
from asyncio import run
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab import work
from asynclab.checks import executors
from asynclab.checks.executors import check_crunch, check_fetch_all_blocking, check_relay

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("to_thread(", "run_in_executor(", "gather(", "ProcessPoolExecutor(",
                 "with ProcessPool", "get_running_loop", "max_workers=", ".shutdown(",
                 "call_soon_threadsafe(")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- asynclab.work ----------------------------------------------------------------------------
def test_count_primes():
    assert [work.count_primes(n) for n in (0, 2, 3, 10, 100)] == [0, 0, 1, 4, 25]
    with pytest.raises(ValueError, match="limit must be >= 0"):
        work.count_primes(-1)


def test_the_crunch_answers_are_count_primes():
    for limits, expected in executors._CRUNCH_CASES:
        assert [work.count_primes(n) for n in limits] == list(expected)


def test_count_primes_runs_in_a_process_pool():
    # spawn, as on macOS and Windows: the worker imports count_primes afresh (the strictest
    # start method), and no fork of this multi-threaded test process (3.12 and 3.13 warn)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        assert pool.submit(work.count_primes, 100).result(timeout=30) == 25


# -- exercise 1: a blocking library in threads ----------------------------------------------
def get_name(base_url, user_id):
    with urllib.request.urlopen(f"{base_url}/users/{user_id}") as response:
        return json.load(response)["name"]


async def fetch_all_solution(base_url, ids):
    return await asyncio.gather(*(asyncio.to_thread(get_name, base_url, i) for i in ids))


async def fetch_all_own_pool(base_url, ids):
    """Another right answer: an explicit pool with a thread per id, via run_in_executor."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, get_name, base_url, i)
                                      for i in ids))


async def fetch_all_direct(base_url, ids):
    return [get_name(base_url, i) for i in ids]


async def fetch_all_one_by_one(base_url, ids):
    return [await asyncio.to_thread(get_name, base_url, i) for i in ids]


async def fetch_all_two_threads(base_url, ids):
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=2) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, get_name, base_url, i)
                                      for i in ids))


async def fetch_all_sync_map(base_url, ids):
    with ThreadPoolExecutor() as pool:  # the threads overlap, but the loop waits for them
        return list(pool.map(functools.partial(get_name, base_url), ids))


async def fetch_all_called_first(base_url, ids):
    async def one(i):
        try:
            return await asyncio.to_thread(get_name(base_url, i))  # calls it right here
        except TypeError:
            return None

    return await asyncio.gather(*(one(i) for i in ids))


async def fetch_all_completion_order(base_url, ids):
    jobs = [asyncio.to_thread(get_name, base_url, i) for i in ids]
    return [await job for job in asyncio.as_completed(jobs)]


async def fetch_all_not_awaited(base_url, ids):
    return asyncio.gather(*(asyncio.to_thread(get_name, base_url, i) for i in ids))


def test_fetch_all_blocking_accepts_solutions():
    for answer in (fetch_all_solution, fetch_all_own_pool):
        result = run(check_fetch_all_blocking(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (fetch_all_direct, ["blocking network calls", "event loop's thread", "[3, 1, 4]"]),
    (fetch_all_one_by_one, ["one after another", "all 3 should wait together"]),
    (fetch_all_two_threads, ["[3, 1, 4]", "at most 2 at once"]),
    (fetch_all_sync_map, ["overlapped", "frozen", "heartbeat", "ran 0 times"]),
    (fetch_all_called_first, ["blocking network calls"]),
    (fetch_all_completion_order, ["in another order"]),
    (fetch_all_not_awaited, ["_GatheringFuture", "never awaited"]),
])
def test_fetch_all_blocking_rejects(answer, words):
    rejected(run(check_fetch_all_blocking(answer)), *words)


# -- exercise 2: CPU work in a process pool -------------------------------------------------
async def crunch_solution(limits):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=2) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, work.count_primes, n)
                                      for n in limits))


async def crunch_wrap_future(limits):
    """Another right answer: submit, then await the concurrent futures."""
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(work.count_primes, n) for n in limits]
        return list(await asyncio.gather(*map(asyncio.wrap_future, futures)))


async def crunch_on_the_loop(limits):
    return [work.count_primes(n) for n in limits]


async def crunch_on_the_loop_of_a_busy_machine(limits):
    """The stub, with the loop's thread then waiting 0.3 s without CPU: a stand-in for a busy
    machine, where the thread that computes gets less CPU time than the wall clock shows."""
    counts = [work.count_primes(n) for n in limits]
    threading.Event().wait(0.3)  # the stand-in: wall time passes, no CPU
    return counts


async def crunch_in_threads(limits):
    return await asyncio.gather(*(asyncio.to_thread(work.count_primes, n) for n in limits))


async def crunch_in_threads_starving_the_loop(limits):
    """Threads that keep the GIL for their whole job (a long switch interval): the heartbeat
    gets no turn, as on a fast machine, although the loop's thread computes nothing."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        return await crunch_in_threads(limits)
    finally:
        sys.setswitchinterval(interval)


async def crunch_one_at_a_time(limits):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=2) as pool:
        return [await loop.run_in_executor(pool, work.count_primes, n) for n in limits]


async def crunch_sync_map(limits):
    with ProcessPoolExecutor(max_workers=2) as pool:
        return list(pool.map(work.count_primes, limits))  # waits on the loop's thread


async def crunch_never_shut_down(limits):
    loop = asyncio.get_running_loop()
    pool = ProcessPoolExecutor(max_workers=2)
    return await asyncio.gather(*(loop.run_in_executor(pool, work.count_primes, n)
                                  for n in limits))


async def crunch_lambda(limits):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=2) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, lambda: work.count_primes(n))  # noqa: B023
                                      for n in limits))


def count_here(limit):
    """A learner's own function, as if defined in a notebook cell (see the fixture)."""
    return work.count_primes(limit)


@pytest.fixture
def count_here_in_main(monkeypatch):
    """Make count_here live in __main__, as a function from a notebook cell does (a forked
    worker finds it there, as in a notebook on Linux up to Python 3.13)."""
    monkeypatch.setattr(count_here, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "count_here", count_here, raising=False)


async def crunch_cell_function(limits):
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=2) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, count_here, n)
                                      for n in limits))


async def crunch_cell_function_spawn(limits):
    """The same under spawn (macOS, Windows; forkserver on Linux from 3.14 alike)."""
    loop = asyncio.get_running_loop()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn, initializer=exec,
                             initargs=("import os; os.close(2)",)) as pool:  # quiet worker
        return await asyncio.gather(*(loop.run_in_executor(pool, count_here, n)
                                      for n in limits))


async def crunch_sorted(limits):
    return sorted(await crunch_solution(limits))


def test_crunch_accepts_solutions():
    for answer in (crunch_solution, crunch_wrap_future):
        result = run(check_crunch(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (crunch_on_the_loop, ["frozen", "ran 0 times", "loop's thread"]),
    (crunch_on_the_loop_of_a_busy_machine, ["frozen", "ran 0 times", "loop's thread"]),
    (crunch_in_threads, ["sent no job to a ProcessPoolExecutor", "one GIL"]),
    (crunch_in_threads_starving_the_loop,
     ["sent no job to a ProcessPoolExecutor", "threads of this process", "one GIL"]),
    (crunch_one_at_a_time, ["one job at a time", "4 jobs"]),
    (crunch_sync_map, ["frozen", "heartbeat"]),
    (crunch_never_shut_down, ["still running", "after crunch("]),
    (crunch_lambda, ["raised", "from a module"]),
    (crunch_sorted, ["expected the prime counts [4946, 1438, 3824, 2668]"]),
])
def test_crunch_rejects(answer, words):
    rejected(run(check_crunch(answer)), *words)


@pytest.mark.usefixtures("count_here_in_main")
@pytest.mark.parametrize(("answer", "what"), [(crunch_cell_function, "returned after sending"),
                                              (crunch_cell_function_spawn,
                                               "raised BrokenProcessPool after sending")])
def test_crunch_rejects_a_function_from_the_notebook(answer, what):
    rejected(run(check_crunch(answer)), what, "`count_here`", "module `__main__`", "spawn",
             "forkserver", "asynclab.work")


@pytest.mark.load
@pytest.mark.parametrize(("check", "answer"), [(check_fetch_all_blocking, fetch_all_solution),
                                               (check_crunch, crunch_solution)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = run(check(answer))
        assert result.passed, result.message


@pytest.mark.load
def test_crunch_on_the_loop_is_called_frozen_under_load(under_load):
    """Under load the loop's thread gets less CPU than the wall clock shows; the stub is still
    told that it froze the loop (it once heard that threads did the work)."""
    for _ in range(LOAD_RUNS):
        rejected(run(check_crunch(crunch_on_the_loop)), "frozen", "loop's thread")


# -- exercise 3: from a thread into the loop ---------------------------------------------------
async def relay_solution(read_sensor, handle):
    loop = asyncio.get_running_loop()

    def report(reading):  # runs in the sensor's thread
        asyncio.run_coroutine_threadsafe(handle(reading), loop).result()

    await asyncio.to_thread(read_sensor, report)


async def relay_queue(read_sensor, handle):
    """Another right answer: call_soon_threadsafe feeds a queue; None marks the end."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def run_sensor():
        await asyncio.to_thread(read_sensor,
                                lambda r: loop.call_soon_threadsafe(queue.put_nowait, r))
        queue.put_nowait(None)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(run_sensor())
        while (reading := await queue.get()) is not None:
            await handle(reading)


async def relay_direct_put(read_sensor, handle):
    queue = asyncio.Queue()

    async def run_sensor():
        await asyncio.to_thread(read_sensor, queue.put_nowait)  # from the thread: no wake-up
        queue.put_nowait(None)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(run_sensor())
        while (reading := await queue.get()) is not None:
            await handle(reading)


async def relay_call_soon(read_sensor, handle):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def run_sensor():
        await asyncio.to_thread(read_sensor, lambda r: loop.call_soon(queue.put_nowait, r))
        queue.put_nowait(None)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(run_sensor())
        while (reading := await queue.get()) is not None:
            await handle(reading)


async def relay_after_the_thread(read_sensor, handle):
    readings = []
    await asyncio.to_thread(read_sensor, readings.append)
    for reading in readings:
        await handle(reading)


async def relay_new_loop(read_sensor, handle):
    await asyncio.to_thread(read_sensor, lambda r: asyncio.run(handle(r)))


async def relay_not_awaited(read_sensor, handle):
    await asyncio.to_thread(read_sensor, handle)  # makes coroutines, never runs them


async def relay_on_the_loop(read_sensor, handle):
    readings = []
    read_sensor(readings.append)
    for reading in readings:
        await handle(reading)


def test_relay_accepts_solutions():
    for answer in (relay_solution, relay_queue):
        result = run(check_relay(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (relay_direct_put, ["every reading arrived", "reached handle", "after the sensor reported",
                        "wake the loop"]),
    (relay_call_soon, ["every reading arrived", "wake the loop"]),
    (relay_after_the_thread, ["reading 17 reached handle", "4 of 4 later than"]),
    (relay_new_loop, ["another thread than the event loop's"]),
    (relay_not_awaited, ["never awaited", "handle()"]),
    (relay_on_the_loop, ["time.sleep()", "event loop's thread"]),
])
def test_relay_rejects(answer, words):
    rejected(run(check_relay(answer)), *words)


@pytest.mark.load
def test_relay_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_relay(relay_solution))
        assert result.passed, result.message
