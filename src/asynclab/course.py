"""The course map: every planned notebook, in order. The navigation tool, the README's map
and notebook 00 are all written from this list."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NOTEBOOKS", "Notebook"]


@dataclass(frozen=True)
class Notebook:
    """One lesson: its number, file slug, title and a one-line summary."""

    number: int
    slug: str
    title: str
    summary: str

    @property
    def filename(self) -> str:
        """``NN_slug.ipynb``."""
        return f"{self.number:02d}_{self.slug}.ipynb"


NOTEBOOKS: tuple[Notebook, ...] = tuple(Notebook(*row) for row in [
    (0, "start_here", "Start here", "environment check, exercises, the kitchen picture"),
    (1, "why_async", "Why async", "blocking vs waiting; concurrency is not parallelism"),
    (2, "coroutines", "Coroutines", "async def, coroutine objects, ways to run them"),
    (3, "await", "await", "sequential awaits, asyncio.sleep vs time.sleep, yielding"),
    (4, "gather", "gather and friends", "gather, return_exceptions, as_completed, wait"),
    (5, "tasks", "Tasks and TaskGroup", "create_task, cancellation, TaskGroup, timeouts"),
    (6, "awaitables", "Awaitables and futures", "the awaitable protocol; a toy event loop"),
    (7, "async_iteration", "Async iteration and context", "async with, async for, generators"),
    (8, "coordination", "Coordination", "Semaphore, Lock, Event, Queue, rate limits, retries"),
    (9, "web_scraping", "Web scraping with aiohttp", "one session, bounded concurrency"),
    (10, "rest_api", "An async REST API", "FastAPI, httpx, uvicorn, aiohttp.web"),
    (11, "files", "Files and blocking I/O", "to_thread, run_in_executor, aiofiles"),
    (12, "websockets", "Websockets", "echo, broadcast chat, live ticker"),
    (13, "pitfalls", "Pitfalls", "blocking the loop, lost tasks, unclosed resources"),
    (14, "executors", "Sync code and executors", "threads, processes, threadsafe calls"),
    (15, "performance", "Performance: when async pays", "scaling study, memory per task"),
    (16, "debugging", "Debugging", "debug mode, task names, introspection"),
    (17, "testing", "Testing async code", "IsolatedAsyncioTestCase, pytest-asyncio"),
    (18, "ecosystem", "The async ecosystem", "aiohttp vs httpx, databases, anyio"),
    (19, "capstone", "Capstone", "a rate-limited, retrying crawler with a dashboard"),
])

