"""Regenerate (or check) Binder's exact pins: binder/requirements.txt and binder/runtime.txt.

    python3 tools/pin_binder.py            # new pins: install, test, freeze, write
    python3 tools/pin_binder.py --check    # install the current pins, run the tests with them

Binder builds the course with repo2docker, which reads only ``binder/`` when that folder
exists. ``requirements.txt`` at the root has lower bounds (learners get current releases);
Binder gets the exact versions a maintainer installed and tested:

1. make a throw-away virtual environment with Python 3.11 (pyenv's, or ``python3.11``);
2. ``pip install -r requirements.txt`` into it;
3. run the test suite with it (every notebook under nbval; not the browser or slow tests);
4. write its ``pip freeze`` (without the editable asynclab line) to binder/requirements.txt,
   ending with ``-e .`` so Binder installs the helper package from the repository.

``--check`` installs binder/requirements.txt instead and runs the same tests with
``COURSE_STRICT_BINDER=1``, so tests/test_binder.py also demands installed == pinned.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from test_pythons import find_python  # noqa: E402

PYTHON = "3.11"  # Binder's Python: the course's floor
HEADER = f"""\
# Binder's environment (repo2docker reads this file, not the root requirements.txt).
# Exact versions that were installed and tested together on Python {PYTHON}.
# Regenerate: python3 tools/pin_binder.py    Check: python3 tools/pin_binder.py --check
"""


def run(command: list[str], **kwargs: object) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, **kwargs)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="test the current pins")
    args = parser.parse_args()
    interpreter = find_python(PYTHON)
    if interpreter is None:
        sys.exit(f"Python {PYTHON} not found (python{PYTHON} on PATH or pyenv)")
    with tempfile.TemporaryDirectory(prefix="pin-binder-") as tmp:
        python = str(Path(tmp) / "bin" / "python")
        run([str(interpreter), "-m", "venv", tmp])
        pip = [python, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        run([*pip, "install", "--upgrade", "pip"])
        source = "binder/requirements.txt" if args.check else "requirements.txt"
        run([*pip, "install", "-r", source])
        env = {**os.environ, "COURSE_STRICT_BINDER": "1" if args.check else ""}
        run([python, "-m", "pytest", "-q", "-m", "not browser and not slow"], env=env)
        if args.check:
            print("binder/requirements.txt installs and passes the tests.")
            return 0
        frozen = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable"],
                                check=True, capture_output=True, text=True, cwd=ROOT).stdout
    pins = sorted((line for line in frozen.splitlines()
                   if line and not line.startswith(("#", "-e"))), key=str.lower)
    (ROOT / "binder").mkdir(exist_ok=True)
    (ROOT / "binder" / "requirements.txt").write_text(HEADER + "\n".join(pins) + "\n-e .\n")
    (ROOT / "binder" / "runtime.txt").write_text(f"python-{PYTHON}\n")
    print(f"wrote binder/requirements.txt ({len(pins)} pins) and binder/runtime.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
