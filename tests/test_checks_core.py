"""The machinery every check uses: one-line verdicts, and no mess left by a wrong answer."""

from __future__ import annotations

import asyncio

from asynclab.checks._core import CheckResult, call_learner, checker, fail, run_learner


def test_checker_turns_fail_into_a_one_line_verdict():
    @checker
    async def check(value):
        if value != 42:
            fail(f"expected 42, got {value}")
        return "right"

    bad, good = asyncio.run(check(1)), asyncio.run(check(42))
    assert isinstance(bad, CheckResult) and not bad and repr(bad) == "❌ expected 42, got 1"
    assert good.passed and repr(good) == "✅ right"


def test_call_learner_reports_errors_timeouts_and_missing_awaits():
    async def boom():
        raise ValueError("bad input")

    async def forever():
        await asyncio.sleep(10)

    async def lazy():
        return asyncio.sleep(0)

    @checker
    async def check(func, **kwargs):
        await call_learner("f", func, **kwargs)
        return "ok"

    assert asyncio.run(check(boom)).message == "f raised ValueError: bad input."
    assert "did not finish within 0.1 s" in asyncio.run(check(forever, time_limit=0.1)).message
    assert "missing `await`" in asyncio.run(check(lazy)).message


def test_tasks_a_wrong_answer_leaves_behind_are_cancelled_and_retrieved():
    """A plain gather that fails leaves its other children running: the check cleans up."""
    async def job(i):
        await asyncio.sleep(0.01 if i == 0 else 5)
        if i == 0:
            raise ValueError("first")

    async def failing_again():
        await asyncio.sleep(0)
        raise KeyError("nobody retrieves me")

    async def wrong_answer():
        asyncio.create_task(failing_again())  # fire and forget: its error is never retrieved
        await asyncio.gather(*(job(i) for i in range(3)))

    @checker
    async def check(func):
        _, elapsed = await call_learner("wrong_answer", func)
        return f"{elapsed}"

    async def main():
        reports = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reports.append(ctx))
        result = await check(wrong_answer)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return result, left, reports, asyncio.get_running_loop().get_task_factory()

    result, left, reports, factory = asyncio.run(main())
    assert "raised ValueError: first" in result.message
    assert left == []  # the two 5-second children were cancelled, not left running
    assert reports == []  # no "Task exception was never retrieved"
    assert factory is None  # the loop's task factory is restored


def test_a_plain_function_may_return_a_task_but_a_coroutine_function_may_not():
    async def job():
        await asyncio.sleep(0.01)
        return "done"

    def starts_a_task():
        return asyncio.create_task(job())

    async def forgets_to_await():
        return asyncio.create_task(job())

    async def main():
        started = await run_learner(starts_a_task, cancel_leftover_tasks=False)
        result = await started.value
        forgot = await run_learner(forgets_to_await)
        return started, result, forgot

    started, result, forgot = asyncio.run(main())
    assert started.unawaited == "" and result == "done"
    assert forgot.unawaited == "Task" and forgot.value.cancelled()
