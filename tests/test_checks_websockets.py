"""The checks of notebook 12 (Websockets) reject a catalogue of realistic wrong answers, each
with a sentence that says what was observed and no solution code, and accept the reference
answers, also repeatedly under a bursty CPU load."""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
from asyncio import run

import aiohttp
import pytest
from aiohttp import WSMsgType
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks.websockets import check_chat_round, check_echo_all, check_read_ticks

websockets_checks = importlib.import_module("asynclab.checks.websockets")

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("ws_connect(", "send_bytes", "send_str", "receive(", "asyncio.timeout",
                 "await ws.close", "isinstance(", "async for", "msg.data", "msg.json",
                 "WSMsgType.")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- exercise 1: echo ----------------------------------------------------------------------------
async def echo_all(url, messages):
    replies = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for message in messages:
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            else:
                await ws.send_str(message)
            replies.append((await ws.receive()).data)
    return replies


async def echo_all_pipelined(url, messages):
    """Another right answer: send everything first, then read the replies."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for message in messages:
            await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
        return [(await ws.receive()).data for _ in messages]


async def echo_one_socket_each(url, messages):
    replies = []
    async with aiohttp.ClientSession() as session:
        for message in messages:
            replies += await _one(session, url, message)
    return replies


async def _one(session, url, message):
    async with session.ws_connect(url) as ws:
        await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
        return [(await ws.receive()).data]


async def echo_all_as_text(url, messages):
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        replies = []
        for message in messages:
            await ws.send_str(str(message))
            replies.append((await ws.receive()).data)
        return replies


async def echo_all_messages(url, messages):
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        replies = []
        for message in messages:
            await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
            replies.append(await ws.receive())
        return replies


async def echo_all_guide(url, messages):
    """The guide's loop: read until the server closes (an echo server never does)."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for message in messages:
            await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
        replies = []
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                replies.append(msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
        return replies


async def echo_all_first_reply(url, messages):
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for message in messages:
            await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
        return [(await ws.receive()).data]


async def echo_all_never_closed(url, messages):
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(url)
    replies = []
    for message in messages:
        await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
        replies.append((await ws.receive()).data)
    return replies


async def echo_all_session_only(url, messages):
    """Closes the session, not the websocket: the connection is cut, no close handshake."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url)
        replies = []
        for message in messages:
            await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))
            replies.append((await ws.receive()).data)
    return replies


def test_echo_all_accepts_the_solutions():
    for answer in (echo_all, echo_all_pipelined):
        result = run(check_echo_all(answer))
        assert result.passed, result.message


@pytest.mark.parametrize("wrong, observed", [
    (echo_one_socket_each, ["opened 4 websockets for 4 messages"]),
    (echo_all_as_text, ["received b'\\x00\\x01\\x02' as a TEXT message",
                       "bytes should travel as a BINARY"]),
    (echo_all_messages, ["returned WSMessage objects"]),
    (echo_all_guide, ["did not finish within 2 s", "never closes the connection"]),
    (echo_all_first_reply, ["returned ['hello']", "received 4 messages"]),
    (echo_all_never_closed, ["left something open", "Unclosed"]),
])
def test_echo_all_rejects(wrong, observed):
    rejected(run(check_echo_all(wrong)), *observed)


def test_echo_all_rejects_a_cut_connection():
    result = run(check_echo_all(echo_all_session_only))
    assert not result.passed
    assert ("without a close handshake" in result.message
            or "without a normal close" in result.message
            or "left something open" in result.message), result.message


# -- exercise 2: ticks until the server closes or goes silent ---------------------------------
async def read_ticks(url, silence):
    prices = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        while True:
            try:
                async with asyncio.timeout(silence):
                    msg = await ws.receive()
            except TimeoutError:
                break  # leaving `async with` closes the websocket from our side
            if msg.type != WSMsgType.TEXT:
                break  # CLOSE, CLOSING, CLOSED or ERROR: the stream is over
            prices.append(msg.json()["price"])
    return prices


async def read_ticks_receive_timeout(url, silence):
    """Another right answer: aiohttp's own per-call timeout (no heartbeat on the check's
    server, so no ping restarts it)."""
    prices = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        while True:
            try:
                msg = await ws.receive(timeout=silence)
            except TimeoutError:
                return prices
            if msg.type != WSMsgType.TEXT:
                return prices
            prices.append(json.loads(msg.data)["price"])


async def read_ticks_async_for(url, silence):
    """The guide's loop: fine while the server closes; waits forever when it goes silent."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        return [msg.json()["price"] async for msg in ws]


async def read_ticks_total_limit(url, silence):
    prices = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        try:
            async with asyncio.timeout(silence):
                async for msg in ws:
                    prices.append(msg.json()["price"])
        except TimeoutError:
            pass
    return prices


def _fixed(limit):
    async def read_ticks_fixed(url, silence):
        return await read_ticks(url, limit)
    return read_ticks_fixed


async def read_ticks_raw(url, silence):
    data = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        while True:
            try:
                async with asyncio.timeout(silence):
                    msg = await ws.receive()
            except TimeoutError:
                break
            if msg.type != WSMsgType.TEXT:
                break
            data.append(msg.data)
    return data


async def read_ticks_ignores_close(url, silence):
    """Treats every message as a tick: the CLOSE message has no JSON."""
    prices = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        while True:
            try:
                async with asyncio.timeout(silence):
                    msg = await ws.receive()
            except TimeoutError:
                break
            prices.append(msg.json()["price"])
    return prices


def test_read_ticks_accepts_the_solutions():
    for answer in (read_ticks, read_ticks_receive_timeout):
        result = run(check_read_ticks(answer))
        assert result.passed, result.message


