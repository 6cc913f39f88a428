"""Checks for notebook 12 (Websockets).

The checks look from the server's side: the course's websocket server logs every message with
its type (TEXT, BINARY, CLOSE...), which connection it came on and when. So a check can tell
bytes sent as TEXT, one connection per message, a connection dropped without a close
handshake, and how long a client waited after the last message before it gave up. The
learner's code is called through :func:`run_learner`; warnings it causes (an unclosed session
or response) are caught and reported, never left to leak into the notebook.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from ..servers import DemoWebSocketServer
from ..servers.ws import Message, ticker_prices
from ._core import Outcome, blocking_message, checker, fail, require_callable, run_learner

__all__ = ["check_chat_round", "check_echo_all", "check_read_ticks"]


def _short(value: object, width: int = 90) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


async def _call(name: str, func: Callable[..., Any], *args: Any, time_limit: float,
                slow: str) -> Outcome:
    """Run the learner's function; fail on a blocking call, a time-out (``slow`` says why it
    may have hung), an exception, an un-awaited result, or a resource warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        outcome = await run_learner(func, *args, time_limit=time_limit)
        gc.collect()
    if outcome.blocking:
        fail(blocking_message(name, outcome.blocking, "notebook 03 shows why"))
    if outcome.timed_out:
        fail(f"{name} did not finish within {time_limit:g} s: {slow}")
    if outcome.error is not None:
        exc = outcome.error
        fail(f"{name} raised {type(exc).__name__}: {_short(str(exc), 120)}")
    if outcome.unawaited:
        fail(f"{name} returned a {outcome.unawaited} object instead of a value: a missing "
             "`await` somewhere?")
    leaks = sorted({str(w.message).split("\n")[0][:60] for w in caught
                    if issubclass(w.category, ResourceWarning)})
    if leaks:
        fail(f"{name} left something open: Python warned {leaks[0]!r}. Every session and "
             "websocket it opens must be closed before it returns (section 2).")
    return outcome


def _client(log: Sequence[Message]) -> str:
    """The name of the (first) connection in the log."""
    return log[0].client if log else ""


def _ending(log: Sequence[Message], client: str) -> str:
    """How the connection of ``client`` ended, seen from the server: "" for a clean close
    from the client (CLOSE 1000), else a description."""
    mine = [m for m in log if m.client == client]
    last = mine[-1] if mine else None
    if last is None or last.kind not in ("CLOSE", "ERROR"):
        return "was still open"
    if last.direction == "out":
        return "was closed by the server, not by your code"
    if last.kind == "ERROR":
        return f"broke off without a close handshake ({last.data})"
    if last.data != 1000:
        return f"ended without a normal close (the server saw close code {last.data})"
    return ""


# -- exercise 1: echo ---------------------------------------------------------------------------
#: Messages to echo: text and bytes mixed, a repeated message, text that is not ASCII.
_ECHO_CASES: tuple[tuple[str | bytes, ...], ...] = (
    ("hello", b"\x00\x01\x02", "hello", "naïve ☕"),
    (b"raw", "two", b"\xff", "four", "five"),
)


