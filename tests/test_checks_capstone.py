"""The checks of notebook 19 (Capstone) reject the wrong answers learners write
and accept the reference answers, also on a busy machine."""

from __future__ import annotations

import asyncio
import functools
import math
import random
import sys
from asyncio import sleep as sleep_by_name  # as a learner's `from asyncio import sleep`
from contextlib import nullcontext
from urllib.parse import urldefrag, urljoin, urlsplit

import aiohttp
import pytest
from aiolimiter import AsyncLimiter
from bs4 import BeautifulSoup
from checking import assert_rejected
from conftest import LOAD_RUNS
from tqdm import tqdm

from asynclab.checks.capstone import (
    check_crawl,
    check_crawl_cancel,
    check_per_bin,
    check_robust_fetch,
)

#: Code of the reference answers that a ❌ must never show.
SOLUTION_CODE = ["random.uniform", "ClientTimeout(", "TaskGroup()", "AsyncLimiter(",
                 "queue.join", "task_done", "raise_for_status"]
rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)
BAR = {"ascii": True, "mininterval": 60, "bar_format": "{l_bar}{bar:20}| {n_fmt}/{total_fmt}"}


def run(check, answer):
    return asyncio.run(check(answer))


# -- the reference answers (the notebook's solution cells) -----------------------------------
def parse_page(url, html):
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.string if soup.title else None
    host = urlsplit(url).netloc
    links = []
    for a in soup.find_all("a", href=True):
        link = urldefrag(urljoin(url, a["href"])).url
        if urlsplit(link).netloc == host and link not in links:
            links.append(link)
    return title, links


def tracked(timeline, lane, label):
    return timeline.track(lane, label) if timeline is not None else nullcontext()


async def fetch(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    limit = aiohttp.ClientTimeout(total=request_timeout)
    for k in range(attempts):
        try:
            async with session.get(url, timeout=limit) as response:
                response.raise_for_status()
                return await response.text()
        except (aiohttp.ClientResponseError, TimeoutError) as exc:
            server_error = isinstance(exc, TimeoutError) or exc.status >= 500
            if k == attempts - 1 or not server_error:
                raise
            cap = base_delay * 2**k
            await asyncio.sleep(random.uniform(cap / 2, cap))
    raise ValueError("attempts must be at least 1")


async def crawl(start_url, *, workers, rate, timeline=None):
    found, seen = {}, {start_url}
    queue = asyncio.Queue()
    queue.put_nowait(start_url)
    limiter = AsyncLimiter(rate, 1)

    async def worker(name, session, bar):
        while True:
            url = await queue.get()
            try:
                async with limiter, tracked(timeline, name, url):
                    html = await fetch(session, url)
                found[url], links = parse_page(url, html)
                for link in links:
                    if link not in seen:
                        seen.add(link)
                        queue.put_nowait(link)
            except (aiohttp.ClientError, TimeoutError) as exc:
                found[url] = exc
            finally:
                bar.total = len(seen)
                bar.update(1)
                queue.task_done()

    async with aiohttp.ClientSession() as session:
        with tqdm(total=1, **BAR) as bar:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(worker(f"worker {n}", session, bar))
                         for n in range(1, workers + 1)]
                await queue.join()
                for task in tasks:
                    task.cancel()
    return found


def _equal_jitter(k, base):
    return random.uniform(base * 2**k / 2, base * 2**k)


@pytest.mark.parametrize("check, answer", [(check_robust_fetch, fetch), (check_crawl, crawl),
                                           (check_crawl_cancel, crawl),
                                           (check_per_bin, lambda *a: per_bin(*a))])
def test_reference_answers_pass(check, answer):
    result = run(check, answer)
    assert result.passed, result.message


# -- exercise 1: fetch ------------------------------------------------------------------------
async def fetch_once(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=request_timeout)) as response:
        response.raise_for_status()
        return await response.text()


