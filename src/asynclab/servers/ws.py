"""The course's websocket server: an echo, a broadcast chat room and a live ticker.

Routes (websocket only; a plain HTTP request answers 400 with a reason):

- ``/ws/echo``: every TEXT message comes back as TEXT, every BINARY message as BINARY.
- ``/ws/chat?name=N&room=R``: a chat room (default room ``lobby``; default name
  ``guest-<number>``). Everyone in the room, the sender too, receives JSON objects:
  ``{"type": "join" | "leave", "name", "room", "members"}`` when someone arrives or goes, and
  ``{"type": "message", "name", "room", "text"}`` for each message. A client sends
  ``{"text": "..."}``; anything else (invalid JSON, no text, a BINARY message) gets
  ``{"type": "error", "error": "..."}`` back, to the sender only, and the connection stays
  open. A name already in the room answers 409 at the handshake.
- ``/ws/ticker?count=N&interval=S&stall_after=K``: the server sends ``{"seq", "symbol",
  "price"}`` every S seconds (default 0.1), N times (default 10), then closes the socket itself
  (code 1000). With ``stall_after=K`` it goes silent after K ticks and keeps the connection
  open: a feed that died without saying so (a receive timeout or a heartbeat finds it).

Every websocket pings its client every ``heartbeat`` seconds (aiohttp's ``heartbeat=``) and
closes it when no pong comes back within half of that. ``stats`` counts connections and
messages; ``stats.messages`` logs every message with a ``time.perf_counter()`` time (the clock
of :class:`asynclab.Timeline`). Stopping the server closes every websocket (code 1001, "going
away"; aiohttp 3.10 closes them first itself, with 1000) and frees the port.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .base import BackgroundServer, ServerStats, query_number

__all__ = ["DemoWebSocketServer", "Message", "WebSocketStats", "ticker_prices"]

_NAME = re.compile(r"[\w .-]{1,32}")
#: The largest message the server accepts (bytes); a bigger one closes the socket with 1009.
MAX_MESSAGE = 64 * 1024


@dataclass(frozen=True)
class Message:
    """One websocket message as the server saw it.

    ``route`` is ``echo``, ``chat`` or ``ticker``; ``client`` the connection's name (the chat
    name, else ``#1``, ``#2``...); ``direction`` is ``in`` (from the client) or ``out``;
    ``kind`` the message type (``TEXT``, ``BINARY``, ``CLOSE``...); ``data`` the text, the
    bytes, or the close code; ``at`` when it happened (``time.perf_counter()``).
    """

    route: str
    client: str
    direction: str
    kind: str
    data: Any
    at: float


@dataclass
class WebSocketStats(ServerStats):
    """The HTTP counters of :class:`ServerStats`, plus the websockets': connections open now,
    the most open at once, messages received and sent, and the log of every message."""

    open: int = 0
    max_open: int = 0
    connections: int = 0
    messages_in: int = 0
    messages_out: int = 0
    messages: list[Message] = field(default_factory=list)

    def reset(self) -> None:
        """Set all counters back to zero and empty the logs (open connections stay counted)."""
        super().reset()
        self.max_open = self.open
        self.connections = self.messages_in = self.messages_out = 0
        self.messages = []

    def of(self, client: str | None = None, *, route: str | None = None,
           direction: str | None = None) -> list[Message]:
        """The logged messages of one client, route and/or direction, in order."""
        return [m for m in self.messages if (client is None or m.client == client)
                and (route is None or m.route == route)
                and (direction is None or m.direction == direction)]


def ticker_prices(count: int, symbol: str = "ASYNC") -> list[float]:
    """The first ``count`` prices the ticker sends for ``symbol`` (the same every time)."""
    draw = random.Random(symbol)
    prices, price = [], 100.0
    for _ in range(count):
        price = round(price * (1 + draw.uniform(-0.01, 0.01)), 2)
        prices.append(price)
    return prices


class _Client:
    """One open websocket, with the name the log gives it."""

    def __init__(self, server: DemoWebSocketServer, ws: web.WebSocketResponse, route: str,
                 name: str) -> None:
        self.server, self.ws, self.route, self.name = server, ws, route, name
        self.room = ""
        self.closed_by_server = False

    def note(self, direction: str, kind: str, data: Any) -> None:
        stats = self.server.stats
        if direction == "in":
            stats.messages_in += 1
        else:
            stats.messages_out += 1
        stats.messages.append(Message(self.route, self.name, direction, kind, data,
                                      time.perf_counter()))

    async def close(self, code: int, message: str) -> None:
        """Close from the server's side, and log it."""
        if self.ws.closed:
            return
        self.closed_by_server = True
        self.note("out", "CLOSE", int(code))
        await self.ws.close(code=code, message=message.encode())

    async def send_json(self, payload: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        text = json.dumps(payload)
        try:
            await self.ws.send_str(text)
        except ConnectionError:  # the client went away while we sent: nothing to do
            return
        self.note("out", "TEXT", text)


class DemoWebSocketServer(BackgroundServer):
    """Serve ``/ws/echo``, ``/ws/chat`` and ``/ws/ticker`` on ``ws://127.0.0.1:<free port>``.

    ``heartbeat`` (seconds, or None for no pings) is how often each websocket pings its
    client; ``latency`` delays the handshake (as the other servers delay a request).
    Use it as ``with DemoWebSocketServer() as server:``; ``server.ws_url("/ws/echo")`` gives
    the ``ws://`` address.
    """

    def __init__(self, *, heartbeat: float | None = 1.0, latency: float = 0.0,
                 host: str = "127.0.0.1") -> None:
        if heartbeat is not None and (not isinstance(heartbeat, int | float)
                                      or not 0.05 <= heartbeat <= 60):
            raise ValueError("heartbeat is the seconds between two pings, between 0.05 and 60 "
                             f"(or None for no pings); got {heartbeat!r}")
        super().__init__(latency=latency, host=host)
        self.heartbeat = None if heartbeat is None else float(heartbeat)
        self.stats: WebSocketStats = WebSocketStats()
        self._clients: set[_Client] = set()
        self._numbers = 0

    def ws_url(self, path: str = "/ws/echo") -> str:
        """The ``ws://`` address of ``path`` (e.g. ``/ws/chat?name=ada``)."""
        if not path.startswith("/"):
            raise ValueError(f"path starts with '/', e.g. '/ws/echo'; got {path!r}")
        return "ws" + self.url.removeprefix("http") + path

    async def settle(self, within: float = 1.0) -> bool:
        """Wait (on the caller's loop) until no websocket is open any more, at most
        ``within`` s; return whether that happened. The server notes a close a moment after
        the client's ``close()`` returns: call this before reading ``stats`` after a close."""
        deadline = time.perf_counter() + within
        while self.stats.open or self.stats.in_flight:
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws/echo", self._echo)
        app.router.add_get("/ws/chat", self._chat)
        app.router.add_get("/ws/ticker", self._ticker)
        app.on_shutdown.append(self._close_all)
        return app

    # -- connections ---------------------------------------------------------------------
    async def _open(self, request: web.Request, route: str, name: str | None = None,
                    ) -> _Client:
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, timeout=1.0,
                                   max_msg_size=MAX_MESSAGE)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text=f"{request.path} is a websocket endpoint: connect "
                                     "with session.ws_connect(url), not a plain GET")
        self._numbers += 1
        default = f"guest-{self._numbers}" if route == "chat" else f"#{self._numbers}"
        client = _Client(self, ws, route, name or default)
        await ws.prepare(request)
        stats = self.stats
        stats.connections += 1
        stats.open += 1
        stats.max_open = max(stats.max_open, stats.open)
        self._clients.add(client)
        return client

    def _closed(self, client: _Client) -> None:
        self._clients.discard(client)
        self.stats.open -= 1

    async def _messages(self, client: _Client):  # type: ignore[no-untyped-def]
        """The client's TEXT and BINARY messages until the websocket ends; logs every message
        and how it ended: a CLOSE from the client (with its code), or an ERROR (an error, or
        a connection that broke off without a CLOSE)."""
        ws = client.ws
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                client.note("in", msg.type.name, msg.data)
                yield msg
                continue
            if client.closed_by_server:
                return
            if msg.type is WSMsgType.CLOSE:
                client.note("in", "CLOSE", int(msg.data))
            else:
                error = ws.exception() or (msg.data if msg.type is WSMsgType.ERROR else None)
                client.note("in", "ERROR", repr(error) if error is not None else
                            "the connection broke off without a CLOSE")
            return

    async def _close_all(self, app: web.Application) -> None:
        for client in list(self._clients):
            await client.close(WSCloseCode.GOING_AWAY, "server stopping")

    # -- routes --------------------------------------------------------------------------
    async def _echo(self, request: web.Request) -> web.WebSocketResponse:
        client = await self._open(request, "echo")
        try:
            async for msg in self._messages(client):
                try:
                    if msg.type is WSMsgType.TEXT:
                        await client.ws.send_str(msg.data)
                    else:
                        await client.ws.send_bytes(msg.data)
                except ConnectionError:
                    break
                client.note("out", msg.type.name, msg.data)
        finally:
            self._closed(client)
        return client.ws

    async def _chat(self, request: web.Request) -> web.WebSocketResponse:
        room = request.query.get("room", "lobby")
        name = request.query.get("name")
        for what, value in (("room", room), ("name", name)):
            if value is not None and not _NAME.fullmatch(value):
                raise web.HTTPBadRequest(text=f"{what} must be 1 to 32 letters, digits, spaces, "
                                         f"'.', '-' or '_'; got {value!r}")
        members = self._members(room)
        if name is not None and name in members:
            raise web.HTTPConflict(text=f"the name {name!r} is taken in room {room!r}: "
                                   "choose another")
        client = await self._open(request, "chat", name)
        client.room = room
        try:
            await self._broadcast(room, {"type": "join", "name": client.name, "room": room,
                                         "members": self._members(room)})
            async for msg in self._messages(client):
                text = self._chat_text(msg)
                if isinstance(text, dict):
                    await client.send_json(text)
                else:
                    await self._broadcast(room, {"type": "message", "name": client.name,
                                                 "room": room, "text": text})
        finally:
            self._closed(client)
            await self._broadcast(room, {"type": "leave", "name": client.name, "room": room,
                                         "members": self._members(room)})
        return client.ws

    @staticmethod
    def _chat_text(msg: Any) -> str | dict[str, str]:
        """The text of a chat message, or the error to send back."""
        if msg.type is not WSMsgType.TEXT:
            return {"type": "error", "error": "the chat takes TEXT messages (JSON), not "
                    f"{msg.type.name}"}
        try:
            payload = json.loads(msg.data)
        except ValueError:
            return {"type": "error", "error": f"not JSON: {msg.data[:40]!r}; send "
                    "{\"text\": \"...\"}"}
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            return {"type": "error", "error": "send a JSON object with a \"text\" string, "
                    "e.g. {\"text\": \"hello\"}"}
        return payload["text"]

    def _members(self, room: str) -> list[str]:
        return sorted(c.name for c in self._clients
                      if c.route == "chat" and c.room == room)

    async def _broadcast(self, room: str, payload: dict[str, Any]) -> None:
        targets = [c for c in list(self._clients)
                   if c.route == "chat" and c.room == room]
        await asyncio.gather(*(c.send_json(payload) for c in targets))

    async def _ticker(self, request: web.Request) -> web.WebSocketResponse:
        count = query_number(request, "count", int, 10, 1, 1000)
        interval = query_number(request, "interval", float, 0.1, 0.01, 5.0)
        stall_after = query_number(request, "stall_after", int, count, 0, 1000)
        symbol = request.query.get("symbol", "ASYNC")
        if not re.fullmatch(r"[A-Z]{1,8}", symbol):
            raise web.HTTPBadRequest(text=f"symbol is 1 to 8 capital letters; got {symbol!r}")
        client = await self._open(request, "ticker")

        async def push() -> None:
            prices = ticker_prices(min(count, stall_after), symbol)
            for seq, price in enumerate(prices, start=1):
                await asyncio.sleep(interval)
                await client.send_json({"seq": seq, "symbol": symbol, "price": price})
            if stall_after >= count:
                await client.close(WSCloseCode.OK, "ticker done")

        pusher = asyncio.create_task(push())
        try:
            async for msg in self._messages(client):
                await client.send_json({"type": "error", "error": "the ticker only sends; "
                                        f"it ignores {msg.type.name} messages"})
        finally:
            pusher.cancel()
            await asyncio.gather(pusher, return_exceptions=True)
            self._closed(client)
        return client.ws