@checker
async def check_echo_all(echo_all: Callable[..., Any]) -> str:
    """``echo_all(url, messages)`` sends each message to the echo server on ONE websocket
    (str as TEXT, bytes as BINARY), returns the replies in order, and closes the websocket
    itself (a close handshake the server sees)."""
    require_callable(echo_all, "echo_all", is_async=True)
    with DemoWebSocketServer(heartbeat=None) as server:
        for messages in _ECHO_CASES:
            server.stats.reset()
            call = f"echo_all(url, {_short(list(messages), 70)})"
            outcome = await _call(
                "echo_all", echo_all, server.ws_url("/ws/echo"), list(messages),
                time_limit=2.0,
                slow="the echo server answers each message and then waits for the next one; "
                     "it never closes the connection itself, so a loop that reads until the "
                     "connection closes waits forever (section 2).")
            await server.settle(1.0)
            stats = server.stats
            if stats.connections > 1:
                fail(f"{call} opened {stats.connections} websockets for {len(messages)} "
                     "messages: one connection carries them all, in both directions "
                     "(section 1).")
            if stats.connections == 0:
                fail(f"{call} never connected to the server: did it use the `url` it was "
                     "given?")
            received = stats.of(route="echo", direction="in")
            for sent, seen in zip(messages, (m for m in received
                                             if m.kind in ("TEXT", "BINARY")), strict=False):
                want = "BINARY" if isinstance(sent, bytes) else "TEXT"
                if seen.kind != want:
                    fail(f"For {call}, the server received {_short(sent, 30)} as a "
                         f"{seen.kind} message ({_short(seen.data, 30)}): {type(sent).__name__} "
                         f"should travel as a {want} message, and come back as one "
                         "(section 1).")
            result = outcome.value
            if isinstance(result, list | tuple) and any(isinstance(r, aiohttp.WSMessage)
                                                        for r in result):
                fail(f"{call} returned WSMessage objects (the first: {_short(result[0].data, 40)} "
                     f"in a {result[0].type.name} message): return what each message carries, "
                     "the text or the bytes (section 1).")
            if not isinstance(result, list) or result != list(messages):
                count = sum(1 for m in received if m.kind in ("TEXT", "BINARY"))
                fail(f"{call} returned {_short(result)}; expected the {len(messages)} replies, "
                     f"in order and of the same types (the server received {count} messages "
                     "and echoed each one).")
            ending = _ending(stats.messages, _client(stats.messages))
            if ending:
                fail(f"The replies are right, but the websocket of {call} {ending}: close it "
                     "from the client, so that both sides agree it is over (section 2).")
    return ("One websocket per call, text as TEXT and bytes as BINARY, every reply in order, "
            "and a clean close from your side.")


# -- exercise 2: a ticker and a silence limit ----------------------------------------------------
#: (count, interval, stall_after, silence): a ticker that closes itself; one that goes silent
#: (twice, with different silences, so a hard-coded limit fails); one slower than ``silence``
#: in total but not between two ticks (a limit on the whole stream cuts it): its 18 ticks take
#: 1.44 s, so a limit of 0.4 s on the whole stream gets them all only if its timer is over
#: 1.0 s late, while a right answer has 0.32 s to spare between two ticks.
_TICK_CASES: tuple[tuple[int, float, int | None, float], ...] = (
    (4, 0.05, None, 0.5),
    (6, 0.05, 3, 0.2),
    (18, 0.08, None, 0.4),
    (6, 0.05, 2, 2.3),
)
#: A client gives up at least ``silence`` after the last tick (less this, for the trip over
#: loopback) and at most this much later (a busy machine is slow: 0.05-0.1 s late is usual
#: here, 0.5-0.7 s was seen a few times with the machine loaded). Lateness also helps a fixed
#: limit F reach the larger silence: with silences 0.2 and 2.3, F must be at most 0.2 + 1.0 and
#: F plus the second case's lateness at least 2.3 - 0.05, so a fixed limit passes only if the
#: second case is over 1.05 s later than the first. (With 1.3, a fixed 1.0 passed in CI once,
#: 0.27 s late: 1.27 s.)
_EARLY, _LATE = 0.05, 1.0


