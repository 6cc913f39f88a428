"""The checks of notebook 01 reject the wrong answers learners really write, say what they
observed without giving the solution's code, and accept the solution, also under CPU load."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import urllib.request
from asyncio import run

import aiohttp
import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks import ID_LISTS, JOBS, check_fetch_names, check_io_or_cpu

#: Code of the solutions that a ❌ must never contain.
SOLUTION_CODE = ("gather(", "asyncio.gather", "create_task", "TaskGroup", "session.get",
                 "fetch_name(", "for i in ids")



rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# --- fetch_names --------------------------------------------------------------------------

async def _name(session, base_url, user_id):
    async with session.get(f"{base_url}/users/{user_id}") as response:
        return (await response.json())["name"]


async def names_solution(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(_name(session, base_url, i) for i in ids)))


async def names_tasks(base_url, ids):
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(_name(session, base_url, i)) for i in ids]
        return [await task for task in tasks]


async def names_sequential(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return [await _name(session, base_url, i) for i in ids]


async def names_two_then_rest(base_url, ids):
    async with aiohttp.ClientSession() as session:
        first = await asyncio.gather(_name(session, base_url, ids[0]),
                                     _name(session, base_url, ids[1]))
        return list(first) + [await _name(session, base_url, i) for i in ids[2:]]


async def names_in_pairs(base_url, ids):
    async with aiohttp.ClientSession() as session:
        names = []
        for i in range(0, len(ids), 2):
            names += await asyncio.gather(*(_name(session, base_url, u) for u in ids[i:i + 2]))
        return names


async def names_as_completed(base_url, ids):
    async with aiohttp.ClientSession() as session:
        coros = [_name(session, base_url, i) for i in ids]
        return [await c for c in asyncio.as_completed(coros)]


async def names_sorted(base_url, ids):
    return sorted(await names_solution(base_url, ids))


async def names_by_position(base_url, ids):
    """Fetches users 1..n: the position in the list, not the id."""
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(_name(session, base_url, pos + 1)
                                           for pos, _ in enumerate(ids))))


async def names_hard_coded_ids(base_url, ids):
    """Fetches the notebook's USER_IDS whatever it is given."""
    return await names_solution(base_url, [1, 2, 3, 4, 5])


async def names_urllib(base_url, ids):
    names = []
    for user_id in ids:
        with urllib.request.urlopen(f"{base_url}/users/{user_id}") as response:  # noqa: ASYNC210
            names.append(json.load(response)["name"])
    return names


async def names_sleep_between(base_url, ids):
    async with aiohttp.ClientSession() as session:
        coros = []
        for i in ids:
            time.sleep(0.01)  # noqa: ASYNC251 (the mistake under test)
            coros.append(_name(session, base_url, i))
        return list(await asyncio.gather(*coros))


async def names_forgot_await(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return asyncio.gather(*(_name(session, base_url, i) for i in ids))


async def names_semaphore_3(base_url, ids):
    limit = asyncio.Semaphore(3)

    async def one(session, i):
        async with limit:
            return await _name(session, base_url, i)

    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(one(session, i) for i in ids)))


async def names_twice(base_url, ids):
    first = await names_solution(base_url, ids)
    await names_solution(base_url, ids)
    return first


async def names_json_not_awaited(base_url, ids):
    async with aiohttp.ClientSession() as session:
        async def one(user_id):
            async with session.get(f"{base_url}/users/{user_id}") as response:
                user = response.json()
            return user["name"]

        return list(await asyncio.gather(*(one(i) for i in ids)))


async def names_swallows(base_url, ids):
    async with aiohttp.ClientSession() as session:
        async def one(user_id):
            try:
                async with session.get(f"{base_url}/users/{user_id}") as response:
                    return (await response.json())["username"]
            except Exception:
                return None

        return list(await asyncio.gather(*(one(i) for i in ids)))


def names_sync(base_url, ids):
    return []


