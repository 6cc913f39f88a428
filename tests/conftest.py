"""Shared test set-up: the repository root. (The maintainer tools in tools/ and the helpers in
tests/ are importable by name: ``pythonpath`` in pyproject.toml's pytest settings.)"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test():
    """Collect garbage after every test, so that an unclosed socket or a lost task is reported
    (as an error: see filterwarnings in pyproject.toml) against the test that leaked it."""
    yield
    gc.collect()


#: How many times in a row each reference answer must pass while the machine is loaded: 3 in
#: the README's test command (5 took about a minute longer, past its 10-minute budget); CI
#: (.ci/run) sets COURSE_LOAD_RUNS=10, where a flaky margin is likelier to show (20 took 471 s
#: for the load run of 14 notebooks on 2 cores: too long a share of CI's time).
LOAD_RUNS = int(os.environ.get("COURSE_LOAD_RUNS", "3"))


@pytest.fixture
def under_load():
    """Processes that keep the CPUs busy in bursts while the test runs (tests/loadgen.py).
    Tests that use it are marked ``load``: they run with the other load tests only, never
    beside the rest."""
    from loadgen import cpu_load

    with cpu_load():
        yield


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what they deselect
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A notebook that the browser test runs in this session is run twice there (it clicks
    Run All twice in one kernel and asks what was left behind), so its test in
    tests/test_run_twice.py is skipped: the same check, one pair of executions fewer.
    ``COURSE_RUN_TWICE=1`` keeps both."""
    if os.environ.get("COURSE_RUN_TWICE") == "1":
        return
    from test_browser import browser_available

    if not browser_available():
        return
    in_browser = {item.callspec.id for item in items
                  if isinstance(item, pytest.Function)
                  and item.originalname == "test_run_all_in_jupyterlab"}
    for item in items:
        if (isinstance(item, pytest.Function)
                and item.originalname == "test_notebook_runs_twice_in_one_kernel_and_cleans_up"
                and item.callspec.id in in_browser):
            item.add_marker(pytest.mark.skip(
                reason="the browser test runs this notebook twice in one kernel "
                       "(COURSE_RUN_TWICE=1 runs this test too)"))