@pytest.mark.parametrize("wrong, observed", [
    (read_ticks_async_for, ["did not finish within", "goes silent", "close that never comes"]),
    (_fixed(2.0), ["did not finish within 1.5 s", "much longer than `silence`"]),
    # on a busy machine a fixed 1.0 may already be caught late in the silence=0.2 case
    (_fixed(0.5), ["s after the last tick", "fixed number"]),
    (_fixed(1.0), ["s after the last tick", "fixed number"]),
    # the fixed limit closest to passing: under 0.2 + 1.0, so only the long silence catches it
    (_fixed(1.15), ["s after the last tick", "fixed number"]),
    (read_ticks_raw, ["as numbers"]),
    (read_ticks_ignores_close, ["raised"]),
])
def test_read_ticks_rejects(wrong, observed):
    rejected(run(check_read_ticks(wrong)), *observed)


def test_read_ticks_slow_ticker_alone_rejects_one_limit_for_the_whole_stream(monkeypatch):
    # The ticker slower than silence in total catches it by itself, with 1 s to spare.
    slow = [case for case in websockets_checks._TICK_CASES if case[0] == 18]
    monkeypatch.setattr(websockets_checks, "_TICK_CASES", tuple(slow))
    rejected(run(check_read_ticks(read_ticks_total_limit)), "of the 18 prices", "whole stream")


def test_read_ticks_rejects_one_limit_for_the_whole_stream():
    # Two cases catch it, and which one comes first depends on when the first tick arrives:
    # the silent ticker (it gave up too soon after the last tick) or the slow one (it lost
    # the last prices). Either sentence says what was observed.
    result = run(check_read_ticks(read_ticks_total_limit))
    rejected(result)
    assert ("of the 18 prices" in result.message and "whole stream" in result.message) or (
        "gave up" in result.message and "fixed number" in result.message), result.message


# -- exercise 3: a chat round ----------------------------------------------------------------------
async def _chat_client(session, url, name, names, wait_for_all=True, close=True):
    heard = []
    ws = await session.ws_connect(f"{url}&name={name}")
    if not wait_for_all:
        await ws.send_json({"text": f"hi from {name}"})
    async for msg in ws:
        event = msg.json()
        if event["type"] == "join" and wait_for_all and len(event["members"]) == len(names):
            await ws.send_json({"text": f"hi from {name}"})
        elif event["type"] == "message":
            heard.append(event["name"])
            if len(heard) == len(names):
                break
    if close:
        await ws.close()
    return heard


async def chat_round(url, names):
    async with aiohttp.ClientSession() as session:
        lists = await asyncio.gather(*(_chat_client(session, url, n, names) for n in names))
    return dict(zip(names, lists, strict=True))


async def chat_round_sequential(url, names):
    async with aiohttp.ClientSession() as session:
        return {n: await _chat_client(session, url, n, names) for n in names}


async def chat_round_too_early(url, names):
    async with aiohttp.ClientSession() as session:
        lists = await asyncio.gather(*(_chat_client(session, url, n, names, wait_for_all=False)
                                       for n in names))
    return dict(zip(names, lists, strict=True))


async def chat_round_fixed_wait(url, names):
    """Says hello after a fixed wait instead of waiting until everyone is in the room."""
    async def client(session, name):
        heard = []
        async with session.ws_connect(f"{url}&name={name}") as ws:
            await asyncio.sleep(0.5)
            await ws.send_json({"text": f"hi from {name}"})
            async for msg in ws:
                event = msg.json()
                if event["type"] == "message":
                    heard.append(event["name"])
                    if len(heard) == len(names):
                        break
        return heard

    async with aiohttp.ClientSession() as session:
        lists = await asyncio.gather(*(client(session, n) for n in names))
    return dict(zip(names, lists, strict=True))


async def _three(url, names):
    """Waits for three members, the notebook's example, whatever the number of names."""
    async with aiohttp.ClientSession() as session:
        lists = await asyncio.gather(*(_chat_client(session, url, n, ["x", "y", "z"])
                                       for n in names))
    return dict(zip(names, lists, strict=True))


async def chat_round_not_closed(url, names):
    async with aiohttp.ClientSession() as session:
        lists = await asyncio.gather(*(_chat_client(session, url, n, names, close=False)
                                       for n in names))
    return dict(zip(names, lists, strict=True))


async def chat_round_texts(url, names):
    """Returns what each client heard as the message texts, not the senders' names."""
    result = await chat_round(url, names)
    return {n: [f"hi from {s}" for s in heard] for n, heard in result.items()}


def test_chat_round_accepts_the_solution():
    result = run(check_chat_round(chat_round))
    assert result.passed, result.message


@pytest.mark.parametrize("wrong, observed", [
    (chat_round_sequential, ["did not finish within 1.5 s", "at most 1 of 3 clients",
                             "one after another"]),
    (chat_round_too_early, ["did not finish within 1.5 s", "3 of 3 clients",
                            "before everyone has joined"]),
    (chat_round_fixed_wait, ["['ken', 'radia', 'tim', 'sophie']) did not finish within 2.35 s",
                             "4 of 4 clients", "before everyone has joined"]),
    (_three, ["did not finish within 1.5 s", "at most 2 of 2 clients", "0 of the 4 hellos"]),
    (chat_round_not_closed, ["broke off without a close handshake"]),
    (chat_round_texts, ["returned ['hi from", "expected the names"]),
])
def test_chat_round_rejects(wrong, observed):
    rejected(run(check_chat_round(wrong)), *observed)


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_echo_all, echo_all),
                                           (check_read_ticks, read_ticks),
                                           (check_chat_round, chat_round)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = run(check(answer))
        assert result.passed, result.message
