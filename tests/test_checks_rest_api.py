"""The checks of notebook 10 (An async REST API) reject a catalogue of realistic wrong answers,
each with a sentence that says what was observed and no solution code, and accept the
reference answers (httpx or aiohttp as the upstream client), also repeatedly under a bursty
CPU load."""

from __future__ import annotations

import asyncio
import functools
import json
import urllib.request
from contextlib import asynccontextmanager

import aiohttp
import httpx
import pytest
from aiohttp import web
from checking import assert_rejected
from conftest import LOAD_RUNS
from fastapi import FastAPI, HTTPException, Path

from asynclab.checks.rest_api import check_aiohttp_users, check_summary, check_summary_errors

#: Code that belongs in the hints and the solution cells, never in a ❌ sentence.
SOLUTION_CODE = ("gather(", "TaskGroup(", "AsyncClient(", "asynccontextmanager",
                 "aclose()", "app.state", "HTTPException(", "raise_for_status",
                 "except httpx", "status_code=502", "Path(", "isdigit", "except ValueError",
                 "json_response", "HTTPNotFound(", "match_info")

rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# -- the reference answers ---------------------------------------------------------------------
def make_app(upstream_url):
    @asynccontextmanager
    async def lifespan(app):
        async with httpx.AsyncClient(base_url=upstream_url) as client:
            app.state.client = client
            yield

    app = FastAPI(lifespan=lifespan)

    async def get_json(path):
        response = await app.state.client.get(path)
        response.raise_for_status()
        return response.json()

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        user, profile = await asyncio.gather(get_json(f"/users/{user_id}"),
                                             get_json(f"/users/{user_id}/profile"))
        return {"id": user_id, "name": user["name"], "followers": profile["followers"]}

    return app


def make_app_errors(upstream_url):
    @asynccontextmanager
    async def lifespan(app):
        async with httpx.AsyncClient(base_url=upstream_url) as client:
            app.state.client = client
            yield

    app = FastAPI(lifespan=lifespan)

    async def get_json(path):
        try:
            response = await app.state.client.get(path)
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status == 404:
                raise HTTPException(404, detail=f"upstream has no {path}") from None
            raise HTTPException(502, detail=f"upstream answered {status} for {path}") from None
        except httpx.TransportError as exc:
            raise HTTPException(502, detail=f"upstream unreachable: {exc!r}") from None
        return response.json()

    app.state.get_json = get_json  # for the variants below

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int = Path(ge=1)):
        user, profile = await asyncio.gather(get_json(f"/users/{user_id}"),
                                             get_json(f"/users/{user_id}/profile"))
        return {"id": user_id, "name": user["name"], "followers": profile["followers"]}

    return app


def make_app_task_group(upstream_url):
    """Another right answer: a TaskGroup, whose ExceptionGroup is unwrapped with except*."""
    app = make_app_errors(upstream_url)
    get_json = app.state.get_json
    app.router.routes = [r for r in app.router.routes
                         if getattr(r, "path", "") != "/users/{user_id}/summary"]

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int = Path(ge=1)):
        try:
            async with asyncio.TaskGroup() as tg:
                user = tg.create_task(get_json(f"/users/{user_id}"))
                profile = tg.create_task(get_json(f"/users/{user_id}/profile"))
        except* HTTPException as group:
            raise group.exceptions[0] from None
        return {"id": user_id, "name": user.result()["name"],
                "followers": profile.result()["followers"]}

    return app


def task_group_not_unwrapped(upstream_url):
    """A TaskGroup lets an ExceptionGroup out of the endpoint: FastAPI answers 500."""
    app = make_app_errors(upstream_url)
    get_json = app.state.get_json
    app.router.routes = [r for r in app.router.routes
                         if getattr(r, "path", "") != "/users/{user_id}/summary"]

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int = Path(ge=1)):
        async with asyncio.TaskGroup() as tg:
            user = tg.create_task(get_json(f"/users/{user_id}"))
            profile = tg.create_task(get_json(f"/users/{user_id}/profile"))
        return {"id": user_id, "name": user.result()["name"],
                "followers": profile.result()["followers"]}

    return app


