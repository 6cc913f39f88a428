"""Catch, by name, the blocking calls that the learner's code makes on the event loop's thread.

A heartbeat that wakes up late shows *that* the loop was blocked, but on a busy machine it is
also late for other reasons. Here the blocking functions themselves tell: `blockbuster
<https://github.com/cbornet/blockbuster>`_ replaces ``time.sleep``, the blocking socket methods
(what ``urllib``, ``http.client`` and ``requests`` use) and ``input`` with versions that raise
``BlockingError`` when they are called while an event loop runs in the calling thread.

The course narrows that to the learner's code: a call counts only inside
:func:`watching_blocking_calls`, and only from code that runs in its context (the learner's
coroutine, and the tasks it creates, which inherit the context). The kernel's own code, the
course's servers (other threads) and worker threads (no running loop: ``asyncio.to_thread`` is
the right way to call a blocking function) are never affected.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from blockbuster import BlockBuster, BlockBusterFunction, BlockingError

__all__ = ["WATCHED", "BlockingError", "describe", "watching_blocking_calls"]

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


def _only_in_learner_code(function: BlockBusterFunction) -> Callable[..., bool]:
    """A ``can_block_predicate`` that allows every call made outside the learner's code, and
    records the ones inside it that blockbuster is about to refuse."""
    original = function.can_block_predicate

    def can_block(*args: Any, **kwargs: Any) -> bool:
        seen = _SEEN.get()
        if seen is None or original(*args, **kwargs) or _allowed_by_blockbuster(function):
            return True
        seen.append(function.full_name)
        return False

    return can_block


@contextlib.contextmanager
def watching_blocking_calls() -> Iterator[list[str]]:
    """While active, a blocking call from code running in this context (and in the tasks it
    creates) raises ``BlockingError`` if an event loop runs in its thread, and its name is
    appended to the yielded list, even if the learner's code catches the error."""
    buster = BlockBuster()
    functions = [buster.functions[name] for name in WATCHED if name in buster.functions]
    for function in functions:
        function.can_block_predicate = _only_in_learner_code(function)
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
    """``["time.sleep", "time.sleep"]`` -> ``"time.sleep() (2 times)"``, for a ❌ sentence.

    Socket methods become "a blocking socket call (socket.connect)": that is what a
    synchronous HTTP client such as urllib makes."""
    names: dict[str, int] = {}
    for call in calls:
        if call.startswith("socket.socket."):
            plain = f"a blocking network call (socket.{call.rsplit('.', 1)[1]}, as urllib makes)"
        else:
            plain = _PLAIN_NAMES.get(call, call + "()")
        names[plain] = names.get(plain, 0) + 1
    return ", ".join(f"{name} ({n} times)" if n > 1 else name for name, n in names.items())
