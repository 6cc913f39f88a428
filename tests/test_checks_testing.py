"""The checks of notebook 17 (Testing async code) reject a catalogue of realistic wrong answers,
each with a sentence that says what was observed and no solution code, and accept the
reference answers, also repeatedly under a bursty CPU load.

The learner's answers here are tests (and a test helper): a wrong answer is a test that
fails against the correct code, or one that lets a broken version through."""

from __future__ import annotations

import asyncio
import functools
from asyncio import run
from unittest.mock import AsyncMock, MagicMock, Mock

import aiohttp
import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.testing import check_no_leaked_tasks, check_user_tests, check_welcome_test
from asynclab.servers import user_record

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("assert_awaited_once_with(", "side_effect =", "AsyncMock(", "all_tasks() -",
                 "max_in_flight ==", "stats.reset()", "except aiohttp", "gather(",
                 ".cancel()", "create_autospec(", "user_record(",
                 "assert await")  # a test's failing line is located, never quoted

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- exercise 1: tests against the demo server --------------------------------------------------
async def users_solution(fetch_user_name, fetch_names, api):
    async with aiohttp.ClientSession() as session:
        assert await fetch_user_name(session, api.url, 3) == user_record(3)["name"]
        try:
            await fetch_user_name(session, api.url, 99)
        except aiohttp.ClientResponseError as exc:
            assert exc.status == 404
        else:
            raise AssertionError("no error for user 99")
        ids = [5, 2, 9]
        api.stats.reset()
        names = await fetch_names(session, api.url, ids)
        assert names == [user_record(i)["name"] for i in ids]
        assert api.stats.max_in_flight == len(ids)


async def users_stub(fetch_user_name, fetch_names, api):
    """The notebook's stub: user 1 only."""
    async with aiohttp.ClientSession() as session:
        assert await fetch_user_name(session, api.url, 1) == "Ada Lovelace"


async def users_no_404(fetch_user_name, fetch_names, api):
    async with aiohttp.ClientSession() as session:
        assert await fetch_user_name(session, api.url, 3) == user_record(3)["name"]
        ids = [5, 2, 9]
        api.stats.reset()
        assert await fetch_names(session, api.url, ids) == [user_record(i)["name"] for i in ids]
        assert api.stats.max_in_flight == len(ids)


async def users_sorted_ids(fetch_user_name, fetch_names, api):
    """Position is identity here: ids in order let the sorting version through."""
    async with aiohttp.ClientSession() as session:
        assert await fetch_user_name(session, api.url, 3) == user_record(3)["name"]
        try:
            await fetch_user_name(session, api.url, 99)
        except aiohttp.ClientResponseError as exc:
            assert exc.status == 404
        else:
            raise AssertionError("no error")
        api.stats.reset()
        assert await fetch_names(session, api.url, [2, 5, 9]) == [
            user_record(i)["name"] for i in (2, 5, 9)]
        assert api.stats.max_in_flight == 3


async def users_more_than_one(fetch_user_name, fetch_names, api):
    """Partial concurrency passes `> 1`."""
    async with aiohttp.ClientSession() as session:
        assert await fetch_user_name(session, api.url, 3) == user_record(3)["name"]
        try:
            await fetch_user_name(session, api.url, 99)
        except aiohttp.ClientResponseError:
            pass
        else:
            raise AssertionError("no error")
        api.stats.reset()
        ids = [5, 2, 9]
        assert await fetch_names(session, api.url, ids) == [user_record(i)["name"] for i in ids]
        assert api.stats.max_in_flight > 1


async def users_tight_timing(fetch_user_name, fetch_names, api):
    """A wall-clock bound on the correct code: fails against it (0.15 s is the latency)."""
    async with aiohttp.ClientSession() as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await fetch_names(session, api.url, [5, 2, 9])
        assert loop.time() - start < 0.05, "too slow"


async def users_not_awaited(fetch_user_name, fetch_names, api):
    async with aiohttp.ClientSession() as session:
        name = fetch_user_name(session, api.url, 3)  # forgot await
        assert name is not None


async def users_wrong_expectation(fetch_user_name, fetch_names, api):
    async with aiohttp.ClientSession() as session:
        assert await fetch_user_name(session, api.url, 4) == "Guido Van Rossum"