def make_app_aiohttp(upstream_url):
    """Another right answer: an aiohttp session as the upstream client."""
    @asynccontextmanager
    async def lifespan(app):
        async with aiohttp.ClientSession(upstream_url) as session:
            app.state.session = session
            yield

    app = FastAPI(lifespan=lifespan)

    async def get_json(path):
        async with app.state.session.get(path) as response:
            if response.status == 404:
                raise HTTPException(404, detail=f"no {path} upstream")
            if response.status >= 400:
                raise HTTPException(502, detail=f"upstream answered {response.status}")
            return await response.json()

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        user, profile = await asyncio.gather(get_json(f"/users/{user_id}"),
                                             get_json(f"/users/{user_id}/profile"))
        return {"id": user_id, "name": user["name"], "followers": profile["followers"]}

    return app


# -- exercise 1: wrong answers -----------------------------------------------------------------
def _with_summary(build):
    """A FastAPI app with the shared client of the reference, and ``build(app, get_json)``'s
    summary endpoint."""
    def make(upstream_url):
        @asynccontextmanager
        async def lifespan(app):
            async with httpx.AsyncClient(base_url=upstream_url) as client:
                app.state.client = client
                yield

        app = FastAPI(lifespan=lifespan)

        async def get_json(path):
            response = await app.state.client.get(path)
            response.raise_for_status()
            return response.json()

        build(app, get_json)
        return app
    return make


def _sequential(app, get_json):
    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        user = await get_json(f"/users/{user_id}")
        profile = await get_json(f"/users/{user_id}/profile")
        return {"id": user_id, "name": user["name"], "followers": profile["followers"]}


def _hard_coded(app, get_json):
    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        user, profile = await asyncio.gather(get_json("/users/3"), get_json("/users/3/profile"))
        return {"id": user_id, "name": user["name"], "followers": profile["followers"]}


def _forgot_await(app, get_json):
    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        user = get_json(f"/users/{user_id}")
        return {"id": user_id, "name": user, "followers": 0}


def _user_only(app, get_json):
    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        user = await get_json(f"/users/{user_id}")
        return {"id": user_id, "name": user["name"], "followers": None}


def _blocking(app, get_json):
    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        base = str(app.state.client.base_url).rstrip("/")

        def get(path):
            with urllib.request.urlopen(base + path) as response:
                return json.load(response)
        user, profile = get(f"/users/{user_id}"), get(f"/users/{user_id}/profile")
        return {"id": user_id, "name": user["name"], "followers": profile["followers"]}


def client_per_request(upstream_url):
    app = FastAPI()

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        async with httpx.AsyncClient(base_url=upstream_url) as client:
            user, profile = await asyncio.gather(client.get(f"/users/{user_id}"),
                                                 client.get(f"/users/{user_id}/profile"))
        return {"id": user_id, "name": user.json()["name"],
                "followers": profile.json()["followers"]}

    return app


def never_closed(upstream_url):
    @asynccontextmanager
    async def lifespan(app):
        app.state.client = httpx.AsyncClient(base_url=upstream_url)
        yield  # the client is never closed

    app = FastAPI(lifespan=lifespan)

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        client = app.state.client
        user, profile = await asyncio.gather(client.get(f"/users/{user_id}"),
                                             client.get(f"/users/{user_id}/profile"))
        return {"id": user_id, "name": user.json()["name"],
                "followers": profile.json()["followers"]}

    return app


def with_on_event(upstream_url):
    """The deprecated way: start-up and shut-down events instead of a lifespan."""
    app = FastAPI()

    @app.on_event("startup")
    async def open_client():
        app.state.client = httpx.AsyncClient(base_url=upstream_url)

    @app.on_event("shutdown")
    async def close_client():
        await app.state.client.aclose()

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        client = app.state.client
        user, profile = await asyncio.gather(client.get(f"/users/{user_id}"),
                                             client.get(f"/users/{user_id}/profile"))
        return {"id": user_id, "name": user.json()["name"],
                "followers": profile.json()["followers"]}

    return app


def forgot_return(upstream_url):
    make_app(upstream_url)  # builds the app, then returns None


def not_a_function(upstream_url):
    return make_app


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.filterwarnings("ignore:\\s*on_event is deprecated:DeprecationWarning")
@pytest.mark.parametrize("wrong, observed", [
    (_with_summary(_sequential), ("one after the other", "never both in flight")),
    (_with_summary(_hard_coded), ("/users/12/summary answered", "Grace Hopper", "Tim Berners-Lee")),
    (_with_summary(_forgot_await), ("answered 500",)),
    (_with_summary(_user_only), ("'followers': None", "followers from /users/3/profile")),
    (_with_summary(_blocking), ("urllib", "event loop's thread")),
    (client_per_request, ("over new connections", "none used twice")),
    (never_closed, ("still open", "after the application shut down")),
    (with_on_event, ("`on_event`", "deprecates")),
    (forgot_return, ("returned None",)),
    (not_a_function, ("returned <function",)),
])
def test_summary_rejects(wrong, observed):
    rejected(asyncio.run(check_summary(wrong)), *observed)


