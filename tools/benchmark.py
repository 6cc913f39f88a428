"""The course's benchmark: what async pays on this machine, in figures that compare a
measurement with its ideal or its peer, so they mean the same on a fast or a slow machine.

    python tools/benchmark.py              # the full table (about a minute)
    python tools/benchmark.py --quick      # tiny sizes (seconds): does it run?
    python tools/benchmark.py --only a,c --json bench.json --plot bench.png

Sections (``--only`` takes their letters):

a. fan-out: N requests with a fixed server latency at a concurrency limit C; the server runs
   in another process. Figure: measured time / ideal time, ideal = ceil(N / C) x latency.
   Sequential urllib is measured on a sample and extrapolated to N.
b. throughput on loopback with no latency: requests per second for aiohttp (one session),
   httpx (one AsyncClient: one big gather, and the in-flight requests bounded by a
   Semaphore) and urllib in a thread pool. The big httpx gather is bounded in time.
c. the cost of a task (100,000 alive at once) and of a thread (1,000): microseconds to start
   one, bytes of Python objects (tracemalloc) and resident memory (Linux's /proc).
d. the default event loop against uvloop, on (a) and on (c)'s tasks.
e. the course's own overheads: what the demo server adds to each request, and how long a
   few exercise checks take.

It is a benchmark, not a test: it prints figures and never fails for being slow. Progress goes
to stderr, the table to stdout. The server is this same file run as ``--serve``: an aiohttp
app in a process of its own, which prints its port and stops when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

SECTIONS = "abcde"


@dataclass
class Row:
    """One line of the table: a measured figure and what it is compared with."""

    section: str
    name: str
    value: float
    unit: str
    compared_with: str = ""
    ratio: float | None = None  # value / reference, where one exists

    def line(self) -> str:
        size = abs(self.value)
        value = (f"{self.value:,.0f}" if size >= 100 else f"{self.value:.1f}" if size >= 10
                 else f"{self.value:.3f}")
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}x"
        return (f"{self.section}  {self.name:<52} {value:>12} {self.unit:<8} {ratio:>8}  "
                f"{self.compared_with}")


@dataclass
class Sizes:
    """How big each study is: full or ``--quick``."""

    fan_out: int = 1000
    limit: int = 100
    latency: float = 0.05
    sequential_sample: int = 20
    throughput: int = 2000
    httpx_requests: int = 500
    threads_for_urllib: int = 32
    httpx_big_gather: int = 5000
    httpx_time_cap: float = 10.0
    tasks: int = 100_000
    threads: int = 1000
    demo_requests: int = 50

    @classmethod
    def quick(cls) -> Sizes:
        return cls(fan_out=40, limit=10, latency=0.02, sequential_sample=3, throughput=60,
                   httpx_requests=40,
                   threads_for_urllib=4, httpx_big_gather=60, httpx_time_cap=3.0, tasks=2000,
                   threads=50, demo_requests=5)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- the server, in a process of its own ---------------------------------------------------------
def serve() -> None:
    """Run the benchmark's HTTP server on 127.0.0.1 (port 0), print the port, and stop when
    stdin closes. ``GET /item/{i}?delay=S`` answers ``{"id": i}`` after S seconds."""
    from aiohttp import web

    async def item(request: web.Request) -> web.Response:
        try:
            delay = float(request.query.get("delay", "0"))
            item_id = int(request.match_info["i"])
        except ValueError:
            return web.json_response({"error": "delay must be a number, i an integer"},
                                     status=400)
        if not 0 <= delay <= 10:
            return web.json_response({"error": "delay must be between 0 and 10"}, status=400)
        if delay:
            await asyncio.sleep(delay)
        return web.json_response({"id": item_id})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/item/{i}", item)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        await runner.cleanup()

    asyncio.run(main())


@contextlib.contextmanager
def server_process() -> Iterator[str]:
    """Start :func:`serve` in another process; yield its base URL; stop it."""
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdin is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError("the benchmark's server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def run_on(loop_factory: Callable[[], asyncio.AbstractEventLoop] | None,
           coro_fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Run ``coro_fn(*args, **kwargs)`` on a new loop made by ``loop_factory`` (None: the
    default loop)."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coro_fn(*args, **kwargs))  # type: ignore[arg-type]


def uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # not on Windows
        return None
    return uvloop.new_event_loop


# -- a: fan-out ----------------------------------------------------------------------------------
async def aiohttp_fan_out(url: str, n: int, limit: int, delay: float) -> float:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> Any:
            async with session.get(f"{url}/item/{i}", params={"delay": str(delay)}) as response:
                response.raise_for_status()
                return await response.json()

        start = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
    assert len(results) == n
    return elapsed


async def httpx_fan_out(url: str, n: int, limit: int, delay: float) -> tuple[int, float]:
    """(requests done, seconds): ``n`` requests on one ``AsyncClient``, at most ``limit`` in
    flight (a Semaphore), on a pool of ``limit`` connections."""
    import httpx

    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    semaphore = asyncio.Semaphore(limit)
    done = 0
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(i: int) -> None:
            nonlocal done
            async with semaphore:
                response = await client.get(f"{url}/item/{i}", params={"delay": str(delay)})
                response.raise_for_status()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
    return done, elapsed


def httpx_gather_child(url: str, n: int, limit: int, time_cap: float) -> None:
    """Run in a child process: ``n`` httpx requests in one gather on a pool of ``limit``
    connections, for at most ``time_cap`` s; print "done seconds" and exit at once. With
    thousands of requests queued on its pool, httpx's bookkeeping can keep the event loop busy
    for minutes (a timeout on the loop would not even fire, and cancelling them takes as
    long), so a thread watches the clock, prints the count and ends the process."""
    done = 0
    start = time.perf_counter()

    def watch() -> None:
        while time.perf_counter() - start < time_cap and done < n:
            time.sleep(0.05)
        print(done, time.perf_counter() - start, flush=True)
        os._exit(0)

    async def study() -> None:
        import httpx

        nonlocal done, start
        limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
        client = httpx.AsyncClient(limits=limits, timeout=60)

        async def one(i: int) -> None:
            nonlocal done
            response = await client.get(f"{url}/item/{i}")
            response.raise_for_status()
            done += 1

        start = time.perf_counter()
        threading.Thread(target=watch, daemon=True).start()
        await asyncio.gather(*(one(i) for i in range(n)))
        await asyncio.sleep(60)  # the watcher ends the process

    asyncio.run(study())


def httpx_big_gather(url: str, n: int, limit: int, time_cap: float) -> tuple[int, float]:
    """(requests done, seconds) of :func:`httpx_gather_child`, run in another process."""
    child = subprocess.run([sys.executable, os.path.abspath(__file__), "--httpx-gather", url,
                            str(n), str(limit), str(time_cap)],
                           capture_output=True, text=True, timeout=time_cap + 60)
    done, seconds = child.stdout.split()
    return int(done), float(seconds)


def urllib_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def section_a(url: str, sizes: Sizes, rows: list[Row], loops: dict[str, Any]) -> None:
    n, c, latency = sizes.fan_out, sizes.limit, sizes.latency
    ideal = math.ceil(n / c) * latency
    where = f"ideal ceil({n}/{c}) x {latency * 1000:g} ms = {ideal:.2f} s"
    for name, factory in loops.items():
        progress(f"a: {n} requests, {latency * 1000:g} ms each, limit {c}, aiohttp on {name}")
        best = min(run_on(factory, aiohttp_fan_out, url, n, c, latency) for _ in range(3))
        rows.append(Row("a", f"aiohttp, {n} requests, limit {c} ({name})", best, "s", where,
                        best / ideal))
    progress(f"a: the same with httpx (Semaphore({c}))")
    done, seconds = run_on(None, httpx_fan_out, url, n, c, latency)
    rows.append(Row("a", f"httpx, {n} requests, Semaphore({c})", seconds, "s", where,
                    seconds / ideal))
    progress(f"a: sequential urllib on a sample of {sizes.sequential_sample}")
    start = time.perf_counter()
    for i in range(sizes.sequential_sample):
        urllib_get(f"{url}/item/{i}?delay={latency}")
    per_request = (time.perf_counter() - start) / sizes.sequential_sample
    rows.append(Row("a", f"urllib one by one, {n} requests (extrapolated)", per_request * n,
                    "s", where, per_request * n / ideal))


# -- b: throughput -------------------------------------------------------------------------------
def urllib_threads(url: str, n: int, threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(urllib_get, (f"{url}/item/{i}" for i in range(n))))
    return time.perf_counter() - start


def section_b(url: str, sizes: Sizes, rows: list[Row]) -> None:
    n, c = sizes.throughput, sizes.limit
    progress(f"b: {n} requests, no latency, aiohttp (one session, limit {c})")
    aiohttp_rate = n / min(run_on(None, aiohttp_fan_out, url, n, c, 0) for _ in range(2))
    peer = "aiohttp's rate"
    rows.append(Row("b", f"aiohttp, one session, limit {c}", aiohttp_rate, "req/s", peer, 1.0))
    for bound in dict.fromkeys((c, 10)):  # the course's limit, and a small one
        m = sizes.httpx_requests
        progress(f"b: httpx, one AsyncClient, {m} requests, Semaphore({bound}), pool {bound}")
        done, seconds = run_on(None, httpx_fan_out, url, m, bound, 0)
        rate = done / seconds
        rows.append(Row("b", f"httpx, one client, Semaphore({bound}), pool {bound}", rate,
                        "req/s", f"{peer}; {m} requests", rate / aiohttp_rate))
    big = sizes.httpx_big_gather
    progress(f"b: httpx, one AsyncClient (pool {c}), {big} requests in one gather, "
             f"at most {sizes.httpx_time_cap:g} s")
    done, seconds = httpx_big_gather(url, big, c, sizes.httpx_time_cap)
    rate = done / seconds
    label = f"httpx, one client, pool {c}, {big} in one gather"
    rows.append(Row("b", label, rate, "req/s",
                    f"{peer}; {done} of {big} done in {seconds:.1f} s", rate / aiohttp_rate))
    threads = sizes.threads_for_urllib
    progress(f"b: urllib in {threads} threads")
    rate = n / urllib_threads(url, n, threads)
    rows.append(Row("b", f"urllib, {threads} threads", rate, "req/s", peer, rate / aiohttp_rate))


# -- c: tasks and threads ------------------------------------------------------------------------
def resident() -> int | None:
    """Resident memory of this process in bytes (Linux's /proc), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


async def task_cost(n: int, measure: Callable[[], float | int | None]) -> float | None:
    release = asyncio.Event()
    gc.collect()  # garbage freed while measuring would hide what the units take (RSS)
    before = measure()
    tasks = [asyncio.create_task(release.wait()) for _ in range(n)]
    await asyncio.sleep(0)  # every task starts, and waits
    after = measure()
    release.set()
    await asyncio.gather(*tasks)
    return None if before is None or after is None else (after - before) / n


def thread_cost(n: int, measure: Callable[[], float | int | None]) -> float | None:
    release = threading.Event()
    gc.collect()
    before = measure()
    threads = [threading.Thread(target=release.wait) for _ in range(n)]
    for thread in threads:
        thread.start()
    after = measure()
    release.set()
    for thread in threads:
        thread.join()
    return None if before is None or after is None else (after - before) / n


def traced() -> int:
    return tracemalloc.get_traced_memory()[0]


async def tasks_study(n: int) -> dict[str, float | None]:
    """µs, Python bytes and resident bytes per task, on the running loop. Run it in a fresh
    process (:func:`tasks_study_in_child`): a process that freed memory before reuses it, and
    its resident memory then does not grow."""
    rss = await task_cost(n, resident)
    seconds = min([await task_cost(n, time.perf_counter) or 0.0 for _ in range(3)])
    tracemalloc.start()
    try:
        python_bytes = await task_cost(n, traced)
    finally:
        tracemalloc.stop()
    return {"us": seconds * 1e6, "bytes": python_bytes, "rss": rss}


def tasks_study_in_child(n: int, loop: str) -> dict[str, float | None]:
    """:func:`tasks_study` on ``loop`` ("default" or "uvloop") in a fresh process."""
    child = subprocess.run([sys.executable, os.path.abspath(__file__), "--tasks-study", str(n),
                            loop], capture_output=True, text=True, timeout=600)
    if child.returncode:
        raise RuntimeError(f"the tasks study failed: {child.stderr[-1000:]}")
    return json.loads(child.stdout)


def section_c(sizes: Sizes, rows: list[Row], loops: dict[str, Any]) -> None:
    n, m = sizes.tasks, sizes.threads
    progress(f"c: {m} threads alive at once")
    thread_rss = thread_cost(m, resident)  # first: before this process frees any memory
    seconds = min(thread_cost(m, time.perf_counter) or 0.0 for _ in range(3))
    tracemalloc.start()
    try:
        thread_bytes = thread_cost(m, traced)
    finally:
        tracemalloc.stop()
    thread_us = seconds * 1e6
    for name, factory in loops.items():
        progress(f"c: {n:,} tasks alive at once ({name})")
        task = tasks_study_in_child(n, "uvloop" if factory else "default")
        rows.append(Row("c", f"one task, {n:,} alive ({name})", task["us"], "µs",
                        "a thread's µs", task["us"] / thread_us))
        rows.append(Row("c", f"one task, Python objects ({name})", task["bytes"] or 0.0,
                        "bytes", "tracemalloc"))
        if task["rss"] is not None:
            rows.append(Row("c", f"one task, resident ({name})", task["rss"], "bytes",
                            "RSS growth (Linux), in a fresh process"))
    rows.append(Row("c", f"one thread, {m:,} alive", thread_us, "µs", "to start one"))
    rows.append(Row("c", "one thread, Python objects", thread_bytes or 0.0, "bytes",
                    "tracemalloc"))
    if thread_rss is not None:
        rows.append(Row("c", "one thread, resident", thread_rss, "bytes",
                        "RSS growth (Linux): mostly its stack"))


# -- d: the loops compared -----------------------------------------------------------------------
def section_d(rows: list[Row]) -> None:
    """Ratios uvloop / default, from the rows of (a) and (c)."""
    def find(prefix: str, loop: str) -> Row | None:
        return next((r for r in rows if r.name.startswith(prefix) and f"({loop})" in r.name),
                    None)

    for prefix, what in (("aiohttp,", "a's fan-out time"), ("one task, ", "c's µs per task")):
        default, fast = find(prefix, "default loop"), find(prefix, "uvloop")
        if default and fast:
            rows.append(Row("d", f"uvloop / default loop: {what}", fast.value, fast.unit,
                            f"default loop: {default.value:,.3f} {default.unit}",
                            fast.value / default.value))


# -- e: the course's own overheads ---------------------------------------------------------------
async def demo_overhead(n: int) -> float:
    import aiohttp

    from asynclab import DemoAPI

    latency = 0.05
    with DemoAPI(latency=latency) as api:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{api.url}/users/1") as response:  # warm the connection
                await response.read()
            start = time.perf_counter()
            for _ in range(n):
                async with session.get(f"{api.url}/users/1") as response:
                    await response.read()
            return (time.perf_counter() - start) / n - latency


async def time_checks() -> dict[str, float]:
    import aiohttp

    from asynclab.checks.gather import check_fetch_users
    from asynclab.checks.performance import check_best_times, check_bytes_per_task

    async def fetch_users(base_url: str, ids: list[int]) -> list[Any]:
        async with aiohttp.ClientSession() as session:

            async def one(i: int) -> Any:
                async with session.get(f"{base_url}/users/{i}") as response:
                    response.raise_for_status()
                    return await response.json()

            return list(await asyncio.gather(*(one(i) for i in ids)))

    async def bytes_per_task(n: int) -> float:
        tracemalloc.start()
        try:
            return await task_cost(n, traced) or 0.0
        finally:
            tracemalloc.stop()

    async def best_times(run: Any, sizes: list[int], repeat: int) -> dict[int, float]:
        times = {}
        for n in sizes:
            runs = []
            for _ in range(repeat):
                start = time.perf_counter()
                await run(n)
                runs.append(time.perf_counter() - start)
            times[n] = min(runs)
        return times

    checks = {"check_fetch_users (04)": (check_fetch_users, fetch_users),
              "check_bytes_per_task (15)": (check_bytes_per_task, bytes_per_task),
              "check_best_times (15)": (check_best_times, best_times)}
    seconds = {}
    for name, (check, answer) in checks.items():
        start = time.perf_counter()
        result = await check(answer)
        seconds[name] = time.perf_counter() - start
        if not result.passed:
            progress(f"e: {name} did not pass: {result.message}")
    return seconds


def section_e(sizes: Sizes, rows: list[Row]) -> None:
    progress(f"e: the demo server's overhead on {sizes.demo_requests} sequential requests")
    added = run_on(None, demo_overhead, sizes.demo_requests)
    rows.append(Row("e", "DemoAPI: added per request (latency 50 ms)", added * 1000, "ms",
                    "round trip minus the latency", added / 0.05))
    progress("e: how long three exercise checks take")
    for name, seconds in run_on(None, time_checks).items():
        rows.append(Row("e", f"{name} with its reference answer", seconds, "s"))


# -- the table, JSON and plot --------------------------------------------------------------------
def machine() -> dict[str, Any]:
    versions = {}
    for package in ("aiohttp", "httpx", "uvloop"):
        try:
            from importlib.metadata import version
            versions[package] = version(package)
        except Exception:  # noqa: BLE001 (not installed)
            versions[package] = None
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    load = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
    return {"python": platform.python_version(), "system": platform.system(),
            "cpus": os.cpu_count(), "gil_enabled": gil, "load_average_1min": load, **versions}


def table(rows: list[Row], info: dict[str, Any]) -> str:
    head = (f"Python {info['python']} on {info['system']}, {info['cpus']} CPUs, "
            f"GIL enabled: {info['gil_enabled']}, load average {info['load_average_1min']}, "
            f"aiohttp {info['aiohttp']}, httpx {info['httpx']}, uvloop {info['uvloop']}")
    lines = [head, f"{'':3}{'figure':<52} {'value':>12} {'unit':<8} {'ratio':>8}  compared with",
             "-" * 116]
    lines += [row.line() for row in rows]
    lines += ["-" * 116,
              "ratio: measured / ideal (a), / aiohttp's rate (b), / a thread's (c), uvloop / "
              "default (d), / the 50 ms latency (e).",
              "The course's goal for (a): at most 1.2x the ideal on an idle machine; client and "
              "server share the cores, so a busy machine (see the load average) adds to it."]
    return "\n".join(lines)


def plot(rows: list[Row], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_ratio = [r for r in rows if r.ratio is not None]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(with_ratio) + 1.5))
    ax.barh([f"{r.section}  {r.name}" for r in with_ratio], [r.ratio for r in with_ratio],
            color=[f"C{SECTIONS.index(r.section)}" for r in with_ratio])
    ax.axvline(1, color="grey", linestyle=":")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("ratio to the ideal or the peer (log scale; see the table)")
    ax.set_title("asyncio course benchmark")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a few seconds")
    parser.add_argument("--only", default=SECTIONS,
                        help="the sections to run, e.g. a,c (default: all of a,b,c,d,e)")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    parser.add_argument("--plot", metavar="PATH", help="also draw the ratios to a PNG")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--httpx-gather", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--tasks-study", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    if args.tasks_study:
        n, loop = args.tasks_study
        factory = uvloop_factory() if loop == "uvloop" else None
        print(json.dumps(run_on(factory, tasks_study, int(n))))
        return 0
    if args.httpx_gather:
        url, n, limit, cap = args.httpx_gather
        httpx_gather_child(url, int(n), int(limit), float(cap))
    only = set(args.only.replace(",", "").replace(" ", ""))
    if not only or only - set(SECTIONS):
        parser.error(f"--only takes letters among {','.join(SECTIONS)}, got {args.only!r}")
    sizes = Sizes.quick() if args.quick else Sizes()
    loops: dict[str, Any] = {"default loop": None}
    if "d" in only:
        factory = uvloop_factory()
        if factory is None:
            progress("d: uvloop is not installed (it does not support Windows): skipped")
        else:
            loops["uvloop"] = factory
    rows: list[Row] = []
    started = time.perf_counter()
    if only & set("ab"):
        with server_process() as url:
            if "a" in only:
                section_a(url, sizes, rows, loops)
            if "b" in only:
                section_b(url, sizes, rows)
    if "c" in only:
        section_c(sizes, rows, loops)
    if "d" in only:
        section_d(rows)
    if "e" in only:
        section_e(sizes, rows)
    info = machine()
    info["seconds"] = round(time.perf_counter() - started, 1)
    info["quick"] = args.quick
    print(table(rows, info))
    progress(f"done in {info['seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "rows": [asdict(r) for r in rows]}, f, indent=1)
        progress(f"wrote {args.json}")
    if args.plot:
        plot(rows, args.plot)
        progress(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
