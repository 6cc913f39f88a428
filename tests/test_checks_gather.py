"""The checks of notebook 04 (gather) reject a catalogue of realistic wrong answers, each with
a sentence that says what was observed and no solution code, and accept the reference
answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import time
import urllib.request
from asyncio import run

import aiohttp
import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks import check_fetch_all_safe, check_fetch_users, check_process_as_completed

gather_checks = importlib.import_module("asynclab.checks.gather")

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("gather(*", "asyncio.gather(", "return_exceptions=True", "as_completed(",
                 "create_task(", "TaskGroup()", "await asyncio", "async with", "except*")



rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


async def fetch_user(session, base_url, user_id):
    async with session.get(f"{base_url}/users/{user_id}") as response:
        response.raise_for_status()
        return await response.json()


# -- exercise 1: from a loop to a gather ---------------------------------------------------------
async def users_gather(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(fetch_user(session, base_url, i) for i in ids))


async def users_taskgroup(base_url, ids):
    async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(fetch_user(session, base_url, i)) for i in ids]
    return [t.result() for t in tasks]


async def users_sequential(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return [await fetch_user(session, base_url, i) for i in ids]


async def users_first_two_together(base_url, ids):
    async with aiohttp.ClientSession() as session:
        users = list(await asyncio.gather(*(fetch_user(session, base_url, i) for i in ids[:2])))
        for i in ids[2:]:
            users.append(await fetch_user(session, base_url, i))
        return users


async def users_in_pairs(base_url, ids):
    async with aiohttp.ClientSession() as session:
        users = []
        for k in range(0, len(ids), 2):
            users += await asyncio.gather(*(fetch_user(session, base_url, i)
                                            for i in ids[k:k + 2]))
        return users


async def users_forgot_await(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return asyncio.gather(*(fetch_user(session, base_url, i) for i in ids))


async def users_urllib(base_url, ids):
    def get(i):
        with urllib.request.urlopen(f"{base_url}/users/{i}") as response:
            return json.load(response)

    return [get(i) for i in ids]


async def users_sleepy(base_url, ids):
    async def one(session, i):
        time.sleep(0.01)  # noqa: ASYNC251  (the wrong answer: "to be polite to the server")
        return await fetch_user(session, base_url, i)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, i) for i in ids))


async def users_completion_order(base_url, ids):
    results = []

    async def one(session, i):
        results.append(await fetch_user(session, base_url, i))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, i) for i in reversed(ids)))
    return results


async def users_hard_coded(base_url, ids):
    return await users_gather(base_url, [4, 1, 7, 2, 9, 5])  # the ids of the first call


async def users_tuple(base_url, ids):
    return tuple(await users_gather(base_url, ids))


def test_fetch_users_accepts_gather_and_taskgroup():
    for answer in (users_gather, users_taskgroup):
        result = run(check_fetch_users(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (users_sequential, ["one after another", "[4, 1, 7, 2, 9, 5]", "section"]),
    (users_first_two_together, ["at most 2 of 6 requests were in flight at once"]),
    (users_in_pairs, ["at most 2 of 6 requests were in flight at once"]),
    (users_forgot_await, ["_GatheringFuture", "missing `await`"]),
    (users_urllib, ["blocking network call", "notebook 03"]),
    (users_sleepy, ["time.sleep()", "event loop's thread"]),
    (users_completion_order, ["order", "section 3"]),
    (users_hard_coded, ["fetch_users(url, [13, 3, 18]) returned the users with ids "
                        "[4, 1, 7, 2, 9, 5]"]),
    (users_tuple, ["returned a tuple"]),
])
def test_fetch_users_rejects(answer, words):
    rejected(run(check_fetch_users(answer)), *words)


@pytest.mark.load
def test_fetch_users_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_fetch_users(users_gather))
        assert result.passed, result.message


# -- exercise 2: every outcome in the list -------------------------------------------------------
async def safe_gather(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(fetch_user(session, base_url, i) for i in ids),
                                    return_exceptions=True)


async def safe_wrapped(base_url, ids):
    """A correct answer without return_exceptions: each request returns its own error."""
    async def one(session, i):
        try:
            return await fetch_user(session, base_url, i)
        except aiohttp.ClientError as exc:
            return exc

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, i) for i in ids))


async def safe_none(base_url, ids):
    async def one(session, i):
        try:
            return await fetch_user(session, base_url, i)
        except aiohttp.ClientError:
            return None

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, i) for i in ids))


async def safe_message(base_url, ids):
    results = await safe_gather(base_url, ids)
    return [str(r) if isinstance(r, BaseException) else r for r in results]


async def safe_dropped(base_url, ids):
    results = await safe_gather(base_url, ids)
    return [r for r in results if not isinstance(r, BaseException)]


async def safe_sequential(base_url, ids):
    async with aiohttp.ClientSession() as session:
        results = []
        for i in ids:
            try:
                results.append(await fetch_user(session, base_url, i))
            except aiohttp.ClientError as exc:
                results.append(exc)
        return results


async def safe_errors_last(base_url, ids):
    results = await safe_gather(base_url, ids)
    return ([r for r in results if not isinstance(r, BaseException)]
            + [r for r in results if isinstance(r, BaseException)])


def test_fetch_all_safe_accepts_solutions():
    for answer in (safe_gather, safe_wrapped):
        result = run(check_fetch_all_safe(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (users_gather, ["ClientResponseError", "Users 2, 5 fail", "escaped from fetch_all_safe",
                    "Section 6"]),
    (safe_none, ["User 2 fails", "None", "instead of the exception object"]),
    (safe_message, ["User 2 fails", "instead of the exception object"]),
    (safe_dropped, ["returned 3 items", "one item per id"]),
    (safe_sequential, ["one after another", "The list is right"]),
    (safe_errors_last, ["the place of user 2", "holds the dict of user 7", "order of ids"]),
    (users_forgot_await, ["missing `await`"]),
])
def test_fetch_all_safe_rejects(answer, words):
    rejected(run(check_fetch_all_safe(answer)), *words)


def test_fetch_all_safe_never_suggests_gather_to_a_loop():
    """A ❌ must not describe gather to someone who did not use it."""
    async def loop_without_catching(base_url, ids):
        async with aiohttp.ClientSession() as session:
            return [await fetch_user(session, base_url, i) for i in ids]

    result = run(check_fetch_all_safe(loop_without_catching))
    rejected(result, "escaped")
    assert "gather" not in result.message


@pytest.mark.load
def test_fetch_all_safe_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_fetch_all_safe(safe_gather))
        assert result.passed, result.message


# -- exercise 3: as_completed --------------------------------------------------------------------
async def with_as_completed(aws, on_result):
    for next_done in asyncio.as_completed(aws):
        on_result(await next_done)


async def with_wait(aws, on_result):
    pending = {asyncio.ensure_future(aw) for aw in aws}
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in sorted(done, key=lambda t: t.result()):
            on_result(task.result())


async def with_gather(aws, on_result):
    for result in await asyncio.gather(*aws):
        on_result(result)


async def one_by_one(aws, on_result):
    for aw in aws:
        on_result(await aw)


async def tasks_awaited_in_turn(aws, on_result):
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    for task in tasks:
        on_result(await task)


async def report_at_the_end(aws, on_result):
    order = [await next_done for next_done in asyncio.as_completed(aws)]
    for result in order:  # right order, but only after everything finished
        on_result(result)


async def reports_in_pairs(aws, on_result):
    held = []
    for next_done in asyncio.as_completed(aws):
        held.append(await next_done)
        if len(held) == 2:  # right order, each result a step late (0.08-0.1 s here)
            for result in held:
                on_result(result)
            held.clear()
    for result in held:
        on_result(result)


async def forgot_await(aws, on_result):
    for next_done in asyncio.as_completed(aws):
        on_result(next_done)


async def blocking_poll(aws, on_result):
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    while tasks:
        time.sleep(0.01)  # noqa: ASYNC251  (the wrong answer)
        await asyncio.sleep(0)
        for task in [t for t in tasks if t.done()]:
            tasks.remove(task)
            on_result(task.result())


def test_as_completed_accepts_solutions():
    for answer in (with_as_completed, with_wait):
        result = run(check_process_as_completed(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (with_gather, ["the order you passed them (ABCDE)", "(DBEAC)", "section 7"]),
    (one_by_one, ["at most 1 of 5"]),
    (tasks_awaited_in_turn, ["the order you passed them (ABCDE)"]),
    (report_at_the_end, ["The order is right", "waited"]),
    (reports_in_pairs, ["The order is right", "waited"]),
    (forgot_await, ["instead of a job's result"]),
    (blocking_poll, ["time.sleep()"]),
])
def test_as_completed_rejects(answer, words):
    rejected(run(check_process_as_completed(answer)), *words)


@pytest.mark.parametrize("answer", [report_at_the_end, reports_in_pairs])
def test_as_completed_rejects_results_held_back_however_late_the_machine(monkeypatch, answer):
    """A loaded machine squeezes the jobs' finish times together; results held back (to the
    end, or in pairs) are caught without any bound on lateness."""
    monkeypatch.setattr(gather_checks, "_LATE", 10.0)
    rejected(run(check_process_as_completed(answer)), "The order is right", "waited")
    result = run(check_process_as_completed(with_as_completed))
    assert result.passed, result.message


def test_as_completed_gather_message_does_not_speak_of_gather():
    """Whoever awaited tasks in turn did not use gather: the ❌ does not say it did."""
    assert "gather" not in run(check_process_as_completed(tasks_awaited_in_turn)).message


def test_as_completed_rejects_stub_without_warnings(recwarn):
    async def stub(aws, on_result):
        ...

    rejected(run(check_process_as_completed(stub)), "called 0 times")
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


@pytest.mark.load
def test_as_completed_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_process_as_completed(with_as_completed))
        assert result.passed, result.message
