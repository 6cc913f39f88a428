"""Checks for notebook 00 (start here)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..timeline import Timeline
from ._core import call_learner, checker, fail, require_callable

__all__ = ["DISHES", "check_dinner", "check_greet", "make_cook"]

#: The dishes of the dinner exercise: (name, preparation seconds, oven seconds).
DISHES: tuple[tuple[str, float, float], ...] = (
    ("soup", 0.02, 0.2), ("pie", 0.02, 0.3), ("bread", 0.02, 0.25))


@checker
async def check_greet(greet: Callable[[str], Any]) -> str:
    """``greet(name)`` must be a coroutine function returning ``"Hello, <name>!"``."""
    require_callable(greet, "greet", is_async=True)
    for name in ("Ada", "Guido", "asyncio"):
        result, _ = await call_learner("greet", greet, name)
        if result is None:
            fail(f"greet({name!r}) returned None: use `return`, not print().")
        if result != f"Hello, {name}!":
            fail(f"greet({name!r}) returned {result!r}; expected {f'Hello, {name}!'!r}.")
    return "greet is a coroutine function and returns the right greeting. Well done!"


def make_cook(timeline: Timeline) -> Callable[[str, float, float], Any]:
    """A ``cook(dish, prep, oven)`` coroutine function that records its steps on ``timeline``."""

    async def cook(dish: str, prep: float, oven: float) -> str:
        with timeline.track(dish, "prep"):
            await asyncio.sleep(prep)
        async with timeline.track(dish, "oven"):
            await asyncio.sleep(oven)
        return f"{dish} is ready"

    return cook


@checker
async def check_dinner(serve_dinner: Callable[..., Any]) -> str:
    """``serve_dinner(cook, dishes)`` must cook every dish with the ovens overlapping and
    return the results in the order of ``dishes``."""
    require_callable(serve_dinner, "serve_dinner", is_async=True)
    timeline = Timeline()
    result, elapsed = await call_learner("serve_dinner", serve_dinner, make_cook(timeline),
                                         list(DISHES))
    expected = [f"{name} is ready" for name, _, _ in DISHES]
    if result is None:
        fail("serve_dinner returned None: return the list of what cook() returned.")
    if not isinstance(result, list | tuple) or sorted(map(str, result)) != sorted(expected):
        fail(f"serve_dinner returned {result!r}; expected the list {expected!r}.")
    if list(result) != expected:
        fail(f"The dishes came back as {list(result)!r}: keep the order of `dishes` "
             "(asyncio.gather does).")
    sequential = sum(prep + oven for _, prep, oven in DISHES)
    if timeline.max_overlap() < 2:
        fail(f"Every dish was cooked, but one after another ({elapsed:.2f} s, the sum of all "
             f"steps is {sequential:.2f} s): start all the dishes, then wait for them "
             "together with asyncio.gather.")
    return (f"All {len(DISHES)} dishes were in the oven at the same time: "
            "dinner took about as long as the slowest dish.")
