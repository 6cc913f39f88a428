"""Make the learners' copy of the course: the same repository without the worked solutions.

    python tools/learner_copy.py OUTDIR

Copies the repository to OUTDIR and removes every notebook cell tagged ``solution``. The
checks and hints stay, so learners still get feedback. What only maintainers use stays out:
git, virtual environments, the tests (they hold the reference answers), the tools, CI and
``requirements-dev.txt``; ``requirements.txt`` (what a learner needs) and Binder's pins stay.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
_SKIP = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", ".ipynb_checkpoints",
                               "test-artifacts", ".ruff_cache")
#: Top-level entries that are for maintainers only.
MAINTAINERS_ONLY = ("tests", "tools", ".ci", ".github", "requirements-dev.txt", "conftest.py")


def strip_solutions(path: Path) -> int:
    """Remove the cells tagged ``solution`` from one notebook; return how many."""
    nb = nbformat.read(path, as_version=4)
    keep = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
    removed = len(nb.cells) - len(keep)
    nb.cells = keep
    nbformat.write(nb, path)
    return removed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args()
    out: Path = args.outdir.resolve()
    if out.exists():
        raise SystemExit(f"{out} exists already: choose a new folder")
    shutil.copytree(ROOT, out, ignore=_SKIP)
    for name in MAINTAINERS_ONLY:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    total = sum(strip_solutions(p) for p in sorted((out / "notebooks").glob("*.ipynb")))
    print(f"learners' copy in {out}: {total} solution cells removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
