"""The checks of notebook 03 reject realistic wrong answers and accept the solutions."""

from __future__ import annotations

import asyncio
import time

from asynclab.checks import check_crunch, check_profile_of, check_warm_up


def run(coro):
    return asyncio.run(coro)


# -- check_profile_of -------------------------------------------------------------------------
async def profile_of_ok(session, base_url, name):
    async with session.get(f"{base_url}/users") as response:
        users = await response.json()
    user_id = next(user["id"] for user in users if user["name"] == name)
    async with session.get(f"{base_url}/users/{user_id}/profile") as response:
        return await response.json()


def test_profile_of_accepts_solution():
    result = run(check_profile_of(profile_of_ok))
    assert result.passed, result.message


def test_profile_of_rejects_id_from_list_position():
    async def profile_of(session, base_url, name):
        async with session.get(f"{base_url}/users") as response:
            users = await response.json()
        user_id = [user["name"] for user in users].index(name)  # off by one
        async with session.get(f"{base_url}/users/{user_id}/profile") as response:
            return await response.json()

    result = run(check_profile_of(profile_of))
    assert not result.passed
    assert "from the position in the list" in result.message


def test_profile_of_rejects_forgotten_await_on_json():
    async def profile_of(session, base_url, name):
        async with session.get(f"{base_url}/users") as response:
            users = await response.json()
        user_id = next(user["id"] for user in users if user["name"] == name)
        async with session.get(f"{base_url}/users/{user_id}/profile") as response:
            return response.json()

    result = run(check_profile_of(profile_of))
    assert not result.passed
    assert "await" in result.message


def test_profile_of_rejects_returning_the_user():
    async def profile_of(session, base_url, name):
        async with session.get(f"{base_url}/users") as response:
            users = await response.json()
        user_id = next(user["id"] for user in users if user["name"] == name)
        async with session.get(f"{base_url}/users/{user_id}") as response:
            return await response.json()

    result = run(check_profile_of(profile_of))
    assert not result.passed
    assert "/profile" in result.message


# -- check_warm_up ----------------------------------------------------------------------------
def test_warm_up_rejects_time_sleep():
    async def warm_up(steps):
        for _ in range(steps):
            time.sleep(0.05)  # noqa: ASYNC251 (the bug under test)
        return f"warm after {steps} steps"

    result = run(check_warm_up(warm_up))
    assert not result.passed
    assert "time.sleep blocks the loop" in result.message


def test_warm_up_rejects_forgotten_await():
    async def warm_up(steps):
        for _ in range(steps):
            asyncio.sleep(0.05)
        return f"warm after {steps} steps"

    result = run(check_warm_up(warm_up))
    assert not result.passed
    assert "did not wait" in result.message and "never awaited" in result.message


def test_warm_up_accepts_solution():
    async def warm_up(steps):
        for _ in range(steps):
            await asyncio.sleep(0.05)
        return f"warm after {steps} steps"

    result = run(check_warm_up(warm_up))
    assert result.passed, result.message


# -- check_crunch -----------------------------------------------------------------------------
def test_crunch_rejects_a_loop_that_never_yields():
    async def crunch(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    result = run(check_crunch(crunch))
    assert not result.passed
    assert "asyncio.sleep(0)" in result.message


def test_crunch_rejects_awaiting_a_coroutine_that_does_not_suspend():
    async def add(total, i):
        return total + i * i

    async def crunch(n):
        total = 0
        for i in range(n):
            total = await add(total, i)  # await, but nothing ever suspends
        return total

    result = run(check_crunch(crunch))
    assert not result.passed
    assert "kept the loop to itself" in result.message


def test_crunch_accepts_solution():
    async def crunch(n):
        total = 0
        for i in range(n):
            total += i * i
            if i % 10_000 == 0:
                await asyncio.sleep(0)
        return total

    result = run(check_crunch(crunch))
    assert result.passed, result.message
