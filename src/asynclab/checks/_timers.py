"""Judging a wait without trusting the wall clock: a busy machine only makes waits longer,
so a wait that is too short can look right. :class:`Alarm` races the learner's timers
against one of the check's own (timers keep the order of their deadlines however late the
loop runs); :func:`asked_sleeps` records the delays the learner's code asked of
``asyncio.sleep``, which no load can change, and :func:`short_wait` judges backoff waits
by them."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiohttp

__all__ = ["Alarm", "asked_sleeps", "short_wait", "with_alarm"]


class Alarm:
    """A timer of the check's own, set on the event loop just before the learner's code
    starts (:func:`with_alarm` sets it in the same step of the loop in which the learner's
    coroutine begins, so any timer that code sets is due no earlier than the alarm's start
    plus its own delay); :attr:`rang` says whether it had rung when that code returned.

    It tells a wait that is too short without measuring time, so lateness cannot hide one:
    due timers run in the order of their deadlines, and both the alarm and a task woken by a
    timer take one more turn of the loop (``call_soon``) before they take effect. When a busy
    machine or a stalled loop makes both due at once, they still take effect in the order of
    their deadlines: a wait shorter than the alarm's delay returns before it rings, and a wait
    of at least that long returns after, however late the loop runs.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        #: Whether it had rung when the learner's code returned (see :func:`with_alarm`).
        self.rang = False
        self._rung = False
        self._handles: list[asyncio.Handle] = []

    def set(self) -> None:
        self.stop()
        self.rang = self._rung = False
        loop = asyncio.get_running_loop()
        self._handles = [loop.call_later(self.delay, self._due)]

    def _due(self) -> None:
        self._handles.append(asyncio.get_running_loop().call_soon(self._ring))

    def _ring(self) -> None:
        self._rung = True

    def stop(self) -> None:
        """Note whether it has rung by now, and cancel what is left of it."""
        self.rang = self._rung
        for handle in self._handles:
            handle.cancel()
        self._handles = []


def with_alarm(func: Callable[..., Any], alarm: Alarm) -> Callable[..., Any]:
    """``func`` as a coroutine function that sets ``alarm``, awaits ``func(*args)`` and stops
    the alarm in the step in which ``func`` returns."""

    async def started(*args: Any) -> Any:
        alarm.set()
        try:
            return await func(*args)
        finally:
            alarm.stop()

    return started


_NOT_ASKED_BY = tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (asyncio, aiohttp))
#: What ``asyncio.sleep(delay)`` with ``delay > 0`` asks the loop to call when its time is up
#: (asyncio/tasks.py, the same in 3.11-3.14): a timer with this callback is a sleep's.
_SLEEP_TIMER = getattr(asyncio.futures, "_set_result_unless_cancelled", None)


@contextmanager
def asked_sleeps() -> Iterator[list[float]]:
    """The delays passed to ``asyncio.sleep`` while the block runs, by code running in the
    current task on this thread (run_learner awaits the learner's coroutine in the caller's
    task), except asyncio's and aiohttp's own calls: the waits a retry loop asked for, which
    a busy machine cannot shorten (the demo servers' threads and other tasks are left out).

    A positive delay is recorded from the timer the sleep sets on the running loop, so a
    ``sleep`` imported by name (``from asyncio import sleep``, which a replaced
    ``asyncio.sleep`` cannot reach) counts too; ``sleep(0)`` sets no timer and is recorded
    where ``asyncio.sleep`` is called."""
    asked: list[float] = []
    real, task, thread = asyncio.sleep, asyncio.current_task(), threading.get_ident()
    loop = asyncio.get_running_loop()
    real_call_later = loop.call_later

    def learners(caller: Any) -> bool:
        """Called in the check's task on its thread, by code that is not asyncio's or aiohttp's."""
        return (threading.get_ident() == thread and asyncio.current_task() is task
                and not caller.f_code.co_filename.startswith(_NOT_ASKED_BY))

    # A loop without a __dict__ cannot be given a call_later of the check's own (nor can a
    # sleep's timer be told apart without _SLEEP_TIMER): then every delay is recorded where
    # asyncio.sleep is called, as before the timers were watched.
    patched = getattr(loop, "__dict__", None) if _SLEEP_TIMER is not None else None

    def sleep(delay: Any, *args: Any, **kwargs: Any) -> Any:
        if (isinstance(delay, int | float) and (delay <= 0 or patched is None)
                and learners(sys._getframe(1))):
            asked.append(float(delay))
        return real(delay, *args, **kwargs)

    def call_later(delay: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        # frame 1 is asyncio's sleep, frame 2 the code that awaited it
        if callback is _SLEEP_TIMER and learners(sys._getframe(2)):
            asked.append(float(delay))
        return real_call_later(delay, callback, *args, **kwargs)

    own = patched.get("call_later") if patched is not None else None
    asyncio.sleep = sleep
    if patched is not None:
        patched["call_later"] = call_later
    try:
        yield asked
    finally:
        asyncio.sleep = real
        if patched is not None:
            if own is None:
                del patched["call_later"]  # the class's method again
            else:
                patched["call_later"] = own


def short_wait(waits: Sequence[float], asked: Sequence[float], base: float,
               lower: float) -> tuple[int, float, bool] | None:
    """The first wait shorter than allowed (half of ``base * 2**k``), as (k, the wait, whether
    it was an asked sleep), or None. With one asked sleep per wait those are judged, exactly:
    lateness cannot lift them (a constant or linear wait is caught however busy the machine);
    otherwise (waits made some other way) the gaps the server saw, at ``lower`` of the bound."""
    exact = len(asked) == len(waits)
    for k, wait in enumerate(asked if exact else waits):
        shortest = base * 2 ** k / 2
        if wait < (shortest * (1 - 1e-9) if exact else lower * shortest):
            return k, wait, exact
    return None