async def fetch_retries_everything(session, url, *, attempts=3, request_timeout=0.5,
                                   base_delay=0.05):
    for k in range(attempts):
        try:
            return await fetch_once(session, url, request_timeout=request_timeout)
        except (aiohttp.ClientError, TimeoutError):
            if k == attempts - 1:
                raise
            await asyncio.sleep(base_delay * 2**k * 0.75)


async def fetch_swallows(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    for k in range(attempts):
        try:
            return await fetch_once(session, url, request_timeout=request_timeout)
        except aiohttp.ClientResponseError as exc:
            if exc.status < 500:
                raise
        except TimeoutError:
            pass
        await asyncio.sleep(base_delay * 2**k * 0.75)
    return None


async def fetch_one_budget(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    async with asyncio.timeout(request_timeout):  # one timeout for every attempt together
        for k in range(attempts):
            try:
                async with session.get(url) as response:
                    response.raise_for_status()
                    return await response.text()
            except aiohttp.ClientResponseError as exc:
                if k == attempts - 1 or exc.status < 500:
                    raise
                await asyncio.sleep(base_delay * 2**k * 0.75)


async def fetch_no_wait(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    for k in range(attempts):
        try:
            return await fetch_once(session, url, request_timeout=request_timeout)
        except (aiohttp.ClientResponseError, TimeoutError) as exc:
            if k == attempts - 1 or getattr(exc, "status", 500) < 500:
                raise


def fetch_waiting(delay, late=0.0, by_name=False):
    """A retry loop that asks asyncio.sleep for ``delay(k, base_delay)``, then waits ``late``
    s more without it (a stand-in for a busy machine's lateness, which lengthens every gap).
    ``by_name``: with the sleep imported by name, as ``from asyncio import sleep`` does."""
    async def wrong(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
        loop = asyncio.get_running_loop()
        for k in range(attempts):
            try:
                return await fetch_once(session, url, request_timeout=request_timeout)
            except (aiohttp.ClientResponseError, TimeoutError) as exc:
                if k == attempts - 1 or getattr(exc, "status", 500) < 500:
                    raise
                await (sleep_by_name if by_name else asyncio.sleep)(delay(k, base_delay))
                if late:
                    woken = loop.create_future()
                    loop.call_later(late, woken.set_result, None)
                    await woken
    return wrong


fetch_fixed_delay = fetch_waiting(lambda k, base: 0.1 * 2**k * 0.75)  # base_delay ignored
fetch_linear_delay = fetch_waiting(lambda k, base: base * (k + 1))
fetch_constant_delay = fetch_waiting(lambda k, base: base)
# a constant wait on a machine so busy that every gap the server sees is 0.06 s longer
fetch_constant_delay_late = fetch_waiting(lambda k, base: base, late=0.06)
fetch_constant_delay_late_by_name = fetch_waiting(lambda k, base: base, late=0.06, by_name=True)


async def fetch_ignores_timeout(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    return await fetch(session, url, attempts=attempts, request_timeout=0.5, base_delay=base_delay)


async def fetch_ignores_attempts(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    return await fetch(session, url, attempts=3, request_timeout=request_timeout,
                       base_delay=base_delay)


async def fetch_wraps_error(session, url, *, attempts=3, request_timeout=0.5, base_delay=0.05):
    try:
        return await fetch(session, url, attempts=attempts, request_timeout=request_timeout,
                           base_delay=base_delay)
    except aiohttp.ClientResponseError:
        raise RuntimeError("gave up") from None


@pytest.mark.parametrize("wrong, observed", [
    (fetch_once, ["raised ClientResponseError (HTTP 503) after 1 request", "worth retrying"]),
    (fetch_retries_everything, ["does not exist (404)", "sent 3 requests"]),
    (fetch_swallows, ["returned None after 6 requests", "raise the last error"]),
    (fetch_one_budget, ["base_delay=0.3) raised TimeoutError after 2 requests",
                        "ran out over the requests and the waits between them"]),
    (fetch_no_wait, ["waited", "below", "double"]),
    (fetch_fixed_delay, ["asked asyncio.sleep for waits of 0.075, 0.150 s",
                         "wait 1 was below 0.150 s"]),
    (fetch_linear_delay, ["base_delay=0.01", "asked asyncio.sleep for waits of 0.010, 0.020, "
                          "0.030, 0.040, 0.050 s", "wait 5 was below 0.080 s"]),
    (fetch_constant_delay, ["base_delay=0.01", "wait 3 was below 0.020 s"]),
    (fetch_constant_delay_late, ["base_delay=0.01", "asked asyncio.sleep for waits of 0.010, "
                                 "0.010, 0.010, 0.010, 0.010 s", "wait 3 was below 0.020 s"]),
    (fetch_constant_delay_late_by_name, ["base_delay=0.01", "asked asyncio.sleep for waits of "
                                         "0.010, 0.010, 0.010, 0.010, 0.010 s",
                                         "wait 3 was below 0.020 s"]),
    (fetch_ignores_timeout, ["waited for that first answer"]),
    (fetch_ignores_attempts, ["gave up after 3 requests; it should try 6 times"]),
    (fetch_wraps_error, ["raised RuntimeError", "the HTTP 503"]),
])
def test_robust_fetch_rejects(wrong, observed):
    rejected(run(check_robust_fetch, wrong), *observed)


def test_robust_fetch_accepts_sleep_imported_by_name():
    result = run(check_robust_fetch, fetch_waiting(_equal_jitter, by_name=True))
    assert result.passed, result.message


# -- exercise 2: crawl ------------------------------------------------------------------------
async def crawl_sequential(start_url, *, workers, rate, timeline=None):
    found, seen, todo = {}, {start_url}, [start_url]
    async with aiohttp.ClientSession() as session:
        while todo:
            url = todo.pop(0)
            try:
                async with tracked(timeline, "worker 1", url):
                    html = await fetch(session, url)
                found[url], links = parse_page(url, html)
            except (aiohttp.ClientError, TimeoutError) as exc:
                found[url], links = exc, []
            for link in links:
                if link not in seen:
                    seen.add(link)
                    todo.append(link)
    return found


def crawl_variant(*, dedupe=True, catch=True, limit=True, fixed_workers=None, cancel=True):
    """The reference crawl with one mistake."""

    async def crawl_wrong(start_url, *, workers, rate, timeline=None):
        workers = fixed_workers or workers
        found, seen = {}, {start_url}
        queue = asyncio.Queue()
        queue.put_nowait(start_url)
        limiter = AsyncLimiter(rate, 1) if limit else nullcontext()

        async def worker(name, session):
            while True:
                url = await queue.get()
                if not dedupe:
                    seen.add(url)  # marked when fetched, not when queued
                try:
                    async with limiter, tracked(timeline, name, url):
                        html = await fetch(session, url)
                    found[url], links = parse_page(url, html)
                    for link in links:
                        if link not in seen:
                            if dedupe:
                                seen.add(link)
                            queue.put_nowait(link)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if not catch:
                        raise
                    found[url] = exc
                finally:
                    queue.task_done()

        async with aiohttp.ClientSession() as session:
            if not cancel:  # plain tasks, never stopped
                for n in range(1, workers + 1):
                    asyncio.create_task(worker(f"worker {n}", session))  # noqa: RUF006
                await queue.join()
                return found
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(worker(f"worker {n}", session))
                         for n in range(1, workers + 1)]
                await queue.join()
                for task in tasks:
                    task.cancel()
        return found

    return crawl_wrong


async def crawl_keeps_fragments(start_url, *, workers, rate, timeline=None):
    found = await crawl(start_url, workers=workers, rate=rate, timeline=timeline)
    return {url + "#top": value for url, value in found.items()}


async def crawl_without_timeline(start_url, *, workers, rate):
    return await crawl(start_url, workers=workers, rate=rate)


async def crawl_error_strings(start_url, *, workers, rate, timeline=None):
    found = await crawl(start_url, workers=workers, rate=rate, timeline=timeline)
    return {u: v if isinstance(v, str) else None for u, v in found.items()}


@pytest.mark.parametrize("wrong, observed", [
    (crawl_sequential, ["never had more than 1 request", "workers should fetch at the same"]),
    (crawl_variant(dedupe=False), ["requested", "times", "already"]),
    (crawl_variant(catch=False), ["raised ExceptionGroup (ClientResponseError", "must not stop"]),
    (crawl_variant(limit=False), ["pages start within", "at 10 per second"]),
    (crawl_variant(fixed_workers=4), ["4 requests in flight at once; with 2 workers"]),
    (crawl_variant(cancel=False), ["still running", "workers must be stopped"]),
    (crawl_keeps_fragments, ["missing", "reachable from the start"]),
    (crawl_error_strings, ["the value None", "the exception fetch raised"]),
    (crawl_without_timeline, ["raised TypeError", "unexpected keyword argument 'timeline'"]),
])
def test_crawl_rejects(wrong, observed):
    rejected(run(check_crawl, wrong), *observed)


# -- exercise 3: cancel ------------------------------------------------------------------------
def leaky_crawl(*, swallow=False, bare_session=False, bare_bar=False, bare_tasks=False):
    """The reference crawl, with plain tasks, a session and a bar closed only at the end."""

    async def crawl_wrong(start_url, *, workers, rate, timeline=None):
        found, seen = {}, {start_url}
        queue = asyncio.Queue()
        queue.put_nowait(start_url)
        limiter = AsyncLimiter(rate, 1)
        session = aiohttp.ClientSession() if bare_session else None
        bar = tqdm(total=1, **BAR) if bare_bar else None

        async def worker(session, bar):
            while True:
                url = await queue.get()
                try:
                    async with limiter:
                        html = await fetch(session, url)
                    found[url], links = parse_page(url, html)
                    for link in links:
                        if link not in seen:
                            seen.add(link)
                            queue.put_nowait(link)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    found[url] = exc
                finally:
                    bar.total = len(seen)
                    bar.update(1)
                    queue.task_done()

        async def run(session, bar):
            if bare_tasks:
                tasks = [asyncio.create_task(worker(session, bar)) for _ in range(workers)]
                await queue.join()
                for task in tasks:
                    task.cancel()
                return
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(worker(session, bar)) for _ in range(workers)]
                await queue.join()
                for task in tasks:
                    task.cancel()

        try:
            if bare_session and bare_bar:
                await run(session, bar)
                bar.close()
                await session.close()
            elif bare_session:
                with tqdm(total=1, **BAR) as bar:
                    await run(session, bar)
                await session.close()
            elif bare_bar:
                async with aiohttp.ClientSession() as session:
                    await run(session, bar)
                bar.close()
            else:
                async with aiohttp.ClientSession() as session:
                    with tqdm(total=1, **BAR) as bar:
                        await run(session, bar)
        except asyncio.CancelledError:
            if not swallow:
                raise
        return found

    return crawl_wrong


@pytest.mark.parametrize("wrong, observed", [
    # its workers are either still running or died on the closed session (which depends on
    # where each one was when the crawl was cancelled): both are named
    (leaky_crawl(bare_tasks=True), ["of the tasks it started", "workers must end with it"]),
    (leaky_crawl(bare_session=True), ["left its ClientSession open"]),
    (leaky_crawl(bare_bar=True), ["left its progress bar open"]),
    (leaky_crawl(swallow=True), ["returned a dict", "swallowed the CancelledError"]),
    (leaky_crawl(bare_tasks=True, bare_session=True, bare_bar=True),
     ["of the tasks it started", "workers must end with it"]),
])
def test_crawl_cancel_rejects(wrong, observed):
    rejected(run(check_crawl_cancel, wrong), *observed)


def test_checks_reject_a_coroutine_object():
    coro = crawl("http://127.0.0.1:9/", workers=1, rate=1)
    rejected(run(check_crawl, coro), "not `crawl(...)`")


@pytest.mark.skipif(sys.version_info < (3, 13), reason="Queue.shutdown is new in 3.13")
def test_crawl_with_queue_shutdown_passes():
    async def crawl_shutdown(start_url, *, workers, rate, timeline=None):
        found, seen, pending = {}, {start_url}, [1]
        queue = asyncio.Queue()
        queue.put_nowait(start_url)
        limiter = AsyncLimiter(rate, 1)

        async def worker(name, session):
            while True:
                try:
                    url = await queue.get()
                except asyncio.QueueShutDown:
                    return
                try:
                    async with limiter, tracked(timeline, name, url):
                        html = await fetch(session, url)
                    found[url], links = parse_page(url, html)
                    for link in links:
                        if link not in seen:
                            seen.add(link)
                            pending[0] += 1
                            queue.put_nowait(link)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    found[url] = exc
                pending[0] -= 1
                if not pending[0]:
                    queue.shutdown()

        async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as tg:
            for n in range(1, workers + 1):
                tg.create_task(worker(f"worker {n}", session))
        return found

    result = run(check_crawl, crawl_shutdown)
    assert result.passed, result.message


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_robust_fetch, fetch), (check_crawl, crawl),
                                           (check_crawl_cancel, crawl),
                                           (check_per_bin, lambda *a: per_bin(*a))])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = run(check, answer)
        assert result.passed, result.message


# -- exercise 4: per_bin ----------------------------------------------------------------------
def per_bin(times, width, end):
    counts = [0] * (int(end // width) + 1)
    for t in times:
        if 0 <= t <= end:
            counts[int(t // width)] += 1
    return counts


def per_bin_negative_index(times, width, end):
    counts = [0] * (int(end // width) + 1)
    for t in times:
        if t <= end:  # forgot t < 0: counts[-1] is the last bin
            counts[int(t // width)] += 1
    return counts


def per_bin_rounds(times, width, end):
    counts = [0] * (int(end // width) + 1)
    for t in times:
        if 0 <= t <= end:
            counts[min(round(t / width), len(counts) - 1)] += 1
    return counts


def per_bin_up_to_last_time(times, width, end):
    counts = [0] * (int(max(times) // width) + 1)
    for t in times:
        counts[int(t // width)] += 1
    return counts


def per_bin_boundary_left(times, width, end):
    counts = [0] * (int(end // width) + 1)
    for t in times:
        if 0 <= t <= end:
            counts[max(math.ceil(t / width) - 1, 0)] += 1  # a boundary ends a bin
    return counts


def per_bin_cumulative(times, width, end):
    counts = per_bin(times, width, end)
    return [sum(counts[:k + 1]) for k in range(len(counts))]


def per_bin_ignores_width(times, width, end):
    return per_bin(times, 0.25, end) if width == 0.25 else per_bin(times, 0.25, end)[:3]


@pytest.mark.parametrize("wrong, observed", [
    (per_bin_negative_index, ["times before 0 and after end", "returned [1, 0, 1]"]),
    (per_bin_rounds, ["times inside bins", "returned [1, 2, 0, 0, 1]"]),
    (per_bin_up_to_last_time, ["inside bins", "4 bins instead of 5"]),
    (per_bin_boundary_left, ["on bin boundaries", "returned [2, 2, 1, 0, 0]"]),
    (per_bin_cumulative, ["returned [1, 3, 3, 4, 4]", "15 times counted instead of 4"]),
    (per_bin_ignores_width, ["no times at all", "3 bins instead of 4"]),
])
def test_per_bin_rejects(wrong, observed):
    rejected(run(check_per_bin, wrong), *observed)


def test_per_bin_rejects_an_async_function():
    async def per_bin_async(times, width, end):
        return per_bin(times, width, end)

    rejected(run(check_per_bin, per_bin_async), "plain function")


def test_crawl_without_retries_is_told_about_the_flaky_page():
    async def fetch_once_crawl(start_url, *, workers, rate, timeline=None):
        global fetch
        saved, fetch = fetch, functools.partial(fetch, attempts=1)
        try:
            return await crawl(start_url, workers=workers, rate=rate, timeline=timeline)
        finally:
            fetch = saved

    rejected(run(check_crawl, fetch_once_crawl),
             "gave /pages/flaky.html the exception ClientResponseError (HTTP 503)",
             "is the crawl using fetch, with its retries?")
