#!/usr/bin/env python3
"""Set up the course's environment and open it, or test it. Needs only Python >= 3.11.

    python3 course.py lab     # set up .venv, then open the course in JupyterLab
    python3 course.py test    # set up .venv with the test tools too, then run every test
    python3 course.py test -k servers    # extra words go to pytest
    python3 course.py bench   # set up .venv, then run the benchmark (tools/benchmark.py)

Setting up means: create the virtual environment ``.venv`` next to this file and install
``requirements.txt`` into it (what a learner needs); the test command installs
``requirements-dev.txt`` (the same plus the test tools). It is skipped when nothing in the
requirements changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"


def venv_bin(name: str, venv: Path = VENV) -> Path:
    """Path of an executable inside a venv (bin/ on Linux and macOS, Scripts\\ on Windows)."""
    folder = venv / ("Scripts" if os.name == "nt" else "bin")
    return folder / (name + (".exe" if os.name == "nt" else ""))


#: What each command installs: the learner's set, or that plus the test tools.
REQUIREMENTS = {"lab": "requirements.txt", "test": "requirements-dev.txt"}


def _digest(interpreter: str, requirements: str) -> str:
    digest = hashlib.sha256(interpreter.encode())
    for name in ("requirements.txt", requirements, "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv(venv: Path, interpreter: str, kind: str = "test") -> Path:
    """Create ``venv`` with ``interpreter`` and install ``REQUIREMENTS[kind]`` into it, unless
    that is already done for the current requirements; return the venv's python. A venv set
    up for the tests also counts as set up for the lab (it holds the learner's set)."""
    python = venv_bin("python", venv)
    if not python.exists():
        print(f"Creating the virtual environment {venv} ...", flush=True)
        if subprocess.run([interpreter, "-m", "venv", str(venv)]).returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)  # half made: the next attempt starts over
            sys.exit("Could not create the virtual environment (above: why). On Debian and "
                     "Ubuntu install it first: `sudo apt install python3-venv`, then run this "
                     "command again.")
    kinds = ["test"] if kind == "test" else ["lab", "test"]
    for done in kinds:
        stamp = venv / f".course-{done}"
        if (stamp.exists() and (ROOT / REQUIREMENTS[done]).exists()
                and stamp.read_text() == _digest(interpreter, REQUIREMENTS[done])):
            return python
    what = "the course's packages" + (" and the test tools" if kind == "test" else "")
    print(f"Installing {what} (a few minutes the first time) ...", flush=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([*pip, "install", "--quiet", "-r", REQUIREMENTS[kind]], check=True, cwd=ROOT)
    (venv / f".course-{kind}").write_text(_digest(interpreter, REQUIREMENTS[kind]))
    return python


def setup(kind: str) -> None:
    """Create .venv and install what ``kind`` (lab or test) needs, unless that is done."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this file must explain itself on old Pythons)
        sys.exit(f"The course needs Python 3.11 or newer; this is {sys.version.split()[0]}. "
                 "Run this file with a newer python3.")
    if not (ROOT / REQUIREMENTS[kind]).exists():
        sys.exit(f"This copy of the course has no {REQUIREMENTS[kind]} (the learners' copy "
                 "has no tests): `python3 course.py lab` opens the course.")
    ensure_venv(VENV, sys.executable, kind)


def lab(extra: list[str]) -> int:
    """Open JupyterLab on the first notebook, serving the whole course folder (so the
    notebooks' links to ../README.md and to tests/ work as they do on GitHub)."""
    command = [str(venv_bin("jupyter")), "lab", f"--ServerApp.root_dir={ROOT}", FIRST_NOTEBOOK,
               *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")  # in containers the user is often root
    return subprocess.call(command, cwd=ROOT)


#: Four pytest workers for the first run. Most tests wait on timers, sockets and kernels, not
#: on the CPU: on 2 cores the check tests used 0.65 of one core with two workers and took 238 s,
#: 142 s with four; the whole first run took 595 s with two, 397 s with four, 367 s with six.
#: A notebook's nbval cells run in order in one kernel, so they stay together on one worker
#: (the scheduler in conftest.py); other tests spread one by one.
PARALLEL = ["-n", "4", "--dist", "load"]
#: The load run: two workers, each beside one spinning process (tests/loadgen.py), the load
#: the checks' margins are made for; more workers would add spinners, not speed.
LOAD_PARALLEL = ["-n", "2", "--dist", "load"]
#: The slowest tests, listed at the end of each run: where the test time goes.
DURATIONS = ["--durations=12", "--durations-min=5"]


def split_marker(extra: list[str]) -> tuple[str | None, list[str]]:
    """The ``-m EXPR`` among pytest's words (None if absent), and the other words."""
    marker, rest, words = None, [], iter(extra)
    for word in words:
        if word == "-m":
            marker = next(words, "")
        elif word.startswith("-m") and not word.startswith("--"):
            marker = word[2:]
        else:
            rest.append(word)
    return marker, rest


def test(extra: list[str]) -> int:
    """Run the whole test suite: unit tests, every notebook twice in one kernel, lint, the
    browser test; four at a time. Then, on their own, the tests marked ``load`` (they keep the
    CPUs busy on purpose: beside other tests they would slow those down), two at a time:
    among them every notebook under nbval strict. Words for pytest go to both runs; ``-m
    EXPR`` narrows both."""
    marker, rest = split_marker(extra)
    chosen = f" and ({marker})" if marker else ""
    pytest = [str(venv_bin("python")), "-m", "pytest"]
    # Without -m, the load run executes every notebook under nbval strict on a busy CPU: the
    # first run leaves out the plain nbval run of the notebooks (conftest.py), one execution
    # of each notebook fewer. With -m, that run may be deselected: then the first run keeps it.
    first_env = {**os.environ, "COURSE_NBVAL_UNDER_LOAD": "1" if marker is None else "0"}
    first = subprocess.call([*pytest, *PARALLEL, *DURATIONS, "-m", f"not load{chosen}", *rest],
                            cwd=ROOT, env=first_env)
    print("\n== the tests marked `load`, on their own", flush=True)
    # Two at a time, each beside one spinning process: two spinners in all (tests/loadgen.py).
    load_env = {**os.environ, "COURSE_LOAD_PROCESSES": "1"}
    second = subprocess.call([*pytest, *LOAD_PARALLEL, *DURATIONS, "-m", f"load{chosen}", *rest],
                             cwd=ROOT, env=load_env)
    # pytest's 5 means "no test selected" (e.g. -k chose none of the load tests): fine for
    # one of the two runs, not for both.
    failed = [code for code in (first, second) if code not in (0, 5)]
    return failed[0] if failed else (5 if first == second == 5 else 0)


def bench(extra: list[str]) -> int:
    """Run the benchmark (tools/benchmark.py): a table of figures, each measured against its
    ideal or its peer in the same run. It never fails for being slow."""
    script = ROOT / "tools" / "benchmark.py"
    if not script.exists():
        sys.exit("This copy of the course has no tools/benchmark.py (the learners' copy leaves "
                 "the maintainers' tools out): notebook 15 runs the same study, smaller.")
    return subprocess.call([str(venv_bin("python")), str(script), *extra], cwd=ROOT)


def main() -> int:
    commands = {"lab": lab, "test": test, "bench": bench}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    setup("lab" if sys.argv[1] == "bench" else sys.argv[1])
    try:
        return commands[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
