"""The checks of notebook 11 (Files and blocking I/O) reject the wrong answers learners write
and accept the reference answers, also on a busy machine."""

from __future__ import annotations

import asyncio
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiofiles
import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.files import (
    check_read_all,
    check_read_texts,
    check_save_all,
    watching_file_reads,
)

SOLUTION_CODE = ["to_thread", "run_in_executor", "ThreadPoolExecutor", "max_workers",
                 "aiofiles"]
rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- the watcher itself -------------------------------------------------------------------

def test_watcher_sees_reads_on_the_loop_thread_only(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("hello", encoding="utf-8")

    async def main():
        with watching_file_reads() as seen:
            path.read_text(encoding="utf-8")  # on the loop's thread
            await asyncio.to_thread(path.read_text, encoding="utf-8")  # in a thread: fine
        path.read_text(encoding="utf-8")  # after the block: not recorded
        return seen

    assert asyncio.run(main()) == ["io.TextIOWrapper.read"]


def test_watcher_sees_the_folders_files_opened_on_the_loop_thread(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "a.txt").write_text("a", encoding="utf-8")
    (outside / "b.txt").write_text("b", encoding="utf-8")

    def lines(path):
        with open(path, encoding="utf-8") as f:
            return f.readlines()  # not a wrapped read: only the open tells

    async def main():
        with watching_file_reads(inside) as seen:
            lines(inside / "a.txt")
            lines(outside / "b.txt")  # another folder: not the check's business
            await asyncio.to_thread(lines, inside / "a.txt")  # in a thread: fine
        lines(inside / "a.txt")  # after the block: not recorded
        return seen

    assert asyncio.run(main()) == ["open(a.txt)"]


# -- Exercise 1: read_texts ---------------------------------------------------------------

def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


async def read_texts(paths):
    return await asyncio.to_thread(lambda: [_read(p) for p in paths])


async def read_texts_gather(paths):
    return await asyncio.gather(*(asyncio.to_thread(_read, p) for p in paths))


async def read_texts_aiofiles(paths):
    async def one(path):
        async with aiofiles.open(path, encoding="utf-8") as f:
            return await f.read()
    return await asyncio.gather(*(one(p) for p in paths))


async def guide_process_file(paths):
    async def process_file(path):
        await asyncio.sleep(0.1)
        with open(path) as f:  # noqa: ASYNC230 (the mistake under test)
            return f.read()
    return await asyncio.gather(*(process_file(p) for p in paths))


async def open_in_thread_read_on_loop(paths):
    texts = []
    for path in paths:
        f = await asyncio.to_thread(open, path, encoding="utf-8")
        with f:
            texts.append(f.read())  # the read itself is back on the loop
    return texts


async def readlines_on_loop(paths):
    texts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:  # noqa: ASYNC230 (the mistake under test)
            texts.append("".join(f.readlines()))
    return texts


async def read_in_thread_open_on_loop(paths):
    texts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:  # noqa: ASYNC230 (the mistake under test)
            texts.append(await asyncio.to_thread(f.read))
    return texts


async def pathlib_on_loop(paths):
    return [Path(p).read_bytes().decode() for p in paths]  # noqa: ASYNC240 (under test)


async def forgot_await(paths):
    return [asyncio.to_thread(_read, p) for p in paths]


async def finished_order(paths):
    texts = []
    for next_done in asyncio.as_completed([asyncio.to_thread(_read, p) for p in paths]):
        texts.append(await next_done)
    return sorted(texts)  # "sorted for stability": loses the order of paths


async def as_bytes(paths):
    return await asyncio.to_thread(lambda: [Path(p).read_bytes() for p in paths])


async def first_only(paths):
    return [await asyncio.to_thread(_read, paths[0])]


@pytest.mark.filterwarnings("ignore:coroutine 'to_thread' was never awaited")
@pytest.mark.parametrize("wrong, observed", [
    (guide_process_file, ["event loop's thread", "open() 4 times",
                          "io.TextIOWrapper.read() 4 times", "Section 2"]),
    (readlines_on_loop, ["event loop's thread", "open() 4 times"]),
    (read_in_thread_open_on_loop, ["event loop's thread", "open() 4 times"]),
    (open_in_thread_read_on_loop, ["event loop's thread", "io.TextIOWrapper.read() 4 times"]),
    (pathlib_on_loop, ["event loop's thread", "io.BufferedReader.read()"]),
    (forgot_await, ["coroutine", "never awaited"]),
    (finished_order, ["wrong order", "Keep the order of `paths`"]),
    (as_bytes, ["returned bytes", "text mode"]),
    (first_only, ["a list of 1", "expected a list of 4 texts"]),
])
def test_read_texts_rejects(wrong, observed):
    rejected(asyncio.run(check_read_texts(wrong)), *observed)


@pytest.mark.parametrize("answer", [read_texts, read_texts_gather, read_texts_aiofiles])
def test_read_texts_accepts(answer):
    result = asyncio.run(check_read_texts(answer))
    assert result.passed, result.message


def test_read_texts_needs_a_coroutine_function():
    rejected(asyncio.run(check_read_texts(lambda paths: paths)), "async def read_texts")


# -- Exercise 2: read_all -----------------------------------------------------------------

async def read_all(paths, read, workers):
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, read, p) for p in paths))


async def default_executor(paths, read, workers):
    return await asyncio.gather(*(asyncio.to_thread(read, p) for p in paths))


async def default_executor_with_semaphore(paths, read, workers):
    semaphore = asyncio.Semaphore(workers)

    async def one(path):
        async with semaphore:
            return await asyncio.to_thread(read, path)
    return await asyncio.gather(*(one(p) for p in paths))


