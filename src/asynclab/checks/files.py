"""Checks for notebook 11 (Files and blocking I/O).

Where a file was opened and read is observed, not guessed. While the learner's code runs,
blockbuster's wrappers of the file-reading methods (``io.TextIOWrapper.read``,
``io.BufferedReader.read``, ``os.read``) record every call made on the event loop's thread, and
an audit hook (:func:`sys.addaudithook`, Python's "open" event) records every file of the
check's own folder opened there (``readline``, ``readlines`` and ``for line in f`` are not
wrapped by blockbuster, but they need an ``open``). Calls from worker threads (no running loop
there) are left alone: that is what ``asyncio.to_thread`` and aiofiles do. The audit hook, once
added, stays for the life of the process (Python cannot remove one); outside a check it returns
at once.

The slow-storage exercise hands the learner a blocking ``read`` of the check's own, which counts
how many calls run at once and on which threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from blockbuster import BlockBuster, BlockBusterFunction

from ._core import checker, fail, require_callable, run_learner
from ._observe import fail_on_outcome, observe

__all__ = ["check_read_all", "check_read_texts", "check_save_all"]

#: The file-reading functions watched on the event loop's thread (blockbuster's names).
FILE_READS: tuple[str, ...] = ("io.TextIOWrapper.read", "io.BufferedReader.read",
                               "io.BufferedRandom.read", "os.read")
#: The file-writing functions watched the same way.
FILE_WRITES: tuple[str, ...] = ("io.TextIOWrapper.write", "io.BufferedWriter.write",
                                "io.BufferedRandom.write", "os.write")

_SEEN: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "_FILES_SEEN", default=None)


def _recording(function: BlockBusterFunction) -> Callable[..., bool]:
    """A ``can_block_predicate`` that records the learner's file reads and lets them run."""
    original = function.can_block_predicate

    def can_block(*args: Any, **kwargs: Any) -> bool:
        seen = _SEEN.get()
        if seen is not None and not original(*args, **kwargs):
            seen.append(function.full_name)
        return True

    return can_block


#: (the folder watched, the files opened there on the loop's thread) during a check.
_OPENS: contextvars.ContextVar[tuple[str, list[str]] | None] = contextvars.ContextVar(
    "_FILES_OPENS", default=None)
_HOOKED = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Python's audit hook: note the check's files opened on a thread that runs a loop."""
    if event != "open":
        return
    watching = _OPENS.get()
    if watching is None:
        return
    try:
        asyncio.get_running_loop()
        folder, opened = watching
        path = args[0]
        if isinstance(path, str | bytes | os.PathLike):
            name = os.fsdecode(path)
            if name.startswith(folder):
                opened.append(os.path.basename(name))
    except Exception:  # noqa: BLE001 (no loop in this thread; an audit hook must never raise)
        return


@contextlib.contextmanager
def watching_file_reads(folder: str | os.PathLike[str] | None = None,
                        watched: tuple[str, ...] = FILE_READS) -> Iterator[list[str]]:
    """While active, every call of the ``watched`` functions (file reads, or
    :data:`FILE_WRITES`) made on a thread that runs an event loop, by code running in this
    context (and in the tasks it creates), is appended to the yielded list; so is
    ``"open(name)"`` for every file under ``folder`` opened there."""
    global _HOOKED
    buster = BlockBuster()
    functions = [buster.functions[name] for name in watched if name in buster.functions]
    for function in functions:
        function.can_block_predicate = _recording(function)
    seen: list[str] = []
    opened: list[str] = []
    token = _SEEN.set(seen)
    opens_token = _OPENS.set((os.fspath(folder), opened) if folder is not None else None)
    if folder is not None and not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED = True
    for function in functions:
        function.activate()
    try:
        yield seen
    finally:
        for function in functions:
            function.deactivate()
        _SEEN.reset(token)
        _OPENS.reset(opens_token)
        seen[:0] = [f"open({name})" for name in opened]


def _describe_reads(calls: list[str]) -> str:
    """``["open(a)", "open(b)", "io.TextIOWrapper.read"]`` -> "open() 2 times,
    io.TextIOWrapper.read() 1 time"."""
    counts: dict[str, int] = {}
    for call in calls:
        name = "open" if call.startswith("open(") else call
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name}() {n} time{'s' if n > 1 else ''}" for name, n in counts.items())


# -- Exercise 1: read_texts(paths) -------------------------------------------------------

#: (how many files, which of them, in what order): position != identity, several sizes.
_TEXT_CASES = ((6, [4, 0, 5, 2]), (9, [8, 1, 7, 3, 0, 6, 2]))


