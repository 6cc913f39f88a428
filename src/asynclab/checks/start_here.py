"""Checks for notebook 00 (start here)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..timeline import Timeline
from ._core import Problem, call_learner, checker, fail, require_callable

__all__ = ["DISHES", "MENUS", "check_dinner", "check_greet", "make_cook"]

#: The dishes of the dinner exercise: (name, preparation seconds, oven seconds).
DISHES: tuple[tuple[str, float, float], ...] = (
    ("soup", 0.02, 0.2), ("pie", 0.02, 0.3), ("bread", 0.02, 0.25))

#: The menus the dinner check cooks: different names, sizes and timings, and the slowest dish
#: is never the last one, so the order of finishing differs from the order of the menu.
MENUS: tuple[tuple[tuple[str, float, float], ...], ...] = (
    DISHES,
    (("rice", 0.02, 0.15), ("curry", 0.03, 0.25), ("naan", 0.01, 0.1), ("dal", 0.02, 0.2)),
)

#: Names the greet check tries: a hard-coded greeting cannot match them all.
_NAMES = ("Ada", "Guido", "Grace Hopper", "asyncio")


@checker
async def check_greet(greet: Callable[[str], Any]) -> str:
    """``greet(name)`` must be a coroutine function returning ``"Hello, <name>!"``."""
    require_callable(greet, "greet", is_async=True)
    for name in _NAMES:
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                result, _ = await call_learner(
                    "greet", greet, name,
                    see="section 3: during a time.sleep the thread can do nothing else")
        finally:
            sys.stdout.write(printed.getvalue())  # the learner's own prints still show
        expected = f"Hello, {name}!"
        if result is None:
            shown = printed.getvalue().strip()
            if shown:
                fail(f"greet({name!r}) printed {shown!r} but returned None: the check (and any "
                     "code that awaits greet) gets only what the function returns.")
            fail(f"greet({name!r}) returned None: the function ends without returning "
                 "anything yet, and Exercise 1 asks for the greeting as its result.")
        if result != expected:
            fail(f"greet({name!r}) returned {result!r}; expected {expected!r}. The check tries "
                 f"several names ({', '.join(map(repr, _NAMES))}): the greeting must use the "
                 "`name` it is given.")
    return (f"greet is a coroutine function and greets every name the check tried "
            f"({len(_NAMES)} of them). Well done!")


def make_cook(timeline: Timeline) -> Callable[[str, float, float], Any]:
    """A ``cook(dish, prep, oven)`` coroutine function that records its steps on ``timeline``."""

    async def cooking(dish: str, prep: float, oven: float) -> str:
        async with timeline.track(dish, "prep"):
            await asyncio.sleep(prep)
        async with timeline.track(dish, "oven"):
            await asyncio.sleep(oven)
        return f"{dish} is ready"

    made: list[Coroutine[Any, Any, str]] = []

    def cook(dish: str, prep: float, oven: float) -> Coroutine[Any, Any, str]:
        coro = cooking(dish, prep, oven)
        made.append(coro)
        return coro

    cook.made = made  # type: ignore[attr-defined]
    return cook


def _close_unstarted(cook: Callable[..., Any]) -> None:
    """Close the coroutines cook() made that the learner's code never started (a lost one
    would warn "never awaited" later, in the learner's notebook)."""
    for coro in getattr(cook, "made", []):
        if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()


def _ovens_at_once(timeline: Timeline) -> int:
    """The largest number of dishes that were in the oven at the same moment."""
    ovens = Timeline()
    ovens.spans = [span for span in timeline.spans if span.label == "oven"]
    return ovens.max_overlap()


def _finishing_order(timeline: Timeline) -> list[str]:
    ovens = sorted((span for span in timeline.spans if span.label == "oven"),
                   key=lambda span: span.end)
    return [f"{span.lane} is ready" for span in ovens]


async def _serve(serve_dinner: Callable[..., Any],
                 menu: Sequence[tuple[str, float, float]]) -> None:
    """Cook one menu with the learner's function; fail with what went wrong."""
    timeline = Timeline()
    dishes = list(menu)
    names = [name for name, _, _ in dishes]
    cook = make_cook(timeline)
    try:
        result, _ = await call_learner(
            "serve_dinner", serve_dinner, cook, dishes,
            see="section 3: while the waiting chef's time.sleep runs, nothing else can")
    except Problem as problem:
        # gather(generator) instead of gather(*generator): a TypeError on 3.12+, and on 3.11
        # (which still wraps a generator in a Task) a RuntimeError "Task got bad yield".
        if any(words in str(problem) for words in ("awaitable is required", "bad yield")):
            raised = str(problem).split(" raised ", 1)[-1].split(":", 1)[0]
            fail(f"serve_dinner raised {raised}: one generator was passed where the coroutines "
                 "themselves were needed. Section 3 explains the `*` in front of the generator "
                 "expression.")
        raise
    finally:
        _close_unstarted(cook)
    expected = [f"{name} is ready" for name in names]
    if result is None:
        fail("serve_dinner returned None: return the list of what cook() returned, one "
                "item per dish.")
    if not isinstance(result, list | tuple):
        fail(f"serve_dinner returned {type(result).__name__} {result!r:.80}; return a list "
                "of what cook() returned, one item per dish.")
    result = list(result)
    if sorted(map(str, result)) != sorted(expected):
        cooked = sorted({span.lane for span in timeline.spans})
        fail(f"For the dishes {names}, serve_dinner returned {result!r:.160}; expected one "
                f"'<dish> is ready' per dish. cook() was called for {cooked}: cook exactly the "
                "dishes in the `dishes` argument, each once.")
    if result != expected:
        if result == _finishing_order(timeline):
            order = "in the order the dishes came out of the oven"
        else:
            order = "in another order"
        fail(f"Every dish was cooked, but the results came back {order}: {result}. The "
                f"exercise asks for the order of `dishes`: {expected} (Hint 2 names a tool "
                "that keeps it).")
    at_once = _ovens_at_once(timeline)
    if at_once < len(dishes):
        slowest = max(prep + oven for _, prep, oven in dishes)
        total = sum(prep + oven for _, prep, oven in dishes)
        if at_once <= 1:
            what = "one after another: never two dishes in the oven at the same time"
        else:
            what = (f"at most {at_once} of the {len(dishes)} dishes were in the oven at the "
                    "same time")
        fail(f"All {len(dishes)} dishes ({', '.join(names)}) were cooked and returned in "
                f"order, but {what}. Dinner took {timeline.total:.2f} s; the slowest dish alone "
                f"needs {slowest:.2f} s, all steps in a row {total:.2f} s. Every oven should "
                "overlap: in section 3 the interleaving chef starts every dish before waiting "
                "for any.")


@checker
async def check_dinner(serve_dinner: Callable[..., Any]) -> str:
    """``serve_dinner(cook, dishes)`` must cook every dish with all the ovens overlapping and
    return the results in the order of ``dishes``. Tried on several menus."""
    require_callable(serve_dinner, "serve_dinner", is_async=True)
    for menu in MENUS:
        await _serve(serve_dinner, menu)
    sizes = " and ".join(str(len(menu)) for menu in MENUS)
    return (f"On both menus ({sizes} dishes), every dish was in the oven at the same time and "
            "the results came back in the menu's order: dinner took about as long as the "
            "slowest dish.")
