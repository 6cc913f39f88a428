"""Checks for notebook 01 (why async)."""

from __future__ import annotations

import gc
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from ..servers import USERS, DemoAPI, user_record
from ._core import Problem, call_learner, checker, fail, require_callable

__all__ = ["ID_LISTS", "JOBS", "check_fetch_names", "check_io_or_cpu"]

_LATENCY = 0.2
#: The id lists the check asks for: shuffled, so that position != id, and of two sizes, so
#: that a hard-coded list or count fails.
ID_LISTS: tuple[tuple[int, ...], ...] = ((7, 3, 12, 6, 1, 9), (14, 5, 18))
_SEE_CONCURRENT = "section 4 shows the concurrent version, section 5 its timeline"


def _whose(names: object) -> str:
    """Which user ids the returned names belong to, e.g. "users [1, 2, 3]" (for a ❌)."""
    by_name = {user_record(i)["name"]: i for i in USERS}
    if not names or not isinstance(names, list | tuple) or not all(n in by_name for n in names):
        return ""
    return f"users {[by_name[n] for n in names]}"


async def _call_fetch_names(fetch_names: Callable[..., Any], url: str,
                            ids: tuple[int, ...]) -> tuple[Any, float]:
    """:func:`call_learner`, and when it fails, say which coroutine was never awaited.

    The classic slip here is ``user = response.json()`` without ``await``: the learner sees
    "'coroutine' object is not subscriptable", and later, somewhere else in the notebook,
    "coroutine 'ClientResponse.json' was never awaited". Both belong in one sentence.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            return await call_learner("fetch_names", fetch_names, url, list(ids),
                                      see="section 2 shows urlopen blocking; " + _SEE_CONCURRENT)
        except Problem as problem:
            message = str(problem)
        gc.collect()  # the learner's frames die here: their un-awaited coroutines warn now
    never = sorted({match.group(1) for w in caught
                    if (match := re.search(r"coroutine '([^']+)' was never awaited",
                                           str(w.message)))})
    if never:
        message += (f" A coroutine was never awaited: {', '.join(never)} (calling a coroutine "
                    "function only creates the coroutine; section 4 marks where the code "
                    "waits).")
    fail(message)


@checker
async def check_fetch_names(fetch_names: Callable[..., Any]) -> str:
    """``fetch_names(base_url, ids)`` must return the users' names, in the order of ``ids``,
    with all the requests in flight at the server at the same time. Tried on several id lists.
    """
    require_callable(fetch_names, "fetch_names", is_async=True)
    report = []
    with DemoAPI(latency=_LATENCY) as api:
        for ids in ID_LISTS:
            expected = [user_record(i)["name"] for i in ids]
            api.stats.reset()
            result, elapsed = await _call_fetch_names(fetch_names, api.url, ids)
            at_once, requests = api.stats.max_in_flight, api.stats.requests
            if not isinstance(result, list):
                fail(f"fetch_names returned {type(result).__name__} {result!r:.80}; return a list "
                     "of names.")
            if result != expected:
                if sorted(map(str, result)) == sorted(expected):
                    fail(f"For ids {list(ids)}, the names are right but in another order: "
                         f"{result!r}. Return them in the order of `ids` (Hint 2 says which "
                         "tool keeps it).")
                whose = _whose(result)
                whose = f" (the names of {whose})" if whose else ""
                fail(f"fetch_names(url, {list(ids)}) returned {result!r:.200}{whose}; expected "
                     f"{expected!r}: one name per id, fetched by id, in the order of `ids`.")
            if at_once < len(ids):
                when = ("one after another: the server never saw two at once" if at_once <= 1
                        else f"at most {at_once} of the {len(ids)} were in flight at the server "
                             "at the same time")
                fail(f"The names are right, but the {len(ids)} requests (ids {list(ids)}) ran "
                     f"{when}. They took {elapsed:.2f} s; one request takes {_LATENCY} s. The "
                     f"exercise asks for all of them at once: {_SEE_CONCURRENT}.")
            if requests != len(ids):
                fail(f"The names are right, but the server received {requests} requests for "
                     f"{len(ids)} ids: fetch each user once.")
            report.append(f"{len(ids)} in {elapsed:.2f} s")
    return (f"All the names, in order, with every request in flight at once ({', '.join(report)}"
            f"; one after another would take {len(ID_LISTS[0]) * _LATENCY:.1f} s for "
            f"{len(ID_LISTS[0])}).")


#: The jobs of the I/O-or-CPU exercise, with why each is what it is.
JOBS: dict[str, tuple[str, str]] = {
    "download 200 web pages": (
        "io", "nearly all the time is spent waiting for the servers to answer"),
    "count the words in a 1 GB string already in memory": (
        "cpu", "the data is already in memory: the processor is busy the whole time"),
    "wait for 50 database queries": (
        "io", "the program waits for the database; the processor is idle"),
    "find the prime numbers below 10 million in pure Python": (
        "cpu", "pure-Python arithmetic keeps the processor busy; nothing is waited for"),
    "keep 1000 chat connections open and relay messages": (
        "io", "the connections are idle almost all the time, waiting for messages"),
}


#: A question per job that leads to the answer without giving it (for the ❌ message).
_ASK = "if the network and the disks were infinitely fast, would it still take long?"


def _normalise(answer: object) -> str:
    """``"IO"``, ``"I/O"``, ``" io-bound "`` -> ``"io"``; ``"CPU-bound"`` -> ``"cpu"``."""
    text = str(answer).strip().lower().replace("/", "").replace("-bound", "").replace(" bound", "")
    return text.strip()


@checker
async def check_io_or_cpu(answers: Mapping[str, str]) -> str:
    """``answers`` maps each job in :data:`JOBS` to ``"io"`` or ``"cpu"``."""
    if not isinstance(answers, Mapping):
        fail(f"Pass a dict that maps each job to 'io' or 'cpu', not a {type(answers).__name__}.")
    missing = [job for job in JOBS if job not in answers]
    if missing:
        unknown = [key for key in answers if key not in JOBS]
        extra = f" (the key {unknown[0]!r} is not one of them)" if unknown else ""
        fail(f"No answer for {missing[0]!r}{extra}: copy the job names exactly from JOBS.")
    given = {job: _normalise(answers[job]) for job in JOBS}
    for job, value in given.items():
        if value not in ("io", "cpu"):
            fail(f"Answer 'io' or 'cpu' for {job!r}, not {answers[job]!r}.")
    wrong = [job for job, value in given.items() if value != JOBS[job][0]]
    if wrong:
        listed = "; ".join(f"{job!r} (you said {given[job]!r})" for job in wrong)
        fail(f"{len(JOBS) - len(wrong)} of {len(JOBS)} answers are right. Look again at: "
             f"{listed}. Ask of each: {_ASK} Section 2 measures the difference between waiting "
             "and working.")
    return ("All right. Async helps with the I/O-bound jobs, where the time goes into waiting. "
            "The CPU-bound ones need several processor cores: processes (notebook 14), "
            "compared with every other option in notebook 15.")
