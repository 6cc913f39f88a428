"""The checks of notebook 08 (Coordination) reject a catalogue of realistic wrong answers, each
with a sentence that says what was observed and no solution code, and accept the reference
answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from asyncio import run
from asyncio import sleep as sleep_by_name  # as a learner's `from asyncio import sleep`

import aiohttp
import pytest
import tenacity
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks import _timers
from asynclab.checks.coordination import check_fetch_all, check_fetch_with_retry, check_process

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("Semaphore(", "async with sem", "Queue(", "queue.get", "task_done()",
                 "queue.join", "join()", ".cancel()", "create_task(", "gather(", "TaskGroup(",
                 "asyncio.sleep(", "random.uniform", "raise_for_status", "except ", "2 **",
                 "base_delay *", "for attempt in")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


async def name_of(session, base_url, user_id):
    async with session.get(f"{base_url}/users/{user_id}") as response:
        response.raise_for_status()
        return (await response.json())["name"]


# -- exercise 1: a Semaphore ---------------------------------------------------------------------
async def fetch_all_solution(base_url, ids, limit):
    semaphore = asyncio.Semaphore(limit)

    async def one(session, user_id):
        async with semaphore:
            return await name_of(session, base_url, user_id)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, i) for i in ids))


async def fetch_all_connector(base_url, ids, limit):
    """Another right answer: aiohttp's connection pool as the limit (notebook 09)."""
    connector = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await asyncio.gather(*(name_of(session, base_url, i) for i in ids))


async def fetch_all_sequential(base_url, ids, limit):
    async with aiohttp.ClientSession() as session:
        return [await name_of(session, base_url, i) for i in ids]


async def fetch_all_no_limit(base_url, ids, limit):
    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(name_of(session, base_url, i) for i in ids))


async def fetch_all_three(base_url, ids, limit):
    return await fetch_all_solution(base_url, ids, 3)  # the notebook's example limit


async def fetch_all_off_by_one(base_url, ids, limit):
    return await fetch_all_solution(base_url, ids, limit - 1)


async def fetch_all_batches(base_url, ids, limit):
    async with aiohttp.ClientSession() as session:
        names = []
        for k in range(0, len(ids), limit):
            names += await asyncio.gather(*(name_of(session, base_url, i)
                                            for i in ids[k:k + limit]))
        return names


async def fetch_all_then_one_by_one(base_url, ids, limit):
    async with aiohttp.ClientSession() as session:
        names = await asyncio.gather(*(name_of(session, base_url, i) for i in ids[:limit]))
        for i in ids[limit:]:
            names.append(await name_of(session, base_url, i))
        return names


async def fetch_all_semaphore_per_request(base_url, ids, limit):
    async def one(session, user_id):
        async with asyncio.Semaphore(limit):  # a new semaphore each time limits nothing
            return await name_of(session, base_url, user_id)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, i) for i in ids))


async def fetch_all_completion_order(base_url, ids, limit):
    semaphore = asyncio.Semaphore(limit)
    names = []

    async def one(session, user_id):
        async with semaphore:
            names.append(await name_of(session, base_url, user_id))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session, i) for i in ids))
    return names


async def fetch_all_blocking(base_url, ids, limit):
    semaphore = asyncio.Semaphore(limit)

    async def one(session, user_id):
        async with semaphore:
            time.sleep(0.01)  # noqa: ASYNC251  (the wrong answer: "to be polite")
            return await name_of(session, base_url, user_id)

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(one(session, i) for i in ids))


async def fetch_all_not_awaited(base_url, ids, limit):
    semaphore = asyncio.Semaphore(limit)

    async def one(session, user_id):
        async with semaphore:
            return await name_of(session, base_url, user_id)

    async with aiohttp.ClientSession() as session:
        return asyncio.gather(*(one(session, i) for i in ids))