async def users_nothing(fetch_user_name, fetch_names, api):
    pass


def users_sync(fetch_user_name, fetch_names, api):
    return None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("wrong, words", [
    (users_stub, ("failed 1 of 7", "user 1's name whatever the id", "5 other")),
    (users_no_404, ("returns None for a user that does not exist",)),
    (users_sorted_ids, ("sorted by id",)),
    (users_more_than_one, ("two at a time",)),
    (users_tight_timing, ("failed against the correct", "too slow", "< 0.05")),
    (users_not_awaited, ("without awaiting it", "never ran")),
    (users_wrong_expectation, ("failed against the correct", "Guido Van Rossum",
                               "AssertionError")),
    (users_nothing, ("never awaited fetch_user_name or fetch_names",)),
    (users_sync, ("must be a coroutine function",)),
])
def test_user_tests_rejects(wrong, words):
    rejected(run(check_user_tests(wrong)), *words)


def test_user_tests_accepts_the_solution():
    result = run(check_user_tests(users_solution))
    assert result.passed, result.message


# -- exercise 2: a test with AsyncMock ------------------------------------------------------------
async def welcome_solution(welcome):
    client = AsyncMock()
    client.get_user.return_value = user_record(7)
    assert await welcome(client, 7) == "Margaret Hamilton"
    client.get_user.assert_awaited_once_with(7)
    client.send_email.assert_awaited_once_with("margaret@example.org",
                                               "Welcome, Margaret Hamilton!")
    client = AsyncMock()
    client.get_user.side_effect = LookupError(99)
    assert await welcome(client, 99) is None
    client.send_email.assert_not_awaited()


async def welcome_stub(welcome):
    """The notebook's stub: a plain Mock, whose return value cannot be awaited."""
    client = Mock()
    client.get_user.return_value = user_record(7)
    assert await welcome(client, 7) == "Margaret Hamilton"


async def welcome_magicmock(welcome):
    client = MagicMock()
    assert await welcome(client, 7)


async def welcome_called_not_awaited(welcome):
    client = AsyncMock()
    client.get_user.return_value = user_record(7)
    assert await welcome(client, 7) == "Margaret Hamilton"
    client.get_user.assert_called_once_with(7)
    client.send_email.assert_called_once_with("margaret@example.org",
                                              "Welcome, Margaret Hamilton!")
    client = AsyncMock()
    client.get_user.side_effect = LookupError(99)
    assert await welcome(client, 99) is None


async def welcome_no_arguments(welcome):
    client = AsyncMock()
    client.get_user.return_value = user_record(7)
    assert await welcome(client, 7) == "Margaret Hamilton"
    client.send_email.assert_awaited()
    client.get_user.assert_awaited_once_with(7)


async def welcome_happy_path_only(welcome):
    client = AsyncMock()
    client.get_user.return_value = user_record(7)
    assert await welcome(client, 7) == "Margaret Hamilton"
    client.get_user.assert_awaited_once_with(7)
    client.send_email.assert_awaited_once_with("margaret@example.org",
                                               "Welcome, Margaret Hamilton!")


async def welcome_user_1(welcome):
    """Asks for user 1 and returns user 1: the hard-coded id goes through."""
    client = AsyncMock()
    client.get_user.return_value = user_record(1)
    assert await welcome(client, 1) == "Ada Lovelace"
    client.send_email.assert_awaited_once_with("ada@example.org", "Welcome, Ada Lovelace!")
    client = AsyncMock()
    client.get_user.side_effect = LookupError(99)
    assert await welcome(client, 99) is None


async def welcome_not_awaited(welcome):
    client = AsyncMock()
    client.get_user.return_value = user_record(7)
    assert welcome(client, 7) is not None  # forgot await


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("wrong, words", [
    (welcome_stub, ("failed against the correct welcome at line 5 of welcome_stub", "TypeError",
                    "cannot be awaited", "section 4")),
    (welcome_magicmock, ("TypeError", "MagicMock", "cannot be awaited")),
    (welcome_called_not_awaited, ("never awaits it", "called is not awaited")),
    (welcome_no_arguments, ("to the user's name instead of their address",)),
    (welcome_happy_path_only, ("lets the LookupError out",)),
    (welcome_user_1, ("user 1 whatever the id",)),
    (welcome_not_awaited, ("without awaiting it",)),
])
def test_welcome_test_rejects(wrong, words):
    rejected(run(check_welcome_test(wrong)), *words)


