"""The checks of notebook 03 reject a catalogue of realistic wrong answers, with a sentence
that says what was observed and never the solution's code, and accept the solutions, also
repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import urllib.request
from asyncio import run

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks import check_crunch, check_profile_of, check_warm_up

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("await asyncio.sleep", "asyncio.sleep(0", "await response.json",
                 "next(user", "if i %", "session.get(", "user[\"id\"]")



rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


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


async def po_position_plus_one(session, base_url, name):
    async with session.get(f"{base_url}/users") as response:
        users = await response.json()
    user_id = [user["name"] for user in users].index(name) + 1  # ids "are" positions
    async with session.get(f"{base_url}/users/{user_id}/profile") as response:
        return await response.json()


async def po_position_raises(session, base_url, name):
    async with session.get(f"{base_url}/users") as response:
        users = await response.json()
    user_id = [user["name"] for user in users].index(name)  # off by one, and a position
    async with session.get(f"{base_url}/users/{user_id}/profile") as response:
        response.raise_for_status()
        return await response.json()


async def po_forgot_await_on_json(session, base_url, name):
    async with session.get(f"{base_url}/users") as response:
        users = await response.json()
    user_id = next(user["id"] for user in users if user["name"] == name)
    async with session.get(f"{base_url}/users/{user_id}/profile") as response:
        return response.json()


async def po_returns_the_user(session, base_url, name):
    async with session.get(f"{base_url}/users") as response:
        users = await response.json()
    user_id = next(user["id"] for user in users if user["name"] == name)
    async with session.get(f"{base_url}/users/{user_id}") as response:
        return await response.json()


async def po_returns_the_response(session, base_url, name):
    async with session.get(f"{base_url}/users") as response:
        users = await response.json()
    user_id = next(user["id"] for user in users if user["name"] == name)
    async with session.get(f"{base_url}/users/{user_id}/profile") as response:
        await response.read()
        return response


async def po_urlopen(session, base_url, name):  # noqa: RUF029 (the bug: ignores the session)
    with urllib.request.urlopen(f"{base_url}/users") as reply:  # noqa: ASYNC210, S310
        users = json.load(reply)
    user_id = next(user["id"] for user in users if user["name"] == name)
    with urllib.request.urlopen(f"{base_url}/users/{user_id}/profile") as reply:  # noqa: ASYNC210, S310
        return json.load(reply)


async def po_hard_coded_name(session, base_url, name):
    return await profile_of_ok(session, base_url, "Grace Hopper")


async def po_every_user(session, base_url, name):
    async with session.get(f"{base_url}/users") as response:
        users = await response.json()
    for user in users:  # fetches every user to find the name: many requests
        async with session.get(f"{base_url}/users/{user['id']}") as response:
            record = await response.json()
        if record["name"] == name:
            async with session.get(f"{base_url}/users/{user['id']}/profile") as response:
                return await response.json()
    return None


@pytest.mark.parametrize(("profile_of", "words"), [
    (po_position_plus_one, ["position in the list", "shuffled order", "has id"]),
    (po_position_raises, ["position in the list", "shuffled order"]),
    (po_forgot_await_on_json, ["profile_of(session, url, ", "coroutine object", "never awaited",
                                "notebook 02"]),
    (po_returns_the_user, ["the user's own record", "/profile"]),
    (po_returns_the_response, ["the response object"]),
    (po_urlopen, ["blocking network call", "connect", "aiohttp session"]),
    (po_hard_coded_name, ["That is the profile of user 3", "several names"]),
    (po_every_user, ["requests for one name"]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_profile_of_rejects(profile_of, words):
    rejected(run(check_profile_of(profile_of)), *words)


@pytest.mark.load
def test_profile_of_solution_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_profile_of(profile_of_ok))
        assert result.passed, result.message


# -- check_warm_up ----------------------------------------------------------------------------
async def warm_up_ok(steps):
    for _ in range(steps):
        await asyncio.sleep(0.05)
    return f"warm after {steps} steps"


def test_warm_up_accepts_solution():
    result = run(check_warm_up(warm_up_ok))
    assert result.passed, result.message


async def wu_time_sleep(steps):  # noqa: RUF029
    for _ in range(steps):
        time.sleep(0.05)  # noqa: ASYNC251 (the bug under test)
    return f"warm after {steps} steps"


async def wu_time_sleep_between_awaits(steps):
    for _ in range(steps):
        await asyncio.sleep(0.03)
        time.sleep(0.02)  # noqa: ASYNC251 (blocks part of every step)
    return f"warm after {steps} steps"


async def wu_forgot_await(steps):  # noqa: RUF029
    for _ in range(steps):
        asyncio.sleep(0.05)
    return f"warm after {steps} steps"


async def wu_one_sleep(steps):
    await asyncio.sleep(0.05)  # waits once, not once per step
    return f"warm after {steps} steps"


async def wu_four_steps(steps):
    for _ in range(4):  # ignores steps
        await asyncio.sleep(0.05)
    return f"warm after {steps} steps"


async def wu_five_steps(steps):
    for _ in range(5):  # ignores steps: the most steps that pass the 2-step case
        await asyncio.sleep(0.05)
    return f"warm after {steps} steps"


def _spin(seconds):
    """Hold the event loop's thread without a blocking call: a stalled, busy machine."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def wu_five_steps_woken_late(steps):
    """Five fixed steps on a machine that wakes the last one late in the 20-step case: the
    loop stalls for 0.78 s right after the fifth sleep has set its timer, so it returns after
    about 1 s, yet it waited 5 steps. (The stall starts from inside the fifth step, not at a
    fixed time: on a slow machine a stall at 0.22 s landed in the fourth step, so the fifth
    sleep started after the stall and was due after the alarm. That is lateness piled up
    over its own steps, which the check cannot tell from waiting; its comment says so.)"""
    loop = asyncio.get_running_loop()
    for i in range(5):
        if i == 4 and steps == 20:
            loop.call_soon(_spin, 0.78)  # runs once this step has set the fifth timer
        await asyncio.sleep(0.05)
    return f"warm after {steps} steps"