@checker
async def check_read_ticks(read_ticks: Callable[..., Any]) -> str:
    """``read_ticks(url, silence)`` returns the prices a ticker sends, until the server closes
    the websocket or ``silence`` seconds pass without a message; then it closes the websocket
    itself."""
    require_callable(read_ticks, "read_ticks", is_async=True)
    waits = []
    with DemoWebSocketServer(heartbeat=None) as server:
        for count, interval, stall_after, silence in _TICK_CASES:
            server.stats.reset()
            query = f"count={count}&interval={interval}"
            if stall_after is not None:
                query += f"&stall_after={stall_after}"
            path = f"/ws/ticker?{query}"
            call = f"read_ticks(url, silence={silence})"
            what = (f"a ticker that sends {count} ticks, one every {interval} s, and closes"
                    if stall_after is None else
                    f"a ticker that sends {stall_after} ticks and then goes silent "
                    "without closing")
            outcome = await _call(
                "read_ticks", read_ticks, server.ws_url(path), silence,
                time_limit=count * interval + silence + 1.0,
                slow=f"with {what}, it should have returned about {silence} s after the "
                     "last tick. Does it wait for a close that never comes, or much longer than "
                     "`silence` (section 3)?")
            await server.settle(1.0)
            stats = server.stats
            expected = ticker_prices(count if stall_after is None else stall_after)
            result = outcome.value
            if stats.connections != 1:
                fail(f"{call} opened {stats.connections} websockets to the ticker; one is "
                     "enough.")
            if isinstance(result, list) and result and not all(
                    isinstance(p, int | float) for p in result):
                fail(f"{call} returned {_short(result, 80)}: return the prices, as numbers "
                     "(each tick is JSON with a \"price\").")
            if result != expected:
                got = len(result) if isinstance(result, list | tuple) else None
                cut = (f" It returned {got} of the {len(expected)} prices: with {what}, the "
                       f"ticks came every {interval} s, never {silence} s apart. Is the silence "
                       "limit applied to the whole stream instead of to each wait (section 3)?"
                       if got is not None and got < len(expected)
                       and result == expected[:got] else "")
                fail(f"For {what}, {call} returned {_short(result, 80)}; expected the prices "
                     f"sent, in order: {_short(expected, 80)}.{cut}")
            if stall_after is None:
                ending = _ending(stats.messages, _client(stats.messages))
                if ending != "was closed by the server, not by your code":
                    fail(f"For {what}, the websocket {ending or 'was closed from your side'}.")
                continue
            ticks = [m.at for m in stats.of(route="ticker", direction="out")
                     if m.kind == "TEXT"]
            ending = _ending(stats.messages, _client(stats.messages))
            if ending:
                fail(f"For {what}, {call} returned the right prices, but the websocket "
                     f"{ending}: after giving up, close it from your side (section 3).")
            closed = stats.of(_client(stats.messages))[-1].at
            waited = closed - ticks[-1]
            if waited < silence - _EARLY:
                fail(f"For {what}, {call} gave up {waited:.2f} s after the last tick: "
                     f"silence={silence} asks it to wait {silence} s. Is the limit a fixed "
                     "number instead of the argument?")
            if waited > silence + _LATE:
                fail(f"For {what}, {call} closed the websocket {waited:.2f} s after the last "
                     f"tick; with silence={silence} it should give up after about {silence} s. "
                     "Is the limit a fixed number instead of the argument?")
            waits.append(f"{waited:.2f} s for silence={silence}")
    return ("Every price in order; a ticker that closed ended your loop, and a silent one was "
            f"closed from your side after the silence (waited {', '.join(waits)}).")


# -- exercise 3: a chat round ---------------------------------------------------------------------
#: Names in each round (the rounds differ in size, so a hard-coded number of clients fails),
#: and how much longer than the others the last name takes to join. A client that says hello
#: as soon as it is connected passes a round only if it stalls that long between connecting and
#: saying hello (or the late one's handshake comes early): 0.15 s in the first two rounds,
#: 1.0 s in the third, so all three pass only with over 1.0 s of lateness (a hello after a
#: fixed wait under 1.0 s fails too).
_CHAT_CASES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("ada", "alan", "grace"), 0.15),
    (("linus", "hedy"), 0.15),
    (("ken", "radia", "tim", "sophie"), 1.0),
)
#: A round's time limit is the late joiner's delay plus this (1.5 s for a delay of 0.15 s).
_CHAT_SPARE = 1.35