def test_welcome_test_accepts_the_solution():
    result = run(check_welcome_test(welcome_solution))
    assert result.passed, result.message


# -- exercise 3: a helper that catches leaked tasks -----------------------------------------------
async def no_leaks_solution(func, *args):
    before = asyncio.all_tasks()
    result = await func(*args)
    leaked = asyncio.all_tasks() - before
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    assert not leaked, f"tasks still running: {sorted(t.get_name() for t in leaked)}"
    return result


async def no_leaks_count(func, *args):
    """The notebook's stub: counts tasks, cleans nothing."""
    before = len(asyncio.all_tasks())
    result = await func(*args)
    assert len(asyncio.all_tasks()) == before, "a task was left running"
    return result


async def no_leaks_count_cleaning(func, *args):
    """Cleans up, but decides by the number of tasks: a task that ends while another leaks
    keeps the number the same."""
    before = asyncio.all_tasks()
    result = await func(*args)
    after = asyncio.all_tasks()
    if len(after) > len(before):
        leaked = after - before
        for task in leaked:
            task.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
        raise AssertionError(f"leaked: {[t.get_name() for t in leaked]}")
    return result


async def no_leaks_cancel_not_awaited(func, *args):
    before = asyncio.all_tasks()
    result = await func(*args)
    leaked = asyncio.all_tasks() - before
    for task in leaked:
        task.cancel()
    assert not leaked, f"tasks still running: {[t.get_name() for t in leaked]}"
    return result


async def no_leaks_after_only(func, *args):
    result = await func(*args)
    others = asyncio.all_tasks() - {asyncio.current_task()}
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    assert not others, f"tasks still running: {[t.get_name() for t in others]}"
    return result


async def no_leaks_silent(func, *args):
    before = asyncio.all_tasks()
    result = await func(*args)
    leaked = asyncio.all_tasks() - before
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    return result


async def no_leaks_no_result(func, *args):
    await no_leaks_solution(func, *args)


async def no_leaks_runtime_error(func, *args):
    before = asyncio.all_tasks()
    result = await func(*args)
    leaked = asyncio.all_tasks() - before
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    if leaked:
        raise RuntimeError(f"leaked: {[t.get_name() for t in leaked]}")
    return result


async def no_leaks_unnamed(func, *args):
    before = asyncio.all_tasks()
    result = await func(*args)
    leaked = asyncio.all_tasks() - before
    for task in leaked:
        task.cancel()
    await asyncio.gather(*leaked, return_exceptions=True)
    if leaked:  # (pytest would rewrite an `assert` here and add the set to the message)
        raise AssertionError("a task leaked")
    return result


async def no_leaks_forever(func, *args):
    before = asyncio.all_tasks()
    result = await func(*args)
    await asyncio.gather(*(asyncio.all_tasks() - before))  # waits for a task that never ends
    return result


@pytest.mark.parametrize("wrong, words", [
    (no_leaks_count, ("still running when it did",)),
    (no_leaks_count_cleaning, ("missed a leak", "number of tasks")),
    (no_leaks_cancel_not_awaited, ("still running when it did",)),
    (no_leaks_after_only, ("failed a function that leaves nothing running",)),
    (no_leaks_silent, ("returned normally for a function that left a task running",)),
    (no_leaks_no_result, ("returned None", "(14)")),
    (no_leaks_runtime_error, ("raised RuntimeError", "AssertionError")),
    (no_leaks_unnamed, ("should name the leaked task", "a task leaked")),
    (no_leaks_forever, ("did not return within",)),
])
def test_no_leaked_tasks_rejects(wrong, words):
    rejected(run(check_no_leaked_tasks(wrong)), *words)


def test_no_leaked_tasks_accepts_the_solution():
    result = run(check_no_leaked_tasks(no_leaks_solution))
    assert result.passed, result.message


# -- under load -----------------------------------------------------------------------------------
@pytest.mark.load
@pytest.mark.parametrize("check, answer", [
    (check_user_tests, users_solution),
    (check_welcome_test, welcome_solution),
    (check_no_leaked_tasks, no_leaks_solution),
])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = run(check(answer))
        assert result.passed, result.message
