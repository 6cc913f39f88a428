"""Notebook hygiene: what nbval relies on and what a reader on GitHub sees.

    python tools/hygiene.py            # check every notebook; exit 1 on problems

Checks: every code cell executed, in order, from 1 (one fresh kernel); no error output except
in cells tagged ``raises-exception``; nothing on stderr (where warnings, unclosed resources and
lost tasks show up); no absolute paths or user names in outputs; the one kernel spec
(``python3``); solution cells hidden and tagged; no execution timestamps (they make every
re-run a diff: ``tools/run_notebooks.py`` does not write them).
"""

from __future__ import annotations

import getpass
import re
import sys
from pathlib import Path

import nbformat

from asynclab.lessons import notebook_paths

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "python3"
_PATHS = re.compile(r"(/home/|/root/|/Users/|/work/|/tmp/|/private/var/|[A-Za-z]:\\\\|"
                    r"site-packages|\.venv|ipykernel_\d+)")


def _output_text(output: nbformat.NotebookNode) -> str:
    if output.get("output_type") == "stream":
        return str(output.get("text", ""))
    if output.get("output_type") == "error":
        return "\n".join(output.get("traceback", []))
    data = output.get("data", {})
    return "\n".join(str(data[k]) for k in ("text/plain", "text/markdown", "text/html")
                     if k in data)


def problems(path: Path) -> list[str]:
    """Everything wrong with one notebook, one line each (empty when clean)."""
    nb = nbformat.read(path, as_version=4)
    found = []
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != KERNEL:
        found.append(f"kernel spec is {kernel!r}, expected {KERNEL!r}")
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.get("execution_count") for c in code]
    if counts != list(range(1, len(counts) + 1)):
        found.append("code cells are not executed in order from 1 in one fresh kernel "
                     "(run `python tools/run_notebooks.py`)")
    user = re.escape(getpass.getuser())
    for number, cell in enumerate(code, 1):
        tags = cell.metadata.get("tags", [])
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and "raises-exception" not in tags:
                found.append(f"code cell {number} shows an error but is not tagged "
                             "raises-exception")
            if output.get("name") == "stderr":
                found.append(f"code cell {number} writes to stderr (a warning, an unclosed "
                             "resource, a lost task?): fix it, or capture and print it")
            text = _output_text(output)
            if match := _PATHS.search(text):
                found.append(f"code cell {number} output shows a local path ({match.group(0)!r})")
            if user not in ("root", "") and re.search(rf"\b{user}\b", text):
                found.append(f"code cell {number} output shows the user name {user!r}")
        if {"execution", "ExecuteTime"} & set(cell.metadata):
            found.append(f"code cell {number} holds execution timestamps in its metadata "
                         "(re-run it with `python tools/run_notebooks.py`)")
        if "solution" in tags and not cell.metadata.get("jupyter", {}).get("source_hidden"):
            found.append(f"code cell {number} is a solution but its source is not hidden")
    return found


def main() -> int:
    paths = notebook_paths(ROOT)
    bad = 0
    for path in paths:
        for problem in problems(path):
            print(f"{path.relative_to(ROOT)}: {problem}")
            bad += 1
    print(f"{len(paths)} notebooks, {bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
