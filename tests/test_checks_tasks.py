"""The checks of notebook 05 (tasks and TaskGroup) reject realistic wrong answers and accept
solutions."""

from __future__ import annotations

import asyncio

from asynclab.checks import check_fetch_or_default, check_run_all, check_start_background


def run(coro):
    return asyncio.run(coro)


# -- exercise 1: TaskGroup + except* ------------------------------------------------------------
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


def test_run_all_rejects_gather():
    result = run(check_run_all(run_all_gather))
    assert not result.passed
    assert "TaskGroup" in result.message and "kept running" in result.message


def test_run_all_rejects_gather_return_exceptions():
    result = run(check_run_all(run_all_gather_safe))
    assert not result.passed
    assert "instead of cancelled" in result.message


def test_run_all_rejects_escaping_group():
    result = run(check_run_all(run_all_no_except_star))
    assert not result.passed
    assert "except* ValueError" in result.message


def test_run_all_rejects_catching_everything():
    result = run(check_run_all(run_all_catch_everything))
    assert not result.passed
    assert "KeyError" in result.message


def test_run_all_rejects_sequential():
    result = run(check_run_all(run_all_sequential))
    assert not result.passed
    assert "sum of their times" in result.message


def test_run_all_accepts_solution():
    result = run(check_run_all(run_all_solution))
    assert result.passed, result.message


# -- exercise 2: a timeout with a fallback -----------------------------------------------------
async def fallback_solution(fetch, limit, default):
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


def test_fallback_rejects_no_timeout():
    result = run(check_fetch_or_default(no_timeout))
    assert not result.passed
    assert "asyncio.timeout" in result.message


def test_fallback_rejects_swallowed_errors():
    result = run(check_fetch_or_default(catches_everything))
    assert not result.passed
    assert "Catch TimeoutError" in result.message


def test_fallback_rejects_task_left_running():
    result = run(check_fetch_or_default(leaves_it_running))
    assert not result.passed
    assert "kept running" in result.message


def test_fallback_rejects_escaping_timeout():
    result = run(check_fetch_or_default(timeout_escapes))
    assert not result.passed
    assert "TimeoutError escaped" in result.message


def test_fallback_accepts_timeout_and_wait_for():
    for answer in (fallback_solution, fallback_wait_for):
        result = run(check_fetch_or_default(answer))
        assert result.passed, result.message


# -- exercise 3: keep references to background tasks -------------------------------------------
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


def test_background_rejects_no_reference():
    result = run(check_start_background(background_no_reference))
    assert not result.passed
    assert "tasks.add" in result.message


def test_background_rejects_growing_set():
    result = run(check_start_background(background_never_discarded))
    assert not result.passed
    assert "add_done_callback" in result.message


def test_background_rejects_async_def():
    async def as_coroutine(coro, tasks):
        return background_solution(coro, tasks)

    result = run(check_start_background(as_coroutine))
    assert not result.passed
    assert "def" in result.message


def test_background_accepts_solution():
    result = run(check_start_background(background_solution))
    assert result.passed, result.message
