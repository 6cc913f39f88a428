"""Checks for notebook 10 (An async REST API).

The learner writes ``make_app(upstream_url)``: a FastAPI application whose
``GET /users/{user_id}/summary`` combines two requests to an upstream users API (the course's
DemoAPI). The checks run the application in-process, as the notebook does: its lifespan by
``app.router.lifespan_context`` and its requests through ``httpx.ASGITransport``, inside
:func:`run_learner` (so a blocking call in an endpoint is caught by name). They observe from
the upstream's side: when each upstream request arrived and ended (were the two requests of
a summary in flight together?), which client connection carried it (was one client shared by
the requests, or made anew for each?), and whether those connections were closed when the
application shut down. The third check serves the learner's ``aiohttp.web`` application in
the check's own loop and reads its answers to good and bad ids.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web

from ..servers import DemoAPI, Request, profile_record, user_record
from ._core import blocking_message, checker, fail, require_callable, run_learner

__all__ = ["check_aiohttp_users", "check_summary", "check_summary_errors"]

_LATENCY = 0.05
#: Users asked for one after another: position is not identity, so a hard-coded answer fails.
_IDS = (3, 12, 7)
#: A user whose profile the upstream cannot give (503), while its user record works.
_BROKEN_PROFILE = 13


@dataclass
class _Connection:
    """One client connection the upstream saw: its client port and its transport."""

    port: int
    transport: Any


class _CheckAPI(DemoAPI):
    """The demo API, noting the client connection of every request, and failing (503) the
    profile of user 13 only."""

    def __init__(self) -> None:
        super().__init__(latency=_LATENCY)
        self.connections: list[_Connection] = []
        self.ports: list[tuple[str, int]] = []  # (path, client port) of every request

    def delay_for(self, request: web.Request) -> float:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        port = peer[1] if peer else -1
        self.ports.append((request.path, port))
        if all(c.port != port for c in self.connections):
            self.connections.append(_Connection(port, request.transport))
        if request.path == f"/users/{_BROKEN_PROFILE}/profile":
            raise web.HTTPServiceUnavailable(text='{"error": "profiles are down"}',
                                             content_type="application/json")
        return super().delay_for(request)


def _expected(user_id: int) -> dict[str, object]:
    return {"id": user_id, "name": user_record(user_id)["name"],
            "followers": profile_record(user_id)["followers"]}


def _short(value: object, width: int = 110) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _body(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def _make(make_app: Callable[[str], Any], url: str) -> Any:
    """Call the learner's ``make_app(url)``; fail unless it returns a FastAPI application
    with a lifespan (not the deprecated start-up/shut-down events)."""
    from fastapi import FastAPI

    if isinstance(make_app, FastAPI):
        fail("Pass the function itself, `make_app`, not the application that "
             "`make_app(...)` returned: the check calls it with its own upstream's URL.")
    try:
        app = make_app(url)
    except Exception as exc:
        fail(f"make_app(upstream_url) raised {type(exc).__name__}: {_short(str(exc))}.")
    if not isinstance(app, FastAPI):
        fail(f"make_app(upstream_url) returned {_short(app, 60)}; expected the FastAPI "
             "application it builds (`return app` at the end?).")
    router = app.router
    if getattr(router, "on_startup", None) or getattr(router, "on_shutdown", None):
        fail("make_app's application registers start-up or shut-down handlers with "
             "`on_event`, which FastAPI deprecates: open and close the client in a lifespan "
             "function instead (section 3).")
    return app


async def _serve_in_process(app: Any, paths: Sequence[str]) -> list[httpx.Response]:
    """Run the app's lifespan, GET every path in turn through the ASGI transport (an
    exception in the app becomes a 500, as uvicorn would answer), then shut the app down."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    answers = []
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            for path in paths:
                answers.append(await client.get(path))
    return answers


