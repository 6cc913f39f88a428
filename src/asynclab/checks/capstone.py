"""Checks for notebook 19 (Capstone): the crawler's pieces, one at a time.

Every check watches the learner's code from the server's side (the demo site logs when each
request arrived, ended and with what status), so it can count retries and the waits between
them, requests in flight at once, request starts per second, pages fetched twice, and
requests that arrive after a crawl was cancelled. It also notes the tasks, client sessions and
progress bars the learner's code created, to find those left behind. The crawl checks serve a
small site written for them (21 pages, with a dead link, an error page and a flaky page) from
a temporary folder: the course's :class:`DemoSite` reads any folder with a manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import html
import io
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from tqdm import tqdm

from ..servers import DemoSite
from ..timeline import Timeline
from ._core import Outcome, blocking_message, checker, fail, require_callable, run_learner
from ._timers import asked_sleeps, short_wait

__all__ = ["check_crawl", "check_crawl_cancel", "check_per_bin", "check_robust_fetch"]

#: Extra time a retry's waits may take on a busy machine (s), and the share of the shortest
#: wait that still counts (the server's clock and the client's differ by a little) when the
#: waits were not asked of asyncio.sleep; asked sleeps are judged exactly (short_wait).
_SLACK = 0.15
_LOWER = 0.85
_LATENCY = 0.02


# -- observing what the learner's code leaves behind ------------------------------------------
_MINE: contextvars.ContextVar[object | None] = contextvars.ContextVar("_MINE", default=None)


@contextlib.contextmanager
def _noting_tasks() -> Iterator[list[asyncio.Task[Any]]]:
    """Note every task created inside the block, by code running in it or in its tasks (a task
    inherits the context of the code that made it), so the kernel's tasks are left alone."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    marker, created = object(), []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task = previous(loop, coro, **kwargs) if previous else asyncio.Task(coro, loop=loop,
                                                                              **kwargs)
        if _MINE.get() is marker:
            created.append(task)
        return task

    loop.set_task_factory(factory)
    token = _MINE.set(marker)
    try:
        yield created
    finally:
        _MINE.reset(token)
        loop.set_task_factory(previous)


async def _end(tasks: list[asyncio.Task[Any]]) -> int:
    """Cancel the tasks still running (and wait for them); return how many there were. Every
    outcome is retrieved, so nothing warns later in the learner's notebook."""
    running = [t for t in tasks if not t.done()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=2)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()
    return len(running)


def _open_sessions() -> set[aiohttp.ClientSession]:
    return {o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed}


def _open_bars() -> set[Any]:
    return set(getattr(tqdm, "_instances", ()))


def _outcome_problem(call: str, outcome: Outcome, see: str) -> None:
    """The shared ❌ sentences: a blocking call, the time limit, an un-awaited value."""
    if outcome.blocking:
        fail(blocking_message(call, outcome.blocking, see))
    if outcome.timed_out:
        fail(f"{call} did not finish within its time limit: is a worker waiting for ever, or "
             "does the crawl never notice that the queue is drained (section 3)?")
    if outcome.unawaited:
        fail(f"{call} returned {outcome.unawaited} objects instead of values: a missing "
             "`await` somewhere?")


def _raised(error: BaseException | None) -> str:
    if isinstance(error, BaseExceptionGroup) and error.exceptions:
        return f"{type(error).__name__} ({_raised(error.exceptions[0])} inside)"
    status = getattr(error, "status", None)
    what = f" (HTTP {status})" if isinstance(status, int) else ""
    return f"{type(error).__name__}{what}"


def _statuses(error: BaseException | None) -> set[int]:
    seen = set()
    while error is not None:
        if isinstance(getattr(error, "status", None), int):
            seen.add(error.status)
        error = error.__cause__
    return seen


# -- exercise 1: one page, with a timeout per request and retries ------------------------------
_FLAKY_A, _FLAKY_B = "/articles/basics-4.html", "/articles/history-5.html"
_SLOW_FIRST, _SLOW = "/articles/patterns-3.html", "/articles/networking-2.html"
_GOOD = "/articles/testing-1.html"


