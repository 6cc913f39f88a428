"""The checks of notebook 18 (The async ecosystem) reject the wrong answers learners write
and accept the reference answers, also on a busy machine.

TODO: the scaffold's example catalogue; keep at least three realistic wrong answers per check.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request

import aiohttp
import pytest
from conftest import LOAD_RUNS

from asynclab.checks.ecosystem import check_ecosystem_fetch_all, check_ecosystem_pause


async def _name(session, base_url, user_id):
    async with session.get(f"{base_url}/users/{user_id}") as response:
        response.raise_for_status()
        return (await response.json())["name"]


async def fetch_all(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(_name(session, base_url, i) for i in ids))


async def sequential(base_url, ids):
    async with aiohttp.ClientSession() as session:
        return [await _name(session, base_url, i) for i in ids]


async def in_pairs(base_url, ids):
    async with aiohttp.ClientSession() as session:
        names = []
        for k in range(0, len(ids), 2):
            names += await asyncio.gather(*(_name(session, base_url, i) for i in ids[k:k + 2]))
        return names


async def blocking(base_url, ids):
    def get(i):
        with urllib.request.urlopen(f"{base_url}/users/{i}") as response:
            return __import__("json").load(response)["name"]
    return [get(i) for i in ids]


@pytest.mark.parametrize("wrong, observed", [
    (sequential, "at most 1 of"),
    (in_pairs, "at most 2 of"),
    (blocking, "blocking network call"),
])
def test_fetch_all_rejects(wrong, observed):
    result = asyncio.run(check_ecosystem_fetch_all(wrong))
    assert not result.passed and observed in result.message, result.message
    assert "gather" not in result.message  # the ❌ never hands out the solution


async def pause(seconds):
    await asyncio.sleep(seconds)
    return seconds


async def pause_blocking(seconds):
    time.sleep(seconds)  # noqa: ASYNC251 (the mistake under test)
    return seconds


async def pause_ignoring_argument(seconds):
    await asyncio.sleep(0.05)
    return seconds


async def pause_not_awaited(seconds):
    asyncio.sleep(seconds)  # noqa: RUF006 (the mistake under test)
    return seconds


@pytest.mark.filterwarnings("ignore:coroutine 'sleep' was never awaited")
@pytest.mark.parametrize("wrong, observed", [
    (pause_blocking, "time.sleep()"),
    (pause_ignoring_argument, "did not wait"),
    (pause_not_awaited, "did not wait"),
])
def test_pause_rejects(wrong, observed):
    result = asyncio.run(check_ecosystem_pause(wrong))
    assert not result.passed and observed in result.message, result.message
    assert "asyncio.sleep" not in result.message


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_ecosystem_fetch_all, fetch_all),
                                           (check_ecosystem_pause, pause)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = asyncio.run(check(answer))
        assert result.passed, result.message
