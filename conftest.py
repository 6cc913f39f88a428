"""pytest set-up for the whole repository (loaded whatever paths pytest is given). Test helpers
and fixtures: tests/conftest.py."""

from __future__ import annotations

import os

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


def pytest_ignore_collect(collection_path, config: pytest.Config) -> bool | None:
    """``COURSE_NBVAL_UNDER_LOAD=1`` (course.py's first run): leave the notebooks' plain nbval
    run out when pytest collects its default paths, because the load run executes every
    notebook under nbval strict anyway, on a busy CPU (tests/test_under_load.py): the same
    comparison, harder. A notebook named on the command line is still collected."""
    if (collection_path.suffix == ".ipynb"
            and os.environ.get("COURSE_NBVAL_UNDER_LOAD") == "1"
            and config.args_source == pytest.Config.ArgsSource.TESTPATHS):
        return True
    return None