class _LateJoiner(DemoWebSocketServer):
    """The chat server, where the last name of each round takes longer to join: a hello sent
    before everyone is in the room is then always lost, not only by bad luck."""

    late: dict[str, float] = {names[-1]: delay for names, delay in _CHAT_CASES}

    def delay_for(self, request: web.Request) -> float:
        name = request.query.get("name")
        if name in self.late:
            return self.late[name]
        return super().delay_for(request)


def _hellos_delivered(log: Sequence[Message]) -> int:
    return sum(1 for m in log if m.route == "chat" and m.direction == "out"
               and m.kind == "TEXT" and '"type": "message"' in m.data)


@checker
async def check_chat_round(chat_round: Callable[..., Any]) -> str:
    """``chat_round(url, names)`` connects one chat client per name, all at once; once all are
    in the room each says hello, and each reads until it has heard everyone; it returns
    ``{name: [the names it heard from]}`` and closes every websocket."""
    require_callable(chat_round, "chat_round", is_async=True)
    with _LateJoiner(heartbeat=None) as server:
        for number, (names, late) in enumerate(_CHAT_CASES, start=1):
            server.stats.reset()
            n = len(names)
            time_limit = round(late + _CHAT_SPARE, 2)
            call = f"chat_round(url, {list(names)})"
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ResourceWarning)
                outcome = await run_learner(
                    chat_round, server.ws_url(f"/ws/chat?room=check{number}"), list(names),
                    time_limit=time_limit)
                gc.collect()
            leaks = [str(w.message).split("\n")[0][:60] for w in caught
                     if issubclass(w.category, ResourceWarning)]
            await server.settle(1.0)
            stats = server.stats
            seen = (f"the server saw at most {stats.max_open} of {n} clients connected at once "
                    f"and delivered {_hellos_delivered(stats.messages)} of the {n * n} hellos "
                    f"({n} clients each hearing {n})")
            if outcome.timed_out and not outcome.blocking:
                hint = (" A client must be in the room to hear a hello: are they connected one "
                        "after another?" if stats.max_open < n else
                        " A hello sent before everyone has joined never reaches the late "
                        "ones: does each client wait until all the names are in the room "
                        "(section 6)?")
                fail(f"{call} did not finish within {time_limit:g} s: {seen}.{hint}")
            outcome.timed_out = False
            if outcome.blocking or outcome.unawaited:
                await _judge_only(outcome)
            if outcome.error is not None:
                exc = outcome.error
                fail(f"{call} raised {type(exc).__name__}: {_short(str(exc), 100)}")
            if stats.max_open < n:
                fail(f"{call}: {seen}. All the clients must be in the room at the same time "
                     "(section 6).")
            result = outcome.value
            if not isinstance(result, dict) or sorted(result) != sorted(names):
                fail(f"{call} returned {_short(result, 80)}; expected a dict with one entry "
                     f"per name: {list(names)}.")
            for name in names:
                heard = result[name]
                if not isinstance(heard, list) or sorted(map(str, heard)) != sorted(names):
                    fail(f"{call} returned {_short(heard, 80)} for {name!r}; expected the names "
                         f"of everyone {name} heard from, each once: {list(names)} in any "
                         "order.")
            if leaks:
                fail(f"{call} left something open: Python warned {leaks[0]!r}. Every session "
                     "and websocket it opens must be closed before it returns (section 2).")
            for name in names:
                ending = _ending(stats.messages, name)
                if ending:
                    fail(f"Everyone heard everyone, but {name}'s websocket {ending}: close "
                         "every client's websocket before returning (section 2).")
    return ("Every client was connected at once, heard every hello, and closed its "
            "websocket.")


async def _judge_only(outcome: Outcome) -> None:
    if outcome.blocking:
        fail(blocking_message("chat_round", outcome.blocking, "notebook 03 shows why"))
    fail(f"chat_round returned a {outcome.unawaited} object instead of a value: a missing "
         "`await` somewhere?")