class _FetchSite(DemoSite):
    """The demo site, where the first request for ``_SLOW_FIRST`` takes 0.4 s (a per-request
    timeout cuts it; the next requests answer at once)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slowed: set[str] = set()

    def delay_for(self, request: web.Request) -> float:
        if request.path == _SLOW_FIRST and _SLOW_FIRST not in self.slowed:
            self.slowed.add(_SLOW_FIRST)
            return 0.4
        return super().delay_for(request)


def _waits(site: DemoSite, path: str) -> list[float]:
    """The client's waits between two requests for ``path``: from an answer's end (as the
    server logged it) to the next request's arrival."""
    log = [r for r in site.stats.log if r.path.partition("?")[0] == path]
    return [b.started - a.finished for a, b in zip(log, log[1:], strict=False)
            if a.finished is not None]


@checker
async def check_robust_fetch(fetch: Callable[..., Any]) -> str:
    """``fetch(session, url, *, attempts, request_timeout, base_delay)`` returns the page's
    text; each request may take ``request_timeout`` s; 5xx answers and timeouts are retried
    after equal-jitter waits that double from ``base_delay``; other errors are raised at once;
    after ``attempts`` tries the last error is raised."""
    require_callable(fetch, "fetch", is_async=True)
    see = "section 2"
    with _FetchSite(latency=_LATENCY, flaky={_FLAKY_A: 2, _FLAKY_B: 6}, errors={},
                    slow={_SLOW: 0.5}, page_latency={}) as site:
        title_of = {p: html.escape(site.pages[p].title, quote=False) for p in site.pages}
        async with aiohttp.ClientSession() as session:

            asked: list[float] = []

            async def call(path: str, attempts: int, seconds: float, base: float,
                           limit: float = 4.0) -> tuple[str, Outcome, int]:
                site.reset()
                text = (f"fetch(session, url, attempts={attempts}, request_timeout={seconds:g}, "
                        f"base_delay={base:g})")
                with asked_sleeps() as sleeps:
                    outcome = await run_learner(fetch, session, site.url + path,
                                                attempts=attempts, request_timeout=seconds,
                                                base_delay=base, time_limit=limit)
                asked[:] = sleeps
                _outcome_problem(text, outcome, see)
                return text, outcome, site.page_counts()[path]

            # A page that works: its text, in one request.
            text, outcome, made = await call(_GOOD, 3, 0.5, 0.05)
            if outcome.error is not None:
                fail(f"For a page that answers at once, {text} raised "
                     f"{_raised(outcome.error)}: {outcome.error}.")
            if not isinstance(outcome.value, str) or title_of[_GOOD] not in outcome.value:
                fail(f"For a page that answers at once, {text} returned "
                     f"{outcome.value!r:.80}; expected the page's HTML text (a str).")
            if made != 1:
                fail(f"For a page that answers at once, {text} sent {made} requests; one is "
                     "enough.")

            # Flaky pages: success at the last allowed attempt, then giving up. Five waits in
            # the second: a linear wait (k + 1) * base_delay falls below half of
            # base_delay * 2**k only at the fifth (a constant one at the third). The first's
            # base_delay is large for an answer that waits without asyncio.sleep (judged by the
            # server's gaps): one that does not wait at all passes it only if its two gaps
            # are 0.13 s and 0.26 s late. The pages answer at once: a request_timeout
            # (0.5 s) can only run out if it is one time limit for the attempts and the waits.
            for path, fails, attempts, base in ((_FLAKY_A, 2, 4, 0.3), (_FLAKY_B, 6, 6, 0.01)):
                text, outcome, made = await call(path, attempts, 0.5, base)
                when = f"For a page that answers 503 to its first {fails} requests, {text}"
                if isinstance(outcome.error, TimeoutError):
                    fail(f"{when} raised TimeoutError after {made} request"
                         f"{'s' * (made != 1)}, although the page answers at once: the time "
                         f"limit ran out over the requests and the waits between them together, "
                         f"not in one request ({see}).")
                if fails < attempts:
                    if outcome.error is not None:
                        fail(f"{when} raised {_raised(outcome.error)} after {made} "
                             f"request{'s' * (made != 1)}; the page answers at request "
                             f"{fails + 1}: a 503 is worth retrying ({see}).")
                    if made != fails + 1:
                        fail(f"{when} sent {made} requests; the page answers at request "
                             f"{fails + 1}.")
                    if not isinstance(outcome.value, str) or title_of[path] not in outcome.value:
                        fail(f"{when} returned {outcome.value!r:.60}; expected the page's "
                             "text from the answer that worked.")
                else:
                    if outcome.error is None:
                        fail(f"{when} returned {outcome.value!r:.40} after {made} requests: "
                             f"after {attempts} failed attempts it should raise the last "
                             f"error, so that the crawl can record it ({see}).")
                    if made != attempts:
                        fail(f"{when} gave up after {made} requests; it should try "
                             f"{attempts} times.")
                    if 503 not in _statuses(outcome.error):
                        fail(f"{when} raised {_raised(outcome.error)}; raise the last error "
                             "itself (the HTTP 503), so the caller sees what went wrong.")
                waits = _waits(site, path)
                short = short_wait(waits, asked, base, _LOWER)
                if short is not None:
                    k, _, exact = short
                    cap = base * 2 ** k
                    how = ("asked asyncio.sleep for waits of" if exact else "waited")
                    seen = "" if exact else " (as the server saw them)"
                    shown = ", ".join(f"{w:.3f}" for w in (asked if exact else waits))
                    fail(f"{when} {how} {shown} s between its requests{seen}: wait {k + 1} "
                         f"was below {cap / 2:.3f} s, half of base_delay * 2**{k}; the waits "
                         f"start from base_delay and double ({see}).")
                most = sum(base * 2 ** k for k in range(len(waits)))
                if sum(waits) > most + _SLACK:
                    fail(f"{when} waited {sum(waits):.2f} s in all between its requests; with "
                         f"base_delay={base:g} the waits add up to {most:.2f} s at most: is "
                         "base_delay used?")

            # A 404 is not retried.
            text, outcome, made = await call("/articles/basics-0.html", 3, 0.5, 0.01)
            if outcome.error is None:
                fail(f"For a page that does not exist (404), {text} returned "
                     f"{outcome.value!r:.40}: raise the error, so that the crawl can record "
                     f"the dead link ({see}).")
            if made != 1:
                fail(f"For a page that does not exist (404), {text} sent {made} requests: a "
                     f"404 will not get better; raise it at once ({see}).")
            if 404 not in _statuses(outcome.error):
                fail(f"For a page that does not exist, {text} raised "
                     f"{_raised(outcome.error)}; expected the HTTP 404 error itself.")

            # A timeout per request: a slow first answer is cut, the second one comes in time.
            site.slowed.clear()
            text, outcome, made = await call(_SLOW_FIRST, 3, 0.15, 0.01)
            when = (f"For a page whose first answer takes 0.4 s and the next ones {_LATENCY:g} s, "
                    f"{text}")
            if outcome.error is None and made == 1:
                fail(f"{when} waited for that first answer ({outcome.elapsed:.2f} s): each "
                     f"request may take request_timeout=0.15 s at most ({see}).")
            if outcome.error is not None:
                fail(f"{when} raised {_raised(outcome.error)} after {made} "
                     f"request{'s' * (made != 1)}: a timeout is worth retrying, and each "
                     f"attempt gets its own timeout ({see}).")
            if made != 2:
                fail(f"{when} sent {made} requests; the second one answers in time.")

            # Always too slow: every attempt times out, and the last timeout is raised.
            text, outcome, made = await call(_SLOW, 2, 0.1, 0.01)
            when = f"For a page that always takes 0.5 s, {text}"
            if outcome.error is None:
                fail(f"{when} returned after {made} request{'s' * (made != 1)} and "
                     f"{outcome.elapsed:.2f} s: each request may take 0.1 s at most, and "
                     f"after the last attempt the TimeoutError is raised ({see}).")
            if not isinstance(outcome.error, TimeoutError):
                fail(f"{when} raised {_raised(outcome.error)}; expected the last attempt's "
                     "TimeoutError.")
            if made != 2:
                fail(f"{when} sent {made} request{'s' * (made != 1)} before raising "
                     f"TimeoutError; expected 2, each with its own 0.1 s ({see}).")
    return ("Retries with doubling waits for 503s and timeouts, a timeout per request, a 404 "
            "raised at once, and the last error raised when the attempts ran out.")


