"""Catch, by name, the blocking calls that the learner's code makes on the event loop's thread.

A heartbeat that wakes up late shows *that* the loop was blocked, but on a busy machine it is
also late for other reasons. Here the blocking functions themselves tell: `blockbuster
<https://github.com/cbornet/blockbuster>`_ replaces ``time.sleep``, the blocking socket methods
(what ``urllib``, ``http.client`` and ``requests`` use) and ``input`` with versions that notice
when they are called while an event loop runs in the calling thread.

The course narrows that to the learner's code, and only *records* the calls: a call counts
only inside :func:`watching_blocking_calls`, and only from code that runs in its context (the
learner's coroutine, and the tasks it creates, which inherit the context). The call then goes
ahead as usual (raising inside the learner's code would leave sockets half-open and change what
their code does); the check reads the record and says what was called. The kernel's own code,
the course's servers (other threads) and worker threads (no running loop:
``asyncio.to_thread`` is the right way to call a blocking function) are never affected.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from blockbuster import BlockBuster, BlockBusterFunction

__all__ = ["WATCHED", "describe", "watching_blocking_calls"]

#: The functions watched (blockbuster's names). Sockets in non-blocking mode, which asyncio
#: uses, are not reported (blockbuster's own rule).
WATCHED: tuple[str, ...] = (
    "time.sleep", "builtins.input",
    *(f"socket.socket.{m}" for m in ("connect", "accept", "send", "sendall", "sendto", "recv",
                                     "recv_into", "recvfrom", "recvfrom_into", "recvmsg")),
)

#: The blocking calls seen in the current learner call (None: not watching).
_SEEN: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("_SEEN", default=None)


def _allowed_by_blockbuster(function: BlockBusterFunction) -> bool:
    """blockbuster's own allow-list: a blocking call made from inside these functions (e.g.
    Python's import machinery) is fine."""
    frame = inspect.currentframe()
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        for filename, functions in function.can_block_functions:
            if name.endswith(filename) and frame.f_code.co_name in functions:
                return True
        frame = frame.f_back
    return False


def _recording_learner_calls(function: BlockBusterFunction) -> Callable[..., bool]:
    """A ``can_block_predicate`` that records the blocking calls made by the learner's code
    and lets every call go ahead (so blockbuster never raises)."""
    original = function.can_block_predicate

    def can_block(*args: Any, **kwargs: Any) -> bool:
        seen = _SEEN.get()
        if seen is not None and not original(*args, **kwargs) \
                and not _allowed_by_blockbuster(function):
            seen.append(function.full_name)
        return True

    return can_block


@contextlib.contextmanager
def watching_blocking_calls() -> Iterator[list[str]]:
    """While active, the name of every blocking call made by code running in this context (and
    in the tasks it creates) while an event loop runs in its thread is appended to the yielded
    list; the call itself goes ahead."""
    buster = BlockBuster()
    functions = [buster.functions[name] for name in WATCHED if name in buster.functions]
    for function in functions:
        function.can_block_predicate = _recording_learner_calls(function)
    seen: list[str] = []
    token = _SEEN.set(seen)
    for function in functions:
        function.activate()
    try:
        yield seen
    finally:
        for function in functions:
            function.deactivate()
        _SEEN.reset(token)


_PLAIN_NAMES = {
    "time.sleep": "time.sleep()",
    "builtins.input": "input()",
}


def describe(calls: list[str]) -> str:
    """What the blocking calls were, for a ❌ sentence: ``["time.sleep", "time.sleep"]`` ->
    ``"time.sleep() (2 times)"``. Socket methods are summed up as what a synchronous HTTP
    client such as urllib does: "blocking network calls (socket connect, sendall, ...)"."""
    counts: dict[str, int] = {}
    methods: list[str] = []
    for call in calls:
        if call.startswith("socket.socket."):
            method = call.rsplit(".", 1)[1]
            if method not in methods:
                methods.append(method)
        else:
            plain = _PLAIN_NAMES.get(call, call + "()")
            counts[plain] = counts.get(plain, 0) + 1
    parts = [f"{name} ({n} times)" if n > 1 else name for name, n in counts.items()]
    if methods:
        what = "a blocking network call" if len(methods) == 1 else "blocking network calls"
        parts.append(f"{what} (socket {', '.join(methods)}, as urllib makes)")
    return " and ".join(parts)