async def _run(make_app: Callable[[str], Any], api: _CheckAPI, paths: Sequence[str],
               see: str) -> list[httpx.Response]:
    app = _make(make_app, api.url)
    outcome = await run_learner(_serve_in_process, app, paths, time_limit=5.0)
    if outcome.blocking:
        fail(blocking_message("The summary endpoint", outcome.blocking, see))
    if outcome.timed_out:
        fail(f"{len(paths)} summaries did not come back within 5 s: is something waiting "
             "forever?")
    if outcome.error is not None:
        exc = outcome.error
        fail(f"Running the application (its lifespan, then {len(paths)} requests) raised "
             f"{type(exc).__name__}: {_short(str(exc))}. Does the lifespan `yield` once, "
             "between opening and closing the client (section 3)?")
    return outcome.value


def _overlap(log: Sequence[Request], user_id: int) -> tuple[list[Request], bool]:
    """The upstream requests made for one user, and whether two were in flight at once."""
    mine = [r for r in log if r.path.split("?")[0] in (f"/users/{user_id}",
                                                          f"/users/{user_id}/profile")]
    together = any(a is not b and a.started < (b.finished or float("inf"))
                   and b.started < (a.finished or float("inf"))
                   for a in mine for b in mine)
    return mine, together


async def _closed(connections: Sequence[_Connection], within: float = 1.5) -> int:
    """How many of ``connections`` are still open after ``within`` seconds at most."""
    deadline = time.perf_counter() + within
    while True:
        still = sum(not c.transport.is_closing() for c in connections)
        if not still or time.perf_counter() > deadline:
            return still
        await asyncio.sleep(0.02)