# -- exercises 2 and 3: the crawl --------------------------------------------------------------
#: The check site: path -> (title, hrefs as written in the page).
_SECTIONS = 4


def _check_site_pages() -> dict[str, tuple[str, list[str]]]:
    pages: dict[str, tuple[str, list[str]]] = {
        "/index.html": ("Home", [f"sections/s{k}.html" for k in range(1, _SECTIONS + 1)]
                        + ["about.html#team", "https://example.invalid/elsewhere.html"]),
        "/about.html": ("About", ["index.html", "about.html#top"]),
    }
    for k in range(1, _SECTIONS + 1):
        pages[f"/sections/s{k}.html"] = (f"Section {k}", ["../index.html"] + [
            f"../pages/{k}-{j}.html" for j in (1, 2, 3)])
        for j in (1, 2, 3):
            links = [f"../sections/s{k}.html#top", f"{k}-{j % 3 + 1}.html",
                     f"/pages/{k % _SECTIONS + 1}-{j}.html"]
            pages[f"/pages/{k}-{j}.html"] = (f"Page {k}.{j}", links)
    pages["/pages/1-2.html"][1].append("/missing.html")  # a dead link: 404
    pages["/pages/2-3.html"][1].append("broken.html")  # an error page: 500
    pages["/pages/3-1.html"][1].append("flaky.html")  # fails once, then works
    pages["/pages/broken.html"] = ("Broken", [])
    pages["/pages/flaky.html"] = ("Flaky", ["../index.html"])
    return pages