def _make_case(folder: Path, count: int, order: list[int], rng: random.Random
               ) -> tuple[list[Path], list[str]]:
    """Write ``count`` files with different texts into a new sub-folder of ``folder``; return
    the paths picked by ``order`` and their texts."""
    case = folder / f"case_{count}"
    case.mkdir()
    texts = []
    for n in range(count):
        words = " ".join(rng.choice(["disk", "loop", "page", "cache", "thread"])
                         for _ in range(20 + 13 * n))
        texts.append(f"note {n}: {words}\n")
        (case / f"note_{n}.txt").write_text(texts[-1], encoding="utf-8")
    return [case / f"note_{i}.txt" for i in order], [texts[i] for i in order]


def _new_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="asynclab_files_")).resolve()


@checker
async def check_read_texts(read_texts: Callable[..., Any]) -> str:
    """``read_texts(paths)`` returns the text of every file in ``paths``, in that order, and
    never opens or reads a file on the event loop's thread."""
    require_callable(read_texts, "read_texts", is_async=True)
    rng = random.Random()
    folder = await asyncio.to_thread(_new_folder)  # the check does its own file work in threads
    try:
        for count, order in _TEXT_CASES:
            paths, expected = await asyncio.to_thread(_make_case, folder, count, order, rng)
            names = [p.name for p in paths]
            call = f"read_texts([{len(paths)} paths])"
            with watching_file_reads(folder) as reads:
                outcome = await run_learner(read_texts, paths, time_limit=5.0)
            if reads:
                fail(f"{call} opened or read files on the event loop's thread "
                     f"({_describe_reads(reads)}): each of those calls stopped every other "
                     "task until it returned. Section 2 shows where the guide's process_file "
                     "reads, section 3 the way out.")
            fail_on_outcome(call, outcome, time_limit=5.0, see="section 3")
            result = outcome.value
            if isinstance(result, tuple):
                result = list(result)
            if not isinstance(result, list) or len(result) != len(expected):
                what = (f"a {type(result).__name__} of {len(result)}"
                        if hasattr(result, "__len__") else repr(result)[:60])
                fail(f"{call} returned {what}; expected a list of {len(expected)} texts, one "
                     "per path.")
            if any(isinstance(r, bytes) for r in result):
                fail(f"{call} returned bytes; expected the texts as str (open the files in "
                     "text mode, with encoding='utf-8').")
            if result != expected:
                got = [next((p.name for p, t in zip(paths, expected, strict=True) if t == r),
                            "?") for r in result]
                if sorted(got) == sorted(names):
                    fail(f"{call} returned the right texts in the wrong order: for the paths "
                         f"{names} it returned the texts of {got}. Keep the order of `paths`.")
                fail(f"{call} returned texts that are not the files' contents (for "
                     f"{names[0]}: {str(result[0])[:40]!r}...).")
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return ("Every text came back in the order of the paths, and no file was opened or read on "
            "the event loop's thread.")


# -- Exercise 2: read_all(paths, read, workers) ------------------------------------------

#: How long the check's read() takes: a slow disk, simulated.
SLOW_READ = 0.1  # the (4 paths, 4 workers) case needs 4 new threads to overlap within it
#: (how many paths, workers): a hard-coded pool size fails one of them.
_POOL_CASES = ((6, 2), (9, 3), (4, 4))


