"""The checks of notebook 04 (gather) reject realistic wrong answers and accept solutions."""

from __future__ import annotations

import asyncio

import aiohttp

from asynclab.checks import check_fetch_all_safe, check_fetch_users, check_process_as_completed


def run(coro):
    return asyncio.run(coro)


async def fetch_user(session, base_url, user_id):
    async with session.get(f"{base_url}/users/{user_id}") as response:
        response.raise_for_status()
        return await response.json()


# -- exercise 1: a sequential loop turned into a gather --------------------------------------
async def users_sequential(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return [await fetch_user(session, base_url, i) for i in ids]


async def users_gather(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(fetch_user(session, base_url, i) for i in ids))


async def users_unordered(base_url, ids):
    results = []

    async def one(session, i):
        results.append(await fetch_user(session, base_url, i))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, i) for i in reversed(ids)))
    return results


def test_fetch_users_rejects_sequential():
    result = run(check_fetch_users(users_sequential))
    assert not result.passed
    assert "asyncio.gather" in result.message and "at most 1" in result.message


def test_fetch_users_rejects_wrong_order():
    result = run(check_fetch_users(users_unordered))
    assert not result.passed
    assert "order" in result.message


def test_fetch_users_rejects_forgotten_await():
    async def forgot(base_url, ids):
        async with aiohttp.ClientSession() as session:
            return asyncio.gather(*(fetch_user(session, base_url, i) for i in ids))

    result = run(check_fetch_users(forgot))
    assert not result.passed


def test_fetch_users_accepts_gather():
    result = run(check_fetch_users(users_gather))
    assert result.passed, result.message


# -- exercise 2: return_exceptions -------------------------------------------------------------
async def safe_gather(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(fetch_user(session, base_url, i) for i in ids),
                                    return_exceptions=True)


async def swallowed(base_url, ids):
    async def one(session, i):
        try:
            return await fetch_user(session, base_url, i)
        except aiohttp.ClientError:
            return None

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, i) for i in ids))


async def dropped(base_url, ids):
    results = await safe_gather(base_url, ids)
    return [r for r in results if not isinstance(r, BaseException)]


def test_fetch_all_safe_rejects_plain_gather():
    result = run(check_fetch_all_safe(users_gather))
    assert not result.passed
    assert "return_exceptions=True" in result.message
    assert "ClientResponseError" in result.message


def test_fetch_all_safe_rejects_replaced_errors():
    result = run(check_fetch_all_safe(swallowed))
    assert not result.passed
    assert "exception object" in result.message


def test_fetch_all_safe_rejects_dropped_failures():
    result = run(check_fetch_all_safe(dropped))
    assert not result.passed
    assert "one item per id" in result.message


def test_fetch_all_safe_accepts_return_exceptions():
    result = run(check_fetch_all_safe(safe_gather))
    assert result.passed, result.message


# -- exercise 3: as_completed ------------------------------------------------------------------
async def with_gather(aws, on_result):
    for result in await asyncio.gather(*aws):
        on_result(result)


async def one_by_one(aws, on_result):
    for aw in aws:
        on_result(await aw)


async def with_as_completed(aws, on_result):
    for next_done in asyncio.as_completed(aws):
        on_result(await next_done)


async def with_wait_then_report(aws, on_result):
    tasks = [asyncio.create_task(aw) for aw in aws]
    order = []
    for next_done in asyncio.as_completed(tasks):
        order.append(await next_done)
    for result in order:  # right order, but only after everything finished
        on_result(result)


def test_as_completed_rejects_gather_order():
    result = run(check_process_as_completed(with_gather))
    assert not result.passed
    assert "as_completed" in result.message and "order you passed" in result.message


def test_as_completed_rejects_sequential_awaits():
    result = run(check_process_as_completed(one_by_one))
    assert not result.passed


def test_as_completed_rejects_late_callbacks():
    result = run(check_process_as_completed(with_wait_then_report))
    assert not result.passed
    assert "waited" in result.message


def test_as_completed_rejects_stub_without_warnings(recwarn):
    async def stub(aws, on_result):
        ...

    result = run(check_process_as_completed(stub))
    assert not result.passed
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_as_completed_accepts_solution():
    result = run(check_process_as_completed(with_as_completed))
    assert result.passed, result.message
