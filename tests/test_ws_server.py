"""The course's websocket server (asynclab.servers.ws): echo, chat, ticker, heartbeats, stats,
bad input answered with a reason (never a crash), and a clean stop."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from aiohttp import WSMsgType

from asynclab import DemoWebSocketServer


@pytest.fixture
def server():
    with DemoWebSocketServer(heartbeat=None) as srv:
        yield srv


def run(coro):
    return asyncio.run(coro)


def test_echo_keeps_the_type_and_logs_every_message(server):
    async def go():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(server.ws_url("/ws/echo")) as ws:
            await ws.send_str("hello")
            text = await ws.receive()
            await ws.send_bytes(b"\x00\xff")
            binary = await ws.receive()
        assert await server.settle()
        return text, binary, ws.close_code

    text, binary, code = run(go())
    assert (text.type, text.data) == (WSMsgType.TEXT, "hello")
    assert (binary.type, binary.data) == (WSMsgType.BINARY, b"\x00\xff")
    assert code == 1000
    stats = server.stats
    assert (stats.connections, stats.open, stats.max_open) == (1, 0, 1)
    assert (stats.messages_in, stats.messages_out) == (3, 2)  # the client's CLOSE is a message in
    kinds = [(m.direction, m.kind) for m in stats.of("#1")]
    assert kinds == [("in", "TEXT"), ("out", "TEXT"), ("in", "BINARY"), ("out", "BINARY"),
                     ("in", "CLOSE")]
    times = [m.at for m in stats.messages]
    assert times == sorted(times)


def test_chat_broadcasts_to_everyone_in_the_room_only(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            ada = await session.ws_connect(server.ws_url("/ws/chat?name=ada"))
            alan = await session.ws_connect(server.ws_url("/ws/chat?name=alan"))
            other = await session.ws_connect(server.ws_url("/ws/chat?name=grace&room=other"))
            seen = {"ada": [await ada.receive_json(), await ada.receive_json()],
                    "alan": [await alan.receive_json()], "grace": [await other.receive_json()]}
            await ada.send_json({"text": "hi"})
            seen["ada"].append(await ada.receive_json())
            seen["alan"].append(await alan.receive_json())
            await ada.close()
            seen["alan"].append(await alan.receive_json())
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await other.receive()  # nothing from the lobby reaches room "other"
            await alan.close()
            await other.close()
            assert await server.settle()
        return seen

    seen = run(go())
    assert seen["ada"][1] == {"type": "join", "name": "alan", "room": "lobby",
                              "members": ["ada", "alan"]}
    assert seen["ada"][2] == seen["alan"][1] == {"type": "message", "name": "ada",
                                                 "room": "lobby", "text": "hi"}
    assert seen["alan"][2] == {"type": "leave", "name": "ada", "room": "lobby",
                               "members": ["alan"]}
    assert seen["grace"] == [{"type": "join", "name": "grace", "room": "other",
                              "members": ["grace"]}]


@pytest.mark.parametrize("send, error", [
    (lambda ws: ws.send_str("not json"), "not JSON"),
    (lambda ws: ws.send_str('{"message": "hi"}'), '"text" string'),
    (lambda ws: ws.send_str("[1, 2]"), '"text" string'),
    (lambda ws: ws.send_bytes(b"hi"), "not BINARY"),
])
def test_chat_answers_malformed_messages_and_stays_open(server, send, error):
    async def go():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(server.ws_url("/ws/chat?name=ada")) as ws:
            await ws.receive_json()  # the join notice
            await send(ws)
            answer = await ws.receive_json()
            await ws.send_json({"text": "still here"})
            after = await ws.receive_json()
        return answer, after

    answer, after = run(go())
    assert answer["type"] == "error" and error in answer["error"], answer
    assert after["text"] == "still here"


def test_ticker_pushes_then_closes_itself(server):
    async def go():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(server.ws_url("/ws/ticker?count=3&interval=0.02")) as ws:
            ticks = [msg.json() async for msg in ws]
        assert await server.settle()
        return ticks, ws.close_code

    ticks, code = run(go())
    assert [t["seq"] for t in ticks] == [1, 2, 3]
    assert code == 1000
    assert server.stats.of(route="ticker")[-1].kind == "CLOSE"
    assert server.stats.of(route="ticker")[-1].direction == "out"


def test_stalled_ticker_stays_open_and_silent(server):
    async def go():
        async with aiohttp.ClientSession() as session, session.ws_connect(
                server.ws_url("/ws/ticker?count=5&interval=0.02&stall_after=2")) as ws:
            ticks = [await ws.receive_json(), await ws.receive_json()]
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await ws.receive()
        return ticks

    assert [t["seq"] for t in run(go())] == [1, 2]


@pytest.mark.parametrize("path, status", [
    ("/ws/nowhere", 404),
    ("/ws/ticker?count=0", 400), ("/ws/ticker?count=x", 400),
    ("/ws/ticker?interval=-1", 400), ("/ws/ticker?symbol=lower", 400),
    ("/ws/chat?name=" + "x" * 40, 400), ("/ws/chat?room=a/b", 400),
])
def test_bad_handshakes_answer_4xx(server, path, status):
    async def go():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await session.ws_connect(server.ws_url(path))
            async with session.get(server.url + path) as response:
                return caught.value.status, response.status, await response.text()

    handshake, plain, reason = run(go())
    assert handshake == plain == status
    if status == 400:
        assert "must be" in reason or "is 1 to 8" in reason, reason


def test_plain_get_and_taken_name_are_explained(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/ws/echo") as response:
                plain = response.status, await response.text()
            async with session.ws_connect(server.ws_url("/ws/chat?name=ada")):
                with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                    await session.ws_connect(server.ws_url("/ws/chat?name=ada"))
        return plain, caught.value.status

    (status, text), taken = run(go())
    assert status == 400 and "ws_connect" in text
    assert taken == 409


def test_too_big_a_message_closes_with_1009_and_the_server_goes_on(server):
    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(server.ws_url("/ws/echo")) as ws:
                await ws.send_bytes(b"x" * 100_000)
                msg = await ws.receive()
            async with session.ws_connect(server.ws_url("/ws/echo")) as ws:
                await ws.send_str("again")
                return msg, (await ws.receive()).data

    msg, again = run(go())
    assert msg.type is WSMsgType.CLOSE and msg.data == 1009
    assert again == "again"


def test_a_client_that_vanishes_mid_message_does_not_break_the_server(server):
    """A raw socket sends a frame header that announces 100 bytes, sends 3, and hangs up."""
    handshake = (f"GET /ws/echo HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw:
        raw.sendall(handshake)
        assert raw.recv(1024).startswith(b"HTTP/1.1 101")
        raw.sendall(bytes([0x81, 0x80 | 100]) + b"\x01\x02\x03\x04" + b"abc")

    async def still_echoes():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(server.ws_url("/ws/echo")) as ws:
            await ws.send_str("ok?")
            return (await ws.receive()).data

    assert run(still_echoes()) == "ok?"
    assert run(server.settle())
    assert any(m.client == "#1" and m.kind in ("CLOSE", "ERROR") for m in server.stats.messages)


def test_heartbeat_drops_a_client_that_never_answers():
    async def go(srv):
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(srv.ws_url("/ws/echo"), autoping=False) as ws:
            kinds = []
            async with asyncio.timeout(3):
                while True:
                    msg = await ws.receive()
                    kinds.append(msg.type)
                    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                        break
        assert await srv.settle()
        return kinds

    with DemoWebSocketServer(heartbeat=0.1) as srv:
        kinds = run(go(srv))
        assert kinds[0] is WSMsgType.PING
        assert kinds[-1] in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        assert srv.stats.messages[-1].kind == "ERROR"
        assert "TimeoutError" in srv.stats.messages[-1].data  # 3.14 adds "No PONG received"


def test_stop_closes_open_websockets_and_frees_the_port():
    async def go():
        srv = DemoWebSocketServer().start()
        port = srv.port
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(srv.ws_url("/ws/chat?name=ada")) as ws:
            await ws.receive_json()
            await asyncio.to_thread(srv.stop)
            msg = await ws.receive()
        return port, msg, srv

    port, msg, srv = run(go())
    # 1001 "going away" from the server's shutdown hook; aiohttp 3.10's own shutdown closes
    # open websockets first, with 1000 (measured at the floor)
    assert msg.type is WSMsgType.CLOSE and msg.data in (1000, 1001)
    assert not srv.running and srv.stats.open == 0
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no listener
        probe.bind(("127.0.0.1", port))  # free again


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="heartbeat"):
        DemoWebSocketServer(heartbeat=0)
    with DemoWebSocketServer() as srv, pytest.raises(ValueError, match="starts with '/'"):
        srv.ws_url("ws/echo")
    with pytest.raises(RuntimeError, match="not running"):
        DemoWebSocketServer().ws_url()
