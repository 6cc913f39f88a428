"""Serve any ASGI application (FastAPI, Starlette, ...) with uvicorn on 127.0.0.1, in a
background thread with its own event loop.

It is the ASGI twin of :class:`asynclab.servers.BackgroundServer` (which serves aiohttp
applications): a context manager that starts uvicorn on a port the OS chooses, returns once
the server accepts connections (the application's lifespan start-up has run), reports its URL,
and stops cleanly: uvicorn is asked to exit (``should_exit``), which runs the lifespan
shut-down and closes every connection, and the thread is joined with a time limit. A running
server is registered with the other course servers, so :func:`stop_all_servers` (also run at
exit) stops it, and its thread's name ends with ``-thread`` like theirs.

uvicorn's own logging is left unconfigured (``log_config=None``) and only warnings and errors
pass (``log_level="warning"``), so a notebook shows no start-up banner or access log.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import TYPE_CHECKING, Any, Self

from .base import _RUNNING

if TYPE_CHECKING:  # uvicorn is imported when a server starts: importing asynclab stays quick
    import uvicorn

__all__ = ["ASGIServer"]


class ASGIServer:
    """Serve ``app`` (an ASGI application) on ``http://127.0.0.1:<free port>`` with uvicorn.

    >>> with ASGIServer(app) as server:            # doctest: +SKIP
    ...     httpx.get(f"{server.url}/users/1")

    ``lifespan`` is uvicorn's option: ``"auto"`` runs the application's lifespan if it has
    one, ``"on"`` requires it, ``"off"`` skips it. ``log_level`` is uvicorn's logging level
    (``"warning"``: silent unless something goes wrong). ``graceful_timeout`` bounds how long
    stopping waits for requests still running. (No ``async with``: starting and stopping wait
    for the server's thread, which would block the caller's event loop.)
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", lifespan: str = "auto",
                 log_level: str = "warning", graceful_timeout: float = 1.0) -> None:
        if not callable(app):
            raise TypeError("ASGIServer serves an ASGI application (e.g. a FastAPI() "
                            f"object); got the {type(app).__name__} {app!r:.60}")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the course's servers only listen on the loopback interface "
                             f"(127.0.0.1); got host={host!r}")
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan is 'auto', 'on' or 'off'; got {lifespan!r}")
        self.app = app
        self.host = host
        self.lifespan = lifespan
        self.log_level = log_level
        self.graceful_timeout = graceful_timeout
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- life cycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``; only while the server runs."""
        if self.port is None:
            raise RuntimeError("ASGIServer is not running: call .start() or use it in a "
                               "`with` block first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10) -> Self:
        """Start uvicorn in a background thread; return once it accepts connections."""
        if self.running:
            raise RuntimeError(f"ASGIServer is already running at {self.url}")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._serve, name="ASGIServer-thread",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self._request_exit()
            self._thread.join(timeout)
            self._forget()
            raise RuntimeError(f"ASGIServer did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            error = self._error
            self._forget()
            raise RuntimeError(f"ASGIServer failed to start: {error}") from error
        _RUNNING.add(self)  # type: ignore[arg-type]  # stop_all_servers() only calls .stop()
        return self

    def stop(self, timeout: float = 10) -> None:
        """Ask uvicorn to exit (lifespan shut-down, connections closed) and wait for the
        thread to end."""
        thread = self._thread
        if thread is None:
            return
        self._request_exit()
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"ASGIServer thread did not stop within {timeout} s")
        self._forget()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "stopped"
        return f"<ASGIServer {where} app={type(self.app).__name__}>"

    def _request_exit(self) -> None:
        if self._server is not None:
            self._server.should_exit = True  # uvicorn's main loop looks every 0.1 s

    def _forget(self) -> None:
        self._thread = self._server = None
        self.port = None
        _RUNNING.discard(self)  # type: ignore[arg-type]

    # -- inside the server thread --------------------------------------------------------
    def _serve(self) -> None:
        try:
            import uvicorn  # noqa: F401 (imported before the loop runs, not inside it)

            with asyncio.Runner() as runner:
                runner.run(self._main())
        except BaseException as exc:  # report it to start() if it has not returned yet
            self._error = self._error or exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, 0), family=family)
        try:
            import uvicorn  # already imported by _serve: no wait here

            config = uvicorn.Config(self.app, lifespan=self.lifespan, log_config=None,
                                    log_level=self.log_level, access_log=False,
                                    timeout_graceful_shutdown=self.graceful_timeout)
            server = uvicorn.Server(config)
            self._server = server
            serving = asyncio.create_task(_run_uvicorn(server, listener))
            while not server.started and not serving.done():  # noqa: ASYNC110 (a flag)
                await asyncio.sleep(0.005)
            if serving.done():  # lifespan start-up failed, or an error
                serving.result()
                raise RuntimeError("uvicorn stopped during start-up (see the error above: "
                                   "did the application's lifespan start-up fail?)")
            self.port = listener.getsockname()[1]
            self._ready.set()
            await serving
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            listener.close()


async def _run_uvicorn(server: uvicorn.Server, listener: socket.socket) -> None:
    """``server.serve()``, with the ``sys.exit()`` uvicorn calls when the application's
    lifespan start-up fails turned into an exception (a SystemExit in a task would end the
    thread's loop and leave a "Task exception was never retrieved" behind)."""
    try:
        await server.serve(sockets=[listener])
    except SystemExit as exc:
        raise RuntimeError(f"uvicorn exited (code {exc.code}) during start-up: did the "
                           "application's lifespan start-up fail? (its error is above)") from None
