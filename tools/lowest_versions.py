"""Test the course at its minimum versions: the floors in pyproject.toml, installed exactly.

    python3 tools/lowest_versions.py              # fresh venv, floors, the tests (CI runs this)
    python3 tools/lowest_versions.py --keep DIR   # keep the venv in DIR (to look into a failure)
    python3 tools/lowest_versions.py -- -x        # words after -- go to pytest

pyproject.toml promises e.g. ``ipykernel>=6.29``: a learner may have exactly that. This tool
makes a throw-away virtual environment with the Python running it, installs what a learner
needs (``requirements.txt``) with every learner floor pinned to ``==`` its lower bound (a
constraints file: the lowest-direct resolution; what those need comes in its newest fitting
version), adds the test tools, and runs the suite without the browser, slow and load tests.
When it fails, raise the floor in pyproject.toml (the one place it is declared).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from other_pythons import SELECTION, split_arguments

ROOT = Path(__file__).resolve().parents[1]
#: The one form a floor takes in pyproject.toml (tests/test_binder.py checks it with
#: ``packaging``; this tool runs with a bare Python, which may not have it).
FLOOR = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)>=([0-9][0-9.]*)")


def run(command: list[str], **kwargs: object) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, **kwargs)  # type: ignore[arg-type]


def learner_floors() -> list[str]:
    """``name==floor`` for every requirement of requirements.txt (the helper package's
    dependencies and its ``lab`` extra), from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for text in [*project["dependencies"], *project["optional-dependencies"]["lab"]]:
        requirement, _, marker = text.partition(";")  # e.g. uvloop's "sys_platform != 'win32'"
        match = FLOOR.fullmatch(requirement.replace(" ", ""))
        if not match:
            sys.exit(f"pyproject.toml: {text!r} is not of the form name>=version[; marker]")
        pins.append(f"{match[1]}=={match[2]}" + (f"; {marker.strip()}" if marker else ""))
    return pins


def main(argv: list[str] | None = None) -> int:
    ours, pytest_args = split_arguments(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="make the venv here and keep it")
    args = parser.parse_args(ours)
    pins = learner_floors()
    print("floors:", ", ".join(pins), flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lowest-") as tmp:
        venv = (args.keep or Path(tmp) / "venv").resolve()
        python = str(venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
        constraints = Path(tmp) / "floors.txt"
        constraints.write_text("\n".join(pins) + "\n")
        run([sys.executable, "-m", "venv", "--clear", str(venv)])
        pip = [python, "-m", "pip", "--disable-pip-version-check", "--quiet"]
        run([*pip, "install", "--upgrade", "pip"])
        try:
            run([*pip[:-1], "install", "-r", "requirements-dev.txt", "-c", str(constraints)])
        except subprocess.CalledProcessError:
            print("The floors cannot be installed together (above: pip's reason). A floor "
                  "must be a release that exists (e.g. nest-asyncio2's first is 1.6.1, not "
                  "1.6) and fit the other floors.")
            return 1
        run([python, "-m", "pip", "list", "--disable-pip-version-check"])
        installed = time.perf_counter() - start
        code = subprocess.call([python, "-m", "pytest", "-q", *SELECTION, *pytest_args],
                               cwd=ROOT)
    print(f"lowest versions: {'passed' if code == 0 else 'FAILED'} "
          f"(set-up {installed:.0f} s, tests {time.perf_counter() - start - installed:.0f} s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
