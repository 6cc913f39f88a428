"""The checks of notebook 13 (Pitfalls) reject a catalogue of realistic wrong answers, each with
a sentence that says what was observed and no solution code, and accept the reference answers,
also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import urllib.request
from asyncio import run

import aiohttp
import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.pitfalls import check_spawn, check_summary, check_worker, score

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("to_thread", "asyncio.sleep(", "run_in_executor", "ClientSession",
                 "add_done_callback", ".discard(", "background_tasks", "except Exception",
                 "task.cancelled()", "task.exception()", "raise\n")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


def get_user(base_url, user_id):
    with urllib.request.urlopen(f"{base_url}/users/{user_id}") as response:
        return json.load(response)


# -- exercise 1: unblock a summary -----------------------------------------------------------------
async def summary_solution(base_url, user_id):
    user = await asyncio.to_thread(get_user, base_url, user_id)
    await asyncio.sleep(0.05)
    name = user["name"]
    return {"name": name, "score": await asyncio.to_thread(score, name)}


async def summary_aiohttp(base_url, user_id):
    """Another right answer: an async HTTP client, and only the CPU work in a thread."""
    async with aiohttp.ClientSession() as session, \
            session.get(f"{base_url}/users/{user_id}") as response:
        name = (await response.json())["name"]
    await asyncio.sleep(0.05)
    return {"name": name, "score": await asyncio.to_thread(score, name)}


async def summary_stub(base_url, user_id):
    user = get_user(base_url, user_id)
    time.sleep(0.05)  # noqa: ASYNC251 (the mistake under test)
    return {"name": user["name"], "score": score(user["name"])}


async def summary_sleep_fixed_only(base_url, user_id):
    user = get_user(base_url, user_id)
    await asyncio.sleep(0.05)
    return {"name": user["name"], "score": score(user["name"])}


async def summary_cpu_on_loop(base_url, user_id):
    """The I/O is fixed, the CPU work still runs on the loop's thread."""
    user = await asyncio.to_thread(get_user, base_url, user_id)
    await asyncio.sleep(0.05)
    return {"name": user["name"], "score": score(user["name"])}


def _plain_score(name):
    total = 0
    for i in range(800_000):
        total = (total * 31 + i * len(name)) % 1_000_003
    return total


async def summary_own_score_on_loop(base_url, user_id):
    user = await asyncio.to_thread(get_user, base_url, user_id)
    await asyncio.sleep(0.05)
    return {"name": user["name"], "score": _plain_score(user["name"])}


async def summary_whole_body_sync(base_url, user_id):
    """to_thread around the wrong thing: the sleep stays on the loop."""
    user = await asyncio.to_thread(get_user, base_url, user_id)
    time.sleep(0.05)  # noqa: ASYNC251 (the mistake under test)
    return {"name": user["name"], "score": await asyncio.to_thread(score, user["name"])}


async def summary_unawaited_thread(base_url, user_id):
    user = await asyncio.to_thread(get_user, base_url, user_id)
    await asyncio.sleep(0.05)
    return {"name": user["name"], "score": asyncio.to_thread(score, user["name"])}


async def summary_score_of_id(base_url, user_id):
    user = await asyncio.to_thread(get_user, base_url, user_id)
    await asyncio.sleep(0.05)
    return {"name": user["name"], "score": await asyncio.to_thread(score, str(user_id))}


async def summary_hard_coded(base_url, user_id):
    await asyncio.sleep(0.05)
    return {"name": "Guido van Rossum", "score": await asyncio.to_thread(score, "Guido")}


@pytest.mark.filterwarnings("ignore:coroutine 'to_thread' was never awaited")
@pytest.mark.parametrize("wrong, observed", [
    (summary_stub, ("time.sleep() (3 times)", "blocking network calls", "section 2")),
    (summary_sleep_fixed_only, ("blocking network calls", "socket connect")),
    (summary_whole_body_sync, ("time.sleep() (3 times)",)),
    (summary_cpu_on_loop, ("score() ran on the event loop's thread in 3 of 3 calls",
                           "heartbeat once stopped for", "section 1")),
    (summary_own_score_on_loop, ("computed for", "of processor time", "one score() takes about")),
    (summary_unawaited_thread, ("summary(url, 4) returned", "coroutine")),
    (summary_score_of_id, ("summary(url, 4) returned", "expected")),
    (summary_hard_coded, ("summary(url, 4) returned", "Guido van Rossum")),
])
def test_summary_rejects(wrong, observed):
    rejected(run(check_summary(wrong)), *observed)


def test_summary_accepts_an_async_client():
    result = run(check_summary(summary_aiohttp))
    assert result.passed, result.message


