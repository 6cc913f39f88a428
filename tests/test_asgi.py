"""ASGIServer serves an ASGI application with uvicorn on 127.0.0.1: it starts (lifespan
included), reports its URL, answers, stops without hanging even with a connection left open,
frees its port, leaves no thread, runs twice, and says what is wrong when used wrongly."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Path
from pydantic import BaseModel

from asynclab.servers import ASGIServer, stop_all_servers
from asynclab.servers.base import _RUNNING


class NewUser(BaseModel):
    name: str


def make_app(events: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    users = {1: "Ada"}

    @app.get("/users/{user_id}")
    async def user(user_id: int = Path(ge=1)) -> dict[str, object]:
        if user_id not in users:
            raise HTTPException(404, detail=f"no user {user_id}")
        return {"id": user_id, "name": users[user_id]}

    @app.post("/users", status_code=201)
    async def create(new: NewUser) -> dict[str, object]:
        users[len(users) + 1] = new.name
        return {"id": len(users), "name": new.name}

    return app


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "ASGIServer-thread"]


def test_serves_runs_the_lifespan_and_stops_cleanly():
    events: list[str] = []
    server = ASGIServer(make_app(events))
    with server:
        assert server.running and server in _RUNNING
        assert server.url.startswith("http://127.0.0.1:")
        assert events == ["startup"]
        with httpx.Client() as client:
            assert client.get(f"{server.url}/users/1").json() == {"id": 1, "name": "Ada"}
        port = server.port
    assert events == ["startup", "shutdown"]
    assert not server.running and server not in _RUNNING and not _threads()
    assert "stopped" in repr(server)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with socket.create_server(("127.0.0.1", port)):  # the port is free again
        pass


def test_bad_input_gets_a_4xx_with_a_reason_over_real_http():
    with ASGIServer(make_app([])) as server, httpx.Client(base_url=server.url) as client:
        unknown = client.get("/users/99")
        assert unknown.status_code == 404 and unknown.json() == {"detail": "no user 99"}
        for bad in ("/users/abc", "/users/0"):
            answer = client.get(bad)
            assert answer.status_code == 422, bad
            assert answer.json()["detail"][0]["loc"] == ["path", "user_id"]
        malformed = client.post("/users", content=b"{not json",
                                headers={"content-type": "application/json"})
        assert malformed.status_code == 422 and "json" in malformed.text.lower()
        missing = client.post("/users", json={"nickname": "Bob"})
        assert missing.status_code == 422 and "name" in missing.text
        assert client.post("/users", json={"name": "Bob"}).status_code == 201


def test_stops_without_hanging_while_a_connection_stays_open():
    server = ASGIServer(make_app([])).start()
    client = httpx.Client()  # keep-alive: the connection stays open after the request
    try:
        assert client.get(f"{server.url}/users/1").status_code == 200
        started = time.perf_counter()
        server.stop()
        assert time.perf_counter() - started < 3
        assert not _threads()
    finally:
        client.close()
        server.stop()  # a second stop does nothing


def test_runs_twice_and_is_stopped_by_stop_all_servers():
    server = ASGIServer(make_app([]))
    for _ in range(2):
        server.start()
        with httpx.Client() as client:
            assert client.get(f"{server.url}/users/1").status_code == 200
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
        stop_all_servers()
        assert not server.running and server not in _RUNNING and not _threads()


def test_a_failing_lifespan_is_reported_by_start():
    @asynccontextmanager
    async def broken(app: FastAPI):
        raise ConnectionError("the database is down")
        yield

    for lifespan in ("auto", "on"):
        with pytest.raises(RuntimeError, match="failed to start: uvicorn .* lifespan"):
            ASGIServer(FastAPI(lifespan=broken), lifespan=lifespan).start(timeout=5)
        assert not _threads() and not _RUNNING


@pytest.mark.parametrize("kwargs, message", [
    ({"app": "main:app"}, "ASGI application"),
    ({"app": FastAPI(), "host": "0.0.0.0"}, "loopback"),
    ({"app": FastAPI(), "lifespan": "yes"}, "lifespan"),
])
def test_wrong_arguments_say_what_to_do(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        ASGIServer(**kwargs)


QUIET = """
import gc
import warnings

import httpx
from fastapi import FastAPI, HTTPException

from asynclab.servers import ASGIServer

warnings.simplefilter("error", ResourceWarning)
app = FastAPI()


@app.get("/teapot")
async def teapot():
    raise HTTPException(418, detail="a teapot")


for _ in range(2):
    with ASGIServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/teapot").status_code == 418
        assert client.get("/nowhere").status_code == 404
del server, client
gc.collect()
print("done")
"""


def test_uvicorn_says_nothing_and_leaks_no_socket():
    """No start-up banner, no access log, no ResourceWarning: a notebook's stderr stays empty
    (the run-twice test fails a notebook that writes to stderr)."""
    command = [sys.executable, "-W", "always::ResourceWarning", "-c", QUIET]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.stdout == "done\n" and done.stderr == "", done.stderr
