"""The demo website: tools/make_site.py reproduces data/site exactly, and DemoSite serves it
with its latencies and failures, answers bad requests with a reason, and survives a client
that hangs up."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from bs4 import BeautifulSoup

from asynclab import DemoSite
from asynclab.servers.site import SITE_DIR, load_pages

ROOT = Path(__file__).resolve().parents[1]


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection
            return exc.code, exc.headers["Content-Type"], exc.read().decode()


def raw(port: int, request: bytes) -> bytes:
    """The whole answer to ``request`` (which asks the server to close the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(4096):  # headers and body may come in separate packets
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def site():
    with DemoSite(latency=0.0) as server:
        yield server


# -- the generator and the committed site ---------------------------------------------------
def test_make_site_reproduces_the_committed_site(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_site.py"), str(tmp_path)],
                   check=True)
    made = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(SITE_DIR): p.read_bytes()
                 for p in SITE_DIR.rglob("*") if p.is_file()}
    assert made.keys() == committed.keys()
    changed = [str(path) for path in made if made[path] != committed[path]]
    assert not changed, f"run `python tools/make_site.py` and commit: {changed}"


def test_the_site_is_small_and_its_manifest_tells_the_truth():
    assert sum(p.stat().st_size for p in SITE_DIR.rglob("*") if p.is_file()) < 200_000
    pages = load_pages()
    assert 35 <= len(pages) <= 50
    for path, page in pages.items():
        soup = BeautifulSoup((SITE_DIR / path.lstrip("/")).read_text(encoding="utf-8"),
                             "html.parser")
        assert soup.title.string == page.title
    targets = {link for page in pages.values() for link in page.links}
    assert targets - set(pages) == {"/articles/basics-0.html"}  # the one dead link, on purpose
    # some pages are deeper than others: the last article of a topic is far from home
    depths = _depths(pages)
    assert depths["/topics/basics.html"] == 1 and depths["/articles/basics-7.html"] >= 5


def _depths(pages):
    """Each page's distance in links from the home page (breadth-first)."""
    depth, level, d = {"/index.html": 0}, ["/index.html"], 0
    while level:
        d += 1
        nxt = []
        for path in level:
            for link in pages[path].links:
                if link in pages and link not in depth:
                    depth[link] = d
                    nxt.append(link)
        level = nxt
    return depth


# -- serving -------------------------------------------------------------------------------
def test_serves_pages_and_robots(site):
    status, kind, body = get(site.url + "/")
    assert status == 200 and kind.startswith("text/html") and "<title>Home" in body
    assert get(site.url + "/index.html")[2] == body
    status, kind, body = get(site.url + "/robots.txt")
    assert status == 200 and kind.startswith("text/plain") and "Disallow: /private/" in body


def test_unknown_page_answers_404_with_a_reason(site):
    status, kind, body = get(site.url + "/articles/basics-0.html")
    assert status == 404 and "<title>404 Not Found</title>" in body
    assert "No page at /articles/basics-0.html" in body