_DEAD, _BROKEN, _FLAKY = "/missing.html", "/pages/broken.html", "/pages/flaky.html"


def _write_site(root: Path) -> None:
    manifest = {"pages": {}}
    for path, (title, hrefs) in _check_site_pages().items():
        file = root / path.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        anchors = "\n".join(f'<a href="{h}">{h}</a>' for h in hrefs)
        file.write_text(f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
                        f"<body><h1>{title}</h1>\n{anchors}\n</body></html>\n", "utf-8")
        manifest["pages"][path] = {"title": title, "links": []}
    (root / "manifest.json").write_text(json.dumps(manifest), "utf-8")


@contextlib.contextmanager
def _check_site(latency: float) -> Iterator[DemoSite]:
    with tempfile.TemporaryDirectory(prefix="asynclab-capstone-") as folder:
        _write_site(Path(folder))
        with DemoSite(root=folder, latency=latency, errors={_BROKEN: 500}, flaky={_FLAKY: 1},
                      slow={}, page_latency={}) as site:
            yield site


def _most_starts(times: list[float], rate: float) -> tuple[int, float, float]:
    """The window (of 0.2 s or more) in which the starts most exceed ``rate`` per second plus
    a burst of ``rate``: (starts in it, its length, the bound)."""
    worst = (0, 0.0, 0.0)
    excess = float("-inf")
    for i, a in enumerate(times):
        for j in range(i, len(times)):
            span = max(times[j] - a, 0.2)
            count = j - i + 1
            bound = rate * span + rate + 2
            if count - bound > excess:
                excess, worst = count - bound, (count, span, bound)
    return worst


