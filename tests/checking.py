"""What the tests of every lesson's checks share."""

from __future__ import annotations

from collections.abc import Iterable

from asynclab.checks import CheckResult


def assert_rejected(result: CheckResult, *words: str, solution_code: Iterable[str]) -> None:
    """A ❌ whose sentence holds every one of ``words`` (what the check observed) and none of
    ``solution_code`` (a ❌ never hands out the solution)."""
    assert not result.passed, result.message
    for word in words:
        assert word in result.message, (word, result.message)
    for code in solution_code:
        assert code not in result.message, (code, result.message)
