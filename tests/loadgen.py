"""A bursty CPU load for tests: processes that spin, rest, and spin again.

A learner's laptop in a video call, or a Binder node shared with others, is busy in bursts.
Checks must accept a right answer there, and printed verdicts in the notebooks must hold.

    with cpu_load():          # two processes: busy 0.3 s, idle 0.1 s, repeatedly
        ...

``course.py test`` runs the load tests on two pytest workers at once, each with one spinning
process (``COURSE_LOAD_PROCESSES=1``): two spinners in all, as when one test runs with two.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

_SPIN = """
import sys, time
busy, rest = float(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    stop = time.monotonic() + busy
    while time.monotonic() < stop:
        pass
    time.sleep(rest)
"""


@contextlib.contextmanager
def cpu_load(workers: int | None = None, busy: float = 0.3, rest: float = 0.1,
             limit: float = 600) -> Iterator[None]:
    """Run ``workers`` processes (default: ``$COURSE_LOAD_PROCESSES``, else 2) that each spin
    for ``busy`` s and sleep ``rest`` s, over and over, until the block ends (or ``limit`` s
    pass: a crashed test leaves nothing spinning)."""
    if workers is None:
        workers = int(os.environ.get("COURSE_LOAD_PROCESSES", "2"))
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN, str(busy), str(rest), str(limit)])
             for _ in range(workers)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