async def _crawl_once(crawl: Callable[..., Any], site: DemoSite, workers: int, rate: float,
                      timeline: Timeline | None) -> tuple[str, Any, float]:
    site.reset()
    call = f"crawl(start, workers={workers}, rate={rate:g})"
    err = io.StringIO()
    with _noting_tasks() as tasks, contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(err):  # the progress bar, and any print
        kwargs = {"timeline": timeline} if timeline is not None else {}
        outcome = await run_learner(crawl, site.url + "/index.html", workers=workers,
                                    rate=rate, time_limit=5, cancel_leftover_tasks=False,
                                    **kwargs)
    left = await _end(tasks)
    _outcome_problem(call, outcome, "section 3")
    if outcome.error is not None:
        error = outcome.error
        while isinstance(error, BaseExceptionGroup) and error.exceptions:
            error = error.exceptions[0]
        if isinstance(error, aiohttp.ClientError | TimeoutError):
            fail(f"{call} raised {_raised(outcome.error)}. A dead page must not stop the "
                 "crawl: record its error and go on (section 3).")
        fail(f"{call} raised {_raised(outcome.error)}: {error}".rstrip(": ")
             + ". crawl takes start_url and the keyword arguments workers, rate and "
             "timeline (None, or a Timeline to record each fetch in).")
    if left:
        fail(f"{call} returned while {left} of the tasks it started were still running: the "
             "workers must be stopped before it returns (section 3).")
    return call, outcome.value, outcome.elapsed


@checker
async def check_crawl(crawl: Callable[..., Any]) -> str:
    """``crawl(start_url, *, workers, rate, timeline=None)`` returns ``{url: title}`` for
    every page reachable from ``start_url`` on the same site, and ``{url: exception}`` for
    those that failed; each page is fetched once, at most ``workers`` at a time (and that many
    when there is work), with at most ``rate`` starts per second (plus one burst)."""
    require_callable(crawl, "crawl", is_async=True)
    pages = _check_site_pages()
    with _check_site(latency=0.03) as site:
        base = site.url
        expected = {base + p: t for p, (t, _) in pages.items() if p != _BROKEN}
        want = set(expected) | {base + _DEAD, base + _BROKEN}
        notes = []
        for workers, rate in ((2, 1000), (5, 1000), (4, 10)):
            timeline = Timeline()
            call, found, elapsed = await _crawl_once(crawl, site, workers, rate, timeline)
            if not isinstance(found, dict):
                fail(f"{call} returned a {type(found).__name__}; expected a dict "
                     "{url: title or error}.")
            missing = sorted(u.removeprefix(base) for u in want - set(found))
            extra = sorted(str(u).removeprefix(base) for u in set(found) - want)
            if missing:
                fail(f"{call} found {len(found)} pages; {len(missing)} reachable from the start "
                     f"are missing, e.g. {', '.join(missing[:3])}. Every link found must be "
                     "queued (section 3).")
            if extra:
                fail(f"{call} returned keys that are not pages of the site: "
                     f"{', '.join(extra[:3])}. Keys are full URLs without #fragment, and "
                     "links that leave the site are not followed (notebook 09, section 3).")
            counts = site.page_counts()
            twice = sorted(p for p in pages if p not in (_BROKEN, _FLAKY) and counts[p] > 1)
            if twice:
                fail(f"{call} requested {twice[0]} {counts[twice[0]]} times (and "
                     f"{len(twice)} pages more than once): remember which URLs were already "
                     "queued (section 3).")
            wrong = [u for u, title in expected.items() if found[u] != title]
            if wrong:
                u = wrong[0]
                value = found[u]
                shown = (f"the exception {_raised(value)}" if isinstance(value, BaseException)
                         else f"the value {value!r:.60}")
                fail(f"{call} gave {u.removeprefix(base)} {shown}; "
                     f"expected its title, {expected[u]!r}"
                     + (" (this page fails its first request: is the crawl using fetch, with "
                        "its retries?)" if u.endswith(_FLAKY) else "."))
            for path, status in ((_DEAD, 404), (_BROKEN, 500)):
                value = found[base + path]
                if not isinstance(value, BaseException):
                    fail(f"{call} gave {path} (it answers HTTP {status}) the value "
                         f"{value!r:.40}; expected the exception fetch raised for it, so that "
                         "errors can be counted (section 3).")
            peak = site.peak_in_flight()
            if peak > workers:
                fail(f"{call}: the server had {peak} requests in flight at once; with "
                     f"{workers} workers it should never see more than {workers}.")
            if rate > 100 and peak < min(workers, 3):
                fail(f"{call}: the server never had more than {peak} request"
                     f"{'s' * (peak != 1)} in flight at once, though other pages were "
                     f"waiting: the {workers} workers should fetch at the same time (section 3).")
            if len(timeline.lanes) > workers or len(timeline.spans) < len(want):
                fail(f"{call}, given a Timeline, recorded {len(timeline.spans)} spans in "
                     f"{len(timeline.lanes)} lanes; expected one span per page ({len(want)}) "
                     f"in one lane per worker, at most {workers} (section 3).")
            if rate < 100:
                firsts: dict[str, float] = {}
                for r in site.stats.log:
                    firsts.setdefault(r.path, r.started)
                starts = sorted(firsts.values())
                count, span, bound = _most_starts(starts, rate)
                if count > bound:
                    fail(f"{call}: the server saw {count} pages start within {span:.2f} s; at "
                         f"{rate:g} per second, with a burst of {rate:g}, that is "
                         f"{int(bound)} at most (section 3).")
                notes.append(f"{len(starts)} pages in {elapsed:.1f} s at rate={rate:g}")
    return (f"Every page fetched once, errors recorded, never more requests at once than "
            f"workers, the rate respected ({notes[0]}), and no task left running.")