class _SlowStorage:
    """The blocking ``read(path)`` the check hands out: it sleeps (a slow disk, simulated),
    counts the calls running at once, and notes the threads and whether a loop ran there."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        self.on_loop = 0
        self.threads: dict[int, threading.Thread] = {}

    def read(self, path: str) -> str:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.threads[threading.get_ident()] = threading.current_thread()
        try:
            try:
                asyncio.get_running_loop()
                with self.lock:
                    self.on_loop += 1
            except RuntimeError:
                pass
            time.sleep(SLOW_READ)  # noqa: ASYNC251 (runs in the learner's threads)
            return f"contents of {path}"
        finally:
            with self.lock:
                self.in_flight -= 1


@checker
async def check_read_all(read_all: Callable[..., Any]) -> str:
    """``read_all(paths, read, workers)`` calls the blocking ``read(path)`` for every path on a
    thread pool of its own with ``workers`` threads, returns the results in the order of
    ``paths``, and shuts the pool down before it returns."""
    require_callable(read_all, "read_all", is_async=True)
    for count, workers in _POOL_CASES:
        storage = _SlowStorage()
        paths = [f"share/file_{n}.txt" for n in random.sample(range(100), count)]
        call = f"read_all({count} paths, read, workers={workers})"
        limit = 2.0 + count * SLOW_READ * 3
        outcome = await run_learner(read_all, paths, storage.read, workers, time_limit=limit)
        alive = [t for t in storage.threads.values() if t.is_alive()]
        if storage.on_loop:
            fail(f"{call} called read() on the event loop's thread {storage.on_loop} of "
                 f"{storage.calls} times: each call stopped the loop for {SLOW_READ:g} s "
                 "(section 4 hands the calls to threads).")
        fail_on_outcome(call, outcome, time_limit=limit, see="section 4")
        expected = [f"contents of {p}" for p in paths]
        result = list(outcome.value) if isinstance(outcome.value, tuple) else outcome.value
        if result != expected:
            if isinstance(result, list) and sorted(map(str, result)) == sorted(expected):
                fail(f"{call} returned the right results in the wrong order (the order the "
                     "reads finished?): keep the order of `paths`.")
            fail(f"{call} returned {result!r:.100}; expected read(path) for each path, in "
                 f"the order of `paths` ({storage.calls} read() calls were made).")
        if storage.peak > workers:
            fail(f"{call}: {storage.peak} read() calls ran at once, on {len(storage.threads)} "
                 f"different threads, more than workers={workers}: the pool's size should be "
                 "`workers`, one pool for the whole call (section 5 measures what the size "
                 "does).")
        if storage.peak < min(workers, count):
            fail(f"{call}: at most {storage.peak} read() call{'s' if storage.peak > 1 else ''} "
                 f"ran at once, not {min(workers, count)}: the calls should wait together, as "
                 "many as the pool allows (section 5).")
        if alive:
            names = sorted(t.name for t in alive)
            if all(name.startswith("asyncio_") for name in names):
                fail(f"{call} ran read() on the event loop's default executor (threads "
                     f"{', '.join(names)}), which keeps its threads for the next caller: the "
                     "task asks for a pool of its own, shut down before read_all returns "
                     "(section 5).")
            fail(f"{len(alive)} of the {len(storage.threads)} threads that ran read() were "
                 f"still alive when {call} returned: its pool was not shut down, or not "
                 "waited for (section 5).")
    return ("Every read ran on a pool of `workers` threads of its own, as many at once as "
            "allowed, the results came back in order, and the pool was shut down.")


# -- Exercise 3: save_all(folder, reports) -----------------------------------------------

#: Each call: (sub-folder, {file name: text}); the second call rewrites two of the first
#: call's files (a file opened to append keeps the old text) and the third uses another folder
#: (a hard-coded folder fails).
def _save_cases(rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    def text(name: str) -> str:
        words = " ".join(rng.choice(["sum", "mean", "rows", "late", "ok"]) for _ in range(30))
        return f"{name}: {words}\n"

    first = {f"report_{k}.txt": text(f"report {k}") for k in ("a", "b", "c")}
    second = {"report_b.txt": text("report b, again"), "report_a.txt": text("report a, again"),
              "report_d.txt": text("report d")}
    third = {f"summary_{k}.txt": text(f"summary {k}") for k in (2, 1)}
    return [("out", first), ("out", second), ("other", third)]


def _contents(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.is_file()}


@checker
async def check_save_all(save_all: Callable[..., Any]) -> str:
    """``save_all(folder, reports)`` writes each ``reports[name]`` to ``folder / name``
    (replacing what was there), without opening or writing a file on the event loop's
    thread."""
    require_callable(save_all, "save_all", is_async=True)
    rng = random.Random()
    root = await asyncio.to_thread(_new_folder)
    try:
        for sub, reports in _save_cases(rng):
            folder = root / sub
            await asyncio.to_thread(folder.mkdir, exist_ok=True)
            before = await asyncio.to_thread(_contents, folder)
            call = f"save_all(folder, {{{len(reports)} reports}})"
            with watching_file_reads(root, FILE_READS + FILE_WRITES) as calls:
                seen = await observe(save_all, folder, dict(reports), time_limit=5.0)
            outcome = seen.outcome
            forgot = (f" (Python warned that {', '.join(sorted(set(seen.unawaited)))} was never "
                      "awaited)") if seen.unawaited else ""
            if calls:
                fail(f"{call} opened or wrote files on the event loop's thread "
                     f"({_describe_reads(calls)}): each of those calls stopped every other "
                     "task until it returned. Writing blocks as reading does (section 6 "
                     "writes its big file elsewhere).")
            fail_on_outcome(call, outcome, time_limit=5.0, see="section 3")
            after = await asyncio.to_thread(_contents, folder)
            missing = [name for name in reports if name not in after]
            if missing:
                elsewhere = " (did it write them somewhere else?)" if sub == "other" else ""
                fail(f"After {call} returned, {', '.join(missing)} did not exist in the folder "
                     f"it was given{elsewhere or forgot}.")
            for name, text in reports.items():
                got = after[name]
                if got == before.get(name, "") + text and name in before:
                    fail(f"After {call}, {name} held its old text followed by the new one: "
                         "the file was added to, not replaced (which mode was it opened in?).")
                if got != text:
                    empty = (forgot or " (a write that was never awaited?)") if got == "" else ""
                    fail(f"After {call}, {name} held {got[:40]!r}; expected the text of "
                         f"reports[{name!r}]{empty}.")
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
    return ("Every report landed in its file, replacing the old text, and no file was opened "
            "or written on the event loop's thread.")
