"""The checks of notebook 07 (async iteration and context) reject a catalogue of realistic
wrong answers, each with a sentence that says what was observed and no solution code, and
accept the reference answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import contextlib
import functools
import json
import urllib.request
from asyncio import run

import aiohttp
import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.async_iteration import check_connection, check_stream_users, check_take

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("try:", "finally:", "@asynccontextmanager", "asynccontextmanager(",
                 "aclose()", "len(items) == n",
                 "pool.release(", "await pool.acquire()", "async with session",
                 "response.content", "json.loads", "aiohttp.ClientSession(", "aclosing(")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- exercise 1: connection(pool) -------------------------------------------------------------
@contextlib.asynccontextmanager
async def connection(pool):
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        pool.release(conn)


class ConnectionClass:
    """The same as a class: also right."""

    def __init__(self, pool):
        self.pool = pool

    async def __aenter__(self):
        self.conn = await self.pool.acquire()
        return self.conn

    async def __aexit__(self, exc_type, exc, tb):
        self.pool.release(self.conn)


@contextlib.asynccontextmanager
async def no_finally(pool):
    conn = await pool.acquire()
    yield conn
    pool.release(conn)


@contextlib.asynccontextmanager
async def except_exception(pool):
    conn = await pool.acquire()
    try:
        yield conn
    except Exception:
        pool.release(conn)
        raise
    pool.release(conn)


class SwallowsErrors(ConnectionClass):
    async def __aexit__(self, exc_type, exc, tb):
        self.pool.release(self.conn)
        return True


@contextlib.asynccontextmanager
async def suppresses_everything(pool):
    conn = await pool.acquire()
    try:
        yield conn
    except BaseException:
        pass
    finally:
        pool.release(conn)


@contextlib.asynccontextmanager
async def forgot_await(pool):
    conn = pool.acquire()
    try:
        yield conn
    finally:
        pass


@contextlib.asynccontextmanager
async def releases_too_early(pool):
    conn = await pool.acquire()
    pool.release(conn)
    yield conn


@contextlib.contextmanager
def sync_manager(pool):
    yield None


async def undecorated_generator(pool):
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        pool.release(conn)


async def returns_connection(pool):
    return await pool.acquire()


_OTHER_POOL = []


@contextlib.asynccontextmanager
async def ignores_pool(pool):
    from asynclab.checks.async_iteration import Pool
    if not _OTHER_POOL:
        _OTHER_POOL.append(Pool("global", 5))
    conn = await _OTHER_POOL[0].acquire()
    try:
        yield conn
    finally:
        _OTHER_POOL[0].release(conn)


class NoAexitRelease(ConnectionClass):
    async def __aexit__(self, exc_type, exc, tb):
        return None


def test_connection_accepts_solutions():
    for answer in (connection, ConnectionClass):
        result = run(check_connection(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (no_finally, ["When the block raised an error, the connection was not given back",
                  "section 2"]),
    (except_exception, ["When the task was cancelled inside the block",
                        "not an Exception"]),
    (SwallowsErrors, ["ended without it: the exit swallowed the error", "section 1"]),
    (suppresses_everything, ["the exit swallowed the error"]),
    (forgot_await, ["conn was a coroutine object", "not awaited"]),
    (releases_too_early, ["it was given back before the block ran"]),
    (sync_manager, ["_GeneratorContextManager", "plain `with`"]),
    (returns_connection, ["returned a coroutine object, not an async context manager"]),
    (undecorated_generator, ["returned an async generator", "section 2"]),
    (ignores_pool, ["a connection of another pool, 'global'"]),
    (NoAexitRelease, ["After a block that ended normally, 1 connection(s)",
                      "still checked out"]),
])
def test_connection_rejects(answer, words):
    rejected(run(check_connection(answer)), *words)


@pytest.mark.load
def test_connection_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_connection(connection))
        assert result.passed, result.message


# -- exercise 2: take(agen, n) -----------------------------------------------------------------
async def take(agen, n):
    items = []
    async with contextlib.aclosing(agen):
        async for item in agen:
            items.append(item)
            if len(items) == n:
                break
    return items


async def take_aclose(agen, n):
    items = []
    try:
        async for item in agen:
            items.append(item)
            if len(items) == n:
                break
    finally:
        await agen.aclose()
    return items


async def take_no_close(agen, n):
    items = []
    async for item in agen:
        items.append(item)
        if len(items) == n:
            break
    return items


async def take_everything_then_slice(agen, n):
    async with contextlib.aclosing(agen):
        return [item async for item in agen][:n]


async def take_one_too_many(agen, n):
    items = []
    async with contextlib.aclosing(agen):
        async for item in agen:
            if len(items) == n:
                break
            items.append(item)
    return items


async def take_with_anext(agen, n):
    async with contextlib.aclosing(agen):
        return [await anext(agen) for _ in range(n)]


async def take_aclose_not_awaited(agen, n):
    items = []
    async for item in agen:
        items.append(item)
        if len(items) == n:
            break
    agen.aclose()  # noqa: RUF006 (the mistake under test)
    return items


async def take_ignores_n(agen, n):
    items = []
    async with contextlib.aclosing(agen):
        async for item in agen:
            items.append(item)
            if len(items) == 3:
                break
    return items


def take_sync(agen, n):
    return list(agen)[:n]


def test_take_accepts_solutions():
    for answer in (take, take_aclose):
        result = run(check_take(answer))
        assert result.passed, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (take_no_close, ["the generator's finally had not run", "section 7"]),
    (take_everything_then_slice, ["pulled 8 from the generator"]),
    (take_one_too_many, ["returned the right 3 item(s) but pulled 4"]),
    (take_with_anext, ["raised StopAsyncIteration", "return what there was"]),
    (take_aclose_not_awaited, ["the generator's finally had not run"]),
    (take_ignores_n, ["take(agen, 1) on a generator of 4 items returned",
                      "expected the first 1"]),
    (take_sync, ["coroutine function"]),
])
def test_take_rejects(answer, words):
    rejected(run(check_take(answer)), *words)


@pytest.mark.load
def test_take_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_take(take))
        assert result.passed, result.message


# -- exercise 3: stream_users(base_url, count) --------------------------------------------------
async def stream_users(base_url, count):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/users/stream?count={count}") as response:
            response.raise_for_status()
            async for line in response.content:
                yield json.loads(line)


async def reads_whole_body(base_url, count):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/users/stream?count={count}") as response:
            text = await response.text()
    for line in text.splitlines():
        yield json.loads(line)


async def returns_a_list(base_url, count):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/users/stream?count={count}") as response:
            return [json.loads(line) async for line in response.content]


async def ignores_count(base_url, count):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/users/stream") as response:
            async for line in response.content:
                yield json.loads(line)


async def yields_bytes(base_url, count):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/users/stream?count={count}") as response:
            async for line in response.content:
                yield line


async def never_closes_session(base_url, count):
    session = aiohttp.ClientSession()
    async with session.get(f"{base_url}/users/stream?count={count}") as response:
        async for line in response.content:
            yield json.loads(line)


_SHARED: list = []


async def response_left_open(base_url, count):
    """A session kept for the program's lifetime (closed elsewhere) and a response that is not
    in `async with`: closing the generator does not close the response."""
    if not _SHARED:
        _SHARED.append(aiohttp.ClientSession())
    response = await _SHARED[0].get(f"{base_url}/users/stream?count={count}")
    async for line in response.content:
        yield json.loads(line)
    response.release()


def sync_generator(base_url, count):
    with urllib.request.urlopen(f"{base_url}/users/stream?count={count}") as response:
        for line in response:
            yield json.loads(line)


async def blocking_async_generator(base_url, count):
    url = f"{base_url}/users/stream?count={count}"
    with urllib.request.urlopen(url) as response:  # noqa: ASYNC210 (the mistake under test)
        for line in response:
            yield json.loads(line)


async def buffers_then_yields(base_url, count):
    users = []
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base_url}/users/stream?count={count}") as response:
            async for line in response.content:
                users.append(json.loads(line))
    for user in users:
        yield user


def test_stream_users_accepts_solution():
    result = run(check_stream_users(stream_users))
    assert result.passed, result.message


def test_stream_users_rejects_a_response_left_open():
    try:
        rejected(run(check_stream_users(response_left_open)),
                 "the server went on streaming for", "the response stayed open")
    finally:
        if _SHARED:
            run(_SHARED.pop().close())


@pytest.mark.parametrize(("answer", "words"), [
    (reads_whole_body, ["the first user arrived", "when the stream took", "section 6"]),
    (buffers_then_yields, ["waited for the whole body"]),
    (returns_a_list, ["coroutine function", "section 4"]),
    (ignores_count, ["stream_users(url, 3) went on past 3 users", "count"]),
    (yields_bytes, ["yielded b'{\"id\": 1", "a line of text"]),
    (never_closes_session, ["Unclosed client session"]),
    (sync_generator, ["plain generator", "section 4"]),
    (blocking_async_generator, ["on the event loop's thread"]),
])
def test_stream_users_rejects(answer, words):
    rejected(run(check_stream_users(answer)), *words)


@pytest.mark.load
def test_stream_users_reference_passes_under_load(under_load):
    for _ in range(LOAD_RUNS):
        result = run(check_stream_users(stream_users))
        assert result.passed, result.message
