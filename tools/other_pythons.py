"""Run the test suite on every supported Python (3.11, 3.12, 3.13) that this machine has.

    python3 tools/other_pythons.py                  # every version found
    python3 tools/other_pythons.py 3.12 3.13        # only these
    python3 tools/other_pythons.py --require-all    # fail when a version is missing (CI)
    python3 tools/other_pythons.py -- -x -q         # words after -- go to pytest

For each version: find an interpreter (``python3.X`` on PATH, else pyenv's
``~/.pyenv/versions/3.X.*``), create ``.venv-3.X`` next to the repository (gitignored), install
``requirements-dev.txt`` into it (skipped when the requirements did not change), then run
``python -m pytest -n 4 --dist load -m "not browser and not slow and not load"``: every
unit test and every notebook under nbval, four at a time (as course.py's first run: most
tests wait on timers and sockets, not on the CPU). The browser test, the second
runs of every notebook (``slow``) and the tests under CPU load (``load``) are left out, to
keep CI within minutes: the README test command runs them once. A summary with times comes
last; the exit status is 1 when any version failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ("3.11", "3.12", "3.13")
#: What runs on each version: everything but the browser, the second runs and the load tests.
SELECTION = ["-n", "4", "--dist", "load", "-m", "not browser and not slow and not load"]


def readme_setup() -> ModuleType:
    """The README's set-up script (``course.py`` at the root), loaded from its file: one way
    to build a venv. (Tools import each other from tools/, which Python puts on the path.)"""
    spec = importlib.util.spec_from_file_location("course_setup", ROOT / "course.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_python(version: str) -> Path | None:
    """An interpreter that really is Python ``version`` (pyenv shims may point elsewhere)."""
    candidates: list[Path] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        found = sorted(pyenv.glob(f"{version}.*"),
                       key=lambda p: [int(x) if x.isdigit() else -1 for x in p.name.split(".")])
        candidates += [p / "bin" / "python3" for p in reversed(found)]
    for candidate in candidates:
        try:
            out = subprocess.run([str(candidate), "-c",
                                  "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return candidate
    return None


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """This tool's words, and the words after ``--`` that go to pytest. (argparse alone would
    take ``-- -x`` as one more version called ``-x``.)"""
    cut = argv.index("--") if "--" in argv else len(argv)
    return argv[:cut], argv[cut + 1:]


def main(argv: list[str] | None = None) -> int:
    ours, pytest_args = split_arguments(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs="*", default=list(VERSIONS))
    parser.add_argument("--require-all", action="store_true",
                        help="fail when one of the versions is not installed")
    args = parser.parse_args(ours)
    if unknown := [v for v in args.versions if v not in VERSIONS]:
        parser.error(f"supported versions are {', '.join(VERSIONS)}; got {', '.join(unknown)} "
                     "(words for pytest go after --)")
    rows: list[tuple[str, str, float, float]] = []
    failed = False
    for version in args.versions:
        interpreter = find_python(version)
        if interpreter is None:
            rows.append((version, "not found", 0.0, 0.0))
            failed |= args.require_all
            continue
        print(f"\n===== Python {version} ({interpreter})", flush=True)
        start = time.perf_counter()
        try:
            python = readme_setup().ensure_venv(ROOT / f".venv-{version}", str(interpreter))
        except subprocess.CalledProcessError:
            rows.append((version, "set-up failed", time.perf_counter() - start, 0.0))
            failed = True
            continue
        installed = time.perf_counter() - start
        start = time.perf_counter()
        code = subprocess.call([str(python), "-m", "pytest", *SELECTION, *pytest_args],
                               cwd=ROOT)
        tested = time.perf_counter() - start
        rows.append((version, "passed" if code == 0 else f"FAILED (pytest exit {code})",
                     installed, tested))
        failed |= code != 0
    print("\n===== summary")
    print(f"{'python':<8}{'result':<26}{'set-up':>10}{'tests':>10}")
    for version, result, installed, tested in rows:
        print(f"{version:<8}{result:<26}{installed:>9.0f}s{tested:>9.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
