"""Checks for notebook 18 (The async ecosystem).

- :func:`check_run_jobs` runs the learner's anyio function on both of anyio's backends: on
  the check's own asyncio loop, and on Trio in a worker thread (``anyio.run(...,
  backend="trio")``, the bridge of notebook 02). The jobs it hands over record when they run,
  so the check counts how many ran at once and sees whether the deadline cut the slow one.
- :func:`check_scores` calls the learner's aiosqlite functions on a database file the check
  creates (and removes), with names that hold quotes, then reads the file with its own
  connection. A Python audit hook sees on which thread every SQLite connection is opened
  (``sqlite3`` on the event loop's thread blocks it; aiosqlite opens it in its own thread),
  and the threads still alive after a call show a connection that was never closed.
- :func:`check_books` builds a small library with SQLAlchemy (models of its own, an author
  without books) and calls the learner's query twice, with new data in between; a lazy load
  is recognised by its ``MissingGreenlet``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio

from ._core import Outcome, blocking_message, checker, fail, require_callable, run_learner
from ._observe import never_awaited

__all__ = ["check_books", "check_run_jobs", "check_scores"]


def _short(value: object, width: int = 110) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


# -- exercise 1: anyio, on asyncio and on Trio --------------------------------------------------
class _Jobs:
    """Jobs for the learner's ``run_jobs``: each sleeps with ``anyio.sleep`` (so it runs on
    either backend) and returns its value; each records when it started and ended."""

    def __init__(self, durations: tuple[float, ...], values: tuple[str, ...]) -> None:
        self.durations = durations
        self.values = values
        self.spans: list[tuple[float, float]] = []
        self.started: list[int] = []

    def make(self) -> list[Callable[[], Awaitable[str]]]:
        return [functools.partial(self._job, k) for k in range(len(self.durations))]

    async def _job(self, k: int) -> str:
        self.started.append(k)
        start = time.perf_counter()
        try:
            await anyio.sleep(self.durations[k])
        finally:
            self.spans.append((start, time.perf_counter()))
        return self.values[k]

    def most_at_once(self) -> int:
        events = sorted([(s, 1) for s, _ in self.spans] + [(e, -1) for _, e in self.spans])
        now = most = 0
        for _, step in events:
            now += step
            most = max(most, now)
        return most


#: (durations, values, limit, deadline): values are not positions, limits differ (a hard-coded
#: limit fails), and the last case has a job (1 s) that only the deadline (0.3 s) can stop.
#: Short jobs are enough: every task a task group starts runs before any timer fires.
#: A hard-coded deadline fails whatever the load: the last case allows a return up to
#: 0.3 + 0.5 = 0.8 s after the start, so such a deadline is under 0.8 s, and cuts the first
#: case's 0.9 s job (its timer fires before the job's, and lateness delays both alike).
_JOB_CASES: tuple[tuple[tuple[float, ...], tuple[str, ...], int, float], ...] = (
    ((0.05, 0.05, 0.9, 0.05, 0.05, 0.05), ("f", "a", "d", "b", "e", "c"), 2, 5.0),
    ((0.05, 0.02, 0.08, 0.05, 0.02), ("kiwi", "fig", "plum", "lime", "pear"), 3, 5.0),
    ((0.03, 1.0, 0.03, 0.03), ("red", "slow", "green", "blue"), 2, 0.3),
)
_JOBS_LIMIT = 5.0  # the time limit of one call
_SEE_JOBS = "section 5 shows how"


async def _on_trio(run_jobs: Callable[..., Any], jobs: list[Any], limit: int,
                   deadline: float) -> Any:
    """Run ``run_jobs`` under Trio in a worker thread, bounded in time inside Trio (a thread
    cannot be cancelled from outside)."""

    async def bounded() -> Any:
        with anyio.move_on_after(_JOBS_LIMIT):
            return await run_jobs(jobs, limit, deadline)
        raise _TooLong

    return await asyncio.to_thread(anyio.run, bounded, backend="trio")


class _TooLong(Exception):
    """The learner's function ran past the time limit on Trio."""


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside an exception group (a task group raises one), or the error."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


_ASYNCIO_DIR = str(Path(asyncio.__file__).parent)


def _wrong_library(error: BaseException) -> BaseException | None:
    """The error raised inside asyncio's own code while running under Trio, if there is one
    (``asyncio.sleep`` finds no running loop; a contended ``asyncio.Semaphore`` fails on
    3.11 with an AttributeError)."""
    for leaf in _leaves(error):
        frames = traceback.extract_tb(leaf.__traceback__)
        if any(frame.filename.startswith(_ASYNCIO_DIR) for frame in frames):
            return leaf
    return None