@checker
async def check_crawl_cancel(crawl: Callable[..., Any]) -> str:
    """Cancelled mid-crawl, ``crawl`` lets the ``CancelledError`` through, and leaves no
    task running, no session open, no progress bar open, and no request coming."""
    require_callable(crawl, "crawl", is_async=True)
    name = getattr(crawl, "__name__", "crawl")
    name = name if name.isidentifier() else "crawl"
    call = f"{name}(start, workers=3, rate=1000)"
    see = "section 4"
    with _check_site(latency=0.1) as site:
        site.reset()
        sessions, bars = _open_sessions(), _open_bars()
        err = io.StringIO()
        with _noting_tasks() as tasks, contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(err):  # the progress bar, and any print
            runner = asyncio.create_task(run_learner(
                crawl, site.url + "/index.html", workers=3, rate=1000, time_limit=5,
                cancel_leftover_tasks=False))
            waited = time.perf_counter()
            # The server counts in its own thread: poll it.
            while (len(site.stats.log) < 4 and not runner.done()  # noqa: ASYNC110
                   and time.perf_counter() - waited < 3):
                await asyncio.sleep(0.01)
            runner.cancel()
            done, _ = await asyncio.wait([runner], timeout=2)
            ended = time.perf_counter()
            await asyncio.sleep(0.15)  # time for a left-over worker to send its next request
            late = sum(1 for r in site.stats.log if r.started > ended + 0.02)
            started = [t for t in tasks if t is not runner]
            left = await _end(started)
            await _end([runner])
            # Tasks it started that were not cancelled with it but died on their own (e.g. a
            # plain worker's next request on the closed session: RuntimeError)
            crashed = [t for t in started if t.done() and not t.cancelled()
                       and t.exception() is not None]
        new_bars = _open_bars() - bars
        for bar in new_bars:
            bar.close()
        open_sessions = _open_sessions() - sessions
        for session in open_sessions:
            await session.close()
        gc.collect()
        outcome = runner.result() if done and not runner.cancelled() else None
        if outcome is not None and outcome.blocking:
            fail(blocking_message(call, outcome.blocking, see))
        if outcome is not None and outcome.error is not None:
            fail(f"Cancelled mid-crawl, {call} raised "
                 f"{_raised(outcome.error)} instead of letting the CancelledError through "
                 f"({see}).")
        if outcome is not None:
            what = "did not stop" if outcome.timed_out else \
                f"returned a {type(outcome.value).__name__}"
            fail(f"Cancelled mid-crawl, {call} {what}: it swallowed the "
                 "CancelledError, so whoever cancelled it (a kernel interrupt, a timeout, a "
                 f"TaskGroup) thinks it finished ({see}).")
        if not done:
            fail(f"{call} was still running 2 s after it was cancelled ({see}).")
        if left:
            fail(f"Cancelled mid-crawl, {call} ended, but {left} of the tasks it started "
                 f"were still running: its workers must end with it ({see}).")
        if crashed:
            errors = sorted({_raised(t.exception()) for t in crashed})
            fail(f"Cancelled mid-crawl, {call} ended, but {len(crashed)} of the tasks it "
                 f"started were not cancelled with it: they went on alone and died with "
                 f"{', '.join(errors)} (\"Task exception was never retrieved\"): its workers "
                 f"must end with it ({see}).")
        if late:
            fail(f"Cancelled mid-crawl, {call} ended, but {late} request"
                 f"{'s' * (late != 1)} arrived at the server afterwards: something it "
                 f"started went on crawling ({see}).")
        if open_sessions:
            fail(f"Cancelled mid-crawl, {call} left its ClientSession open "
                 f"(\"Unclosed client session\" when it is collected): close it on every "
                 f"way out ({see}).")
        if new_bars:
            fail(f"Cancelled mid-crawl, {call} left its progress bar open: "
                 f"close it on every way out ({see}).")
        deadline = time.perf_counter() + 1
        while site.stats.in_flight and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if site.stats.in_flight:
            fail(f"1 s after {call} was cancelled, the server still had "
                 f"{site.stats.in_flight} requests in flight from it.")
    return ("Cancelled mid-crawl, the crawl let the CancelledError through, "
            "its workers ended, its session and progress bar were closed, and no request came "
            "afterwards.")