def test_fetch_all_accepts_solutions():
    for answer in (fetch_all_solution, fetch_all_connector):
        result = run(check_fetch_all(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (fetch_all_sequential, ["one after another", "limit=3", "section 1"]),
    (fetch_all_no_limit, ["had 7 requests in flight at once", "the limit is 3"]),
    (fetch_all_three, ["limit=2", "had 3 requests in flight at once"]),
    (fetch_all_off_by_one, ["at most 2 at once", "With limit=3, 3 should be in flight"]),
    (fetch_all_batches, ["fewer than 3 for", "still to come", "taken at once by the next"]),
    (fetch_all_then_one_by_one, ["at most 3 requests were in flight", "fewer than 3 for"]),
    (fetch_all_semaphore_per_request, ["had 7 requests in flight at once"]),
    (fetch_all_completion_order, ["in another order"]),
    (fetch_all_blocking, ["time.sleep()", "event loop's thread"]),
    (fetch_all_not_awaited, ["_GatheringFuture", "missing `await`"]),
])
def test_fetch_all_rejects(answer, words):
    rejected(run(check_fetch_all(answer)), *words)


@pytest.mark.load
def test_fetch_all_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_fetch_all(fetch_all_solution))
        assert result.passed, result.message


# -- exercise 2: a worker pool -------------------------------------------------------------------
async def process_solution(base_url, ids, workers):
    queue = asyncio.Queue()
    for user_id in ids:
        queue.put_nowait(user_id)
    results = {}

    async def worker(session):
        while True:
            user_id = await queue.get()
            try:
                results[user_id] = await name_of(session, base_url, user_id)
            except aiohttp.ClientError:
                results[user_id] = None
            finally:
                queue.task_done()

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(worker(session)) for _ in range(workers)]
        await queue.join()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def process_sentinels(base_url, ids, workers):
    """Another right answer: one None per worker tells it to stop; a TaskGroup waits."""
    queue = asyncio.Queue()
    results = {}

    async def worker(session):
        while (user_id := await queue.get()) is not None:
            try:
                results[user_id] = await name_of(session, base_url, user_id)
            except aiohttp.ClientError:
                results[user_id] = None

    async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(worker(session))
        for user_id in [*ids, *[None] * workers]:
            await queue.put(user_id)
    return results


async def process_cancel_only(base_url, ids, workers):
    """Right too: cancelled workers end at the next turn of the loop."""
    queue = asyncio.Queue()
    for user_id in ids:
        queue.put_nowait(user_id)
    results = {}

    async def worker(session):
        while True:
            user_id = await queue.get()
            try:
                results[user_id] = await name_of(session, base_url, user_id)
            except aiohttp.ClientError:
                results[user_id] = None
            queue.task_done()

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(worker(session)) for _ in range(workers)]
        await queue.join()
        for task in tasks:
            task.cancel()
    return results


async def process_wait_for(base_url, ids, workers):
    """Right too: each request under a time limit (on 3.11, wait_for makes a task for it)."""
    queue = asyncio.Queue()
    for user_id in ids:
        queue.put_nowait(user_id)
    results = {}

    async def worker(session):
        while True:
            user_id = await queue.get()
            try:
                results[user_id] = await asyncio.wait_for(name_of(session, base_url, user_id),
                                                          timeout=2)
            except aiohttp.ClientError:
                results[user_id] = None
            finally:
                queue.task_done()

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(worker(session)) for _ in range(workers)]
        await queue.join()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def process_workers_left(base_url, ids, workers):
    queue = asyncio.Queue()
    for user_id in ids:
        queue.put_nowait(user_id)
    results = {}
    session = aiohttp.ClientSession()

    async def worker():
        while True:
            user_id = await queue.get()
            try:
                results[user_id] = await name_of(session, base_url, user_id)
            except aiohttp.ClientError:
                results[user_id] = None
            queue.task_done()

    process_workers_left.tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    await queue.join()
    await session.close()
    return results


