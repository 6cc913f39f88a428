"""The checks of notebook 02 reject a catalogue of realistic wrong answers, with a sentence
that says what was observed and never the solution's code, and accept the solutions, also
repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import time
import urllib.request
from asyncio import run
from concurrent.futures import ThreadPoolExecutor

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks import check_brew, check_fetch_pair, check_legacy_bridge, legacy_report

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("await asyncio.sleep", "asyncio.sleep(seconds", "await fetch_user",
                 "asyncio.to_thread(", "to_thread(legacy_report", "return f\"",
                 "to_thread(asyncio.run", "sleep(0)")



rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- check_brew -------------------------------------------------------------------------------
async def brew_ok(drink, seconds):
    await asyncio.sleep(seconds)
    return f"{drink} is ready"


def test_brew_accepts_solution():
    result = run(check_brew(brew_ok))
    assert result.passed, result.message


async def brew_plain(drink, seconds):  # noqa: RUF029 (the bug under test: never awaits)
    return f"{drink} is ready"


async def brew_time_sleep(drink, seconds):
    time.sleep(seconds)  # noqa: ASYNC251 (the bug under test)
    return f"{drink} is ready"


async def brew_time_sleep_then_await(drink, seconds):
    time.sleep(0.04)  # noqa: ASYNC251 (blocks part of the time)
    await asyncio.sleep(seconds - 0.04)
    return f"{drink} is ready"


async def brew_forgot_await(drink, seconds):  # noqa: RUF029
    asyncio.sleep(seconds)  # the bug under test: no await
    return f"{drink} is ready"


async def brew_prints(drink, seconds):
    await asyncio.sleep(seconds)
    print(f"{drink} is ready")


async def brew_always_two_tenths(drink, seconds):
    await asyncio.sleep(0.2)  # ignores seconds
    return f"{drink} is ready"


async def brew_always_a_third(drink, seconds):
    await asyncio.sleep(0.34)  # ignores seconds: the constant that came closest to passing
    return f"{drink} is ready"


def _spin(seconds):
    """Hold the event loop's thread without a blocking call: a stalled, busy machine."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def brew_a_third_woken_late(drink, seconds):
    """The closest constant on a machine that wakes it 0.3 s late in the 0.4 s case (the loop
    stalls from 0.3 s to 0.6 s): it returns after 0.6 s, yet it waited too short."""
    if seconds == 0.4:
        asyncio.get_running_loop().call_later(0.3, _spin, 0.3)
    await asyncio.sleep(0.34)
    return f"{drink} is ready"


async def brew_always_half_a_second(drink, seconds):
    await asyncio.sleep(0.5)  # ignores seconds, waits long enough for every case
    return f"{drink} is ready"


async def brew_always_tea(drink, seconds):
    await asyncio.sleep(seconds)
    return "tea is ready"  # ignores drink


