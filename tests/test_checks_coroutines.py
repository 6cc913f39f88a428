"""The checks of notebook 02 reject realistic wrong answers and accept the solutions."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from asynclab.checks import check_brew, check_fetch_pair, check_legacy_bridge, legacy_report


def run(coro):
    return asyncio.run(coro)


# -- check_brew -------------------------------------------------------------------------------
async def brew_ok(drink, seconds):
    await asyncio.sleep(seconds)
    return f"{drink} is ready"


def test_brew_accepts_solution():
    result = run(check_brew(brew_ok))
    assert result.passed, result.message


def test_brew_rejects_plain_function():
    def brew(drink, seconds):
        return f"{drink} is ready"

    result = run(check_brew(brew))
    assert not result.passed
    assert "async def" in result.message


def test_brew_rejects_time_sleep():
    async def brew(drink, seconds):
        time.sleep(seconds)  # noqa: ASYNC251 (the bug under test)
        return f"{drink} is ready"

    result = run(check_brew(brew))
    assert not result.passed
    assert "froze the event loop" in result.message


def test_brew_rejects_forgotten_await_and_names_the_warning():
    async def brew(drink, seconds):
        asyncio.sleep(seconds)  # the bug under test: no await
        return f"{drink} is ready"

    result = run(check_brew(brew))
    assert not result.passed
    assert "did not wait" in result.message and "never awaited" in result.message


def test_brew_rejects_print_instead_of_return():
    async def brew(drink, seconds):
        await asyncio.sleep(seconds)
        print(f"{drink} is ready")

    result = run(check_brew(brew))
    assert not result.passed
    assert "None" in result.message


# -- check_fetch_pair -------------------------------------------------------------------------
def test_fetch_pair_rejects_forgotten_await():
    async def fetch_pair(fetch_user, first_id, second_id):
        first = await fetch_user(first_id)
        second = fetch_user(second_id)
        return [first, second]

    result = run(check_fetch_pair(fetch_pair))
    assert not result.passed
    assert "coroutine object" in result.message and "await" in result.message


def test_fetch_pair_rejects_subscripting_a_coroutine():
    async def fetch_pair(fetch_user, first_id, second_id):
        first = fetch_user(first_id)
        return [first["name"], None]

    result = run(check_fetch_pair(fetch_pair))
    assert not result.passed
    assert "without awaiting" in result.message


def test_fetch_pair_rejects_a_call_never_awaited():
    async def fetch_pair(fetch_user, first_id, second_id):
        fetch_user(second_id)  # made and dropped
        return [await fetch_user(first_id), await fetch_user(second_id)]

    result = run(check_fetch_pair(fetch_pair))
    assert not result.passed
    assert "never awaited" in result.message


def test_fetch_pair_accepts_solution():
    async def fetch_pair(fetch_user, first_id, second_id):
        return [await fetch_user(first_id), await fetch_user(second_id)]

    result = run(check_fetch_pair(fetch_pair))
    assert result.passed, result.message


# -- check_legacy_bridge ----------------------------------------------------------------------
def test_legacy_report_works_outside_a_loop():
    assert legacy_report(3).startswith("3 squares [0, 1, 4] computed in ")


def test_bridge_rejects_direct_call():
    async def report_from_notebook(n):
        return legacy_report(n)

    result = run(check_legacy_bridge(report_from_notebook))
    assert not result.passed
    assert "asyncio.to_thread" in result.message and "running event loop" in result.message


def test_bridge_rejects_blocking_wait_on_a_thread():
    async def report_from_notebook(n):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(legacy_report, n).result()  # blocks the loop

    result = run(check_legacy_bridge(report_from_notebook))
    assert not result.passed
    assert "frozen" in result.message


def test_bridge_rejects_forgotten_await():
    async def report_from_notebook(n):
        return asyncio.to_thread(legacy_report, n)

    result = run(check_legacy_bridge(report_from_notebook))
    assert not result.passed
    assert "await" in result.message


def test_bridge_accepts_solution():
    async def report_from_notebook(n):
        return await asyncio.to_thread(legacy_report, n)

    result = run(check_legacy_bridge(report_from_notebook))
    assert result.passed, result.message
