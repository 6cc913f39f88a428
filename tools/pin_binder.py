"""Regenerate (or check) Binder's exact pins: binder/requirements.txt and binder/runtime.txt.

    python3 tools/pin_binder.py            # new pins: install, test, freeze, write
    python3 tools/pin_binder.py --check    # install the current pins, run the tests with them

Binder builds the course with repo2docker, which reads only ``binder/`` when that folder
exists. ``requirements.txt`` at the root has lower bounds (learners get current releases);
Binder gets the exact versions a maintainer installed and tested:

1. make a throw-away virtual environment with Binder's Python (``PYTHON`` below: pyenv's, or
   ``python3.X`` on the PATH);
2. ``pip install -r requirements.txt`` into it (the learner's set) and note its ``pip freeze``:
   that, and only that, becomes the pins (Binder gets no test tools);
3. add the test tools (the ``test`` extra), keeping every pinned version, and run the test
   suite (every notebook under nbval; not the browser, slow or load tests);
4. write the learner's freeze (without the editable asynclab line) to binder/requirements.txt,
   ending with ``-e .`` so Binder installs the helper package from the repository.

``--check`` installs binder/requirements.txt instead, adds the test tools the same way, and
runs the same tests with ``COURSE_STRICT_BINDER=1``, so tests/test_binder.py also demands
installed == pinned. ``--skip-missing`` (CI) reports, without failing, a machine that lacks
Binder's Python.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from other_pythons import SELECTION, find_python

ROOT = Path(__file__).resolve().parents[1]
#: Binder's Python, and the one the committed outputs are made with (README, maintainers'
#: notes: the newest this machine has, so that learners on 3.13 and 3.14 see what they show).
PYTHON = "3.13"
HEADER = f"""\
# Binder's environment (repo2docker reads this file, not the root requirements.txt).
# Exact versions of what a learner needs (requirements.txt), installed and tested together
# on Python {PYTHON}. No test tools: tools/pin_binder.py adds them only to test.
# Regenerate: python3 tools/pin_binder.py    Check: python3 tools/pin_binder.py --check
"""


def run(command: list[str], **kwargs: object) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, **kwargs)  # type: ignore[arg-type]


def pins_of(frozen: str) -> list[str]:
    """The exact pins in a ``pip freeze`` output: no comments, no editable line."""
    return sorted((line for line in frozen.splitlines()
                   if line and not line.startswith(("#", "-e"))), key=str.lower)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="test the current pins")
    parser.add_argument("--skip-missing", action="store_true",
                        help=f"exit 0 with a message when Python {PYTHON} is not installed")
    args = parser.parse_args()
    interpreter = find_python(PYTHON)
    if interpreter is None:
        message = f"Python {PYTHON} (Binder's) not found (python{PYTHON} on PATH or pyenv)"
        if args.skip_missing:
            print(f"SKIPPED: {message}: Binder's pins were not tested here")
            return 0
        sys.exit(message)
    with tempfile.TemporaryDirectory(prefix="pin-binder-") as tmp:
        venv = Path(tmp) / "venv"
        python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
        run([str(interpreter), "-m", "venv", str(venv)])
        pip = [python, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        run([*pip, "install", "--upgrade", "pip"])
        source = "binder/requirements.txt" if args.check else "requirements.txt"
        run([*pip, "install", "-r", source])
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable"],
                                check=True, capture_output=True, text=True, cwd=ROOT).stdout
        pins = pins_of(frozen)
        constraints = Path(tmp) / "learner-set.txt"
        constraints.write_text("\n".join(pins) + "\n")
        run([*pip, "install", "-e", ".[test]", "-c", str(constraints)])  # pinned stay pinned
        env = {**os.environ, "COURSE_STRICT_BINDER": "1" if args.check else ""}
        if args.check:
            run([python, "-m", "pytest", "-q", *SELECTION], env=env)
            print("binder/requirements.txt installs and passes the tests.")
            return 0
        # The new pins are written first, so that the tests check them; put back when the
        # tests fail.
        files = {ROOT / "binder" / "requirements.txt": HEADER + "\n".join(pins) + "\n-e .\n",
                 ROOT / "binder" / "runtime.txt": f"python-{PYTHON}\n"}
        old = {path: path.read_text() if path.exists() else None for path in files}
        (ROOT / "binder").mkdir(exist_ok=True)
        for path, text in files.items():
            path.write_text(text)
        try:
            run([python, "-m", "pytest", "-q", *SELECTION], env=env)
        except subprocess.CalledProcessError:
            for path, text in old.items():
                if text is None:
                    path.unlink()
                else:
                    path.write_text(text)
            print("the tests failed: binder/ is as it was")
            raise
    print(f"wrote binder/requirements.txt ({len(pins)} pins) and binder/runtime.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
