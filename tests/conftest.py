"""Shared test set-up: the repository root. (The maintainer tools in tools/ and the helpers in
tests/ are importable by name: ``pythonpath`` in pyproject.toml's pytest settings.)"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test():
    """Collect garbage after every test, so that an unclosed socket or a lost task is reported
    (as an error: see filterwarnings in pyproject.toml) against the test that leaked it."""
    yield
    gc.collect()


#: How many times each reference answer must pass while the machine is loaded.
LOAD_RUNS = 20


@pytest.fixture
def under_load():
    """Two processes that keep the CPUs busy in bursts while the test runs (tests/loadgen.py).
    Tests that use it are marked ``load``: they run on their own, never beside other tests."""
    from loadgen import cpu_load

    with cpu_load():
        yield
