"""The course's lessons: the one place where a lesson's number, file slug, title, one-line
summary and minutes are typed, and the workshop schedules built from them.

Everything else is generated from here by ``tools/navigation.py``: the navigation line and
Binder badge of every notebook, its title line and its ``**Time:**`` line, the course map in the
README and in notebook 00, the instructor guide's per-notebook headings and its schedule tables.
``tools/new_lesson.py`` creates a new lesson's files from its entry.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BREAK", "LESSONS", "SCHEDULES", "Lesson", "Schedule", "existing", "lesson",
           "notebook_paths"]

#: The repository root (the folder that holds notebooks/), for tools and tests.
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Lesson:
    """One lesson: a notebook, its checks module, its tests and its instructor entry."""

    number: int
    slug: str
    title: str
    #: "What you learn" in a few words (the README's course map).
    summary: str
    #: Minutes of teaching and of exercises, measured in a workshop; 0 until it is written.
    teaching: int = 0
    exercises: int = 0

    @property
    def filename(self) -> str:
        """``NN_slug.ipynb``."""
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def label(self) -> str:
        """``NN · Title``, as in headings."""
        return f"{self.number:02d} · {self.title}"

    @property
    def checks_module(self) -> str:
        """The module of ``asynclab.checks`` that holds this lesson's checks: the slug, with a
        trailing underscore where the slug is a Python keyword (``await`` -> ``await_``)."""
        return self.slug + "_" if keyword.iskeyword(self.slug) else self.slug

    @property
    def test_file(self) -> str:
        """The test file of this lesson's checks."""
        return f"tests/test_checks_{self.checks_module}.py"

    @property
    def time_line(self) -> str:
        """The line under a notebook's objectives: ``**Time:** 25 min teaching · ...``."""
        return f"**Time:** {self.teaching} min teaching · {self.exercises} min exercises"


LESSONS: tuple[Lesson, ...] = tuple(Lesson(*row) for row in [
    (0, "start_here", "Start here", "environment check, exercises, the kitchen picture", 15, 10),
    (1, "why_async", "Why async", "blocking vs waiting; concurrency is not parallelism", 20, 15),
    (2, "coroutines", "Coroutines", "async def, coroutine objects, ways to run them", 30, 20),
    (3, "await", "await", "sequential awaits, asyncio.sleep vs time.sleep, yielding", 25, 20),
    (4, "gather", "gather and friends", "gather, return_exceptions, as_completed, wait", 25, 20),
    (5, "tasks", "Tasks and TaskGroup", "create_task, cancellation, TaskGroup, timeouts", 30, 25),
    (6, "awaitables", "Awaitables and futures", "the awaitable protocol; a toy event loop", 35, 20),
    (7, "async_iteration", "Async iteration and context", "async with, async for, generators",
     25, 25),
    (8, "coordination", "Coordination", "Semaphore, Lock, Event, Queue, rate limits, retries",
     45, 30),
    (9, "web_scraping", "Web scraping with aiohttp", "one session, bounded concurrency",
     40, 25),
    (10, "rest_api", "An async REST API", "FastAPI, httpx, uvicorn, aiohttp.web", 40, 30),
    (11, "files", "Files and blocking I/O", "to_thread, run_in_executor, aiofiles", 25, 30),
    (12, "websockets", "Websockets", "echo, broadcast chat, live ticker", 30, 25),
    (13, "pitfalls", "Pitfalls", "blocking the loop, lost tasks, unclosed resources", 35, 25),
    (14, "executors", "Sync code and executors", "threads, processes, threadsafe calls", 40, 25),
    (15, "performance", "Performance: when async pays", "scaling study, memory per task",
     35, 20),
    (16, "debugging", "Debugging", "debug mode, task names, introspection", 35, 25),
    (17, "testing", "Testing async code", "IsolatedAsyncioTestCase, pytest-asyncio", 30, 25),
    (18, "ecosystem", "The async ecosystem", "aiohttp vs httpx, databases, anyio", 35, 25),
    (19, "capstone", "Capstone", "a rate-limited, retrying crawler with a dashboard", 20, 70),
])


def lesson(number: int) -> Lesson:
    """The lesson with this number."""
    for entry in LESSONS:
        if entry.number == number:
            return entry
    raise ValueError(f"no lesson {number}: the lessons are numbered 0 to {LESSONS[-1].number} "
                     "(src/asynclab/lessons.py)")


def existing(root: Path = ROOT) -> list[Lesson]:
    """The lessons whose notebook exists in ``root/notebooks``."""
    return [entry for entry in LESSONS if (root / "notebooks" / entry.filename).exists()]


def notebook_paths(root: Path = ROOT) -> list[Path]:
    """The paths of the existing notebooks, in course order: what tools and tests loop over."""
    return [root / "notebooks" / entry.filename for entry in existing(root)]


#: A break in a schedule.
BREAK = "break"


@dataclass(frozen=True)
class Schedule:
    """A workshop schedule: lessons (by number, optionally with a note), breaks and other
    items with their minutes, in order. The instructor guide's table is generated from it, so
    its clock always adds up and its minutes are the lessons' own."""

    name: str
    items: tuple[int | tuple[int, str] | str | tuple[str, int], ...]

    def rows(self) -> list[tuple[int, str, str]]:
        """(start minute, what, minutes text) for each item, then the end."""
        rows, clock = [], 0
        for item in self.items:
            if isinstance(item, int) or (isinstance(item, tuple) and isinstance(item[0], int)):
                number, note = (item, "") if isinstance(item, int) else item
                entry = lesson(number)
                what = f"{number:02d} {entry.title}" + (f" ({note})" if note else "")
                rows.append((clock, what, f"{entry.teaching} + {entry.exercises}"))
                clock += entry.teaching + entry.exercises
            elif item == BREAK:
                rows.append((clock, "*break*", "10"))
                clock += 10
            else:
                what, minutes = item
                rows.append((clock, what, str(minutes)))
                clock += minutes
        rows.append((clock, "end", ""))
        return rows

    @property
    def minutes(self) -> int:
        """The length of the whole schedule, breaks included."""
        return self.rows()[-1][0]


SCHEDULES: dict[str, Schedule] = {
    "half-day": Schedule("Half day: the core", (
        (0, "environment check for the room"), 1, BREAK, 2, BREAK, 3, 4,
        ("wrap-up and feedback", 10))),
    "full-day": Schedule("Full day: the core, tasks and pitfalls", (
        (0, "environment check for the room"), 1, BREAK, 2, BREAK, 3, 4, ("lunch", 60), 5,
        BREAK, 13, ("wrap-up and feedback", 15))),
    "two-day-1": Schedule("Two days, day 1: from coroutines to tasks", (
        (0, "environment check for the room"), 1, BREAK, 2, BREAK, 3, 4, ("lunch", 60), 5,
        BREAK, 7, ("wrap-up: questions for day 2", 10))),
    "two-day-2": Schedule("Two days, day 2: async in practice", (
        ("recap: predict the timeline", 10), 8, BREAK, 13, ("lunch", 60), 14, BREAK, 16, 17,
        ("wrap-up and feedback", 15))),
}
