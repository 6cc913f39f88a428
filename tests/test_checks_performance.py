"""The checks of notebook 15 (Performance: when async pays) reject a catalogue of realistic
wrong answers, each with a sentence that says what was observed and no solution code, and
accept the reference answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import time
import tracemalloc
from asyncio import run

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.performance import check_best_times, check_bytes_per_task

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("Event()", "release.", "create_task(", "gather(", "get_traced_memory",
                 "tracemalloc.start()", "min(", "for _ in range", "perf_counter()",
                 "asyncio.sleep(0)")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- exercise 1: bytes per task ------------------------------------------------------------------
async def bytes_solution(n):
    release = asyncio.Event()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.create_task(release.wait()) for _ in range(n)]
    await asyncio.sleep(0)
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    release.set()
    await asyncio.gather(*tasks)
    return size / n


async def bytes_with_sleeping_tasks(n):
    """Another right answer: tasks that sleep until cancelled, gathered after cancelling."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tasks = [asyncio.create_task(asyncio.sleep(10)) for _ in range(n)]
        await asyncio.sleep(0)
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return size / n


async def bytes_one_at_a_time(n):  # the stub: each task finishes before the next starts
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(n):
        await asyncio.create_task(asyncio.sleep(0))
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return size / n


async def bytes_after_they_finished(n):  # measured after the tasks ended and were dropped
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    await asyncio.gather(*[asyncio.create_task(asyncio.sleep(0)) for _ in range(n)])
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return size / n


async def bytes_not_tracing(n):  # forgot tracemalloc.start(): it reads 0
    release = asyncio.Event()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.create_task(release.wait()) for _ in range(n)]
    await asyncio.sleep(0)
    size = tracemalloc.get_traced_memory()[0] - before
    release.set()
    await asyncio.gather(*tasks)
    return size / n


async def bytes_total(n):  # forgot to divide by n
    return await bytes_solution(n) * n


async def bytes_left_running(n):  # never releases the tasks
    release = asyncio.Event()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.create_task(release.wait()) for _ in range(n)]
    await asyncio.sleep(0)
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    bytes_left_running.tasks = tasks  # a reference, as a learner keeps a list
    return size / n


async def bytes_coroutines_only(n):  # coroutine objects, never tasks: nothing measured
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    coros = [asyncio.sleep(0) for _ in range(n)]
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    for coro in coros:
        coro.close()
    return size / n


async def bytes_hard_coded(n):  # a figure read from the notebook's output
    return 985


async def bytes_blocking(n):
    time.sleep(0.05)  # noqa: ASYNC251 (the mistake under test)
    return await bytes_solution(n)


@pytest.mark.parametrize("answer", [bytes_solution, bytes_with_sleeping_tasks])
def test_bytes_per_task_accepts(answer):
    result = run(check_bytes_per_task(answer))
    assert result.passed, result.message
    assert not tracemalloc.is_tracing()


@pytest.mark.parametrize("wrong, observed", [
    (bytes_one_at_a_time, ["at most 1 was alive at once", "created 1000 tasks"]),
    (bytes_after_they_finished, ["at most 0 of them were alive"]),
    (bytes_not_tracing, ["returned 0 bytes", "Is tracemalloc tracing"]),
    (bytes_total, ["memory of all the tasks, not of one"]),
    (bytes_left_running, ["1000 of the tasks it started were still running"]),
    (bytes_coroutines_only, ["created 0 tasks"]),
    (bytes_hard_coded, ["created 0 tasks"]),
    (bytes_blocking, ["time.sleep()"]),
])
def test_bytes_per_task_rejects(wrong, observed):
    rejected(run(check_bytes_per_task(wrong)), *observed)
    assert not tracemalloc.is_tracing()


# -- exercise 2: a timing harness ----------------------------------------------------------------
async def best_solution(run, sizes, repeat):
    times = {}
    for n in sizes:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            await run(n)
            runs.append(time.perf_counter() - start)
        times[n] = min(runs)
    return times


async def best_once(run, sizes, repeat):  # the stub: ignores repeat
    times = {}
    for n in sizes:
        start = time.perf_counter()
        await run(n)
        times[n] = time.perf_counter() - start
    return times


async def best_mean(run, sizes, repeat):
    times = {}
    for n in sizes:
        start = time.perf_counter()
        for _ in range(repeat):
            await run(n)
        times[n] = (time.perf_counter() - start) / repeat
    return times


async def best_last(run, sizes, repeat):  # overwrites: keeps the last run
    times = {}
    for n in sizes:
        for _ in range(repeat):
            start = time.perf_counter()
            await run(n)
            times[n] = time.perf_counter() - start
    return times


async def best_first(run, sizes, repeat):  # keeps the first run, a cold start included
    times = {}
    for n in sizes:
        for _ in range(repeat):
            start = time.perf_counter()
            await run(n)
            times.setdefault(n, time.perf_counter() - start)
    return times


async def best_concurrent(run, sizes, repeat):  # the repeats "together"
    async def one(n):
        start = time.perf_counter()
        await run(n)
        return time.perf_counter() - start

    return {n: min(await asyncio.gather(*(one(n) for _ in range(repeat)))) for n in sizes}


async def best_not_awaited(run, sizes, repeat):  # times the creation of a coroutine object
    times = {}
    for n in sizes:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            run(n)
            runs.append(time.perf_counter() - start)
        times[n] = min(runs)
    return times


async def best_list(run, sizes, repeat):  # a list, in the order of the sizes
    return list((await best_solution(run, sizes, repeat)).values())


async def best_sorted_sizes_keys_by_position(run, sizes, repeat):  # position, not identity
    found = await best_solution(run, sizes, repeat)
    return dict(enumerate(found.values()))


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("wrong, observed", [
    (best_once, ["ran run(2) 1 time(s)", "repeat=3"]),
    (best_mean, ["should be the fastest of them"]),
    (best_last, ["should be the fastest of them"]),
    (best_first, ["says 2 took", "should be the fastest of them"]),
    (best_concurrent, ["up to 3 runs were in flight at once"]),
    (best_not_awaited, ["run never ran to its end"]),
    (best_list, ["expected a dict with one entry per size"]),
    (best_sorted_sizes_keys_by_position, ["expected a dict with one entry per size"]),
])
def test_best_times_rejects(wrong, observed):
    rejected(run(check_best_times(wrong)), *observed)


def test_best_times_accepts():
    result = run(check_best_times(best_solution))
    assert result.passed, result.message


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_bytes_per_task, bytes_solution),
                                           (check_best_times, best_solution)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = run(check(answer))
        assert result.passed, result.message