async def hard_coded_size(paths, read, workers):
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=3) as pool:
        return await asyncio.gather(*(loop.run_in_executor(pool, read, p) for p in paths))


async def never_shut_down(paths, read, workers):
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=workers)
    return await asyncio.gather(*(loop.run_in_executor(pool, read, p) for p in paths))


async def on_the_loop(paths, read, workers):
    return [read(p) for p in paths]


async def one_at_a_time(paths, read, workers):
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [await loop.run_in_executor(pool, read, p) for p in paths]


async def a_pool_per_read(paths, read, workers):
    loop = asyncio.get_running_loop()

    async def one(path):
        with ThreadPoolExecutor(max_workers=1) as pool:
            return await loop.run_in_executor(pool, read, path)
    return await asyncio.gather(*(one(p) for p in paths))


async def completion_order(paths, read, workers):
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [loop.run_in_executor(pool, read, p) for p in paths]
        return [await f for f in asyncio.as_completed(futures)][::-1]


async def submitted_not_awaited(paths, read, workers):
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [loop.run_in_executor(pool, read, p) for p in paths]


@pytest.mark.parametrize("wrong, observed", [
    (default_executor, ["read() calls ran at once", "more than workers=2", "section 5"]),
    (default_executor_with_semaphore, ["default executor", "asyncio_", "section 5"]),
    (hard_coded_size, ["3 read() calls ran at once", "more than workers=2"]),
    (never_shut_down, ["still alive", "not shut down"]),
    (on_the_loop, ["event loop's thread", "6 of 6 times"]),
    (one_at_a_time, ["at most 1", "not 2"]),
    (a_pool_per_read, ["6 different threads", "more than workers=2"]),
    (completion_order, ["wrong order"]),
    (submitted_not_awaited, ["Future", "never awaited"]),
])
def test_read_all_rejects(wrong, observed):
    rejected(asyncio.run(check_read_all(wrong)), *observed)


def test_read_all_accepts_the_reference():
    start = time.perf_counter()
    result = asyncio.run(check_read_all(read_all))
    assert result.passed, result.message
    assert time.perf_counter() - start < 3  # 3 + 3 + 1 rounds of 60 ms


# -- Exercise 3: save_all ----------------------------------------------------------------

def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


async def save_all(folder, reports):
    await asyncio.gather(*(asyncio.to_thread(_write, folder / name, text)
                           for name, text in reports.items()))


async def save_all_one_thread(folder, reports):
    def write_all():
        for name, text in reports.items():
            (folder / name).write_text(text, encoding="utf-8")
    await asyncio.to_thread(write_all)


async def save_all_aiofiles(folder, reports):
    for name, text in reports.items():
        async with aiofiles.open(folder / name, "w", encoding="utf-8") as f:
            await f.write(text)


async def write_on_loop(folder, reports):
    for name, text in reports.items():
        _write(folder / name, text)


async def open_in_thread_write_on_loop(folder, reports):
    for name, text in reports.items():
        f = await asyncio.to_thread(open, folder / name, "w", encoding="utf-8")
        with f:
            f.write(text)


async def appends(folder, reports):
    def add(path, text):
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    await asyncio.gather(*(asyncio.to_thread(add, folder / name, text)
                           for name, text in reports.items()))


async def write_not_awaited(folder, reports):
    for name, text in reports.items():
        async with aiofiles.open(folder / name, "w", encoding="utf-8") as f:
            f.write(text)  # the mistake under test: a coroutine, never awaited


async def threads_not_awaited(folder, reports):
    for name, text in reports.items():
        asyncio.to_thread(_write, folder / name, text)  # the mistake under test


async def returns_early(folder, reports):
    for name, text in reports.items():
        return await asyncio.to_thread(_write, folder / name, text)


async def first_folder_only(folder, reports):
    first = getattr(first_folder_only, "folder", None) or folder
    first_folder_only.folder = first  # "remembers" the folder of its first call
    await asyncio.gather(*(asyncio.to_thread(_write, first / name, text)
                           for name, text in reports.items()))


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("wrong, observed", [
    (write_on_loop, ["event loop's thread", "open() 3 times", "io.TextIOWrapper.write() 3 times",
                     "section 6"]),
    (open_in_thread_write_on_loop, ["event loop's thread", "io.TextIOWrapper.write() 3 times"]),
    (appends, ["old text followed by the new one", "not replaced"]),
    (write_not_awaited, ["report_a.txt held ''", "warned that", "was never awaited"]),
    (returns_early, ["report_b.txt, report_c.txt did not exist"]),
    (first_folder_only, ["summary_2.txt, summary_1.txt did not exist", "somewhere else"]),
])
def test_save_all_rejects(wrong, observed):
    first_folder_only.folder = None
    rejected(asyncio.run(check_save_all(wrong)), *observed)


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
def test_save_all_names_the_coroutine_the_learner_forgot_to_await():
    # The name is what the learner wrote (and forgot to await), not a hint: allowed here.
    assert_rejected(asyncio.run(check_save_all(threads_not_awaited)), "did not exist",
                    "Python warned that to_thread was never awaited",
                    solution_code=[c for c in SOLUTION_CODE if c != "to_thread"])


@pytest.mark.parametrize("answer", [save_all, save_all_one_thread, save_all_aiofiles])
def test_save_all_accepts(answer):
    result = asyncio.run(check_save_all(answer))
    assert result.passed, result.message


# -- under load ---------------------------------------------------------------------------

@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_read_texts, read_texts),
                                           (check_read_texts, read_texts_gather),
                                           (check_read_all, read_all),
                                           (check_save_all, save_all),
                                           (check_save_all, save_all_aiofiles)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = asyncio.run(check(answer))
        assert result.passed, result.message
