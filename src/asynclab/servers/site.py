"""The course's demo website: the HTML pages of ``data/site``, served with latency and failures.

The pages are made by ``tools/make_site.py`` (a small blog: a home page, topics, articles that
link to each other, a ``/robots.txt``). ``data/site/manifest.json`` lists every page with its
title and the site paths it links to, and the default behaviour of a few pages:

- ``latency``: pages slower than the server's ``latency`` (seconds);
- ``errors``: pages that always answer an error status (500, 503);
- ``slow``: pages that take seconds to answer (beyond a typical client timeout);
- ``flaky``: pages whose first K requests answer 503, then 200 (for retries).

Every answer waits: the page's latency, or ``?delay=`` for one request. Unknown pages answer 404
(an HTML error page titled "404 Not Found", with the reason; the error pages and the flaky
page's failures look the same) and a malformed path 400 with the reason in plain text. A
client that hangs up before its answer is logged with status 499.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from aiohttp import web

from .base import BackgroundServer

__all__ = ["SITE_DIR", "DemoSite", "SitePage", "load_pages"]

#: Where ``tools/make_site.py`` writes the site (the course installs its package in place).
SITE_DIR = Path(__file__).resolve().parents[3] / "data" / "site"
_TYPES = {".html": "text/html", ".txt": "text/plain", ".json": "application/json"}


@dataclass(frozen=True)
class SitePage:
    """A page of the site as the manifest describes it: its title and the site paths its
    links point to (resolved, without ``#fragment``, in page order, each once; links that
    leave the site are not listed)."""

    path: str
    title: str
    links: tuple[str, ...]


def _manifest(root: Path) -> dict:
    file = root / "manifest.json"
    if not file.is_file():
        raise FileNotFoundError(f"no demo site at {root}: run `python tools/make_site.py`, or "
                                "pass root= the folder it wrote")
    return json.loads(file.read_text(encoding="utf-8"))


def load_pages(root: Path | str = SITE_DIR) -> dict[str, SitePage]:
    """Every HTML page of the site, by site path (e.g. ``"/articles/basics-1.html"``)."""
    pages = _manifest(Path(root))["pages"]
    return {path: SitePage(path, info["title"], tuple(info["links"]))
            for path, info in pages.items()}


class DemoSite(BackgroundServer):
    """Serve the demo website on 127.0.0.1, in a background thread.

    >>> with DemoSite(latency=0.05) as site:        # doctest: +SKIP
    ...     urllib.request.urlopen(f"{site.url}/index.html").read()

    Arguments (all optional; a mapping replaces the manifest's default, ``{}`` turns it off):

    - ``latency``: seconds every page waits before answering (default 0.05);
    - ``page_latency``: ``{path: seconds}`` for pages slower (or faster) than that;
    - ``errors``: ``{path: status}``: pages that always answer that status (4xx or 5xx);
    - ``slow``: ``{path: seconds}``: pages that take that long (the manifest: 3 s);
    - ``flaky``: ``{path: K}``: the first K requests for the page answer 503, then it works;
    - ``root``: the folder of the site (default ``data/site``).

    Paths are site paths such as ``"/index.html"``; ``/`` serves ``/index.html``. Besides
    ``stats`` (requests, in_flight, max_in_flight, log), :meth:`page_counts` tells how many
    times each page was requested, :meth:`peak_in_flight` how many requests the server handled
    at once, and :meth:`reset` starts an experiment afresh.
    """

    def __init__(self, *, latency: float = 0.05, page_latency: Mapping[str, float] | None = None,
                 errors: Mapping[str, int] | None = None,
                 slow: Mapping[str, float] | None = None,
                 flaky: Mapping[str, int] | None = None, root: Path | str = SITE_DIR) -> None:
        super().__init__(latency=latency)
        self.root = Path(root)
        manifest = _manifest(self.root)
        self.pages = load_pages(self.root)
        self._files = {"/" + p.relative_to(self.root).as_posix(): p
                       for p in sorted(self.root.rglob("*")) if p.is_file()}

        def pick(name: str, given: Mapping[str, float] | None) -> dict[str, float]:
            table = dict(manifest.get(name, {}) if given is None else given)
            unknown = sorted(set(table) - set(self._files))
            if unknown:
                raise ValueError(f"{name}: no such page on the site: {', '.join(unknown)} "
                                 "(paths look like '/articles/basics-1.html')")
            return table

        self.page_latency = pick("latency", page_latency)
        self.slow = pick("slow", slow)
        self.errors = {p: int(s) for p, s in pick("errors", errors).items()}
        self.flaky = {p: int(k) for p, k in pick("flaky", flaky).items()}
        for path, seconds in {**self.page_latency, **self.slow}.items():
            if not 0 <= seconds <= 10:
                raise ValueError(f"the latency of {path} is in seconds, between 0 and 10; "
                                 f"got {seconds!r}")
        for path, status in self.errors.items():
            if not 400 <= status <= 599:
                raise ValueError(f"errors: {path} must answer a status from 400 to 599, "
                                 f"got {status!r}")
        for path, fails in self.flaky.items():
            if fails < 0:
                raise ValueError(f"flaky: {path} fails a number of times >= 0, got {fails!r}")
        self._attempts: Counter[str] = Counter()

    # -- what the notebooks and checks read ----------------------------------------------
    def page_counts(self) -> Counter[str]:
        """How many requests each path received since the last reset, by the path as
        requested (``/`` and ``/index.html`` apart; the query left out)."""
        return Counter(r.path.partition("?")[0] for r in self.stats.log)

    def peak_in_flight(self, path_prefix: str = "/") -> int:
        """The most requests the server handled at once among those logged since the last
        :meth:`reset` whose path starts with ``path_prefix``. Unlike ``stats.max_in_flight``,
        requests left over from before the reset (a slow page whose client gave up) do not
        count."""
        events = []
        for r in self.stats.log:
            if r.path.startswith(path_prefix):
                events.append((r.started, 1))
                if r.finished is not None:
                    events.append((r.finished, -1))
        peak = now = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start
            now += step
            peak = max(peak, now)
        return peak

    def reset(self) -> None:
        """Empty the stats and the log, and make the flaky pages fail again from the start.

        Requests still running (e.g. a slow page whose client gave up: the server finishes
        its wait anyway) stay counted in ``in_flight``, and ``max_in_flight`` starts from
        them, so the counter cannot go below zero when they end."""
        still_running = self.stats.in_flight
        self.stats.reset()
        self.stats.in_flight = self.stats.max_in_flight = still_running
        self._attempts.clear()

    # -- the application -----------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._page)
        return app

    @staticmethod
    def _site_path(request: web.Request) -> str:
        path = "/" + request.match_info["path"]
        if path == "/":
            return "/index.html"
        if any(part in ("..", ".") for part in path.split("/")) or "//" in path \
                or "\\" in path or "\x00" in path:
            raise web.HTTPBadRequest(text=f"malformed path {path!r}: use a plain site path "
                                          "such as /articles/basics-1.html")
        return path

    def delay_for(self, request: web.Request) -> float:
        """``?delay=`` if given; else the page's slow or page latency; else ``latency``."""
        if "delay" in request.query or "path" not in request.match_info:  # e.g. a POST: 405
            return super().delay_for(request)
        path = self._site_path(request)
        return self.slow.get(path, self.page_latency.get(path, self.latency))

    async def _page(self, request: web.Request) -> web.StreamResponse:
        path = self._site_path(request)
        file = self._files.get(path)
        if file is None:
            return _error_page(404, f"No page at {path} on the demo site.")
        if path in self.errors:
            return _error_page(self.errors[path], f"{path} fails on purpose.")
        self._attempts[path] += 1
        attempt, fails = self._attempts[path], self.flaky.get(path, 0)
        if attempt <= fails:
            return _error_page(503, f"{path}: injected failure {attempt} of {fails}.")
        if request.transport is None or request.transport.is_closing():
            raise _ClientClosed  # it hung up while its page waited
        kind = _TYPES.get(file.suffix, "application/octet-stream")
        return web.Response(body=file.read_bytes(), content_type=kind, charset="utf-8")


def _error_page(status: int, reason: str) -> web.Response:
    """An error answer as web servers send them: a small HTML page whose title is the status
    (a scraper that forgets to check the status reads that title)."""
    name = f"{status} {HTTPStatus(status).phrase}" if status in _STATUSES else str(status)
    body = (f"<!DOCTYPE html>\n<html><head><title>{name}</title></head>\n"
            f"<body><h1>{name}</h1><p>{html.escape(reason)}</p></body></html>\n")
    return web.Response(status=status, text=body, content_type="text/html")


_STATUSES = {s.value for s in HTTPStatus}


class _ClientClosed(web.HTTPException):
    """The client hung up before its page was sent: logged with nginx's status 499 in the
    server's log; nothing is sent (nobody listens any more)."""

    status_code = 499