async def process_no_task_done_on_error(base_url, ids, workers):
    queue = asyncio.Queue()
    for user_id in ids:
        queue.put_nowait(user_id)
    results = {}

    async def worker(session):
        while True:
            user_id = await queue.get()
            try:
                results[user_id] = await name_of(session, base_url, user_id)
                queue.task_done()
            except aiohttp.ClientError:
                results[user_id] = None

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(worker(session)) for _ in range(workers)]
        await queue.join()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def process_error_escapes(base_url, ids, workers):
    queue = asyncio.Queue()
    for user_id in ids:
        queue.put_nowait(user_id)
    results = {}

    async def worker(session):
        while not queue.empty():
            user_id = queue.get_nowait()
            results[user_id] = await name_of(session, base_url, user_id)

    async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(worker(session))
    return results


async def process_one_worker(base_url, ids, workers):
    return await process_solution(base_url, ids, 1)


async def process_three_workers(base_url, ids, workers):
    return await process_solution(base_url, ids, 3)  # the notebook's example


async def process_task_per_id(base_url, ids, workers):
    semaphore = asyncio.Semaphore(workers)

    async def one(session, user_id):
        async with semaphore:
            try:
                return await name_of(session, base_url, user_id)
            except aiohttp.ClientError:
                return None

    async with aiohttp.ClientSession() as session:
        names = await asyncio.gather(*(one(session, i) for i in ids))
    return dict(zip(ids, names, strict=True))


async def process_drops_failures(base_url, ids, workers):
    results = await process_solution(base_url, ids, workers)
    return {i: name for i, name in results.items() if name is not None}


async def process_list(base_url, ids, workers):
    results = await process_solution(base_url, ids, workers)
    return [results[i] for i in ids]


def test_process_accepts_solutions():
    for answer in (process_solution, process_sentinels, process_cancel_only, process_wait_for):
        result = run(check_process(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (process_workers_left, ["3 of its tasks were still running", "section 4"]),
    (process_no_task_done_on_error, ["did not finish within 2.5 s", "user 7 fails",
                                     "marked done, the failed ones too"]),
    (process_error_escapes, ["raised ExceptionGroup", "record None"]),
    (process_one_worker, ["came one after another", "3 workers should keep 3"]),
    (process_three_workers, ["workers=2", "had 3 requests in flight", "at most 2"]),
    (process_task_per_id, ["created 9 tasks for 9 ids", "3 workers"]),
    (process_drops_failures, ["missing [7]"]),
    (process_list, ["returned a list", "dict {id: name}"]),
])
def test_process_rejects(answer, words):
    rejected(run(check_process(answer)), *words)


def test_process_check_leaves_no_task_running():
    async def main():
        result = await check_process(process_workers_left)
        await asyncio.sleep(0)
        return result, [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    result, left = run(main())
    assert not result.passed and left == []


@pytest.mark.load
def test_process_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_process(process_solution))
        assert result.passed, result.message


# -- exercise 3: retries with backoff ------------------------------------------------------------
def worth_retrying(exc):
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status >= 500
    return isinstance(exc, aiohttp.ClientConnectionError | TimeoutError)


async def get_json(session, url):
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def retry_solution(session, url, attempts, base_delay):
    for attempt in range(attempts):
        try:
            return await get_json(session, url)
        except Exception as exc:
            if attempt == attempts - 1 or not worth_retrying(exc):
                raise
            cap = base_delay * 2 ** attempt
            await asyncio.sleep(random.uniform(cap / 2, cap))


async def retry_tenacity(session, url, attempts, base_delay):
    """Another right answer: tenacity, with the exercise's waits (half fixed, half random)."""
    wait = (tenacity.wait_exponential(multiplier=base_delay / 2)
            + tenacity.wait_random_exponential(multiplier=base_delay / 2))
    async for attempt in tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(attempts), wait=wait,
            retry=tenacity.retry_if_exception(worth_retrying), reraise=True):
        with attempt:
            return await get_json(session, url)
    return None  # not reached: tenacity returns or raises