@pytest.mark.parametrize(("brew", "words"), [
    (brew_plain, ["returned after", "did not wait"]),
    (brew_time_sleep, ["time.sleep()", "event loop's thread"]),
    (brew_time_sleep_then_await, ["time.sleep()", "event loop's thread"]),
    (brew_forgot_await, ["did not wait", "'sleep' was never awaited"]),
    (brew_prints, ["returned None", "printed 'coffee is ready'"]),
    (brew_always_two_tenths, ["brew('green tea', 0.4) returned after 0.2", "did not wait"]),
    (brew_always_half_a_second, ["brew('coffee', 0.05) took 0.5", "does not wait"]),
    (brew_always_tea, ["brew('coffee', 0.05) returned 'tea is ready'", "several drinks"]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_brew_rejects(brew, words):
    rejected(run(check_brew(brew)), *words)


@pytest.mark.parametrize("brew", [brew_always_a_third, brew_a_third_woken_late],
                         ids=lambda v: v.__name__)
def test_brew_rejects_the_constant_closest_to_passing(brew):
    """0.34 s lies 0.01 s under the coffee case's upper bound (0.05 + 0.3 s): a loaded
    machine may wake it that much late, and then the coffee case catches it first. Either
    sentence says what was observed; it must never pass."""
    result = run(check_brew(brew))
    rejected(result)
    assert ("brew('green tea', 0.4) returned after" in result.message
            and "did not wait" in result.message) or (
        "brew('coffee', 0.05) took" in result.message
        and "does not wait" in result.message), result.message


def test_brew_rejects_a_sleep_bound_before_the_check():
    """`from time import sleep` escapes blockbuster: the heartbeat still sees the loop stop,
    and the sentence does not claim to know which call it was."""
    from time import sleep

    async def brew(drink, seconds):
        sleep(seconds)  # noqa: ASYNC251
        return f"{drink} is ready"

    result = run(check_brew(brew))
    rejected(result, "heartbeat", "could not name")
    assert "time.sleep" not in result.message


def test_brew_rejects_plain_function():
    def brew(drink, seconds):
        return f"{drink} is ready"

    rejected(run(check_brew(brew)), "async def")


@pytest.mark.load
def test_brew_solution_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_brew(brew_ok))
        assert result.passed, result.message


# -- check_fetch_pair -------------------------------------------------------------------------
async def fetch_pair_ok(fetch_user, first_id, second_id):
    return [await fetch_user(first_id), await fetch_user(second_id)]


def test_fetch_pair_accepts_solution():
    result = run(check_fetch_pair(fetch_pair_ok))
    assert result.passed, result.message


def test_fetch_pair_accepts_gather():
    async def fetch_pair(fetch_user, first_id, second_id):
        return list(await asyncio.gather(fetch_user(first_id), fetch_user(second_id)))

    result = run(check_fetch_pair(fetch_pair))
    assert result.passed, result.message


async def fp_forgot_second_await(fetch_user, first_id, second_id):
    first = await fetch_user(first_id)
    second = fetch_user(second_id)
    return [first, second]


async def fp_forgot_both(fetch_user, first_id, second_id):  # noqa: RUF029
    return [fetch_user(first_id), fetch_user(second_id)]


async def fp_subscripts_a_coroutine(fetch_user, first_id, second_id):  # noqa: RUF029
    first = fetch_user(first_id)
    return [first["name"], None]


async def fp_made_and_dropped(fetch_user, first_id, second_id):
    fetch_user(second_id)  # made and dropped
    return [await fetch_user(first_id), await fetch_user(second_id)]


async def fp_hard_coded_ids(fetch_user, first_id, second_id):
    return [await fetch_user(1), await fetch_user(2)]


async def fp_first_twice(fetch_user, first_id, second_id):
    return [await fetch_user(first_id), await fetch_user(first_id)]


@pytest.mark.parametrize(("fetch_pair", "words"), [
    (fp_forgot_second_await, ["coroutine object", "1 of the 2", "never ran", "section 2"]),
    (fp_forgot_both, ["coroutine object", "2 of the 2", "never ran"]),
    (fp_subscripts_a_coroutine, ["TypeError", "a coroutine object, as if it were the user"]),
    (fp_made_and_dropped, ["called fetch_user 3 times", "never awaited"]),
    (fp_hard_coded_ids, ["ids [1, 2]", "users 3 and 7"]),
    (fp_first_twice, ["ids [3, 3]", "users 3 and 7"]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_fetch_pair_rejects(fetch_pair, words):
    rejected(run(check_fetch_pair(fetch_pair)), *words)


@pytest.mark.load
def test_fetch_pair_solution_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_fetch_pair(fetch_pair_ok))
        assert result.passed, result.message


# -- check_legacy_bridge ----------------------------------------------------------------------
def test_legacy_report_works_outside_a_loop():
    assert legacy_report(3).startswith("3 squares [0, 1, 4] computed in ")


async def bridge_ok(n):
    return await asyncio.to_thread(legacy_report, n)


def test_bridge_accepts_solution():
    result = run(check_legacy_bridge(bridge_ok))
    assert result.passed, result.message


def test_bridge_accepts_run_in_executor():
    async def report_from_notebook(n):
        return await asyncio.get_running_loop().run_in_executor(None, legacy_report, n)

    result = run(check_legacy_bridge(report_from_notebook))
    assert result.passed, result.message


async def bridge_direct_call(n):  # noqa: RUF029
    return legacy_report(n)


async def bridge_blocking_wait(n):  # noqa: RUF029
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(legacy_report, n).result()  # waits on the loop's thread


async def bridge_forgot_await(n):  # noqa: RUF029
    return asyncio.to_thread(legacy_report, n)


async def bridge_hard_coded_n(n):
    return await asyncio.to_thread(legacy_report, 4)


async def bridge_runs_the_wrong_thing(n):
    return await asyncio.to_thread(asyncio.run, asyncio.sleep(0.01, result=f"{n} squares"))


@pytest.mark.parametrize(("bridge", "words"), [
    (bridge_direct_call, ["RuntimeError", "already running", "section 8"]),
    (bridge_blocking_wait, ["heartbeat", "blocked", "section 10"]),
    (bridge_forgot_await, ["coroutine object", "never awaited"]),
    (bridge_hard_coded_n, ["report_from_notebook(6) returned '4 squares", "several sizes"]),
    (bridge_runs_the_wrong_thing, ["expected the text that legacy_report(6) returns"]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_bridge_rejects(bridge, words):
    rejected(run(check_legacy_bridge(bridge)), *words)


def test_bridge_refuses_a_patched_asyncio(monkeypatch):
    monkeypatch.setattr(asyncio, "_nest_patched", True, raising=False)
    rejected(run(check_legacy_bridge(bridge_ok)), "patched by nest_asyncio",
                    "Restart the kernel")


def test_bridge_names_a_blocking_network_call():
    async def report_from_notebook(n):
        urllib.request.urlopen("http://127.0.0.1:9/")  # noqa: ASYNC210, S310 (under test)
        return await asyncio.to_thread(legacy_report, n)

    rejected(run(check_legacy_bridge(report_from_notebook)), "blocking network call")


@pytest.mark.load
def test_bridge_solution_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_legacy_bridge(bridge_ok))
        assert result.passed, result.message