def _forget_leaked_clients() -> None:
    """A client the learner never closed still holds sockets: collect it now, quietly, so
    its ResourceWarning does not surface later in an unrelated cell."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


# -- exercise 1: an aggregate endpoint ---------------------------------------------------------
@checker
async def check_summary(make_app: Callable[[str], Any]) -> str:
    """``make_app(upstream_url)`` builds a FastAPI app whose ``GET /users/{id}/summary``
    answers ``{"id", "name", "followers"}`` from the upstream's user and profile, fetched
    concurrently, with one client opened in the lifespan and closed at shut-down."""
    require_callable(make_app, "make_app", is_async=False)
    see = "section 3"
    try:
        with _CheckAPI() as api:
            answers = await _run(make_app, api, [f"/users/{i}/summary" for i in _IDS], see)
            log = list(api.stats.log)
            for user_id, answer in zip(_IDS, answers, strict=True):
                path = f"/users/{user_id}/summary"
                if answer.status_code != 200:
                    fail(f"GET {path} answered {answer.status_code}: {_short(_body(answer))}. "
                         "Expected 200 with the user's summary.")
                if _body(answer) != _expected(user_id):
                    fail(f"GET {path} answered {_short(_body(answer))}; expected "
                         f"{_expected(user_id)} (the name from /users/{user_id}, the "
                         f"followers from /users/{user_id}/profile).")
            for user_id in _IDS:
                mine, together = _overlap(log, user_id)
                if len(mine) < 2:
                    fail(f"For GET /users/{user_id}/summary the upstream received "
                         f"{len(mine)} request(s); the summary needs both the user and the "
                         f"profile ({see}).")
                if not together:
                    gap = max(r.started for r in mine) - min(r.started for r in mine)
                    fail(f"The summaries are right, but for user {user_id} the upstream "
                         "received the user and the profile requests one after the other "
                         f"(the second arrived {gap:.2f} s after the first, never both in "
                         f"flight at once): fetch them concurrently ({see}).")
            by_summary = [{port for path, port in api.ports if f"/users/{i}" in path}
                          for i in _IDS]
            if all(not (later & set().union(*by_summary[:k]))
                   for k, later in enumerate(by_summary) if k):
                fail(f"The summaries are right and concurrent, but each of the {len(_IDS)} "
                     "summaries reached the upstream over new connections "
                     f"({len(api.connections)} connections in all, none used twice): the "
                     "application should open one client in its lifespan and share it "
                     f"({see}).")
            still_open = await _closed(api.connections)
            if still_open:
                fail(f"The summaries are right, concurrent, and shared one client, but after "
                     f"the application shut down {still_open} of its {len(api.connections)} "
                     "connection(s) to the upstream were still open: the lifespan should "
                     f"close the client after its `yield` ({see}).")
            connections = len(api.connections)
    finally:
        _forget_leaked_clients()
    return (f"{len(_IDS)} summaries right; each one's two upstream requests were in flight "
            f"together, over {connections} shared connection(s), closed at shut-down.")


# -- exercise 2: errors are answers ------------------------------------------------------------
#: (path, the statuses that are right, what the case is about)
_ERROR_CASES: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("/users/abc/summary", (404, 422), "an id that is not a number"),
    ("/users/0/summary", (404, 422), "an id out of range"),
    ("/users/21/summary", (404, 422), "a user the upstream does not know (it answers 404)"),
    (f"/users/{_BROKEN_PROFILE}/summary", (502,),
     "a user whose profile the upstream fails to give (it answers 503)"),
)


@checker
async def check_summary_errors(make_app: Callable[[str], Any]) -> str:
    """``GET /users/{id}/summary`` answers a clear 4xx for a bad or unknown id, 502 when the
    upstream fails, each with a JSON ``detail``; never a 500; good ids still work."""
    require_callable(make_app, "make_app", is_async=False)
    see = "section 4"
    paths = ["/users/5/summary", *(case[0] for case in _ERROR_CASES)]
    try:
        with _CheckAPI() as api:
            answers = await _run(make_app, api, paths, see)
    finally:
        _forget_leaked_clients()
    good = answers[0]
    if good.status_code != 200 or _body(good) != _expected(5):
        fail(f"GET /users/5/summary answered {good.status_code} {_short(_body(good))}; "
             f"expected 200 {_expected(5)}: a good id must still work.")
    for (path, right, about), answer in zip(_ERROR_CASES, answers[1:], strict=True):
        status, body = answer.status_code, _body(answer)
        wanted = " or ".join(map(str, right))
        if status == 500:
            fail(f"GET {path} ({about}) answered 500 Internal Server Error: an exception "
                 f"escaped the endpoint. Expected {wanted} with a reason ({see}).")
        if status not in right:
            why = ""
            if 502 in right and 400 <= status < 500:
                why = (" A 4xx blames the client, but the client asked for a real user: "
                       "the upstream failed.")
            elif 502 in right and status == 503:
                why = (" 503 says this service is unavailable; it is up, the upstream "
                       "behind it failed.")
            elif status >= 500:
                why = " A 5xx blames the server, but the request itself is what is wrong."
            elif status < 400:
                why = " A success status hides the error from the client."
            fail(f"GET {path} ({about}) answered {status} {_short(body, 80)}; expected "
                 f"{wanted} ({see}).{why}")
        if not (isinstance(body, dict) and body.get("detail")):
            fail(f"GET {path} ({about}) answered {status} with {_short(body, 80)}: the "
                 "status is right, but the JSON body should carry a `detail` that says "
                 f"what went wrong ({see}).")
    return ("A good id still works; a bad or unknown id got a 4xx, the upstream's failure a "
            "502, each with a detail, and never a 500.")


# -- exercise 3: the same API in aiohttp.web ---------------------------------------------------
#: Two user tables, with ids that are not 1, 2, 3...: a hard-coded table fails.
_TABLES: tuple[dict[int, dict[str, object]], ...] = (
    {3: {"id": 3, "name": "Grace Hopper"}, 8: {"id": 8, "name": "Dennis Ritchie"}},
    {5: {"id": 5, "name": "Barbara Liskov"}, 11: {"id": 11, "name": "Radia Perlman"},
     17: {"id": 17, "name": "Sophie Wilson"}},
)


@dataclass
class _Answer:
    status: int
    body: object
    content_type: str


async def _serve_aiohttp(app: web.Application, paths: Sequence[str]) -> list[_Answer]:
    """Serve ``app`` on 127.0.0.1 (a port the OS chooses) in this loop, GET every path with
    aiohttp, and stop the server."""
    import aiohttp

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    answers = []
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(f"http://{host}:{port}") as session:
            for path in paths:
                async with session.get(path) as response:
                    text = await response.text()
                    try:
                        body: object = json.loads(text)
                    except ValueError:
                        body = text
                    answers.append(_Answer(response.status, body, response.content_type))
    finally:
        await runner.cleanup()
    return answers


@checker
async def check_aiohttp_users(make_aiohttp_app: Callable[[dict[int, Any]], Any]) -> str:
    """``make_aiohttp_app(users)`` builds an ``aiohttp.web.Application`` with ``GET /users``
    (every user of ``users``) and ``GET /users/{user_id}`` (one user as JSON; 404 with a
    ``detail`` for an unknown id; 422 or 400 with a ``detail`` for an id that is not an integer
    of at least 1)."""
    require_callable(make_aiohttp_app, "make_aiohttp_app", is_async=False)
    see = "section 5"
    server_log = logging.getLogger("aiohttp.server")  # it logs a handler's exception
    for users in _TABLES:
        table = {k: dict(v) for k, v in users.items()}  # a copy: the learner may change it
        try:
            app = make_aiohttp_app(table)
        except Exception as exc:
            fail(f"make_aiohttp_app(users) raised {type(exc).__name__}: {_short(str(exc))}.")
        if not isinstance(app, web.Application):
            fail(f"make_aiohttp_app(users) returned {_short(app, 60)}; expected the "
                 "aiohttp.web.Application it builds (`return app` at the end?).")
        some = sorted(users)
        paths = ["/users", *(f"/users/{i}" for i in some), "/users/99", "/users/abc",
                 "/users/0", "/users/-2"]
        disabled, server_log.disabled = server_log.disabled, True
        try:
            outcome = await run_learner(_serve_aiohttp, app, paths, time_limit=5.0)
        finally:
            server_log.disabled = disabled
        if outcome.blocking:
            fail(blocking_message("A handler", outcome.blocking, see))
        if outcome.timed_out or outcome.error is not None:
            what = "timed out" if outcome.timed_out else (
                f"raised {type(outcome.error).__name__}: {_short(str(outcome.error))}")
            fail(f"Serving the application and sending it {len(paths)} requests {what}.")
        answers = dict(zip(paths, outcome.value, strict=True))
        listing = answers["/users"]
        expected_list = [users[i] for i in some]
        got = listing.body
        if isinstance(got, list) and all(isinstance(u, dict) for u in got):
            got = sorted(got, key=lambda u: str(u.get("id")))
            expected_list = sorted(expected_list, key=lambda u: str(u["id"]))
        if listing.status != 200 or got != expected_list:
            fail(f"With users {sorted(users)}, GET /users answered {listing.status} "
                 f"{_short(listing.body, 90)}; expected 200 and those users as a JSON list.")
        for user_id in some:
            answer = answers[f"/users/{user_id}"]
            if answer.status != 200 or answer.body != users[user_id]:
                fail(f"With users {sorted(users)}, GET /users/{user_id} answered "
                     f"{answer.status} {_short(answer.body, 90)}; expected 200 "
                     f"{users[user_id]}.")
            if answer.content_type != "application/json":
                fail(f"GET /users/{user_id} answered with content type "
                     f"{answer.content_type!r}; a JSON API answers 'application/json' "
                     f"({see}).")
        for path, right, about in (("/users/99", (404,), "an unknown user"),
                                   ("/users/abc", (400, 422), "an id that is not a number"),
                                   ("/users/0", (400, 404, 422), "an id of 0"),
                                   ("/users/-2", (400, 404, 422), "a negative id")):
            answer = answers[path]
            wanted = " or ".join(map(str, right))
            if answer.status == 500:
                fail(f"GET {path} ({about}) answered 500 Internal Server Error: an "
                     f"exception escaped the handler. Expected {wanted} ({see}).")
            if answer.status not in right:
                fail(f"GET {path} ({about}) answered {answer.status} "
                     f"{_short(answer.body, 80)}; expected {wanted} ({see}).")
            if not (isinstance(answer.body, dict) and answer.body.get("detail")):
                fail(f"GET {path} ({about}) answered {answer.status} with "
                     f"{_short(answer.body, 80)}: the status is right, but the body should "
                     f"be JSON with a `detail` that says what went wrong ({see}).")
    return ("Both user tables served: the list, each user as JSON, a 404 for an unknown id "
            "and a 4xx for a bad one, each with a detail, never a 500.")
