"""The checks of notebook 18 (The async ecosystem) reject a catalogue of realistic wrong answers,
each with a sentence that says what was observed and no solution code, and accept the
reference answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
import time

import aiosqlite
import anyio
import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from asynclab.checks.ecosystem import check_books, check_run_jobs, check_scores

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("CapacityLimiter", "create_task_group", "start_soon", "move_on_after",
                 "fail_after", "anyio.sleep", "executemany", "commit()", "aiosqlite.connect",
                 "VALUES (?", "ORDER BY", "LIMIT ?", "DESC", "selectinload", "awaitable_attrs",
                 "options(", "outerjoin")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- exercise 1: anyio on both backends -----------------------------------------------------------
async def run_jobs(jobs, limit, deadline):
    results = [None] * len(jobs)
    limiter = anyio.CapacityLimiter(limit)

    async def run(k, job):
        async with limiter:
            results[k] = await job()

    with anyio.move_on_after(deadline):
        async with anyio.create_task_group() as tg:
            for k, job in enumerate(jobs):
                tg.start_soon(run, k, job)
    return results


async def run_jobs_asyncio(jobs, limit, deadline):
    """The asyncio original, unported: a Semaphore, gather and asyncio.timeout."""
    results = [None] * len(jobs)
    semaphore = asyncio.Semaphore(limit)

    async def run(k, job):
        async with semaphore:
            results[k] = await job()

    try:
        async with asyncio.timeout(deadline):
            await asyncio.gather(*(run(k, job) for k, job in enumerate(jobs)))
    except TimeoutError:
        pass
    return results


async def run_jobs_asyncio_semaphore(jobs, limit, deadline):
    """Half ported: anyio's task group and cancel scope, asyncio's Semaphore."""
    results = [None] * len(jobs)
    semaphore = asyncio.Semaphore(limit)

    async def run(k, job):
        async with semaphore:
            results[k] = await job()

    with anyio.move_on_after(deadline):
        async with anyio.create_task_group() as tg:
            for k, job in enumerate(jobs):
                tg.start_soon(run, k, job)
    return results


async def run_jobs_sequential(jobs, limit, deadline):
    results = [None] * len(jobs)
    with anyio.move_on_after(deadline):
        for k, job in enumerate(jobs):
            results[k] = await job()
    return results


async def run_jobs_no_limit(jobs, limit, deadline):
    results = [None] * len(jobs)

    async def run(k, job):
        results[k] = await job()

    with anyio.move_on_after(deadline):
        async with anyio.create_task_group() as tg:
            for k, job in enumerate(jobs):
                tg.start_soon(run, k, job)
    return results


async def run_jobs_two(jobs, limit, deadline):
    return await run_jobs(jobs, 2, deadline)  # the example's limit, hard-coded


async def run_jobs_no_deadline(jobs, limit, deadline):
    return await run_jobs(jobs, limit, 60)


async def run_jobs_deadline_03(jobs, limit, deadline):
    return await run_jobs(jobs, limit, 0.3)  # the deadline the check's slow case shows


async def run_jobs_deadline_075(jobs, limit, deadline):
    return await run_jobs(jobs, limit, 0.75)  # the longest one that the slow case lets pass


async def run_jobs_fail_after(jobs, limit, deadline):
    results = [None] * len(jobs)
    limiter = anyio.CapacityLimiter(limit)

    async def run(k, job):
        async with limiter:
            results[k] = await job()

    with anyio.fail_after(deadline):  # raises when the deadline passes: the results are lost
        async with anyio.create_task_group() as tg:
            for k, job in enumerate(jobs):
                tg.start_soon(run, k, job)
    return results


async def run_jobs_as_finished(jobs, limit, deadline):
    results = []
    limiter = anyio.CapacityLimiter(limit)

    async def run(job):
        async with limiter:
            results.append(await job())

    with anyio.move_on_after(deadline):
        async with anyio.create_task_group() as tg:
            for job in jobs:
                tg.start_soon(run, job)
    return results


async def run_jobs_not_awaited(jobs, limit, deadline):
    results = [None] * len(jobs)
    limiter = anyio.CapacityLimiter(limit)

    async def run(k, job):
        async with limiter:
            results[k] = job()  # the coroutine, not its result

    with anyio.move_on_after(deadline):
        async with anyio.create_task_group() as tg:
            for k, job in enumerate(jobs):
                tg.start_soon(run, k, job)
    return results


ON_TRIO = ["on trio raised", "inside asyncio's own code", "runs only on asyncio"]


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("wrong, observed", [
    (run_jobs_asyncio, ON_TRIO),
    (run_jobs_asyncio_semaphore, ON_TRIO),
    (run_jobs_sequential, ["at most 1 of the jobs ran at once with limit=2"]),
    (run_jobs_no_limit, ["6 jobs ran at the same moment, more than the limit of 2"]),
    (run_jobs_two, ["at most 2 of the jobs ran at once with limit=3"]),
    (run_jobs_no_deadline, ["the deadline of 0.3 s did not stop the 1 s job"]),
    (run_jobs_deadline_03, ["None for the 0.9 s job", "before the deadline of 5 s"]),
    (run_jobs_deadline_075, ["None for the 0.9 s job", "before the deadline of 5 s"]),
    (run_jobs_fail_after, ["raised TimeoutError when the deadline passed"]),
    (run_jobs_as_finished, ["the right results in the wrong order"]),
    (run_jobs_not_awaited, ["returned coroutine objects instead of results"]),
])
def test_run_jobs_rejects(wrong, observed):
    rejected(asyncio.run(check_run_jobs(wrong)), *observed)


def test_run_jobs_accepts_the_reference():
    result = asyncio.run(check_run_jobs(run_jobs))
    assert result.passed, result.message


# -- exercise 2: aiosqlite ------------------------------------------------------------------------
async def save_scores(db_path, rows):
    async with aiosqlite.connect(db_path) as db:
        await db.executemany("INSERT INTO scores (name, score) VALUES (?, ?)", rows)
        await db.commit()


async def top_scores(db_path, n):
    async with aiosqlite.connect(db_path) as db:
        sql = "SELECT name, score FROM scores ORDER BY score DESC LIMIT ?"
        async with db.execute(sql, (n,)) as cursor:
            return await cursor.fetchall()


async def save_no_commit(db_path, rows):
    async with aiosqlite.connect(db_path) as db:
        await db.executemany("INSERT INTO scores (name, score) VALUES (?, ?)", rows)


async def save_commit_not_awaited(db_path, rows):
    async with aiosqlite.connect(db_path) as db:
        await db.executemany("INSERT INTO scores (name, score) VALUES (?, ?)", rows)
        db.commit()  # noqa: RUF006 (the mistake under test)


async def save_fstring(db_path, rows):
    async with aiosqlite.connect(db_path) as db:
        for name, score in rows:
            await db.execute(f"INSERT INTO scores (name, score) VALUES ('{name}', {score})")
        await db.commit()


async def save_left_open(db_path, rows):
    db = await aiosqlite.connect(db_path)
    await db.executemany("INSERT INTO scores (name, score) VALUES (?, ?)", rows)
    await db.commit()


async def save_sqlite3(db_path, rows):
    db = sqlite3.connect(db_path)
    db.executemany("INSERT INTO scores (name, score) VALUES (?, ?)", rows)
    db.commit()
    db.close()


async def top_ignoring_n(db_path, n):
    async with aiosqlite.connect(db_path) as db:
        sql = "SELECT name, score FROM scores ORDER BY score DESC LIMIT 3"
        async with db.execute(sql) as cursor:
            return await cursor.fetchall()


async def top_ascending(db_path, n):
    async with aiosqlite.connect(db_path) as db:
        sql = "SELECT name, score FROM scores ORDER BY score DESC LIMIT ?"
        async with db.execute(sql, (n,)) as cursor:
            return sorted(await cursor.fetchall(), key=lambda row: row[1])


async def top_unordered(db_path, n):
    async with aiosqlite.connect(db_path) as db:
        async with db.execute("SELECT name, score FROM scores LIMIT ?", (n,)) as cursor:
            return await cursor.fetchall()


async def top_left_open(db_path, n):
    db = await aiosqlite.connect(db_path)
    sql = "SELECT name, score FROM scores ORDER BY score DESC LIMIT ?"
    async with db.execute(sql, (n,)) as cursor:
        return await cursor.fetchall()


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("save, top, observed", [
    (save_no_commit, top_scores, ["0 of the 4 new rows were in the file", "never committed"]),
    (save_commit_not_awaited, top_scores, ["never awaited"]),
    (save_fstring, top_scores, ["save_scores raised OperationalError", "O'Brien",
                                "parameters"]),
    (save_left_open, top_scores, ["save_scores returned without closing its aiosqlite"]),
    (save_sqlite3, top_scores, ["sqlite3 module on the event loop's thread"]),
    (save_scores, top_ignoring_n, ["top_scores(path, 5) returned 3 rows"]),
    (save_scores, top_ascending, ["the right rows in the wrong order"]),
    (save_scores, top_unordered, ["top_scores(path, 3) returned"]),
    (save_scores, top_left_open, ["top_scores(path, 3) returned without closing its aiosqlite"]),
])
def test_scores_rejects(save, top, observed):
    rejected(asyncio.run(check_scores(save, top)), *observed)


def test_scores_accepts_the_reference_and_leaves_no_thread():
    before = threading.active_count()
    result = asyncio.run(check_scores(save_scores, top_scores))
    assert result.passed, result.message
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


def test_scores_closes_what_a_wrong_answer_left_open():
    result = asyncio.run(check_scores(save_left_open, top_scores))
    assert not result.passed
    from asynclab.checks.ecosystem import _open_connections
    assert _open_connections() == []


# -- exercise 3: SQLAlchemy without lazy loads ---------------------------------------------------
async def books_by_author(Session, Author, Book):
    async with Session() as session:
        query = select(Author).options(selectinload(Author.books))
        authors = (await session.scalars(query)).all()
        return {author.name: sorted(book.title for book in author.books) for author in authors}


async def books_awaitable_attrs(Session, Author, Book):
    """Another right answer: the relationship awaited per author."""
    async with Session() as session:
        authors = (await session.scalars(select(Author))).all()
        return {a.name: sorted(b.title for b in await a.awaitable_attrs.books) for a in authors}


async def books_lazy(Session, Author, Book):
    async with Session() as session:
        authors = (await session.scalars(select(Author))).all()
        return {author.name: sorted(book.title for book in author.books) for author in authors}


async def books_after_session(Session, Author, Book):
    async with Session() as session:
        authors = (await session.scalars(select(Author))).all()
    return {author.name: sorted(book.title for book in author.books) for author in authors}


async def books_join(Session, Author, Book):
    async with Session() as session:
        query = select(Author.name, Book.title).join(Book).order_by(Book.title)
        rows = (await session.execute(query)).all()
    shelf = {}
    for name, title in rows:
        shelf.setdefault(name, []).append(title)
    return shelf


async def books_unsorted(Session, Author, Book):
    async with Session() as session:
        authors = (await session.scalars(select(Author).options(selectinload(Author.books)))).all()
        return {author.name: [book.title for book in author.books] for author in authors}


async def books_scalars_not_awaited(Session, Author, Book):
    async with Session() as session:
        authors = session.scalars(select(Author).options(selectinload(Author.books))).all()
        return {author.name: sorted(book.title for book in author.books) for author in authors}


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("wrong, observed", [
    (books_lazy, ["raised MissingGreenlet", "a lazy load"]),
    (books_after_session, ["raised DetachedInstanceError", "after its session had closed"]),
    (books_join, ["missing: Ted", "Ted has no books"]),
    (books_unsorted, ["not in alphabetical order"]),
    (books_scalars_not_awaited, ["raised AttributeError", "'coroutine' object"]),
])
def test_books_rejects(wrong, observed):
    rejected(asyncio.run(check_books(wrong)), *observed)


@pytest.mark.parametrize("answer", [books_by_author, books_awaitable_attrs])
def test_books_accepts_right_answers(answer):
    result = asyncio.run(check_books(answer))
    assert result.passed, result.message


@pytest.mark.load
@pytest.mark.parametrize("check, answers", [
    (check_run_jobs, (run_jobs,)),
    (check_scores, (save_scores, top_scores)),
    (check_books, (books_by_author,)),
], ids=["run_jobs", "scores", "books"])
def test_reference_answers_pass_under_load(under_load, check, answers):
    # one test per check, so that the load run spreads them over its workers
    for _ in range(LOAD_RUNS):
        result = asyncio.run(check(*answers))
        assert result.passed, result.message
