"""The checks of notebook 00 reject the wrong answers learners really write, say what they
observed without giving the solution's code, and accept the solution, also under CPU load."""

from __future__ import annotations

import asyncio
import functools
import time
from asyncio import run

import pytest
from checking import assert_rejected
from conftest import LOAD_RUNS

from asynclab.checks import MENUS, check_dinner, check_greet

#: Code of the solutions that a ❌ must never contain.
SOLUTION_CODE = ("gather(", "asyncio.gather", "create_task", "TaskGroup", "return f", 'f"Hello',
                 "await cook", "for name, prep, oven in")



rejected = functools.partial(assert_rejected, solution_code=SOLUTION_CODE)


# --- greet --------------------------------------------------------------------------------

async def greet_solution(name):
    return f"Hello, {name}!"


async def greet_stub(name):
    ...


async def greet_prints(name):
    print(f"Hello, {name}!")


def greet_not_async(name):
    return f"Hello, {name}!"


async def greet_hard_coded(name):
    return "Hello, Ada!"


async def greet_no_comma(name):
    return f"Hello {name}!"


async def greet_sleeps(name):
    time.sleep(0.01)  # noqa: ASYNC251 (the mistake under test)
    return f"Hello, {name}!"


async def greet_forgot_await(name):
    return greet_solution(name)


GREET_CATALOGUE = [
    (greet_stub, ["returned None", "without returning", "Exercise 1 asks"]),
    (greet_prints, ["printed 'Hello, Ada!' but returned None"]),
    (greet_not_async, ["must be a coroutine function"]),
    (greet_hard_coded, ["greet('Guido') returned 'Hello, Ada!'", "several names"]),
    (greet_no_comma, ["returned 'Hello Ada!'", "expected 'Hello, Ada!'"]),
    (greet_sleeps, ["time.sleep()", "event loop's thread"]),
    (greet_forgot_await, ["coroutine objects instead of values", "missing `await`"]),
]


@pytest.mark.parametrize(("answer", "observed"), GREET_CATALOGUE,
                         ids=[a.__name__ for a, _ in GREET_CATALOGUE])
def test_greet_rejects(answer, observed):
    rejected(run(check_greet(answer)), *observed)


def test_greet_rejects_a_called_function_or_a_string():
    assert "function itself" in run(check_greet(greet_solution("Ada"))).message
    assert "function itself" in run(check_greet("Hello, Ada!")).message


def test_greet_accepts_the_solution():
    result = run(check_greet(greet_solution))
    assert result.passed, result
    assert "4 of them" in result.message


# --- dinner -------------------------------------------------------------------------------

async def dinner_solution(cook, dishes):
    return await asyncio.gather(*(cook(name, prep, oven) for name, prep, oven in dishes))


async def dinner_tasks(cook, dishes):
    tasks = [asyncio.create_task(cook(*dish)) for dish in dishes]
    return [await task for task in tasks]


async def dinner_task_group(cook, dishes):
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(cook(*dish)) for dish in dishes]
    return [task.result() for task in tasks]


async def dinner_sequential(cook, dishes):
    return [await cook(*dish) for dish in dishes]


async def dinner_two_then_rest(cook, dishes):
    """Two dishes gathered, then the others cooked alone (the old check passed it)."""
    first = await asyncio.gather(cook(*dishes[0]), cook(*dishes[1]))
    return list(first) + [await cook(*dish) for dish in dishes[2:]]


async def dinner_in_pairs(cook, dishes):
    results = []
    for i in range(0, len(dishes), 2):
        results += await asyncio.gather(*(cook(*dish) for dish in dishes[i:i + 2]))
    return results


async def dinner_forgot_await(cook, dishes):
    return [cook(*dish) for dish in dishes]


async def dinner_gather_not_awaited(cook, dishes):
    return asyncio.gather(*(cook(*dish) for dish in dishes))


async def dinner_no_star(cook, dishes):
    return await asyncio.gather(cook(*dish) for dish in dishes)


async def dinner_as_completed(cook, dishes):
    return [await c for c in asyncio.as_completed([cook(*dish) for dish in dishes])]


async def dinner_ignores_dishes(cook, dishes):
    """Cooks the notebook's own three dishes, whatever it is given."""
    menu = [("soup", 0.02, 0.2), ("pie", 0.02, 0.3), ("bread", 0.02, 0.25)]
    return await asyncio.gather(*(cook(*dish) for dish in menu))


async def dinner_blocks(cook, dishes):
    time.sleep(0.05)  # noqa: ASYNC251 (the mistake under test)
    return await asyncio.gather(*(cook(*dish) for dish in dishes))


async def dinner_swallows(cook, dishes):
    try:
        return await asyncio.gather(*(cook(*dish) for dish in dishes[:-1]), cook("x"))
    except TypeError:
        return None


DINNER_CATALOGUE = [
    (dinner_sequential, ["one after another", "never two dishes in the oven", "in section 3"]),
    (dinner_two_then_rest, ["at most 2 of the 3 dishes were in the oven", "Dinner took"]),
    (dinner_in_pairs, ["at most 2 of the 3 dishes were in the oven"]),
    (dinner_forgot_await, ["coroutine objects instead of values"]),
    (dinner_gather_not_awaited, ["_GatheringFuture objects instead of values"]),
    (dinner_no_star, ["serve_dinner raised", "one generator", "`*`"]),
    (dinner_as_completed, ["in the order the dishes came out of the oven"]),
    (dinner_ignores_dishes, ["For the dishes ['rice', 'curry', 'naan', 'dal']",
                             "cook() was called for ['bread', 'pie', 'soup']"]),
    (dinner_blocks, ["time.sleep()", "event loop's thread", "section 3"]),
    (dinner_swallows, ["returned None"]),
]


@pytest.mark.parametrize(("answer", "observed"), DINNER_CATALOGUE,
                         ids=[a.__name__ for a, _ in DINNER_CATALOGUE])
def test_dinner_rejects(answer, observed):
    rejected(run(check_dinner(answer)), *observed)


@pytest.mark.parametrize("answer", [dinner_solution, dinner_tasks, dinner_task_group])
def test_dinner_accepts_correct_answers(answer):
    start = time.perf_counter()
    result = run(check_dinner(answer))
    assert result.passed, result
    assert time.perf_counter() - start < 1.5  # two menus of about 0.3 s each


def test_dinner_menus_differ_and_finish_out_of_order():
    """A hard-coded menu fails, and the order of finishing is never the order of the menu."""
    assert len({tuple(name for name, _, _ in menu) for menu in MENUS}) == len(MENUS)
    for menu in MENUS:
        by_finish = sorted(menu, key=lambda dish: dish[1] + dish[2])
        assert by_finish != list(menu)


@pytest.mark.load
def test_solutions_pass_under_load(under_load):
    for _ in range(LOAD_RUNS):
        greet = run(check_greet(greet_solution))
        dinner = run(check_dinner(dinner_solution))
        assert greet.passed and dinner.passed, (greet, dinner)


# --- the environment check (notebook 00, section 1) ----------------------------------------

def test_environment_line_about_top_level_await():
    from asynclab.env import kernel_line

    assert kernel_line(False, False, None)[0]
    ok, text = kernel_line(True, True, True)
    assert ok and "top level" in text
    ok, text = kernel_line(True, False, True)
    assert not ok and "update ipykernel" in text
    ok, text = kernel_line(True, True, False)
    assert not ok and "%autoawait on" in text


def test_environment_report_outside_a_kernel():
    from asynclab.env import check_environment

    report = check_environment()
    assert report.ok, report
    assert "not in a Jupyter kernel" in repr(report)
