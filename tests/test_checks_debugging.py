"""The checks of notebook 16 (Debugging) reject the wrong answers learners write
and accept the reference answers, also on a busy machine."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
import time

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.debugging import check_find_slow, check_my_tasks, check_task_name_filter

#: Solution code that a ❌ must never hand out.
SOLUTION_CODE = ("current_task()", "get_name()", "all_tasks()", "startswith", "return True",
                 "except RuntimeError", "set_debug(", "slow_callback_duration =", "addHandler",
                 "removeHandler")
rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# --- exercise 1: TaskNameFilter -------------------------------------------------------------

class TaskNameFilter(logging.Filter):
    def filter(self, record):
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        record.task = task.get_name() if task is not None else "-"
        return True


class NoGuard(logging.Filter):  # the stub: crashes outside a task
    def filter(self, record):
        record.task = asyncio.current_task().get_name()
        return True


class NoneOnly(logging.Filter):  # handles the callback, forgets the thread
    def filter(self, record):
        task = asyncio.current_task()
        record.task = task.get_name() if task else "-"
        return True


class ForgotReturn(logging.Filter):  # returns None: every record dropped
    def filter(self, record):
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        record.task = task.get_name() if task else "-"


class NameAtCreation(logging.Filter):  # asks once, in __init__
    def __init__(self):
        super().__init__()
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        self.name_then = task.get_name() if task else "-"

    def filter(self, record):
        record.task = self.name_then
        return True


class ThreadName(logging.Filter):  # the thread's name, not the task's
    def filter(self, record):
        record.task = threading.current_thread().name
        return True


class IntoMessage(logging.Filter):  # prefixes the message instead of setting record.task
    def filter(self, record):
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        record.msg = f"[{task.get_name() if task else '-'}] {record.msg}"
        return True


class NoneForOutside(logging.Filter):  # no placeholder: None outside a task
    def filter(self, record):
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        record.task = task and task.get_name()
        return True


@pytest.mark.parametrize("wrong, observed", [
    (NoGuard, ("outside any task", "AttributeError")),
    (NoneOnly, ("from a thread", "RuntimeError")),
    (ForgotReturn, ("0 of 11 records reached the handler",)),
    (NameAtCreation, ("logged in the task 'chef-ana'", "carried task='Task-")),
    (ThreadName, ("logged in the task 'chef-ana'", "carried task='MainThread'")),
    (IntoMessage, ("has no attribute `task`",)),
    (NoneForOutside, ("logged outside any task, carried task=None",)),
])
def test_task_name_filter_rejects(wrong, observed):
    result = asyncio.run(check_task_name_filter(wrong))
    rejected(result, *observed)


def test_task_name_filter_accepts_an_instance_and_leaves_no_logger():
    before = set(logging.Logger.manager.loggerDict)
    assert asyncio.run(check_task_name_filter(TaskNameFilter())).passed
    assert set(logging.Logger.manager.loggerDict) == before


# --- exercise 2: my_tasks ---------------------------------------------------------------------

def my_tasks(prefix):
    me = asyncio.current_task()
    return [task for task in asyncio.all_tasks()
            if task.get_name().startswith(prefix) and task is not me]


def everything(prefix):  # the stub: no filter at all
    return list(asyncio.all_tasks())


def with_me(prefix):  # forgets to leave out the caller
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(prefix)]


def contains(prefix):  # `in` instead of startswith: refetch-9 slips in
    me = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if prefix in t.get_name() and t is not me]


def coroutines(prefix):  # hands back the coroutines
    me = asyncio.current_task()
    return [t.get_coro() for t in asyncio.all_tasks()
            if t.get_name().startswith(prefix) and t is not me]


def names(prefix):  # hands back the names
    me = asyncio.current_task()
    return [t.get_name() for t in asyncio.all_tasks()
            if t.get_name().startswith(prefix) and t is not me]


def hard_coded(prefix):  # ignores the argument
    me = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("fetch-") and t is not me]


_REGISTRY: list[asyncio.Task] = []


def remembers(prefix):  # keeps tasks it saw before, finished or not
    me = asyncio.current_task()
    _REGISTRY.extend(t for t in asyncio.all_tasks()
                     if t.get_name().startswith(prefix) and t is not me)
    return [t for t in _REGISTRY if t.get_name().startswith(prefix)]


async def async_version(prefix):  # async def where a plain function is asked
    return my_tasks(prefix)


@pytest.mark.parametrize("wrong, observed", [
    (everything, ("my_tasks('fetch-')", "not named fetch-...: parse-1, refetch-9, tasks the "
                                        "check did not start")),
    (with_me, ("included the task that called it ('fetch-inspector')",)),
    (contains, ("not named fetch-...", "refetch-9")),
    (coroutines, ("coroutine object(s) instead of Task objects",)),
    (names, ("str object(s) instead of Task objects",)),
    (hard_coded, ("my_tasks('parse-')", "not named parse-...", "fetch-")),
    (async_version, ("plain function",)),
])
def test_my_tasks_rejects(wrong, observed):
    result = asyncio.run(check_my_tasks(wrong))
    rejected(result, *observed)


def test_my_tasks_rejects_finished_tasks():
    _REGISTRY.clear()

    async def twice():
        # a first look while fetch-1 and fetch-4 still run, then the check
        started = [asyncio.create_task(asyncio.sleep(0.01), name=f"fetch-{i}") for i in (1, 4)]
        remembers("fetch-")
        await asyncio.gather(*started)
        return await check_my_tasks(remembers)

    rejected(asyncio.run(twice()), "included tasks that had finished (fetch-1, fetch-4)")
    _REGISTRY.clear()


def test_my_tasks_leaves_no_task_running():
    async def run():
        before = asyncio.all_tasks()
        result = await check_my_tasks(my_tasks)
        return result, asyncio.all_tasks() - before

    result, left = asyncio.run(run())
    assert result.passed, result.message
    assert not left


# --- exercise 3: find_slow ---------------------------------------------------------------------

class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _named(records, jobs):
    names = set()
    for record in records:
        found = re.search(r"name='([^']*)'", record.getMessage())
        if found and found[1] in jobs:
            names.add(found[1])
    return names


async def find_slow(jobs, threshold):
    loop = asyncio.get_running_loop()
    caught = Collect()
    asyncio_log = logging.getLogger("asyncio")
    old_debug, old_duration = loop.get_debug(), loop.slow_callback_duration
    asyncio_log.addHandler(caught)
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    try:
        async with asyncio.TaskGroup() as tg:
            for name, job in jobs.items():
                tg.create_task(job(), name=name)
    finally:
        loop.set_debug(old_debug)
        loop.slow_callback_duration = old_duration
        asyncio_log.removeHandler(caught)
    return _named(caught.records, jobs)


def _variant(*, debug=True, set_threshold=True, restore="saved", remove_handler=True,
             name_tasks=True, fixed=None):
    """find_slow with one of the steps done wrong (``fixed``: a hard-coded threshold)."""
    async def wrong(jobs, threshold):
        loop = asyncio.get_running_loop()
        caught = Collect()
        asyncio_log = logging.getLogger("asyncio")
        old_debug, old_duration = loop.get_debug(), loop.slow_callback_duration
        asyncio_log.addHandler(caught)
        if debug:
            loop.set_debug(True)
        if set_threshold:
            loop.slow_callback_duration = threshold if fixed is None else fixed
        async with asyncio.TaskGroup() as tg:
            for name, job in jobs.items():
                if name_tasks:
                    tg.create_task(job(), name=name)
                else:
                    tg.create_task(job())
        if restore == "saved":
            loop.set_debug(old_debug)
            loop.slow_callback_duration = old_duration
        elif restore == "defaults":
            loop.set_debug(False)
            loop.slow_callback_duration = 0.1
        if remove_handler:
            asyncio_log.removeHandler(caught)
        found = set()
        for record in caught.records:
            match = re.search(r"name='([^']*)'", record.getMessage())
            if match:
                found.add(match[1])
        return found
    return wrong


async def wall_clock(jobs, threshold):  # times each task from start to end instead
    async def timed(job):
        start = time.perf_counter()
        await job()
        return time.perf_counter() - start

    async with asyncio.TaskGroup() as tg:
        tasks = {name: tg.create_task(timed(job)) for name, job in jobs.items()}
    return {name for name, task in tasks.items() if task.result() > threshold}


async def every_name(jobs, threshold):  # reports every job
    await asyncio.gather(*(job() for job in jobs.values()))
    return list(jobs)


@pytest.fixture
def clean_asyncio_logger():
    before = list(logging.getLogger("asyncio").handlers)
    yield
    assert logging.getLogger("asyncio").handlers == before  # the check removed any left over


@pytest.mark.parametrize("wrong, observed", [
    (_variant(debug=False), ("did not report render, resize", "found: []")),
    (_variant(set_threshold=False), ("find_slow(jobs, 0.04) did not report export, thumbnail",)),
    (_variant(restore="none"), ("left the loop in debug mode",)),
    (_variant(restore="defaults"), ("left slow_callback_duration at 0.1; it was 0.25",)),
    (_variant(remove_handler=False), ("left 1 extra handler(s) on the asyncio logger",)),
    (_variant(name_tasks=False), ("did not report render, resize", "found: ['")),
    (wall_clock, ("reported download", "never blocked the loop longer than 0.1 s")),
    (every_name, ("reported download, parse, ping",)),
])
def test_find_slow_rejects(clean_asyncio_logger, wrong, observed):
    result = asyncio.run(check_find_slow(wrong))
    rejected(result, *observed)


def test_find_slow_rejects_a_hard_coded_threshold(clean_asyncio_logger):
    """0.05 lies between the blocks of both cases (0.02 and 0.16 s; 0.004 and 0.07 s), so it
    finds the same jobs: what the jobs read catches it. On a loaded machine parse's 0.02 s
    block may overrun 0.05 s; then the check names that report instead. Either is right."""
    result = asyncio.run(check_find_slow(_variant(fixed=0.05)))
    rejected(result, "find_slow(jobs, 0.1)")
    assert ("ran with slow_callback_duration=0.05, not the threshold 0.1" in result.message
            or "reported parse" in result.message), result.message


def test_find_slow_restores_the_loop_it_found():
    async def run():
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.3
        result = await check_find_slow(_variant(restore="none"))
        return result, loop.get_debug(), loop.slow_callback_duration

    result, debug, duration = asyncio.run(run())
    assert not result.passed
    assert (debug, duration) == (False, 0.3)


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_task_name_filter, TaskNameFilter),
                                           (check_my_tasks, my_tasks),
                                           (check_find_slow, find_slow)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = asyncio.run(check(answer))
        assert result.passed, result.message
