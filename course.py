#!/usr/bin/env python3
"""Set up the course's environment and open it, or test it. Needs only Python >= 3.11.

    python3 course.py lab     # set up .venv, then open the course in JupyterLab
    python3 course.py test    # set up .venv, then run every test (extra words go to pytest)

Setting up means: create the virtual environment ``.venv`` next to this file and install
``requirements.txt`` into it. It is skipped when nothing in the requirements changed.
"""

from __future__ import annotations

import hashlib
import os
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


def ensure_venv(venv: Path, interpreter: str) -> Path:
    """Create ``venv`` with ``interpreter`` and install requirements.txt into it, unless that
    is already done for the current requirements; return the venv's python."""
    python = venv_bin("python", venv)
    if not python.exists():
        print(f"Creating the virtual environment {venv} ...", flush=True)
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    digest = hashlib.sha256(interpreter.encode())
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    stamp = venv / ".course-requirements"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return python
    print("Installing the course's packages (a few minutes the first time) ...", flush=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([*pip, "install", "--quiet", "-r", "requirements.txt"], check=True, cwd=ROOT)
    stamp.write_text(digest.hexdigest())
    return python


def setup() -> None:
    """Create .venv and install the requirements, unless that is already done."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this file must explain itself on old Pythons)
        sys.exit(f"The course needs Python 3.11 or newer; this is {sys.version.split()[0]}. "
                 "Run this file with a newer python3.")
    ensure_venv(VENV, sys.executable)


def lab(extra: list[str]) -> int:
    """Open JupyterLab on the first notebook."""
    command = [str(venv_bin("jupyter")), "lab", FIRST_NOTEBOOK, *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")  # in containers the user is often root
    return subprocess.call(command, cwd=ROOT)


def test(extra: list[str]) -> int:
    """Run the whole test suite: unit tests, every notebook under nbval, lint, browser."""
    return subprocess.call([str(venv_bin("python")), "-m", "pytest", *extra], cwd=ROOT)


def main() -> int:
    commands = {"lab": lab, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    setup()
    try:
        return commands[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