def test_summary_rejects_a_coroutine_function_and_a_call():
    async def make(upstream_url):
        return make_app(upstream_url)
    rejected(asyncio.run(check_summary(make)), "plain function")
    rejected(asyncio.run(check_summary(make_app("http://x"))), "not the application")


# -- exercise 2: wrong answers -----------------------------------------------------------------
def _mapping(on_404, on_other, typed=int):
    """The reference app, with upstream errors mapped to ``on_404`` / ``on_other`` (None: let
    the exception escape), and the id typed ``typed``."""
    def make(upstream_url):
        @asynccontextmanager
        async def lifespan(app):
            async with httpx.AsyncClient(base_url=upstream_url) as client:
                app.state.client = client
                yield

        app = FastAPI(lifespan=lifespan)

        async def get_json(path):
            response = await app.state.client.get(path)
            if response.status_code == 404 and on_404:
                raise HTTPException(on_404, detail=f"no {path}")
            if response.status_code >= 400 and on_other:
                raise HTTPException(on_other, detail=f"upstream {response.status_code}")
            response.raise_for_status()
            return response.json()

        if typed is int:
            @app.get("/users/{user_id}/summary")
            async def summary(user_id: int):
                user, profile = await asyncio.gather(get_json(f"/users/{user_id}"),
                                                     get_json(f"/users/{user_id}/profile"))
                return {"id": user_id, "name": user["name"], "followers": profile["followers"]}
        else:
            @app.get("/users/{user_id}/summary")
            async def summary(user_id: str):
                user, profile = await asyncio.gather(get_json(f"/users/{user_id}"),
                                                     get_json(f"/users/{user_id}/profile"))
                return {"id": int(user_id), "name": user["name"],
                        "followers": profile["followers"]}
        return app
    return make


def error_as_200(upstream_url):
    app = _mapping(None, None)(upstream_url)
    app.router.routes = [r for r in app.router.routes
                         if getattr(r, "path", "") != "/users/{user_id}/summary"]

    @app.get("/users/{user_id}/summary")
    async def summary(user_id: int):
        try:
            user = (await app.state.client.get(f"/users/{user_id}")).raise_for_status().json()
            profile = (await app.state.client.get(f"/users/{user_id}/profile")
                       ).raise_for_status().json()
        except httpx.HTTPError as exc:
            return {"error": str(exc)}
        return {"id": user_id, "name": user["name"], "followers": profile["followers"]}

    return app


@pytest.mark.parametrize("wrong, observed", [
    (make_app, ("GET /users/0/summary", "answered 500", "exception escaped")),
    (_mapping(None, 502), ("GET /users/0/summary", "answered 502", "request itself")),
    (task_group_not_unwrapped, ("GET /users/21/summary", "answered 500")),
    (_mapping(404, None), ("GET /users/13/summary", "answered 500")),
    (_mapping(404, 503), ("GET /users/13/summary", "answered 503", "upstream behind it")),
    (_mapping(404, 400), ("GET /users/13/summary", "answered 400", "blames the client")),
    (_mapping(None, None, typed=str), ("GET /users/abc/summary", "answered 500")),
    (error_as_200, ("GET /users/0/summary", "answered 200", "hides the error")),
])
def test_summary_errors_rejects(wrong, observed):
    rejected(asyncio.run(check_summary_errors(wrong)), *observed)


# -- exercise 3: aiohttp.web -------------------------------------------------------------------
def _error(exc_class, reason):
    return exc_class(text=json.dumps({"detail": reason}), content_type="application/json")


def make_aiohttp_app(users):
    async def list_users(request):
        return web.json_response(list(users.values()))

    async def get_user(request):
        raw = request.match_info["user_id"]
        if not raw.isdigit() or int(raw) < 1:
            raise _error(web.HTTPUnprocessableEntity, f"user_id must be an integer >= 1: {raw!r}")
        if int(raw) not in users:
            raise _error(web.HTTPNotFound, f"no user {raw}")
        return web.json_response(users[int(raw)])

    app = web.Application()
    app.router.add_get("/users", list_users)
    app.router.add_get("/users/{user_id}", get_user)
    return app


