"""pytest set-up for the whole repository (loaded whatever paths pytest is given). Test helpers
and fixtures: tests/conftest.py."""

from __future__ import annotations

import pytest


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With ``-n N --dist load`` (course.py), keep each notebook's nbval cells together on
    one pytest-xdist worker (they run in order in one kernel) and spread every other test
    over the workers one by one, e.g. each notebook's browser test. (``--dist loadfile``
    would keep a whole file such as the browser test on one worker; xdist's own
    ``loadgroup`` marks do not reach the scheduler with pytest 9.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(".ipynb") else nodeid

    return NotebookScheduling(config, log)