# -- exercise 4: counting per bin, for the dashboard -------------------------------------------
#: (times, width, end, expected, what the case is about). Widths are binary fractions, so that
#: a time on a boundary is exactly on it (0.1 is not: 0.3 // 0.1 == 2.0 in floating point).
_BIN_CASES: list[tuple[list[float], float, float, list[int], str]] = [
    ([0.1, 0.3, 0.35, 0.9], 0.25, 1.0, [1, 2, 0, 1, 0], "times inside bins"),
    ([0.0, 0.25, 0.5, 0.5, 0.75], 0.25, 1.0, [1, 1, 2, 1, 0],
     "times on bin boundaries (a boundary starts a bin)"),
    ([], 0.5, 1.5, [0, 0, 0, 0], "no times at all"),
    ([0.2, 1.4, 0.6, 0.1], 0.5, 1.0, [2, 1, 0], "times in any order, and end on a boundary"),
    ([-0.125, 0.125, 0.625, 0.75, 1.0], 0.25, 0.5, [1, 0, 0],
     "times before 0 and after end (they belong to no bin)"),
    ([0.3, 1.9, 2.6, 3.1], 1.0, 3.5, [1, 1, 1, 1], "a wider bin"),
]


@checker
async def check_per_bin(per_bin: Callable[..., Any]) -> str:
    """``per_bin(times, width, end)`` counts the times in each bin ``[k*width, (k+1)*width)``
    for k = 0 .. ``floor(end / width)``; times below 0 or above ``end`` are left out."""
    require_callable(per_bin, "per_bin", is_async=False)
    for times, width, end, expected, about in _BIN_CASES:
        call = f"per_bin({times}, {width:g}, {end:g})"
        outcome = await run_learner(per_bin, list(times), width, end, time_limit=2)
        _outcome_problem(call, outcome, "section 5")
        if outcome.error is not None:
            fail(f"With {about}, {call} raised {type(outcome.error).__name__}: "
                 f"{outcome.error}; expected {expected}.")
        got = outcome.value
        if isinstance(got, tuple | range):
            got = list(got)
        if got != expected:
            shown = f"{got!r:.80}" if not isinstance(got, list) else f"{got}"
            why = ""
            if isinstance(got, list) and len(got) != len(expected):
                why = (f": {len(got)} bins instead of {len(expected)}, one for each k from 0 "
                       f"to floor(end / width) = {len(expected) - 1}")
            elif isinstance(got, list) and sum(got) != sum(expected):
                why = (f": {sum(got)} times counted instead of {sum(expected)}")
            fail(f"With {about}, {call} returned {shown}; expected {expected}{why}.")
    return "Every time in its bin: boundaries, an empty list, any order, and times out of range."