def make_retry(delay, retry_if=worth_retrying, tries=None, final=None, late=0.0, by_name=False):
    """A retry loop with the waits ``delay(k, base_delay)`` (None: no wait at all), retrying
    what ``retry_if`` accepts, for ``tries(attempts)`` requests; on giving up,
    ``final(error)``. ``late``: s waited after each sleep without asyncio.sleep, a stand-in
    for a busy machine's lateness, which lengthens every gap the server sees. ``by_name``:
    sleep with the function imported by name (``from asyncio import sleep``), which the
    check's replacement of ``asyncio.sleep`` does not reach."""
    async def fetch_with_retry(session, url, attempts, base_delay):
        n = tries(attempts) if tries else attempts
        for attempt in range(n):
            try:
                return await get_json(session, url)
            except Exception as exc:
                if attempt == n - 1 or not retry_if(exc):
                    if final is not None:
                        return final(exc)
                    raise
                if delay is not None:
                    sleep = sleep_by_name if by_name else asyncio.sleep
                    await sleep(delay(attempt, base_delay))
                if late:
                    loop = asyncio.get_running_loop()
                    woken = loop.create_future()
                    loop.call_later(late, woken.set_result, None)
                    await woken
        return None

    return fetch_with_retry


def equal_jitter(k, base):
    cap = base * 2 ** k
    return random.uniform(cap / 2, cap)


retry_no_delay = make_retry(lambda k, base: 0)
retry_without_waiting = make_retry(None)  # the classic: retries at once, no sleep at all
retry_constant = make_retry(lambda k, base: base)
retry_linear = make_retry(lambda k, base: base * (k + 1))
retry_full_jitter = make_retry(lambda k, base: random.uniform(0, base * 2 ** k))
retry_hard_coded_base = make_retry(lambda k, base: equal_jitter(k, 0.02))  # the timeout case's
retry_hard_coded_large = make_retry(lambda k, base: 0.1 * 2 ** k)
retry_exponent_too_large = make_retry(lambda k, base: base * 2 ** (k + 3))
retry_exponent_from_one = make_retry(lambda k, base: base * 2 ** (k + 1))


# 0.08 s late: enough for the server's gaps to pass in the base_delay=0.005 case (wait 6
# needs 0.072 s), while the first case's total stays 0.26 s under its limit on a busy machine
retry_constant_late = make_retry(lambda k, base: base, late=0.08)
# ... and the same with `from asyncio import sleep`: the check records the sleeps' timers
retry_constant_late_by_name = make_retry(lambda k, base: base, late=0.08, by_name=True)
retry_solution_by_name = make_retry(equal_jitter, by_name=True)  # a right answer
retry_everything = make_retry(equal_jitter, retry_if=lambda exc: True)
retry_swallows = make_retry(equal_jitter, final=lambda exc: None)
retry_three_tries = make_retry(equal_jitter, tries=lambda attempts: 3)
retry_one_more = make_retry(equal_jitter, tries=lambda attempts: attempts + 1)


def _no_timeouts(exc):
    return isinstance(exc, aiohttp.ClientResponseError) and exc.status >= 500


retry_no_timeouts = make_retry(equal_jitter, retry_if=_no_timeouts)


def _gave_up(exc):
    raise RuntimeError("gave up")


retry_new_error = make_retry(equal_jitter, final=_gave_up)


async def retry_forever(session, url, attempts, base_delay):
    attempt = 0
    while True:
        try:
            return await get_json(session, url)
        except aiohttp.ClientResponseError as exc:
            if exc.status < 500:
                raise
        except TimeoutError:
            pass
        await asyncio.sleep(equal_jitter(attempt, base_delay))
        attempt += 1


async def retry_sleep_not_awaited(session, url, attempts, base_delay):
    for attempt in range(attempts):
        try:
            return await get_json(session, url)
        except Exception as exc:
            if attempt == attempts - 1 or not worth_retrying(exc):
                raise
            asyncio.sleep(equal_jitter(attempt, base_delay))  # noqa: RUF006  (the mistake)
    return None