@pytest.mark.parametrize("request_line, reason", [
    (b"GET /articles/../index.html HTTP/1.1", b"malformed path"),
    (b"GET /%2e%2e/secret HTTP/1.1", b"malformed path"),
    (b"GET /index.html?delay=soon HTTP/1.1", b"delay must be a number"),
    (b"NONSENSE", b"400 Bad Request"),
])
def test_malformed_requests_answer_400(site, request_line, reason):
    answer = raw(site.port, request_line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer
    assert reason in answer, answer


def test_other_methods_are_not_allowed(site):
    request = urllib.request.Request(site.url + "/index.html", method="POST", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    with caught.value as answer:
        assert answer.code == 405


def test_error_pages_slow_pages_and_latency():
    with DemoSite(latency=0.02, page_latency={"/about.html": 0.2},
                  slow={"/articles/basics-1.html": 0.4},
                  errors={"/articles/basics-2.html": 503}) as site:
        status, _, body = get(site.url + "/articles/basics-2.html")
        assert status == 503 and "<title>503 Service Unavailable</title>" in body
        site.reset()
        paths = ["/index.html", "/about.html", "/articles/basics-1.html",
                 "/articles/basics-1.html?delay=0"]
        assert [get(site.url + path)[0] for path in paths] == [200] * 4
        # how long each answer waited, measured at the server (a busy machine only adds)
        waited = [r.finished - r.started for r in site.stats.log]
        assert waited[0] >= 0.02 and waited[1] >= 0.2 and waited[2] >= 0.4
        assert waited[3] < waited[2] - 0.2  # ?delay= overrides the slow page


def test_the_manifest_defaults_and_turning_them_off():
    with DemoSite() as site:
        assert site.errors == {"/articles/patterns-2.html": 500, "/articles/testing-3.html": 503}
        assert site.slow == {"/articles/networking-2.html": 3.0}
        assert site.flaky == {"/articles/basics-4.html": 2}
    with DemoSite(errors={}, slow={}, flaky={}) as site:
        assert get(site.url + "/articles/patterns-2.html")[0] == 200


def test_flaky_pages_fail_k_times_then_work_and_reset_restarts_them():
    with DemoSite(latency=0, flaky={"/about.html": 2}) as site:
        answers = [get(site.url + "/about.html") for _ in range(4)]
        assert [status for status, _, _ in answers] == [503, 503, 200, 200]
        assert "injected failure 2 of 2" in answers[1][2]
        assert site.page_counts()["/about.html"] == 4
        site.reset()
        assert site.page_counts() == {} and get(site.url + "/about.html")[0] == 503


def test_peak_in_flight_counts_requests_since_the_reset_only():
    async def scenario(site):
        async with aiohttp.ClientSession() as session:
            async def fetch(path):
                async with session.get(site.url + path) as response:
                    return response.status
            slow = asyncio.ensure_future(fetch("/about.html?delay=1.0"))
            await asyncio.sleep(0.2)
            site.reset()  # the slow request is still at the server
            statuses = await asyncio.gather(fetch("/index.html?delay=0.1"),
                                            fetch("/robots.txt?delay=0.1"))
            await slow
            return statuses

    with DemoSite(latency=0) as site:
        assert asyncio.run(scenario(site)) == [200, 200]
        assert site.peak_in_flight() == 2
        assert site.stats.max_in_flight == 3  # the counter includes the left-over request
        assert site.stats.in_flight == 0


def test_a_client_that_hangs_up_is_logged_499_and_the_server_carries_on(caplog):
    caplog.set_level(logging.DEBUG)
    with DemoSite(latency=0, slow={"/about.html": 0.3}) as site:
        with socket.create_connection(("127.0.0.1", site.port)) as sock:
            sock.sendall(b"GET /about.html HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.1)
        deadline = time.monotonic() + 5
        while site.stats.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r.status for r in site.stats.log] == [499]
        assert get(site.url + "/index.html")[0] == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


@pytest.mark.parametrize("kwargs, words", [
    ({"errors": {"/nope.html": 500}}, "errors: no such page on the site: /nope.html"),
    ({"errors": {"/index.html": 200}}, "status from 400 to 599"),
    ({"slow": {"/index.html": 30}}, "between 0 and 10"),
    ({"page_latency": {"/index.html": -1}}, "between 0 and 10"),
    ({"flaky": {"/index.html": -1}}, "number of times >= 0"),
    ({"latency": -1}, "latency is in seconds"),
])
def test_bad_arguments_say_what_to_do(kwargs, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        DemoSite(**kwargs)


def test_a_missing_site_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="tools/make_site.py"):
        DemoSite(root=tmp_path)


def test_stop_ends_the_thread_and_a_site_can_restart():
    site = DemoSite(latency=0)
    for _ in range(2):
        with site:
            assert get(site.url + "/index.html")[0] == 200
        assert not site.running