@checker
async def check_run_jobs(run_jobs: Callable[..., Any]) -> str:
    """``run_jobs(jobs, limit, deadline)`` awaits every ``job()`` with at most ``limit`` at
    once, and returns their results in the order of ``jobs``, with ``None`` for the jobs not
    finished ``deadline`` seconds after the start; it works on asyncio and on Trio."""
    require_callable(run_jobs, "run_jobs", is_async=True)
    for number, (durations, values, limit, deadline) in enumerate(_JOB_CASES):
        backends = ("asyncio", "trio") if number == 2 else (("asyncio",), ("trio",))[number]
        for backend in backends:
            jobs = _Jobs(durations, values)
            call = f"run_jobs(jobs, limit={limit}, deadline={deadline:g}) on {backend}"
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if backend == "asyncio":
                    outcome = await run_learner(run_jobs, jobs.make(), limit, deadline,
                                                time_limit=_JOBS_LIMIT)
                else:
                    outcome = await run_learner(_on_trio, run_jobs, jobs.make(), limit,
                                                deadline, time_limit=_JOBS_LIMIT + 2)
                    if isinstance(outcome.error, _TooLong):
                        outcome.timed_out, outcome.error = True, None
                gc.collect()  # an un-awaited coroutine warns when it is collected
            _judge_jobs(call, outcome, never_awaited(caught), backend)
            _judge_results(call, outcome, jobs, limit, deadline)
    return ("The jobs ran `limit` at a time, the results came back in the order of `jobs`, "
            "and the deadline stopped the slow job, on asyncio and on Trio alike.")


def _judge_jobs(call: str, outcome: Outcome, unawaited: list[str], backend: str) -> None:
    if outcome.blocking:
        fail(blocking_message(call, outcome.blocking, "notebook 03 shows why"))
    if outcome.timed_out:
        fail(f"{call} did not finish within {_JOBS_LIMIT:g} s: is something waiting forever, "
             "or is the deadline ignored?")
    error = outcome.error
    if error is not None:
        wrong = _wrong_library(error) if backend == "trio" else None
        if wrong is not None:
            fail(f"{call} raised {type(wrong).__name__} ({_short(str(wrong), 90)}) inside "
                 "asyncio's own code: code that calls asyncio's functions runs only on "
                 "asyncio; anyio has its own for "
                 f"every one of them ({_SEE_JOBS}).")
        if isinstance(error, TimeoutError):
            fail(f"{call} raised TimeoutError when the deadline passed: the finished jobs' "
                 f"results were lost with it. Expected a list, with None for the unfinished "
                 f"job ({_SEE_JOBS}).")
        leaf = _leaves(error)[0]
        fail(f"{call} raised {type(leaf).__name__}: {_short(str(leaf), 120)}.")
    if unawaited:
        fail(f"{call}: Python warned that {unawaited[0]!r} was never awaited: a missing "
             "`await` somewhere?")
    if outcome.unawaited:
        fail(f"{call} returned {outcome.unawaited} objects instead of results: a missing "
             "`await` somewhere?")


def _judge_results(call: str, outcome: Outcome, jobs: _Jobs, limit: int,
                   deadline: float) -> None:
    slow = [k for k, d in enumerate(jobs.durations) if d > deadline]
    expected = [None if k in slow else v for k, v in enumerate(jobs.values)]
    result = outcome.value
    if isinstance(result, tuple):
        result = list(result)
    most = jobs.most_at_once()
    if most > limit:
        fail(f"{call}: {most} jobs ran at the same moment, more than the limit of {limit} "
             f"({_SEE_JOBS}).")
    if slow and outcome.elapsed > deadline + 0.5:  # the slow job would end at 1 s
        fail(f"{call} returned after {outcome.elapsed:.1f} s: the deadline of {deadline:g} s "
             f"did not stop the {jobs.durations[slow[0]]:g} s job ({_SEE_JOBS}).")
    if result != expected:
        if isinstance(result, list) and sorted(map(str, result)) == sorted(map(str, expected)):
            fail(f"{call} returned {_short(result)}: the right results in the wrong order. "
                 f"Expected them in the order of `jobs`: {_short(expected)}.")
        cut = [k for k, value in enumerate(expected) if value is not None and isinstance(
            result, list) and len(result) == len(expected) and result[k] is None]
        if cut and outcome.elapsed < deadline:
            fail(f"{call} returned {_short(result)} after {outcome.elapsed:.1f} s: None for "
                 f"the {jobs.durations[cut[0]]:g} s job, long before the deadline of "
                 f"{deadline:g} s: is another deadline used than the one given?")
        fail(f"{call} returned {_short(result)}; expected {_short(expected)}"
             + (" (None for the job the deadline stopped)." if slow else "."))
    if most < limit:
        fail(f"The results are right, but at most {most} of the jobs ran at once with "
             f"limit={limit}: the limit is meant to be used, not only respected ({_SEE_JOBS}).")


