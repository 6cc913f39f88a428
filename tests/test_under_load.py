"""Every notebook's printed verdicts hold on a busy machine.

A learner's laptop in a video call, or a Binder node shared with others, is busy in bursts. A
line such as ``gather at least 3x faster: True`` that flips to ``False`` there would teach the
wrong thing, and nbval (strict) would fail on it. So every notebook is run under nbval while two
processes spin and rest (tests/loadgen.py), on this 2-core machine: load about 3.

Marked ``load``: it runs with the other load tests only (course.py test does that).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT
from loadgen import cpu_load

from asynclab.lessons import notebook_paths

pytestmark = pytest.mark.load

EXISTING = notebook_paths(ROOT)


@pytest.mark.parametrize("path", EXISTING, ids=[p.stem for p in EXISTING])
def test_notebook_passes_nbval_strict_under_bursty_cpu_load(path):
    with cpu_load():
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
             "--nbval", "--nbval-current-env", "--nbval-cell-timeout=120",
             f"--nbval-sanitize-with={ROOT / 'tests' / 'sanitize.cfg'}", str(path)],
            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"{path.name} under load:\n"
                                  + proc.stdout[-3000:] + proc.stderr[-1000:])
