"""Re-execute notebooks in place: each in a fresh kernel, cells in order, outputs saved.

    python tools/run_notebooks.py                 # every notebook
    python tools/run_notebooks.py notebooks/01_why_async.ipynb

Run it with the course's environment (``.venv``): the kernel is this Python's ``python3``.
Cells tagged ``raises-exception`` may raise; any other error stops with the cell shown.
Nothing that changes from run to run without meaning is written (execution timestamps, the
Python patch version), so re-running a notebook changes only lines whose outputs changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from asynclab.lessons import notebook_paths

ROOT = Path(__file__).resolve().parents[1]
#: The one kernel every notebook runs on (tools/hygiene.py checks it).
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


#: Cell metadata that only says when a cell ran: nbclient's ``execution`` timestamps
#: (iopub/shell), and the ``ExecuteTime`` of JupyterLab's execute-time extension.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime")


def quiet(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove the metadata that differs between two honest runs; return ``nb``."""
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nb.metadata.get("language_info", {}).pop("version", None)  # no noise between machines
    return nb


def run(path: Path, timeout: int = 120) -> float:
    """Execute ``path`` in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(quiet(nb), path)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    from pin_binder import PYTHON  # the committed outputs' Python (README: maintainers' notes)

    if f"{sys.version_info[0]}.{sys.version_info[1]}" != PYTHON:
        print(f"note: the committed outputs are made with Python {PYTHON}; this is "
              f"{sys.version.split()[0]} (.venv-{PYTHON}/bin/python runs {PYTHON})")
    paths = args.paths or notebook_paths(ROOT)
    for path in paths:
        print(f"{path.name}: ", end="", flush=True)
        print(f"{run(path):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