FETCH_CATALOGUE = [
    (names_sequential, ["one after another", "never saw two at once", "section 4"]),
    (names_two_then_rest, ["at most 2 of the 6 were in flight at the server"]),
    (names_in_pairs, ["at most 2 of the 6 were in flight"]),
    (names_semaphore_3, ["at most 3 of the 6 were in flight"]),
    (names_as_completed, ["right but in another order"]),
    (names_sorted, ["right but in another order"]),
    (names_by_position, ["the names of users [1, 2, 3, 4, 5, 6]", "fetched by id"]),
    (names_hard_coded_ids, ["the names of users [1, 2, 3, 4, 5]"]),
    (names_urllib, ["blocking network calls (socket connect", "event loop's thread", "section 2"]),
    (names_sleep_between, ["time.sleep()", "event loop's thread"]),
    (names_forgot_await, ["_GatheringFuture objects instead of values"]),
    (names_twice, ["received 12 requests for 6 ids"]),
    (names_json_not_awaited, ["raised TypeError", "never awaited: ClientResponse.json"]),
    (names_swallows, ["returned [None, None, None, None, None, None]"]),
    (names_sync, ["must be a coroutine function"]),
]


@pytest.mark.parametrize(("answer", "observed"), FETCH_CATALOGUE,
                         ids=[a.__name__ for a, _ in FETCH_CATALOGUE])
def test_fetch_names_rejects(answer, observed):
    rejected(run(check_fetch_names(answer)), *observed)


@pytest.mark.parametrize("answer", [names_solution, names_tasks])
def test_fetch_names_accepts_correct_answers(answer):
    start = time.perf_counter()
    result = run(check_fetch_names(answer))
    assert result.passed, result
    assert time.perf_counter() - start < 2.0


def test_fetch_names_ids_are_not_positions():
    for ids in ID_LISTS:
        assert all(user_id != pos + 1 for pos, user_id in enumerate(ids))
    assert len({len(ids) for ids in ID_LISTS}) == len(ID_LISTS)


# --- io_or_cpu ------------------------------------------------------------------------------

RIGHT = {job: kind for job, (kind, _) in JOBS.items()}
CPU_JOBS = [job for job, kind in RIGHT.items() if kind == "cpu"]

IO_CPU_CATALOGUE = [
    ("all io", dict.fromkeys(JOBS, "io"), ["3 of 5 answers are right", CPU_JOBS[0],
                                           "you said 'io'", "infinitely fast", "Section 2"]),
    ("all cpu", dict.fromkeys(JOBS, "cpu"), ["2 of 5 answers are right", "you said 'cpu'"]),
    ("swapped", {job: {"io": "cpu", "cpu": "io"}[kind] for job, kind in RIGHT.items()},
     ["0 of 5 answers are right"]),
    ("one wrong", {**RIGHT, CPU_JOBS[1]: "io"}, ["4 of 5 answers are right", CPU_JOBS[1]]),
    ("empty", {}, ["No answer for"]),
    ("typo in a job", {**{j: k for j, k in RIGHT.items() if j != CPU_JOBS[0]},
                       CPU_JOBS[0].replace("1 GB", "1GB"): "cpu"},
     ["No answer for", "is not one of them"]),
    ("not io or cpu", dict.fromkeys(JOBS, "fast"), ["'io' or 'cpu'", "not 'fast'"]),
    ("a list", list(RIGHT.items()), ["Pass a dict", "not a list"]),
]


@pytest.mark.parametrize(("label", "answers", "observed"), IO_CPU_CATALOGUE,
                         ids=[label for label, _, _ in IO_CPU_CATALOGUE])
def test_io_or_cpu_rejects(label, answers, observed):
    result = run(check_io_or_cpu(answers))
    rejected(result, *observed)
    # a wrong answer is named, never the reason that gives the right one away
    for _, (_, why) in JOBS.items():
        assert why not in result.message


def test_io_or_cpu_accepts_right_answers_in_any_spelling():
    assert run(check_io_or_cpu(RIGHT)).passed
    spelled = {job: {"io": " I/O-bound", "cpu": "CPU"}[kind] for job, kind in RIGHT.items()}
    result = run(check_io_or_cpu(spelled))
    assert result.passed, result
    assert "notebook 14" in result.message and "notebook 15" in result.message


@pytest.mark.load
def test_solutions_pass_under_load(under_load):
    for _ in range(LOAD_RUNS):
        names = run(check_fetch_names(names_solution))
        quiz = run(check_io_or_cpu(RIGHT))
        assert names.passed and quiz.passed, (names, quiz)