# -- exercise 2: aiosqlite -----------------------------------------------------------------------
_SEE_DB = "section 2 shows how"
#: Rows already in the file before the learner's save: top_scores must read the file.
_SEED = (("Ada", 71), ("Linus", 38))
#: Names with quotes: SQL built with f-strings breaks on them (and on worse names).
_ROWS = (("O'Brien", 64), ('Zoë "Z" Ng', 90), ("Grace", 55), ("Guido", 82))
_TABLE = "CREATE TABLE scores (name TEXT NOT NULL, score INTEGER NOT NULL)"


class _ConnectWatch:
    """Which threads open SQLite connections, seen by a ``sqlite3.connect`` audit hook.

    An audit hook cannot be removed: one is installed, once, and records only while a check
    watches (``watching``)."""

    installed = False
    threads: list[int] | None = None

    @classmethod
    @contextlib.contextmanager
    def watching(cls) -> Iterator[list[int]]:
        if not cls.installed:
            sys.addaudithook(cls._hook)
            cls.installed = True
        cls.threads = seen = []
        try:
            yield seen
        finally:
            cls.threads = None

    @classmethod
    def _hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if event == "sqlite3.connect" and cls.threads is not None:
            cls.threads.append(threading.get_ident())


def _open_connections() -> list[Any]:
    """aiosqlite connections that are not closed (found by the garbage collector)."""
    import aiosqlite

    return [obj for obj in gc.get_objects() if isinstance(obj, aiosqlite.Connection)
            and getattr(obj, "_connection", None) is not None]


def _thread_ident(conn: Any) -> int | None:
    """The ident of a connection's thread (aiosqlite >= 0.21 keeps it in ``_thread``; older
    versions' connections are threads themselves)."""
    thread = getattr(conn, "_thread", conn)
    return getattr(thread, "ident", None)


async def _close_left_open(opened: list[int], loop_thread: int) -> int:
    """Close the aiosqlite connections whose threads (they opened the SQLite connections the
    audit hook saw) are still alive after the call; how many were left open."""
    idents = set(opened) - {loop_thread}
    alive: set[int | None] = set()
    for _ in range(20):  # a closed connection's thread ends a moment after close() returns
        alive = {t.ident for t in threading.enumerate()} & idents
        if not alive:
            return 0
        await asyncio.sleep(0.01)
    left = [conn for conn in _open_connections() if _thread_ident(conn) in alive]
    for conn in left:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 2)
    return len(left)