def aiohttp_variant(get_user):
    def make(users):
        async def default_list(request):
            return web.json_response(list(users.values()))

        async def handler(request):
            return await get_user(request, users)

        app = web.Application()
        app.router.add_get("/users", default_list)
        app.router.add_get("/users/{user_id}", handler)
        return app
    return make


async def _naive(request, users):
    return web.json_response(users[int(request.match_info["user_id"])])


async def _no_int_check(request, users):
    user_id = int(request.match_info["user_id"])
    if user_id not in users:
        raise _error(web.HTTPNotFound, f"no user {user_id}")
    return web.json_response(users[user_id])


async def _plain_text_404(request, users):
    raw = request.match_info["user_id"]
    if not raw.isdigit():
        raise _error(web.HTTPBadRequest, "not a number")
    if int(raw) not in users:
        raise web.HTTPNotFound()
    return web.json_response(users[int(raw)])


async def _error_as_200(request, users):
    raw = request.match_info["user_id"]
    if not raw.isdigit() or int(raw) not in users:
        return web.json_response({"detail": f"no user {raw}"})
    return web.json_response(users[int(raw)])


async def _str_body(request, users):
    raw = request.match_info["user_id"]
    if not raw.isdigit() or int(raw) not in users:
        raise _error(web.HTTPNotFound, f"no user {raw}")
    return web.Response(text=str(users[int(raw)]))


HARD_CODED = {1: {"id": 1, "name": "Ada Lovelace"}, 2: {"id": 2, "name": "Alan Turing"}}


async def _hard_coded(request, users):
    return await _get_from(request, HARD_CODED)


async def _get_from(request, table):
    raw = request.match_info["user_id"]
    if not raw.isdigit() or int(raw) not in table:
        raise _error(web.HTTPNotFound, f"no user {raw}")
    return web.json_response(table[int(raw)])


async def _blocking(request, users):
    import time
    time.sleep(0.01)  # noqa: ASYNC251 (the mistake under test)
    return await _get_from(request, users)


def forgot_app(users):
    make_aiohttp_app(users)


@pytest.mark.parametrize("wrong, observed", [
    (aiohttp_variant(_naive), ("GET /users/99", "answered 500", "escaped the handler")),
    (aiohttp_variant(_no_int_check), ("GET /users/abc", "answered 500")),
    (aiohttp_variant(_plain_text_404), ("GET /users/99", "status is right", "detail")),
    (aiohttp_variant(_error_as_200), ("GET /users/99", "answered 200", "expected 404")),
    (aiohttp_variant(_str_body), ("GET /users/3", "answered 200 \"{'id': 3",)),
    (aiohttp_variant(_hard_coded), ("With users [3, 8], GET /users/3 answered 404",)),
    (aiohttp_variant(_blocking), ("time.sleep", "section 5")),
    (forgot_app, ("returned None",)),
])
def test_aiohttp_users_rejects(wrong, observed):
    rejected(asyncio.run(check_aiohttp_users(wrong)), *observed)


def test_aiohttp_users_accepts_a_400_and_a_list_in_another_order():
    users_key = web.AppKey("users", dict)

    async def bad_request(request):
        raw = request.match_info["user_id"]
        if not raw.lstrip("-").isdigit():
            raise _error(web.HTTPBadRequest, "not a number")
        return await _get_from(request, request.app[users_key])

    async def reversed_list(request):
        return web.json_response(list(reversed(list(request.app[users_key].values()))))

    def make(users):
        app = web.Application()
        app[users_key] = users
        app.router.add_get("/users", reversed_list)
        app.router.add_get("/users/{user_id}", bad_request)
        return app

    result = asyncio.run(check_aiohttp_users(make))
    assert result.passed, result.message


def test_reference_answers_pass():
    for answer in (make_app, make_app_errors, make_app_aiohttp):
        result = asyncio.run(check_summary(answer))
        assert result.passed, result.message
    result = asyncio.run(check_aiohttp_users(make_aiohttp_app))
    assert result.passed, result.message
    for answer in (make_app_errors, make_app_aiohttp, make_app_task_group,
                   _mapping(404, 502, typed=str)):  # a str id: the upstream's 404 is enough
        result = asyncio.run(check_summary_errors(answer))
        assert result.passed, result.message


@pytest.mark.load
@pytest.mark.parametrize("check, answer", [(check_summary, make_app_errors),
                                           (check_summary_errors, make_app_errors),
                                           (check_aiohttp_users, make_aiohttp_app)])
def test_reference_answers_pass_under_load(under_load, check, answer):
    for _ in range(LOAD_RUNS):
        result = asyncio.run(check(answer))
        assert result.passed, result.message
