"""Run an aiohttp web application on 127.0.0.1 in a background thread with its own event loop.

The server's loop is not the notebook's loop, so a blocking client in the notebook
(``urllib``, ``time.sleep``) cannot freeze the server. Port 0 lets the OS choose a free port.
Stopping the server closes its sockets, ends its thread and frees the port, so a notebook can
be run twice in the same kernel.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import socket
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Self, TypeVar

from aiohttp import web

__all__ = ["BackgroundServer", "Request", "ServerStats", "stop_all_servers"]

_Number = TypeVar("_Number", int, float)

_RUNNING: weakref.WeakSet[BackgroundServer] = weakref.WeakSet()


@dataclass(frozen=True)
class Request:
    """One request as the server saw it: its path (with the query), when it arrived and when
    its answer was ready (``time.perf_counter()`` seconds, the clock of
    :class:`asynclab.Timeline`; ``finished`` is None while it runs), and the status code."""

    path: str
    started: float
    finished: float | None = None
    status: int | None = None


@dataclass
class ServerStats:
    """Counters a server keeps about the requests it handled, and the log of them."""

    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    log: list[Request] = field(default_factory=list)

    def reset(self) -> None:
        """Set all counters back to zero and empty the log (between two experiments)."""
        self.requests = self.in_flight = self.max_in_flight = 0
        self.log = []

    def arrivals(self, path_prefix: str = "/") -> list[float]:
        """When the requests whose path starts with ``path_prefix`` arrived, in order."""
        return sorted(r.started for r in self.log if r.path.startswith(path_prefix))


class BackgroundServer:
    """Serve the application made by :meth:`make_app` on ``http://127.0.0.1:<free port>``.

    Use it as a context manager (``with Server() as srv:``) or call :meth:`start` and
    :meth:`stop`. ``latency`` (seconds) is added to every request; a ``?delay=`` query
    parameter overrides it for one request. (No ``async with``: starting and stopping wait
    for the server's thread, which would block the caller's event loop.)
    """

    #: Makes the server thread's event loop; None: asyncio's default for this system (on
    #: Windows the Proactor loop, which has no ``remove_reader``). Tests set it.
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None

    def __init__(self, *, latency: float = 0.0, host: str = "127.0.0.1") -> None:
        if not isinstance(latency, int | float) or not 0 <= latency <= 10:
            raise ValueError(f"latency is in seconds, between 0 and 10; got {latency!r}")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the course's servers only listen on the loopback interface "
                             f"(127.0.0.1); got host={host!r}")
        self.latency = float(latency)
        self.host = host
        self.port: int | None = None
        self.stats = ServerStats()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- what subclasses provide ---------------------------------------------------------
    def make_app(self) -> web.Application:
        """Build the aiohttp application to serve. Subclasses add their routes here."""
        return web.Application()

    # -- life cycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``; only while the server runs."""
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} is not running: call .start() "
                               "or use it in a `with` block first")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10) -> Self:
        """Start serving in a background thread; return once the port is open."""
        if self.running:
            raise RuntimeError(f"{type(self).__name__} is already running at {self.url}")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._serve, name=f"{type(self).__name__}-thread",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{type(self).__name__} did not start within {timeout} s")
        if self._error is not None:
            self._thread.join()
            raise RuntimeError(f"{type(self).__name__} failed to start: {self._error}") \
                from self._error
        _RUNNING.add(self)
        return self

    def stop(self, timeout: float = 10) -> None:
        """Stop serving, close every connection, and wait for the thread to end."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None and thread.is_alive():
            loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"{type(self).__name__} thread did not stop within {timeout} s")
        self._thread = self._loop = self._stop_event = None
        self.port = None
        _RUNNING.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "stopped"
        return f"<{type(self).__name__} {where} latency={self.latency}s>"

    # -- inside the server thread --------------------------------------------------------
    def _serve(self) -> None:
        with asyncio.Runner(loop_factory=self.loop_factory) as runner:
            runner.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        app = self.make_app()
        app.middlewares.insert(0, self._middleware)
        app_runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                   shutdown_timeout=0.5)
        listener: socket.socket | None = None
        try:
            await app_runner.setup()
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            listener = socket.create_server((self.host, 0), family=family)
            site = web.SockSite(app_runner, listener)
            await site.start()
            self.port = listener.getsockname()[1]
        except BaseException as exc:  # report any start-up failure to start()
            self._error = exc
            if listener is not None:
                listener.close()
            await app_runner.cleanup()
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            try:
                await self._stop_accepting(listener, site)
            finally:
                await app_runner.cleanup()  # closes the listener and every connection

    @staticmethod
    async def _stop_accepting(listener: socket.socket, site: web.BaseSite) -> None:
        """Accept no new connection, and let those already accepted reach aiohttp, so that
        its clean-up closes them too.

        Closing an asyncio server while a connection it just accepted is still being set up
        drops that connection without closing it (asyncio's ``Server._attach`` asserts the
        server is open and the error is swallowed): an "unclosed transport" ResourceWarning
        later. It happened when a client connected at the moment the server stopped
        (measured: 2 to 4 stops in 100 of the gather check with a plain gather, on Python 3.11
        and 3.13; CI failed on it once).

        Stopping the reader does that on selector loops (Linux, macOS). Windows' default
        Proactor loop has no ``remove_reader`` (NotImplementedError): there the site's asyncio
        server is closed instead (public API), which ends the accepting and closes the
        listening socket; the rare connection caught at that instant may then still be
        dropped by asyncio, but the server stops, its thread ends and the port is freed.
        """
        try:
            asyncio.get_running_loop().remove_reader(listener.fileno())
        except NotImplementedError:
            await site.stop()
        for _ in range(2):  # one step to create the transport, one for connection_made
            await asyncio.sleep(0)

    @web.middleware
    async def _middleware(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                          ) -> web.StreamResponse:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        log, index = stats.log, len(stats.log)
        log.append(Request(request.path_qs, time.perf_counter()))
        status = 500
        try:
            delay = self.delay_for(request)
            if delay:
                await asyncio.sleep(delay)
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            stats.in_flight -= 1
            log[index] = replace(log[index], finished=time.perf_counter(), status=status)

    def delay_for(self, request: web.Request) -> float:
        """The seconds to wait before answering ``request``: its ``?delay=`` if given, else
        the server's ``latency``. Override it for latencies that depend on the request (a
        check does: per-user latency, a slow first answer)."""
        raw = request.query.get("delay")
        if raw is None:
            return self.latency
        try:
            return min(max(float(raw), 0.0), 10.0)
        except ValueError:
            raise web.HTTPBadRequest(
                text=f"delay must be a number of seconds, got {raw!r}") from None


def query_number(request: web.Request, name: str, kind: type[_Number], default: _Number,
                  low: _Number, high: _Number) -> _Number:
    """The query parameter ``name`` as a number from ``low`` to ``high``; 400 if it is not."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise web.HTTPBadRequest(**error_body(f"{name} must be a number from {low} to {high}, "
                                          f"got {raw!r}"))
    return value


def error_body(message: str) -> dict[str, str]:
    """The body of an error answer, ``{"error": message}``, as keyword arguments for an
    aiohttp HTTP exception (json.dumps escapes what the message holds, e.g. quotes)."""
    return {"text": json.dumps({"error": message}), "content_type": "application/json"}


def stop_all_servers() -> None:
    """Stop every course server still running in this process (also runs at exit)."""
    for server in list(_RUNNING):
        server.stop()


atexit.register(stop_all_servers)