def _read(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


async def _call_db(name: str, func: Callable[..., Any], *args: Any) -> Any:
    """Call the learner's database function; fail on what is never right."""
    loop_thread = threading.get_ident()
    gc.collect()  # what earlier code left for the collector warns now, not during this call
    with warnings.catch_warnings(record=True) as caught, _ConnectWatch.watching() as opened:
        warnings.simplefilter("always")
        outcome = await run_learner(func, *args, time_limit=5.0)
        left_open = await _close_left_open(opened, loop_thread)
        gc.collect()
    unawaited = never_awaited(caught)
    # aiosqlite >= 0.21 stops the thread of a connection that is garbage-collected unclosed,
    # with a ResourceWarning; older versions keep it running (closed above).
    left_open += sum(1 for w in caught if issubclass(w.category, ResourceWarning)
                     and "before being closed" in str(w.message))
    if outcome.blocking or loop_thread in opened:
        what = "opened the database with the sqlite3 module on the event loop's thread"
        if outcome.blocking:
            what = f"called {', '.join(outcome.blocking[:2])} on the event loop's thread"
        fail(f"{name} {what}: every query then blocks the loop while SQLite reads and writes "
             f"the file ({_SEE_DB} with aiosqlite).")
    if outcome.timed_out:
        fail(f"{name} did not finish within 5 s: is something waiting forever?")
    if outcome.error is not None:
        exc = outcome.error
        quoted = " The names held quotes (O'Brien, Zoë \"Z\" Ng):" if name.startswith("save") \
            else ""
        hint = (f"{quoted} a value pasted into the SQL text becomes part of the SQL; values go "
                f"in as parameters ({_SEE_DB}).") if isinstance(exc, sqlite3.Error) and quoted \
            else ""
        fail(f"{name} raised {type(exc).__name__}: {_short(str(exc), 100)}.{hint}".strip())
    if unawaited:
        fail(f"{name}: Python warned that {unawaited[0]!r} was never awaited, so it never ran: "
             "a missing `await`?")
    if outcome.unawaited:
        fail(f"{name} returned a {outcome.unawaited} object instead of a value: a missing "
             "`await` somewhere?")
    if left_open:
        fail(f"{name} returned without closing its aiosqlite connection (Python warned, or "
             "the check found it still open and closed it): an unclosed connection keeps "
             f"its thread and the file open until it is garbage-collected ({_SEE_DB}).")
    return outcome.value


@checker
async def check_scores(save_scores: Callable[..., Any], top_scores: Callable[..., Any]) -> str:
    """``save_scores(db_path, rows)`` adds the ``(name, score)`` rows to the table ``scores``
    and commits; ``top_scores(db_path, n)`` returns the ``n`` best ``(name, score)`` rows,
    highest first. Both use aiosqlite and close their connection."""
    require_callable(save_scores, "save_scores", is_async=True)
    require_callable(top_scores, "top_scores", is_async=True)
    folder = Path(tempfile.mkdtemp(prefix="asyncio_18_check_"))
    try:
        path = folder / "scores.db"
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute(_TABLE)
            conn.executemany("INSERT INTO scores VALUES (?, ?)", _SEED)
            conn.commit()
        await _call_db("save_scores", save_scores, str(path), [*_ROWS])
        stored = await asyncio.to_thread(_read, path, "SELECT name, score FROM scores")
        saved = [row for row in _ROWS if row in stored]
        if len(saved) < len(_ROWS):
            fail(f"After save_scores returned, {len(saved)} of the {len(_ROWS)} new rows were "
                 "in the file (read with another connection): the changes were never committed "
                 f"({_SEE_DB}).")
        if len(stored) != len(_SEED) + len(_ROWS):
            fail(f"After save_scores the table held {len(stored)} rows; expected the "
                 f"{len(_SEED)} that were there plus the {len(_ROWS)} new ones.")
        everyone = sorted([*_SEED, *_ROWS], key=lambda row: -row[1])
        for n in (3, 5):
            result = await _call_db(f"top_scores(path, {n})", top_scores, str(path), n)
            got = [tuple(row) for row in result] if isinstance(result, list | tuple) else result
            if got != everyone[:n]:
                if isinstance(got, list) and sorted(got, key=lambda r: -r[1]) == everyone[:n]:
                    fail(f"top_scores(path, {n}) returned the right rows in the wrong order: "
                         f"{_short(got)}; the highest score comes first.")
                if isinstance(got, list) and len(got) != n:
                    fail(f"top_scores(path, {n}) returned {len(got)} rows: {_short(got)}; "
                         f"expected the {n} best.")
                fail(f"top_scores(path, {n}) returned {_short(got)}; expected {everyone[:n]}.")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ("The rows were committed (quotes and all), the best scores came back highest "
            "first, and no connection was left open.")


# -- exercise 3: SQLAlchemy without lazy loads ---------------------------------------------------
_SEE_ORM = "section 3 shows the fix"


@functools.cache
def _library_models() -> tuple[Any, Any]:
    """Author and Book models of the check's own (imported when the check first runs)."""
    # No ``Mapped[...]`` annotations: this module's annotations are strings (``from
    # __future__ import annotations``), which SQLAlchemy would resolve at module level.
    from sqlalchemy import ForeignKey, Integer, String
    from sqlalchemy.ext.asyncio import AsyncAttrs
    from sqlalchemy.orm import DeclarativeBase, mapped_column, relationship

    class Base(AsyncAttrs, DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = "authors"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String, nullable=False)
        books = relationship("Book", back_populates="author")

    class Book(Base):
        __tablename__ = "books"
        id = mapped_column(Integer, primary_key=True)
        title = mapped_column(String, nullable=False)
        author_id = mapped_column(ForeignKey("authors.id"), nullable=False)
        author = relationship(Author, back_populates="books")

    return Author, Book


#: Authors and their books (titles not in order; one author has none, until the second round).
_SHELF = {"Ursula": ["The Dispossessed", "A Wizard of Earthsea"], "Ted": [],
          "Octavia": ["Kindred", "Dawn"]}
_MORE = ("Ted", "Exhalation")


def _missing_greenlet(error: BaseException) -> bool:
    seen = [error, getattr(error, "orig", None), error.__cause__]
    return any(type(e).__name__ == "MissingGreenlet" for e in seen if e is not None)


@checker
async def check_books(books_by_author: Callable[..., Any]) -> str:
    """``books_by_author(Session, Author, Book)`` returns ``{author name: [titles in
    alphabetical order]}`` for every author (an author without books too), from one session
    of the ``async_sessionmaker`` ``Session``, without a lazy load."""
    require_callable(books_by_author, "books_by_author", is_async=True)
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    author_cls, book_cls = _library_models()
    folder = Path(tempfile.mkdtemp(prefix="asyncio_18_check_"))
    engine = create_async_engine(f"sqlite+aiosqlite:///{folder / 'library.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(author_cls.metadata.create_all)
        session_factory = async_sessionmaker(engine, expire_on_commit=False)
        async with session_factory() as session, session.begin():
            session.add_all([author_cls(name=name, books=[book_cls(title=t) for t in titles])
                             for name, titles in _SHELF.items()])
        expected = {name: sorted(titles) for name, titles in _SHELF.items()}
        for round_ in (1, 2):
            if round_ == 2:  # new data: an answer that remembers the first one fails
                async with session_factory() as session, session.begin():
                    ted = await session.scalar(select(author_cls.id).where(
                        author_cls.name == _MORE[0]))
                    session.add(book_cls(title=_MORE[1], author_id=ted))
                expected[_MORE[0]] = [_MORE[1]]
            await _judge_books(books_by_author, session_factory, author_cls, book_cls,
                               expected)
    finally:
        await engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    return ("Every author came back with their titles in order, the one without books too, "
            "and no relationship was loaded lazily.")


async def _judge_books(books_by_author: Callable[..., Any], session_factory: Any,
                       author_cls: Any, book_cls: Any, expected: dict[str, list[str]]) -> None:
    call = "books_by_author(Session, Author, Book)"
    gc.collect()  # what earlier code left for the collector warns now, not during this call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = await run_learner(books_by_author, session_factory, author_cls, book_cls)
        # A lazy load that failed leaves an un-awaited coroutine, held by the traceback:
        # keep what the ❌ needs, drop the traceback, and collect it while warnings are caught.
        error = outcome.error
        raised = "" if error is None else (
            "MissingGreenlet" if _missing_greenlet(error)
            else "DetachedInstanceError" if type(error).__name__ == "DetachedInstanceError"
            else f"{type(error).__name__}: {_short((str(error) or '?').splitlines()[0], 120)}")
        outcome.error = error = None
        gc.collect()
    if outcome.blocking:
        fail(blocking_message(call, outcome.blocking, "section 2 shows why"))
    if outcome.timed_out:
        fail(f"{call} did not finish within 5 s: is something waiting forever?")
    if raised == "MissingGreenlet":
        fail(f"{call} raised MissingGreenlet: an attribute access tried to load a "
             f"relationship (a lazy load), which cannot await ({_SEE_ORM}).")
    if raised == "DetachedInstanceError":
        fail(f"{call} raised DetachedInstanceError: a relationship was touched after its "
             f"session had closed, so it could only be loaded lazily, and no session was left "
             f"to do it ({_SEE_ORM}).")
    if raised:
        fail(f"{call} raised {raised}.")
    unawaited = never_awaited(caught)
    if outcome.unawaited or unawaited:
        fail(f"{call} returned a {outcome.unawaited or 'coroutine'} object or left "
             f"{unawaited[0] if unawaited else 'one'!r} un-awaited: a missing `await`?")
    result = outcome.value
    if not isinstance(result, dict):
        fail(f"{call} returned {_short(result)}; expected a dict {{author name: [titles]}}.")
    got = {name: list(titles) if isinstance(titles, list | tuple) else titles
           for name, titles in result.items()}
    missing = sorted(set(expected) - set(got))
    if missing:
        empty = [name for name in missing if not expected[name]]
        why = (f" ({empty[0]} has no books: an inner join of authors and books leaves such "
               "authors out)") if empty else ""
        fail(f"{call} returned {_short(got)}; missing: {', '.join(missing)}{why}.")
    if got != expected:
        if {k: sorted(v) for k, v in got.items() if isinstance(v, list)} == expected:
            fail(f"{call} returned the right titles, not in alphabetical order: {_short(got)}.")
        fail(f"{call} returned {_short(got)}; expected {_short(expected)}.")
