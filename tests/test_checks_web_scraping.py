"""The checks of notebook 09 (Web scraping with aiohttp) reject the wrong answers learners write
and accept the reference answers, also on a busy machine."""

from __future__ import annotations

import asyncio
import functools
import re
import urllib.request

import aiohttp
import pytest
from bs4 import BeautifulSoup
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.web_scraping import check_fetch_titles, check_titles_or_errors

SOLUTION_CODE = ["gather", "BeautifulSoup", "ClientTimeout", "return_exceptions", ".title.string",
                 "html.parser", "raise_for_status"]
rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


async def fetch(session, url):
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.text()


def title(html):
    return BeautifulSoup(html, "html.parser").title.string


# -- exercise 1: fetch_titles ---------------------------------------------------------------
async def fetch_titles(base_url, paths):
    async def title_of(session, path):
        return path, title(await fetch(session, base_url + path))

    async with aiohttp.ClientSession() as session:
        return dict(await asyncio.gather(*(title_of(session, p) for p in paths)))


async def titles_one_by_one(base_url, paths):
    async with aiohttp.ClientSession() as session:
        return {p: title(await fetch(session, base_url + p)) for p in paths}


async def titles_in_pairs(base_url, paths):
    async def title_of(session, path):
        return path, title(await fetch(session, base_url + path))

    found = {}
    async with aiohttp.ClientSession() as session:
        for k in range(0, len(paths), 2):
            found.update(await asyncio.gather(*(title_of(session, p) for p in paths[k:k + 2])))
    return found


async def titles_sliced(base_url, paths):  # the notebook's starting point, made concurrent
    async def title_of(session, path):
        html = await fetch(session, base_url + path)
        return path, html.split("<title>")[1].split("</title>")[0]

    async with aiohttp.ClientSession() as session:
        return dict(await asyncio.gather(*(title_of(session, p) for p in paths)))


async def titles_by_regex_on_h1(base_url, paths):
    async def title_of(session, path):
        soup = BeautifulSoup(await fetch(session, base_url + path), "html.parser")
        return path, soup.h1.string

    async with aiohttp.ClientSession() as session:
        return dict(await asyncio.gather(*(title_of(session, p) for p in paths)))


async def titles_as_completed(base_url, paths):  # zips arrival order with the paths
    async with aiohttp.ClientSession() as session:
        aws = [fetch(session, base_url + p) for p in paths]
        titles = [title(await next_done) for next_done in asyncio.as_completed(aws)]
    return dict(zip(paths, titles, strict=True))


async def titles_as_list(base_url, paths):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(fetch(session, base_url + p) for p in paths))


async def titles_with_urllib(base_url, paths):
    def get(path):
        with urllib.request.urlopen(base_url + path) as response:
            return path, title(response.read().decode())
    return dict(get(p) for p in paths)


@pytest.mark.parametrize("wrong, observed", [
    (titles_one_by_one, ["at most 1 of the 3 requests"]),
    (titles_in_pairs, ["at most 2 of the 3 requests"]),
    (titles_sliced, ["'Retries &amp; backoff | Async Notes'", "entity", "section 3"]),
    (titles_by_regex_on_h1, ["'Retries & backoff'", "<h1> heading"]),
    (titles_as_completed, ["paired with the wrong pages"]),
    (titles_as_list, ["returned a list", "expected a dict"]),
    (titles_with_urllib, ["on the event loop's thread"]),
])
def test_fetch_titles_rejects(wrong, observed):
    rejected(asyncio.run(check_fetch_titles(wrong)), *observed)


def test_fetch_titles_accepts_the_solution():
    result = asyncio.run(check_fetch_titles(fetch_titles))
    assert result.passed, result.message


# -- exercise 2: titles_or_errors -----------------------------------------------------------
async def titles_or_errors(base_url, paths, seconds):
    async def outcome(session, path):
        try:
            html = await fetch(session, base_url + path)
        except aiohttp.ClientResponseError as exc:
            return f"HTTP {exc.status}"
        except TimeoutError:
            return "timeout"
        return title(html)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session:
        outcomes = await asyncio.gather(*(outcome(session, p) for p in paths))
    return dict(zip(paths, outcomes, strict=True))


