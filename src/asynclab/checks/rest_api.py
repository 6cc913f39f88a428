"""Checks for notebook 10 (An async REST API).

The learner writes ``make_app(upstream_url)``: a FastAPI application whose
``GET /users/{user_id}/summary`` combines two requests to an upstream users API (the course's
DemoAPI). The checks run the application in-process, as the notebook does: its lifespan by
``app.router.lifespan_context`` and its requests through ``httpx.ASGITransport``, inside
:func:`run_learner` (so a blocking call in an endpoint is caught by name). They observe from
the upstream's side: when each upstream request arrived and ended (were the two requests of
a summary in flight together?), which client connection carried it (was one client shared by
the requests, or made anew for each?), and whether those connections were closed when the
application shut down.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp import web

from ..servers import DemoAPI, Request, profile_record, user_record
from ._core import blocking_message, checker, fail, require_callable, run_learner

__all__ = ["check_summary", "check_summary_errors"]

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
