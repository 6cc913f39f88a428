"""Shared test set-up: the repository root, and the maintainer tools made importable."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test():
    """Collect garbage after every test, so that an unclosed socket or a lost task is reported
    (as an error: see filterwarnings in pyproject.toml) against the test that leaked it."""
    yield
    gc.collect()