async def wu_one_long_sleep(steps):
    await asyncio.sleep(0.25)  # ignores steps: the longest constant that passes 2 steps
    return f"warm after {steps} steps"


async def wu_double_wait(steps):
    for _ in range(steps):
        await asyncio.sleep(0.1)  # twice the step
    return f"warm after {steps} steps"


async def wu_hard_coded_text(steps):
    for _ in range(steps):
        await asyncio.sleep(0.05)
    return "warm after 4 steps"


@pytest.mark.parametrize(("warm_up", "words"), [
    (wu_time_sleep, ["warm_up(2) called time.sleep()", "event loop's thread", "section 4"]),
    (wu_time_sleep_between_awaits, ["time.sleep() (2 times)", "event loop's thread"]),
    (wu_forgot_await, ["did not wait", "'sleep' was never awaited"]),
    (wu_one_sleep, ["warm_up(2) returned after", "did not wait every step"]),
    (wu_four_steps, ["warm_up(20) returned after", "did not wait every step"]),
    (wu_double_wait, ["warm_up(20) took", "once per step"]),
    (wu_hard_coded_text, ["warm_up(2) returned 'warm after 4 steps'"]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_warm_up_rejects(warm_up, words):
    rejected(run(check_warm_up(warm_up)), *words)


@pytest.mark.parametrize("warm_up", [wu_five_steps, wu_five_steps_woken_late,
                                     wu_one_long_sleep], ids=lambda v: v.__name__)
def test_warm_up_rejects_the_fixed_waits_closest_to_passing(warm_up):
    """Five steps (0.25 s) lie 0.03 s under the 2-step case's upper bound (0.28 s): a loaded
    machine may make them that much late, and then the 2-step case catches them first.
    Either sentence says what was observed; they must never pass."""
    result = run(check_warm_up(warm_up))
    rejected(result)
    assert ("warm_up(20) returned after" in result.message
            and "did not wait every step" in result.message) or (
        "warm_up(2) took" in result.message), result.message


def test_warm_up_rejects_a_sleep_bound_before_the_check():
    from time import sleep

    async def warm_up(steps):  # noqa: RUF029
        for _ in range(steps):
            sleep(0.05)  # noqa: ASYNC251
        return f"warm after {steps} steps"

    result = run(check_warm_up(warm_up))
    rejected(result, "heartbeat", "could not name")
    assert "time.sleep" not in result.message


@pytest.mark.load
def test_warm_up_solution_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_warm_up(warm_up_ok))
        assert result.passed, result.message


# -- check_crunch -----------------------------------------------------------------------------
async def crunch_ok(n):
    total = 0
    for i in range(n):
        total += i * i
        if i % 10_000 == 0:
            await asyncio.sleep(0)
    return total


def test_crunch_accepts_solution():
    result = run(check_crunch(crunch_ok))
    assert result.passed, result.message


def test_crunch_accepts_yielding_by_elapsed_time():
    async def crunch(n):
        total = 0
        last = time.perf_counter()
        for i in range(n):
            total += i * i
            if i % 1000 == 0 and time.perf_counter() - last > 0.002:
                await asyncio.sleep(0)
                last = time.perf_counter()
        return total

    result = run(check_crunch(crunch))
    assert result.passed, result.message


async def cr_never_yields(n):  # noqa: RUF029
    total = 0
    for i in range(n):
        total += i * i
    return total


async def _add(total, i):  # noqa: RUF029
    return total + i * i


async def cr_awaits_a_coroutine_that_does_not_suspend(n):
    total = 0
    for i in range(n):
        total = await _add(total, i)  # await, but nothing ever suspends
    return total


async def cr_yields_once_before(n):
    await asyncio.sleep(0)
    return sum(i * i for i in range(n))


async def cr_yields_too_seldom(n):
    total = 0
    for i in range(n):
        total += i * i
        if i % 300_000 == 0:
            await asyncio.sleep(0)
    return total


async def cr_sleeps_every_step(n):
    total = 0
    for i in range(n):
        total += i * i
        await asyncio.sleep(0.001)
    return total


async def cr_time_sleep_to_yield(n):  # noqa: RUF029
    total = 0
    for i in range(n):
        total += i * i
        if i % 10_000 == 0:
            time.sleep(0)  # noqa: ASYNC251 (yields the GIL, not the event loop)
    return total


async def cr_off_by_one(n):
    return await crunch_ok(n + 1)


@pytest.mark.parametrize(("crunch", "words", "not_words"), [
    (cr_never_yields, ["ran 0 time(s)", "did not get to run another task"], ["pauses"]),
    (cr_awaits_a_coroutine_that_does_not_suspend, ["did not get to run another task",
                                                   "sections 5 and 6"], ["pauses"]),
    (cr_yields_once_before, ["did not get to run another task"], []),
    (cr_yields_too_seldom, ["heartbeat", "section"], ["pauses"]),
    (cr_sleeps_every_step, ["did not finish within", "pauses so often (or so long)"],
     ["did not get to", "too seldom"]),
    (cr_time_sleep_to_yield, ["time.sleep()", "event loop's thread"], []),
    (cr_off_by_one, ["crunch(1234) returned", "expected"], []),
], ids=lambda v: getattr(v, "__name__", ""))
def test_crunch_rejects(crunch, words, not_words):
    result = run(check_crunch(crunch))
    rejected(result, *words)
    for word in not_words:
        assert word not in result.message, (word, result.message)


@pytest.mark.load
def test_crunch_solution_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_crunch(crunch_ok))
        assert result.passed, result.message
