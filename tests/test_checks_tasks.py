"""The checks of notebook 05 (tasks and TaskGroup) reject a catalogue of realistic wrong
answers, each with a sentence that says what was observed and no solution code, and accept
the reference answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import time
from asyncio import run

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks import check_fetch_or_default, check_run_all, check_start_background

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("except*", "except TimeoutError", "TaskGroup()", "tg.create_task", "gather(",
                 "async with", "asyncio.timeout(", "wait_for(", "expired()", "tasks.add",
                 "add_done_callback", "tasks.discard", "create_task(", "return_exceptions",
                 "group.exceptions")



rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- exercise 1: TaskGroup + except* -------------------------------------------------------------
async def run_all_solution(jobs):
    errors = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(job()) for job in jobs]
    except* ValueError as group:
        errors = [str(e) for e in group.exceptions]
    return errors or [t.result() for t in tasks]


async def run_all_gather(jobs):
    return await asyncio.gather(*(job() for job in jobs))


async def run_all_gather_safe(jobs):
    results = await asyncio.gather(*(job() for job in jobs), return_exceptions=True)
    errors = [str(r) for r in results if isinstance(r, ValueError)]
    return errors or results


async def run_all_no_except_star(jobs):
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(job()) for job in jobs]
    return [t.result() for t in tasks]


async def run_all_catch_everything(jobs):
    errors = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(job()) for job in jobs]
    except* Exception as group:
        errors = [str(e) for e in group.exceptions]
    return errors or [t.result() for t in tasks]


async def run_all_sequential(jobs):
    errors = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = []
            for job in jobs:
                task = tg.create_task(job())
                await task
                tasks.append(task)
    except* ValueError as group:
        errors = [str(e) for e in group.exceptions]
    return errors or [t.result() for t in tasks]


async def run_all_completion_order(jobs):
    results, errors = [], []

    async def keep(job):
        results.append(await job())

    try:
        async with asyncio.TaskGroup() as tg:
            for job in jobs:
                tg.create_task(keep(job))
    except* ValueError as group:
        errors = [str(e) for e in group.exceptions]
    return errors or results


async def run_all_first_message_only(jobs):
    errors = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(job()) for job in jobs]
    except* ValueError as group:
        errors = [str(group.exceptions[0])]
    return errors or [t.result() for t in tasks]


async def run_all_group_text(jobs):
    errors = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(job()) for job in jobs]
    except* ValueError as group:
        errors = [str(group)]
    return errors or [t.result() for t in tasks]


def test_run_all_accepts_solution():
    result = run(check_run_all(run_all_solution))
    assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (run_all_gather, ["were still running when run_all raised ValueError('bad input')",
                     "section 6"]),
    (run_all_gather_safe, ["ran on to the end", "should have been cancelled"]),
    (run_all_no_except_star, ["ExceptionGroup holding [ValueError('bad input')] escaped",
                              "section 5"]),
    (run_all_catch_everything, ["KeyError('missing') and run_all returned",
                                "only ValueErrors"]),
    (run_all_sequential, ["at most 1 of the 3 jobs ran at once"]),
    (run_all_completion_order, ["returned ['b', 'c', 'a']", "order of `jobs`"]),
    (run_all_first_message_only, ["two jobs raised ValueError", "returned ['no such city']"]),
    (run_all_group_text, ["returned ['unhandled errors in a TaskGroup (1 sub-exception)']"]),
])
def test_run_all_rejects(answer, words):
    rejected(run(check_run_all(answer)), *words)


def test_run_all_does_not_speak_of_gather_to_a_taskgroup():
    assert "gather" not in run(check_run_all(run_all_no_except_star)).message


@pytest.mark.load
def test_run_all_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_run_all(run_all_solution))
        assert result.passed, result.message


# -- exercise 2: a timeout with a fallback -------------------------------------------------------
async def fallback_solution(fetch, limit, default):
    try:
        async with asyncio.timeout(limit) as timeout:
            return await fetch()
    except TimeoutError:
        if not timeout.expired():
            raise  # fetch's own TimeoutError, not our limit
        return default


async def fallback_task(fetch, limit, default):
    task = asyncio.create_task(fetch())
    done, _ = await asyncio.wait({task}, timeout=limit)
    if done:
        return task.result()
    task.cancel()
    await asyncio.wait({task})
    return default


async def fallback_except_timeout(fetch, limit, default):
    """The notebook's old solution: it also swallows fetch's own TimeoutError."""
    try:
        async with asyncio.timeout(limit):
            return await fetch()
    except TimeoutError:
        return default


async def fallback_wait_for(fetch, limit, default):
    try:
        return await asyncio.wait_for(fetch(), limit)
    except TimeoutError:
        return default


async def no_timeout(fetch, limit, default):
    return await fetch()


async def hard_coded_limit(fetch, limit, default):
    timeout = asyncio.timeout(0.2)  # the value of the notebook's example, not `limit`
    try:
        async with timeout:
            return await fetch()
    except TimeoutError:
        if not timeout.expired():
            raise
        return default


async def gives_up_early(fetch, limit, default):  # a margin "to be safe": not the limit asked
    return await fallback_solution(fetch, limit * 0.6, default)


async def gives_up_a_bit_early(fetch, limit, default):
    return await fallback_solution(fetch, max(limit - 0.1, 0), default)


async def catches_everything(fetch, limit, default):
    try:
        async with asyncio.timeout(limit):
            return await fetch()
    except Exception:
        return default


async def leaves_it_running(fetch, limit, default):
    task = asyncio.create_task(fetch())
    done, _ = await asyncio.wait({task}, timeout=limit)
    return task.result() if done else default


async def timeout_escapes(fetch, limit, default):
    async with asyncio.timeout(limit):
        return await fetch()


async def waits_then_defaults(fetch, limit, default):
    start = time.perf_counter()
    value = await fetch()
    return default if time.perf_counter() - start > limit else value


async def blocking_wait(fetch, limit, default):
    task = asyncio.ensure_future(fetch())
    time.sleep(min(limit, 0.05))  # noqa: ASYNC251  (the wrong answer)
    if not task.done():
        try:
            async with asyncio.timeout(limit):
                return await task
        except TimeoutError:
            return default
    return task.result()


def test_fallback_accepts_solutions():
    for answer in (fallback_solution, fallback_task):
        result = run(check_fetch_or_default(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (fallback_except_timeout, ["its own TimeoutError", "returned 'fallback'",
                               "must reach the caller", "Section 7"]),
    (fallback_wait_for, ["its own TimeoutError", "returned 'fallback'"]),
    (no_timeout, ["0.9 s and a 0.1 s limit", "nothing cut it", "section 7"]),
    (hard_coded_limit, ["0.5 s and a 1 s limit", "returned 'fallback'",
                        "is the limit the one you were given?"]),
    (gives_up_early, ["0.9 s and a 0.1 s limit", "cut the fetch short before 0.1 s had passed",
                      "is the limit the one you were given?"]),
    (gives_up_a_bit_early, ["cut the fetch short before 0.1 s had passed"]),
    (catches_everything, ["ValueError('server said no')", "returned 'fallback'"]),
    (leaves_it_running, ["still running in the background"]),
    (timeout_escapes, ["let TimeoutError escape"]),
    (waits_then_defaults, ["after the fetch had run to the end"]),
    (blocking_wait, ["time.sleep()", "event loop's thread"]),
])
def test_fallback_rejects(answer, words):
    rejected(run(check_fetch_or_default(answer)), *words)


@pytest.mark.parametrize("constant", [0.15, 0.4, 0.6, 1.0])
def test_fallback_rejects_any_constant_limit(constant):
    async def constant_limit(fetch, limit, default):
        return await fallback_solution(fetch, constant, default)

    rejected(run(check_fetch_or_default(constant_limit)))


@pytest.mark.load
def test_fallback_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_fetch_or_default(fallback_solution))
        assert result.passed, result.message


# -- exercise 3: keep references to background tasks ---------------------------------------------
def background_solution(coro, tasks):
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


def background_no_reference(coro, tasks):
    return asyncio.create_task(coro)


def background_never_discarded(coro, tasks):
    task = asyncio.create_task(coro)
    tasks.add(task)
    return task


def background_clears_everything(coro, tasks):
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(lambda _: tasks.clear())
    return task


def background_keeps_coroutines(coro, tasks):
    tasks.add(coro)
    task = asyncio.create_task(coro)
    task.add_done_callback(lambda _: tasks.discard(coro))
    return task


def background_own_set(coro, tasks):
    tasks = set()  # a new set each call: the caller's stays empty
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


def background_no_return(coro, tasks):
    task = asyncio.create_task(coro)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def test_background_accepts_solution():
    result = run(check_start_background(background_solution))
    assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (background_no_reference, ["held 0 of the 5 tasks", "weak references", "section 3"]),
    (background_own_set, ["held 0 of the 5 tasks"]),
    (background_never_discarded, ["its task stayed in the set", "section 3"]),
    (background_clears_everything, ["When 1 of the 5 jobs had finished, the set held 0 task(s) "
                                    "although 4 were still running"]),
    (background_keeps_coroutines, ["a coroutine"]),
    (background_no_return, ["returned None"]),
])
def test_background_rejects(answer, words):
    rejected(run(check_start_background(answer)), *words)


def test_background_rejects_async_def():
    async def as_coroutine(coro, tasks):
        return background_solution(coro, tasks)

    result = run(check_start_background(as_coroutine))
    assert not result.passed
    assert "def" in result.message


def test_background_check_leaves_no_task_running():
    async def main():
        result = await check_start_background(background_clears_everything)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, left = run(main())
    assert not result.passed and left == []


@pytest.mark.load
def test_background_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_start_background(background_solution))
        assert result.passed, result.message


def test_background_check_cleans_up_tasks_it_was_not_given():
    """start_background that returns nothing: its tasks end quietly, nothing is reported."""
    async def main():
        reports = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reports.append(ctx))
        result = await check_start_background(background_no_return)
        await asyncio.sleep(0.05)
        return result, reports, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, reports, left = run(main())
    assert not result.passed and reports == [] and left == []
