"""A small JSON API about users, with latency and reproducible failures.

Routes (all JSON):

- ``GET /users``: every user as ``{"id", "name"}``
- ``GET /users/{id}``: one user ``{"id", "name", "email"}``; 404 if unknown
- ``GET /users/{id}/profile``: ``{"user_id", "bio", "followers"}``; 404 if unknown
- ``GET /users/stream?count=N&interval=S``: the first N users (default all), streamed as
  JSON lines (one ``{"id", "name"}`` object per line), one every S seconds (default 0.1); a
  client that hangs up stops the stream (status 499 in ``stats.log``)
- ``GET /flaky/{key}?fails=K``: the first K requests (default 2) for ``key`` fail with 503,
  the next ones answer ``{"key", "attempt"}``: a service that recovers, for retries

Failures answer ``503`` with ``{"error": ...}``. Users in ``fail_ids`` always fail. With
``fail_rate`` > 0, the n-th request for a path fails when a random draw seeded by
``(seed, path, n)`` is below the rate: the same seed gives the same failures whatever the
order in which concurrent requests arrive, and a retry of a failed request may succeed.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Collection

from aiohttp import web

from .base import BackgroundServer, error_body, query_number

__all__ = ["DemoAPI", "USERS", "user_record", "profile_record"]

_FIRST = ["Ada", "Alan", "Grace", "Guido", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
          "Edsger", "Radia", "Tim", "Katherine", "Linus", "Hedy", "John", "Sophie", "Donald",
          "Karen", "Niklaus"]
_LAST = ["Lovelace", "Turing", "Hopper", "van Rossum", "Liskov", "Thompson", "Hamilton",
         "Ritchie", "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Johnson", "Torvalds",
         "Lamarr", "Backus", "Wilson", "Knuth", "Sparck Jones", "Wirth"]

#: The user ids the API knows: 1 to 20.
USERS: tuple[int, ...] = tuple(range(1, len(_FIRST) + 1))


def user_record(user_id: int) -> dict[str, object]:
    """The JSON the API returns for ``/users/{user_id}`` (for checks and tests)."""
    first, last = _FIRST[user_id - 1], _LAST[user_id - 1]
    return {"id": user_id, "name": f"{first} {last}",
            "email": f"{first.lower()}@example.org"}


def profile_record(user_id: int) -> dict[str, object]:
    """The JSON the API returns for ``/users/{user_id}/profile``."""
    return {"user_id": user_id, "bio": f"{_FIRST[user_id - 1]} writes software.",
            "followers": (user_id * 7919) % 1000}


class DemoAPI(BackgroundServer):
    """The users API on 127.0.0.1, in a background thread.

    >>> with DemoAPI(latency=0.05) as api:          # doctest: +SKIP
    ...     urllib.request.urlopen(f"{api.url}/users/1").read()
    """

    def __init__(self, *, latency: float = 0.1, fail_rate: float = 0.0, seed: int = 0,
                 fail_ids: Collection[int] = ()) -> None:
        super().__init__(latency=latency)
        if not 0 <= fail_rate <= 1:
            raise ValueError(f"fail_rate is a probability between 0 and 1, got {fail_rate!r}")
        unknown = set(fail_ids) - set(USERS)
        if unknown:
            raise ValueError(f"fail_ids must be user ids from 1 to {len(USERS)}; "
                             f"unknown: {sorted(unknown)}")
        self.fail_rate = fail_rate
        self.seed = seed
        self.fail_ids = frozenset(fail_ids)
        self._attempts: Counter[str] = Counter()

    def make_app(self) -> web.Application:
        self._attempts.clear()
        app = web.Application()
        app.add_routes([
            web.get("/users", self._list),
            web.get("/users/stream", self._stream),
            web.get("/users/{id}", self._user),
            web.get("/users/{id}/profile", self._profile),
            web.get("/flaky/{key}", self._flaky),
        ])
        return app

    def should_fail(self, path: str, attempt: int) -> bool:
        """Whether the ``attempt``-th request (from 1) for ``path`` gets an injected failure."""
        if self.fail_rate == 0:
            return False
        return random.Random(f"{self.seed}:{path}:{attempt}").random() < self.fail_rate

    def _check(self, request: web.Request) -> int:
        raw = request.match_info["id"]
        try:
            user_id = int(raw)
        except ValueError:
            raise web.HTTPNotFound(**error_body(f"no user {raw!r}")) from None
        if user_id not in USERS:
            raise web.HTTPNotFound(**error_body(f"no user {user_id}"))
        self._attempts[request.path] += 1
        if user_id in self.fail_ids or self.should_fail(request.path,
                                                        self._attempts[request.path]):
            raise web.HTTPServiceUnavailable(**error_body("injected failure"))
        return user_id

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response([{"id": u, "name": user_record(u)["name"]} for u in USERS])

    async def _user(self, request: web.Request) -> web.Response:
        return web.json_response(user_record(self._check(request)))

    async def _profile(self, request: web.Request) -> web.Response:
        return web.json_response(profile_record(self._check(request)))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        count = query_number(request, "count", int, len(USERS), 0, len(USERS))
        interval = query_number(request, "interval", float, 0.1, 0.0, 2.0)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        try:
            for user_id in USERS[:count]:
                if interval:
                    await asyncio.sleep(interval)
                line = {"id": user_id, "name": user_record(user_id)["name"]}
                await response.write(json.dumps(line).encode() + b"\n")
            await response.write_eof()
        except ConnectionResetError:  # the client hung up: stop streaming, quietly
            raise _ClientClosed from None
        return response

    async def _flaky(self, request: web.Request) -> web.Response:
        fails = query_number(request, "fails", int, 2, 0, 20)
        key = request.match_info["key"]
        self._attempts[f"flaky:{key}"] += 1
        attempt = self._attempts[f"flaky:{key}"]
        if attempt <= fails:
            raise web.HTTPServiceUnavailable(**error_body(f"injected failure {attempt} of {fails}"))
        return web.json_response({"key": key, "attempt": attempt})


class _ClientClosed(web.HTTPException):
    """The client closed the connection before the answer was complete. Recorded in the
    server's log with nginx's status 499; nothing is sent (nobody listens any more)."""

    status_code = 499
