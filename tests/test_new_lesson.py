"""tools/new_lesson.py makes a lesson that passes the anatomy tests, nbval and its own check
tests at once, and that the TODO test keeps out of a release until it is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

SKIP = shutil.ignore_patterns(".venv*", ".git", "test-artifacts", "__pycache__", "*.egg-info",
                              ".ruff_cache", ".ipynb_checkpoints")


def _run(args, cwd, env):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_scaffold_makes_a_lesson_that_passes_its_tests(tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    env = {**os.environ, "PYTHONPATH": str(copy / "src")}  # the copy's asynclab, not ours

    refused = _run([sys.executable, "tools/new_lesson.py", "6"], copy, env)
    assert refused.returncode != 0 and "minutes" in refused.stderr

    lessons = copy / "src" / "asynclab" / "lessons.py"
    text = lessons.read_text()
    row = '"the awaitable protocol; a toy event loop")'
    assert row in text
    lessons.write_text(text.replace(row, row[:-1] + ", 25, 20)"))
    made = _run([sys.executable, "tools/new_lesson.py", "6"], copy, env)
    assert made.returncode == 0, made.stdout + made.stderr
    for path in ("notebooks/06_awaitables.ipynb", "src/asynclab/checks/awaitables.py",
                 "tests/test_checks_awaitables.py"):
        assert (copy / path).exists(), path
    guide = (copy / "instructors" / "README.md").read_text()
    assert guide.index("### 05 · ") < guide.index("### 06 · Awaitables and futures: 25 min "
                                                   "teaching · 20 min exercises")

    again = _run([sys.executable, "tools/new_lesson.py", "6"], copy, env)
    assert again.returncode != 0 and "already has" in again.stderr

    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  "-m", "not load", "notebooks/06_awaitables.ipynb",
                  "tests/test_checks_awaitables.py", "tests/test_course_docs.py",
                  "tests/test_tools.py::test_navigation_and_course_map_are_current"], copy, env)
    out = tests.stdout
    assert "1 failed" in out and "test_no_lesson_is_left_with_scaffold_todos" in out, out[-3000:]
    assert "notebooks/06_awaitables.ipynb" in out  # named as unfinished
