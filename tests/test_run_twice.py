"""Every notebook runs twice in a row in one kernel, as a learner who clicks Run All again
does, and leaves nothing behind: no error, nothing on stderr (ResourceWarnings and asyncio's
"Task was destroyed but it is pending" print there, so the kernel shows every
ResourceWarning), no course server still running, no server thread alive.

The browser test (tests/test_browser.py) does the same in JupyterLab, where a learner clicks
Run All twice: a notebook whose browser test runs in the same session (Chromium and playwright
found, the test selected) skips this one (tests/conftest.py), unless ``COURSE_RUN_TWICE=1``.
Slow (every notebook twice): the README's test command runs it; tools/other_pythons.py and
tools/pin_binder.py leave it out with ``-m "not browser and not slow and not load"``.

Each notebook runs in a copy of ``notebooks/`` and ``data/`` in a temporary folder: what a
notebook writes (02 writes scripts and runs them) must not meet nbval's run of the same
notebook, which may run at the same time on the other pytest worker.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell
from test_browser import CLEAN, PROBE

from asynclab.lessons import notebook_paths

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebook_paths(ROOT)


pytestmark = pytest.mark.slow


def _stderr(cell: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for out in cell.get("outputs", [])
                   if out.get("output_type") == "stream" and out.get("name") == "stderr")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_twice_in_one_kernel_and_cleans_up(path: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copytree(path.parent, tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("*_scripts", ".ipynb_checkpoints"))
    path = tmp_path / "notebooks" / path.name
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    problems: list[str] = []
    env = {**os.environ, "PYTHONWARNINGS": "always::ResourceWarning"}
    with client.setup_kernel(env=env):
        for run in (1, 2):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                cell.outputs = []
                client.execute_cell(cell, index)  # raises on an error, unless tagged
                if err := _stderr(cell):
                    problems.append(f"run {run}, cell {index} wrote to stderr: {err[:300]}")
        probe = new_code_cell(PROBE)
        nb.cells.append(probe)
        client.execute_cell(probe, len(nb.cells) - 1)
    text = "".join(out.get("text", "") for out in probe.outputs)
    if _stderr(probe):
        problems.append(f"after two runs, garbage collection reported: {_stderr(probe)[:300]}")
    if CLEAN not in text:
        problems.append(f"after two runs: {text.strip()}")
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
