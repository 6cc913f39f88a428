"""The checks of notebooks 00 and 01 reject realistic wrong answers and accept solutions."""

from __future__ import annotations

import asyncio

import aiohttp

from asynclab.checks import (
    JOBS,
    check_dinner,
    check_fetch_names,
    check_greet,
    check_io_or_cpu,
)


def run(coro):
    return asyncio.run(coro)


def test_greet():
    async def stub(name):
        ...

    def not_async(name):
        return f"Hello, {name}!"

    async def printer(name):
        print(f"Hello, {name}!")

    async def solution(name):
        return f"Hello, {name}!"

    assert "returned None" in run(check_greet(stub)).message
    assert "async def" in run(check_greet(not_async)).message
    assert not run(check_greet(printer))
    assert "wrong" not in repr(run(check_greet(solution)))
    assert run(check_greet(solution)).passed
    assert "function itself" in run(check_greet(solution("Ada"))).message
    assert "function itself" in run(check_greet("Hello, Ada!")).message


def test_dinner_rejects_sequential_and_accepts_gather():
    async def sequential(cook, dishes):
        return [await cook(*dish) for dish in dishes]

    async def forgot_await(cook, dishes):
        return [cook(*dish) for dish in dishes]

    async def solution(cook, dishes):
        return await asyncio.gather(*(cook(*dish) for dish in dishes))

    result = run(check_dinner(sequential))
    assert not result.passed and "one after another" in result.message
    assert not run(check_dinner(forgot_await)).passed
    assert run(check_dinner(solution)).passed


async def _name(session, base_url, user_id):
    async with session.get(f"{base_url}/users/{user_id}") as response:
        return (await response.json())["name"]


def test_fetch_names_rejects_sequential_and_wrong_order():
    async def sequential(base_url, ids):
        async with aiohttp.ClientSession() as session:
            return [await _name(session, base_url, i) for i in ids]

    async def as_finished(base_url, ids):
        async with aiohttp.ClientSession() as session:
            tasks = [_name(session, base_url, i) for i in ids]
            return sorted([await t for t in asyncio.as_completed(tasks)])

    async def solution(base_url, ids):
        async with aiohttp.ClientSession() as session:
            return list(await asyncio.gather(*(_name(session, base_url, i) for i in ids)))

    result = run(check_fetch_names(sequential))
    assert not result.passed and "one after" in result.message
    result = run(check_fetch_names(as_finished))
    assert not result.passed and "wrong order" in result.message
    assert run(check_fetch_names(solution)).passed


def test_io_or_cpu():
    right = {job: kind for job, (kind, _) in JOBS.items()}
    all_io = dict.fromkeys(JOBS, "io")
    result = run(check_io_or_cpu(all_io))
    assert not result.passed and "CPU-bound" in result.message
    assert "No answer" in run(check_io_or_cpu({})).message
    assert "'io' or 'cpu'" in run(check_io_or_cpu(dict.fromkeys(JOBS, "fast"))).message
    assert run(check_io_or_cpu(right)).passed
