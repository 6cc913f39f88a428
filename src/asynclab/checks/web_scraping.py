"""Checks for notebook 09 (Web scraping with aiohttp).

Each check serves the course's demo website (:class:`asynclab.DemoSite`) with its own page
behaviour, calls the learner's function on several lists of pages, compares the outcome with
the site's manifest (the true titles), and counts at the server how many requests were in
flight at once.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

from ..servers import DemoSite
from ._core import call_learner, checker, fail, require_callable, run_learner
from ._observe import fail_on_outcome

__all__ = ["check_fetch_titles", "check_site_map", "check_titles_or_errors"]

#: Pages whose titles hold an "&" (written ``&amp;`` in the HTML), pages that answer slower
#: than others (so that the order in which answers arrive is not the order asked).
_TITLE_CASES = (
    ["/articles/networking-3.html", "/about.html", "/articles/patterns-4.html"],
    ["/index.html", "/articles/history-4.html", "/topics/testing.html",
     "/articles/basics-4.html", "/articles/testing-5.html"],
)
# 0.2 s and more: every request of a case must reach the server within the fastest page's
# latency, and new connections open slowly on a loaded machine
_TITLE_LATENCY = {"/about.html": 0.35, "/index.html": 0.35, "/topics/testing.html": 0.25}


def _describe(value: object) -> str:
    return f"{value!r:.80}"


def _compare_titles(call: str, result: object, expected: Mapping[str, object],
                    titles: Mapping[str, str], see: str) -> None:
    """Fail with what differs between ``result`` and ``expected`` ({path: outcome})."""
    if not isinstance(result, dict):
        fail(f"{call} returned a {type(result).__name__} ({_describe(result)}); expected a dict "
             "{path: title}.")
    missing = [p for p in expected if p not in result]
    if missing:
        fail(f"{call} returned no entry for {missing[0]} (its keys: "
             f"{_describe(list(result))}); expected one entry per path asked.")
    by_title = {title: path for path, title in titles.items()}
    for path, want in expected.items():
        got = result[path]
        if got == want:
            continue
        if isinstance(want, str) and got == html.escape(want, quote=False):
            fail(f"{call}: the title of {path} came back as {got!r}, with the HTML entity "
                 f"`&amp;` still in it; the page's title is {want!r} ({see} parses pages "
                 "with an HTML parser).")
        if isinstance(want, str) and isinstance(got, str) and want.startswith(got + " | "):
            fail(f"{call}: the title of {path} came back as {got!r}, the page's <h1> heading; "
                 f"its <title> element says {want!r}.")
        if isinstance(got, str) and got in by_title and by_title[got] != path:
            fail(f"{call}: the entry for {path} is {got!r}, the title of {by_title[got]}: the "
                 "titles were paired with the wrong pages (answers arrive in any order).")
        fail(f"{call}: the entry for {path} is {_describe(got)}; expected {want!r}.")


@checker
async def check_fetch_titles(fetch_titles: Callable[..., Any]) -> str:
    """``fetch_titles(base_url, paths)`` returns ``{path: title}`` with every request in flight
    at once (counted by the server); titles hold ``&`` (``&amp;`` in the HTML) and some pages
    answer later than others."""
    require_callable(fetch_titles, "fetch_titles", is_async=True)
    with DemoSite(latency=0.2, page_latency=_TITLE_LATENCY, errors={}, slow={},
                  flaky={}) as site:
        titles = {path: page.title for path, page in site.pages.items()}
        for paths in _TITLE_CASES:
            site.reset()
            call = f"fetch_titles(url, {paths})" if len(paths) < 4 else \
                f"fetch_titles(url, <{len(paths)} paths>)"
            result, elapsed = await call_learner("fetch_titles", fetch_titles, site.url,
                                                 list(paths), see="section 2")
            _compare_titles(call, result, {p: titles[p] for p in paths}, titles, "section 3")
            peak = site.peak_in_flight()
            if peak < len(paths):
                fail(f"The titles are right, but at most {peak} of the {len(paths)} requests "
                     f"were at the server at once ({elapsed:.2f} s): they should all wait "
                     "together (section 2).")
    return ("Every title was right, & included, and all the requests were at the server at "
            "once.")


#: The site of the second check: error pages, a page slower than any timeout it uses (and than
#: the time limit), one that answers within the first case's timeout (1.0 s < 1.5) and one
#: that does not answer within the second's (0.4 s > 0.3). A hard-coded timeout F passes the
#: first case only if F > 1.0 (plus that case's lateness) and the second only if F < 0.4 (plus
#: its lateness): so only if the second case is over 0.6 s later than the first. A right
#: answer has 0.5 s to spare on the 1.0 s page; the 0.4 s page can only get later.
_IN_TIME = "/articles/history-5.html"
_TOO_LATE = "/articles/history-2.html"
_PAGE_LATENCY = {_IN_TIME: 1.0, _TOO_LATE: 0.4}
_SLOW, _SLOW_SECONDS = "/articles/networking-2.html", 3.0
_ERRORS = {"/articles/patterns-2.html": 500, "/articles/testing-3.html": 503}
_MISSING = "/articles/basics-0.html"  # linked to by the site, but not there: 404
_OUTCOME_CASES = (
    (["/articles/networking-3.html", "/articles/patterns-2.html", _SLOW, _IN_TIME,
      "/articles/testing-3.html", "/index.html"], 1.5),
    ([_MISSING, _TOO_LATE, "/articles/history-4.html", _SLOW, "/articles/patterns-2.html"],
     0.3),
)
_TIME_LIMIT = 2.5  # a right answer takes about 1.5 s and 0.3 s; the slow page takes 3 s


@checker
async def check_titles_or_errors(titles_or_errors: Callable[..., Any]) -> str:
    """``titles_or_errors(base_url, paths, seconds)`` returns ``{path: title | "HTTP <status>" |
    "timeout"}`` with all the requests at once and each one limited to ``seconds``
    (two timeouts, so a hard-coded one fails)."""
    require_callable(titles_or_errors, "titles_or_errors", is_async=True)
    with DemoSite(latency=0.05, page_latency=_PAGE_LATENCY, slow={_SLOW: _SLOW_SECONDS},
                  errors=_ERRORS, flaky={}) as site:
        titles = {path: page.title for path, page in site.pages.items()}
        for paths, timeout in _OUTCOME_CASES:
            site.reset()
            call = f"titles_or_errors(url, <{len(paths)} paths>, seconds={timeout})"
            outcome = await run_learner(titles_or_errors, site.url, list(paths), timeout,
                                        time_limit=_TIME_LIMIT)
            if outcome.timed_out:
                peak = site.peak_in_flight()
                if peak < 3 and not outcome.blocking:
                    fail(f"{call} was still running after {_TIME_LIMIT} s, and at most {peak} "
                         f"of the {len(paths)} requests were at the server at once: they "
                         "should all wait together (section 2).")
                fail(f"{call} was still running after {_TIME_LIMIT} s; one of the pages takes "
                     f"{_SLOW_SECONDS:g} s to answer. With each request limited to {timeout} s, "
                     f"and all of them at once, the call takes about {timeout} s (section 5).")
            if outcome.error is not None and not outcome.blocking:
                exc = outcome.error
                status = getattr(exc, "status", None)
                if isinstance(status, int):
                    fail(f"{call} raised {type(exc).__name__} (HTTP {status}): one failing page "
                         "made the whole call fail, and the other pages' outcomes were lost "
                         "(section 5).")
                if isinstance(exc, TimeoutError):
                    fail(f"{call} raised TimeoutError: one page running out of time lost "
                         "every other page's outcome; the timeout should end that page's "
                         "request only (section 5).")
            fail_on_outcome(call, outcome, time_limit=_TIME_LIMIT, see="section 2")
            result, elapsed = outcome.value, outcome.elapsed
            expected: dict[str, object] = {}
            for path in paths:
                if path in _ERRORS:
                    expected[path] = f"HTTP {_ERRORS[path]}"
                elif path == _MISSING:
                    expected[path] = "HTTP 404"
                elif path == _SLOW or _PAGE_LATENCY.get(path, 0.0) > timeout:
                    expected[path] = "timeout"
                else:
                    expected[path] = titles[path]
            for path, latency in _PAGE_LATENCY.items():
                if path not in paths or not isinstance(result, dict) or path not in result:
                    continue
                got = result[path]
                if latency > timeout and got == titles[path]:
                    fail(f"{call}: {path}, which takes {latency:g} s, came back with its "
                         f"title: its request was allowed more than seconds={timeout}.")
                if latency < timeout and got == "timeout":
                    fail(f"{call}: {path} timed out, although it answers in {latency:g} s and "
                         f"seconds was {timeout}.")
            for path, want in expected.items():
                got = result.get(path) if isinstance(result, dict) else None
                if isinstance(want, str) and want.startswith("HTTP") and got != want:
                    if isinstance(got, BaseException):
                        fail(f"{call}: the entry for {path} is the exception "
                             f"{type(got).__name__}; expected the text {want!r}.")
                    if isinstance(got, str) and got.startswith(want.removeprefix("HTTP ")):
                        fail(f"{call}: the entry for {path} is {got!r}, the title of the error "
                             f"page the server sent with status {want.removeprefix('HTTP ')}; "
                             f"expected {want!r}: the status was not checked (section 5).")
                    if got is None and isinstance(result, dict) and path in result:
                        fail(f"{call}: the entry for {path} is None; that page answered "
                             f"{want}, and the outcome should say so ({want!r}).")
            _compare_titles(call, result, expected, titles, "section 3")
            # The quick pages (0.05 s) may be done before the last connection opens on a busy
            # machine; the slow ones overlap whatever happens, so 3 at once is the bar.
            peak = site.peak_in_flight()
            if peak < 3:
                fail(f"The outcomes are right, but at most {peak} of the {len(paths)} requests "
                     f"were at the server at once ({elapsed:.2f} s): they should all wait "
                     "together (section 2).")
    return ("Titles, error statuses and time-outs all right, with the slow page cut off at the "
            "timeout and every request at the server at once.")



#: Where the third check's crawls start, and how deep they go.
_MAP_CASES = (("/articles/history-1.html", 3), ("/index.html", 1), ("/index.html", 2))


def _site_depths(pages: Mapping[str, Any], start: str, max_depth: int,
                 disallowed: str = "/private/") -> dict[str, int]:
    """{path: fewest links from start} for the pages within max_depth links (breadth-first),
    without the disallowed ones and the links that lead nowhere."""
    depths, level = {start: 0}, [start]
    for depth in range(1, max_depth + 1):
        found = []
        for path in level:
            for link in pages[path].links:
                if link in pages and link not in depths and not link.startswith(disallowed):
                    depths[link] = depth
                    found.append(link)
        level = found
    return depths


@checker
async def check_site_map(site_map: Callable[..., Any]) -> str:
    """``site_map(start_url, max_depth)`` returns ``{url: depth}`` (the fewest links from the
    start) for the pages within ``max_depth`` links, fetching each page once, the pages of a
    level at once, and none that robots.txt disallows."""
    require_callable(site_map, "site_map", is_async=True)
    with DemoSite(latency=0.05, errors={}, slow={}, flaky={}) as site:
        for start, max_depth in _MAP_CASES:
            site.reset()
            call = f"site_map(url + {start!r}, max_depth={max_depth})"
            result, elapsed = await call_learner(call, site_map, site.url + start, max_depth,
                                                 see="section 2")
            counts = site.page_counts()
            private = [p for p in counts if p.startswith("/private/")]
            if private:
                fail(f"{call} requested {private[0]}, which /robots.txt disallows "
                     "(section 6).")
            twice = [(p, n) for p, n in counts.most_common() if n > 1 and p != "/robots.txt"]
            if twice:
                path, n = twice[0]
                fail(f"{call} requested {path} {n} times (and {len(twice)} pages more than "
                     "once): a crawler fetches each page once, however many pages link to it "
                     "(section 6).")
            if not isinstance(result, dict):
                fail(f"{call} returned a {type(result).__name__} ({_describe(result)}); "
                     "expected a dict {url: depth}.")
            if any(not isinstance(k, str) or not k.startswith(site.url) for k in result):
                key = next(k for k in result if not isinstance(k, str)
                           or not k.startswith(site.url))
                fail(f"{call} has the key {_describe(key)}; the keys should be full URLs, "
                     "like the start URL.")
            got = {url.removeprefix(site.url): depth for url, depth in result.items()}
            fragments = [p for p in got if "#" in p]
            if fragments:
                fail(f"{call} has the key {fragments[0]!r}: a link with a #fragment is the "
                     "same page as without it (section 3).")
            disallowed = [p for p in got if p.startswith("/private/")]
            if disallowed:
                fail(f"{call} includes {disallowed[0]}, which /robots.txt disallows "
                     "(section 6).")
            want = _site_depths(site.pages, start, max_depth)
            extra = [p for p in got if p not in want]
            if extra:
                path = extra[0]
                deeper = _site_depths(site.pages, start, max_depth + 3)
                if path in deeper:
                    fail(f"{call} includes {path}, which is {deeper[path]} links from the "
                         f"start: deeper than max_depth={max_depth}.")
                fail(f"{call} includes {path}, which is not a page within max_depth="
                     f"{max_depth} links of the start.")
            missing = [p for p in want if p not in got]
            if missing:
                fail(f"{call} returned {len(got)} pages; {len(want)} are within "
                     f"{max_depth} links of the start, and {missing[0]} (depth "
                     f"{want[missing[0]]}) is missing.")
            wrong = [p for p in want if got[p] != want[p]]
            if wrong:
                path = wrong[0]
                fail(f"{call} gave {path} depth {got[path]!r}; the fewest links from the start "
                     f"to it is {want[path]}.")
            # the widest level whose pages must be fetched (the last level's need not be)
            widest = max(sum(1 for d in want.values() if d == k) for k in range(max_depth))
            peak = site.peak_in_flight()
            if widest >= 3 and peak < 3:
                fail(f"The map is right, but the server never had more than {peak} requests "
                     f"at once ({elapsed:.2f} s); the {widest} pages of one level should wait "
                     "together (section 2).")
    return ("Every page within reach, each at its fewest links, fetched once, a level at a "
            "time, and the drafts left alone.")
