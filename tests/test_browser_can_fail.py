"""The browser test can fail, and sees what nbval cannot.

Four small notebooks go through the browser test (tests/test_browser.py, in a subprocess):

- ``96_second_run``: fine when run once; run again in the same kernel it writes to stderr,
  raises, and leaves a thread named like a server's running. The browser test must fail on
  the second Run All and name all three.

- ``97_nest_asyncio2``: the maintained fork, a nested ``asyncio.run()``, then more cells.
  It must pass: the fork does not break Run All (what notebook 02 says).
- ``98_nest_asyncio_hang``: the same with the archived ``nest_asyncio`` 1.6.0. Under Run All
  with ipykernel 7 the cells after the nested run stay at ``[*]`` while the kernel says
  idle. The browser test must fail and say so, while nbval passes the same notebook.
- ``99_broken_on_purpose``: a cell that raises (untagged) before a cell with a figure. The
  browser test must name the error, the cell that never ran and the figure not drawn.

The archived package is installed once into a cache folder inside the virtual environment
(``<venv>/course-test-cache/nest_asyncio-1.6.0``; a new venv starts a new cache) and put on
``PYTHONPATH`` for the subprocess only: it never enters the learners' environment.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from run_notebooks import KERNELSPEC
from test_browser import find_chromium

ROOT = Path(__file__).resolve().parents[1]
ARCHIVED = "nest_asyncio==1.6.0"
ARTIFACTS = ROOT / "test-artifacts" / "browser-can-fail"
# A 1x1 PNG: the stored output that says "this cell shows a figure".
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)).decode()

pytestmark = pytest.mark.browser


def notebook(*sources: str, figure_at: int | None = None) -> nbformat.NotebookNode:
    """A notebook of code cells, stored as if run once in order (cell ``figure_at`` with a
    figure in its output)."""
    cells = [new_code_cell(source, execution_count=i + 1) for i, source in enumerate(sources)]
    if figure_at is not None:
        cells[figure_at].outputs = [new_output("display_data", data={"image/png": PIXEL})]
    return new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC)})


def nested_run(module: str) -> nbformat.NotebookNode:
    return notebook(
        f"import asyncio\nimport {module}\n{module}.apply()",
        "async def answer():\n    await asyncio.sleep(0.01)\n    return 42\n\n"
        "asyncio.run(answer())",
        "print('after the nested run')",
        "print('the end')",
    )


def archived_package(tmp_path: Path) -> Path:
    """A folder holding the archived nest_asyncio, for ``PYTHONPATH``: installed once per
    virtual environment and version (a cache), or into ``tmp_path`` outside a venv."""
    in_venv = sys.prefix != sys.base_prefix
    cache = (Path(sys.prefix) / "course-test-cache" if in_venv else tmp_path)
    folder = cache / ARCHIVED.replace("==", "-")
    if (folder / "nest_asyncio.py").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{folder.name}-{os.getpid()}"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", "--no-deps", "--target",
                              str(partial), ARCHIVED], capture_output=True, text=True, timeout=300)
    if install.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        pytest.skip(f"could not install the archived {ARCHIVED}: {install.stderr[-300:]}")
    try:
        partial.rename(folder)  # whole or not at all, also when two runs install at once
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)  # another run was first: use its copy
    return folder


def test_archived_package_is_installed_once(tmp_path: Path) -> None:
    first = archived_package(tmp_path)
    stamp = (first / "nest_asyncio.py").stat().st_mtime_ns
    assert archived_package(tmp_path) == first
    assert (first / "nest_asyncio.py").stat().st_mtime_ns == stamp, "installed a second time"


def test_browser_test_fails_on_broken_notebooks_and_sees_the_hang(tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("browser test skipped: Chromium not found")
    archived = archived_package(tmp_path)
    books = tmp_path / "notebooks"
    books.mkdir()
    nbformat.write(notebook(
        "import builtins\nagain = hasattr(builtins, 'course_ran')\nbuiltins.course_ran = True",
        "import sys\nif again:\n    print('only the second time', file=sys.stderr)",
        "import threading, time\nif again:\n"
        "    threading.Thread(target=time.sleep, args=(30,), name='Leaky-thread',\n"
        "                     daemon=True).start()\n    raise RuntimeError('second run')",
    ), books / "96_second_run.ipynb")
    nbformat.write(nested_run("nest_asyncio2"), books / "97_nest_asyncio2.ipynb")
    nbformat.write(nested_run("nest_asyncio"), books / "98_nest_asyncio_hang.ipynb")
    nbformat.write(notebook("print('fine')", "raise ValueError('broken on purpose')",
                            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()",
                            figure_at=2), books / "99_broken_on_purpose.ipynb")
    # 10 s per notebook: their four cells take milliseconds, and the hanging one is only
    # seen as hanging when that time is up.
    env = {**os.environ, "PYTHONPATH": str(archived), "COURSE_BROWSER_NOTEBOOKS": str(books),
           "COURSE_BROWSER_TIMEOUT": "10", "COURSE_BROWSER_ARTIFACTS": str(ARTIFACTS)}

    # nbval sends the cells one by one and sees nothing wrong with the hanging notebook.
    nbval = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-c", os.devnull, "--rootdir", str(tmp_path), "--nbval-lax",
                            str(books / "98_nest_asyncio_hang.ipynb")],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert nbval.returncode == 0 and "4 passed" in nbval.stdout, nbval.stdout[-2000:]

    browser = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "-m", "browser", "tests/test_browser.py"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    report = browser.stdout + browser.stderr
    tail = report[-4000:]
    assert browser.returncode == 1 and "3 failed, 1 passed" in report, tail
    assert "FAILED tests/test_browser.py::test_run_all_in_jupyterlab[97" not in report, tail
    assert "run 2, cell 1: wrote to stderr: only the second time" in report, tail
    assert "run 2, cell 2: shows an error: RuntimeError: second run" in report, tail
    assert "server threads: ['Leaky-thread']" in report, tail
    assert "cell 2: still waits at [*]" in report, tail
    assert "while cells still wait: the hang nbval cannot see" in report, tail
    assert "cell 1: shows an error: ValueError: broken on purpose" in report, tail
    assert "cell 2: never ran, should show a figure but none was drawn" in report, tail
    assert (ARTIFACTS / "98_nest_asyncio_hang.png").stat().st_size > 0