def _describe(outcome):
    if isinstance(outcome, aiohttp.ClientResponseError):
        return f"HTTP {outcome.status}"
    if isinstance(outcome, TimeoutError):
        return "timeout"
    return title(outcome)


async def outcomes_returned_exceptions(base_url, paths, seconds):  # the other solution
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session:
        outcomes = await asyncio.gather(*(fetch(session, base_url + p) for p in paths),
                                        return_exceptions=True)
    return {p: _describe(o) for p, o in zip(paths, outcomes, strict=True)}


async def outcomes_raising(base_url, paths, seconds):  # the notebook's starting point
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session:
        pages = await asyncio.gather(*(fetch(session, base_url + p) for p in paths))
    return {p: title(page) for p, page in zip(paths, pages, strict=True)}


async def outcomes_without_timeout(base_url, paths, seconds):
    async with aiohttp.ClientSession() as session:
        outcomes = await asyncio.gather(*(fetch(session, base_url + p) for p in paths),
                                        return_exceptions=True)
    return {p: _describe(o) for p, o in zip(paths, outcomes, strict=True)}


async def outcomes_hard_coded_timeout(base_url, paths, seconds):
    return await outcomes_returned_exceptions(base_url, paths, 0.5)


async def outcomes_swallowing_errors(base_url, paths, seconds):
    async def outcome(session, path):
        try:
            return title(await fetch(session, base_url + path))
        except aiohttp.ClientError:
            return None
        except TimeoutError:
            return "timeout"

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session:
        return dict(zip(paths, await asyncio.gather(*(outcome(session, p) for p in paths)),
                        strict=True))


async def outcomes_as_exceptions(base_url, paths, seconds):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session:
        outcomes = await asyncio.gather(*(fetch(session, base_url + p) for p in paths),
                                        return_exceptions=True)
    return {p: o if isinstance(o, Exception) else title(o)
            for p, o in zip(paths, outcomes, strict=True)}


async def outcomes_one_timeout_for_all(base_url, paths, seconds):
    async with asyncio.timeout(seconds), aiohttp.ClientSession() as session:
        outcomes = await asyncio.gather(*(fetch(session, base_url + p) for p in paths),
                                        return_exceptions=True)
    return {p: _describe(o) for p, o in zip(paths, outcomes, strict=True)}


async def outcomes_without_status_check(base_url, paths, seconds):
    async def outcome(session, path):
        try:
            async with session.get(base_url + path) as response:
                return title(await response.text())
        except TimeoutError:
            return "timeout"

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session:
        return dict(zip(paths, await asyncio.gather(*(outcome(session, p) for p in paths)),
                        strict=True))


async def outcomes_with_bare_status(base_url, paths, seconds):
    found = await outcomes_returned_exceptions(base_url, paths, seconds)
    return {p: re.sub(r"^HTTP ", "", o) for p, o in found.items()}


@pytest.mark.parametrize("wrong, observed", [
    (outcomes_raising, ["raised ClientResponseError (HTTP 500)", "whole call fail"]),
    (outcomes_without_timeout, ["still running after 1.6 s", "takes 2 s"]),
    (outcomes_hard_coded_timeout, ["came back with its title", "seconds=0.3"]),
    (outcomes_swallowing_errors, ["is None", "answered HTTP 500"]),
    (outcomes_as_exceptions, ["the exception ClientResponseError", "'HTTP 500'"]),
    (outcomes_one_timeout_for_all, ["raised TimeoutError", "that page's request only"]),
    (outcomes_without_status_check, ["'500 Internal Server Error'", "error page",
                                     "status was not checked"]),
    (outcomes_with_bare_status, ["is '500'", "expected 'HTTP 500'"]),
])
def test_titles_or_errors_rejects(wrong, observed):
    rejected(asyncio.run(check_titles_or_errors(wrong)), *observed)


@pytest.mark.parametrize("answer", [titles_or_errors, outcomes_returned_exceptions])
def test_titles_or_errors_accepts_the_solutions(answer):
    result = asyncio.run(check_titles_or_errors(answer))
    assert result.passed, result.message


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_fetch_titles, fetch_titles),
                                           (check_titles_or_errors, titles_or_errors)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = asyncio.run(check(answer))
        assert result.passed, result.message