async def retry_blocking(session, url, attempts, base_delay):
    for attempt in range(attempts):
        try:
            return await get_json(session, url)
        except Exception as exc:
            if attempt == attempts - 1 or not worth_retrying(exc):
                raise
            time.sleep(equal_jitter(attempt, base_delay))  # noqa: ASYNC251  (the mistake)
    return None


def test_retry_accepts_solutions():
    for answer in (retry_solution, retry_tenacity, retry_solution_by_name):
        result = run(check_fetch_with_retry(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (retry_no_delay, ["base_delay=0.25", "wait 1 was", "below 0.125 s (half of 0.25 s)",
                      "section 7"]),
    (retry_without_waiting, ["base_delay=0.25", "(as the server saw them)", "wait 1 was",
                             "below 0.125 s"]),
    (retry_constant, ["base_delay=0.005", "double each time"]),
    (retry_linear, ["base_delay=0.005", "below"]),
    (retry_constant_late, ["base_delay=0.005", "asked asyncio.sleep for waits of 0.005, ",
                           "wait 3 was 0.005 s, below 0.010 s"]),
    (retry_constant_late_by_name, ["base_delay=0.005", "asked asyncio.sleep for waits of 0.005, ",
                                   "wait 3 was 0.005 s, below 0.010 s"]),
    (retry_full_jitter, ["below", "the shortest wait allowed"]),
    (retry_hard_coded_base, ["base_delay=0.25", "wait 1 was", "below 0.125 s"]),
    (retry_exponent_from_one, ["base_delay=0.25", "add up to 0.75 s at most",
                               "the first wait is at most base_delay"]),
    (retry_hard_coded_large, ["base_delay=0.25", "wait 1 was 0.100 s, below 0.125 s"]),
    (retry_exponent_too_large, ["base_delay=0.25", "did not finish within 3 s",
                                "add up to 0.75 s at most"]),
    (retry_everything, ["404 Not Found", "made 4 requests"]),
    (retry_swallows, ["returned None instead of raising", "attempts=3", "section 7"]),
    (retry_forever, ["returned {'key': 'c', 'attempt': 6} after 6 requests", "give up"]),
    (retry_three_tries, ["attempts=7", "raised ClientResponseError (HTTP 503) after 3",
                         "with 7 attempts"]),
    (retry_one_more, ["raised after 4 requests", "exactly 3 times"]),
    (retry_new_error, ["raised RuntimeError('gave up') after 3 requests"]),
    (retry_no_timeouts, ["timeout", "raised TimeoutError", "worth retrying"]),
    (retry_blocking, ["time.sleep()", "event loop's thread"]),
    (retry_sleep_not_awaited, ["made coroutines of sleep() that were never awaited",
                               "is an `await` missing?"]),
])
def test_retry_rejects(answer, words):
    random.seed(8)  # the wrong answers with random waits fail the same way every run
    rejected(run(check_fetch_with_retry(answer)), *words)


@pytest.mark.load
def test_retry_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_fetch_with_retry(retry_solution))
        assert result.passed, result.message



def test_retry_judges_waits_asked_by_name_on_uvloop():
    """On uvloop too, the asked waits of a sleep imported by name are judged exactly."""
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(check_fetch_with_retry(retry_constant_late_by_name))
        assert runner.run(check_fetch_with_retry(retry_solution_by_name)).passed
    rejected(result, "base_delay=0.005", "asked asyncio.sleep for waits of 0.005, ")


def test_retry_judges_asked_waits_without_the_sleep_timer(monkeypatch):
    """Where a sleep's timer cannot be told apart (a loop without a __dict__, or a Python
    whose asyncio.sleep sets another callback), the waits asked of asyncio.sleep are recorded
    where it is called, and still judged exactly."""
    monkeypatch.setattr(_timers, "_SLEEP_TIMER", None)
    rejected(run(check_fetch_with_retry(retry_constant_late)), "base_delay=0.005",
             "asked asyncio.sleep for waits of 0.005, ")