# -- exercise 2: a safe spawn ---------------------------------------------------------------------
def make_spawn(*, keep=True, discard=True, report=True, check_cancelled=True, log=False):
    """A spawn with the learner's usual variations; the defaults make the reference answer."""
    tasks = set()

    def when_done(task):
        if discard:
            tasks.discard(task)
        if not report:
            return
        if check_cancelled and task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            if log:
                logging.getLogger("background").error("task %s failed: %r", task.get_name(), exc)
            else:
                print(f"background task {task.get_name()!r} failed: {exc!r}")

    def spawn(coro):
        task = asyncio.create_task(coro)
        if keep:
            tasks.add(task)
        task.add_done_callback(when_done)
        return task

    return spawn


def spawn_bare(coro):
    return asyncio.create_task(coro)


def spawn_returns_nothing(coro):
    task = asyncio.create_task(coro)
    task.add_done_callback(lambda t: None)


def spawn_ensure_future_kept_list():
    tasks = []

    def spawn(coro):
        task = asyncio.ensure_future(coro)
        tasks.append(task)
        return task

    return spawn


def spawn_swallows_silently():
    tasks = set()

    def when_done(task):
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, but nobody hears about it

    def spawn(coro):
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(when_done)
        return task

    return spawn


@pytest.mark.parametrize("wrong, observed", [
    (spawn_bare, ("gone before it finished", "Task was destroyed but it is pending",
                  "section 6")),
    (make_spawn(keep=False), ("gone before it finished", "strong reference")),
    (make_spawn(discard=False), ("still holds it", "forever")),
    (spawn_ensure_future_kept_list(), ("still holds it",)),
    (make_spawn(report=False), ("Task exception was never retrieved", "section 5")),
    (spawn_swallows_silently(), ("nothing was printed or logged", "OSError")),
    (make_spawn(check_cancelled=False), ("Cancelling a background task", "CancelledError")),
    (spawn_returns_nothing, ("returned NoneType, not the Task",)),
])
def test_spawn_rejects(wrong, observed):
    rejected(run(check_spawn(wrong)), *observed)


def test_spawn_accepts_logging():
    result = run(check_spawn(make_spawn(log=True)))
    assert result.passed, result.message


def test_spawn_leaves_no_report_behind():
    """A wrong answer's destroyed task is reported to the check's handler, not to the loop's."""
    reports = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reports.append(ctx))
        return await check_spawn(spawn_bare)

    assert not run(main()).passed
    assert reports == []


# -- exercise 3: a worker that can be stopped ----------------------------------------------------
async def worker_solution(queue, process, results):
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
        except Exception as exc:
            results[item] = exc
        finally:
            queue.task_done()


async def worker_reraise(queue, process, results):
    """Another right answer: catch CancelledError explicitly and re-raise it."""
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            results[item] = exc
        finally:
            queue.task_done()


async def worker_stub(queue, process, results):
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
        except BaseException as exc:
            results[item] = exc
        finally:
            queue.task_done()


async def worker_bare_except(queue, process, results):
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
        except:  # noqa: E722 (the mistake under test)
            results[item] = None
        queue.task_done()


async def worker_returns_on_cancel(queue, process, results):
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
        except asyncio.CancelledError:
            return  # "stop cleanly"
        except Exception as exc:
            results[item] = exc
        finally:
            queue.task_done()


async def worker_no_handling(queue, process, results):
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
        finally:
            queue.task_done()


async def worker_pass(queue, process, results):
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
        except Exception:
            pass
        finally:
            queue.task_done()


async def worker_no_task_done_on_error(queue, process, results):
    while True:
        item = await queue.get()
        try:
            results[item] = await process(item)
            queue.task_done()
        except Exception as exc:
            results[item] = exc


async def worker_drains_and_returns(queue, process, results):
    while not queue.empty():
        item = await queue.get()
        try:
            results[item] = await process(item)
        except Exception as exc:
            results[item] = exc
        finally:
            queue.task_done()


@pytest.mark.parametrize("wrong, observed", [
    (worker_stub, ("0.5 s later it was still running", "section 8")),
    (worker_bare_except, ("For item 3, results holds None",)),
    (worker_returns_on_cancel, ("returned normally instead of ending cancelled",)),
    (worker_no_handling, ("raised ValueError: bad item 3", "items [1, 2]")),
    (worker_pass, ("For item 3, results holds nothing",)),
    (worker_no_task_done_on_error, ("queue.join() did not return", "task_done()")),
    (worker_drains_and_returns, ("returned once the queue was empty",)),
])
def test_worker_rejects(wrong, observed):
    rejected(run(check_worker(wrong)), *observed)


def test_worker_accepts_explicit_reraise():
    result = run(check_worker(worker_reraise))
    assert result.passed, result.message


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_summary, summary_solution),
                                           (check_spawn, make_spawn()),
                                           (check_worker, worker_solution)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = run(check(answer))
        assert result.passed, result.message
