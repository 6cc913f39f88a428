"""What notebook 02 (coroutines) claims about running asyncio code, asserted outside nbval:
the ``raises-exception`` cell, and the version-dependent ``get_event_loop()`` script whose
output nbval does not compare."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_coroutines.ipynb"
MESSAGE = "asyncio.run() cannot be called from a running event loop"


def _cells() -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]


def _script(name: str) -> str:
    """The body of the ``%%writefile <name>`` cell."""
    for cell in _cells():
        first, _, body = cell.source.partition("\n")
        if first.strip() == f"%%writefile 02_scripts/{name}":
            return body
    raise AssertionError(f"no %%writefile {name} cell in {NOTEBOOK.name}")


def test_asyncio_run_inside_a_running_loop_raises():
    """The same situation as a notebook cell: asyncio.run() while a loop runs."""

    async def cell() -> None:
        async def main() -> None:
            await asyncio.sleep(0)

        coro = main()
        try:
            with pytest.raises(RuntimeError, match=r"cannot be called from a running event loop"):
                asyncio.run(coro)
        finally:
            coro.close()

    asyncio.run(cell())


def test_the_raises_exception_cell_raised_that_error():
    raising = [c for c in _cells() if "raises-exception" in c.metadata.get("tags", [])]
    assert len(raising) == 1
    cell = raising[0]
    assert "asyncio.run(coro)" in cell.source
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert errors, "the asyncio.run() cell must show its RuntimeError"
    assert errors[0].ename == "RuntimeError"
    assert errors[0].evalue == MESSAGE


def _run_script(name: str, tmp_path: Path) -> str:
    path = tmp_path / name
    path.write_text(_script(name))
    done = subprocess.run([sys.executable, "-W", "default", str(path)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # no stray warnings or tracebacks
    return done.stdout


def test_get_event_loop_behaves_as_the_notebook_says(tmp_path):
    """The table of section 7, row by row, on the Python running the tests."""
    out = _run_script("get_event_loop_script.py", tmp_path)
    lines = dict(line.split(":", 1) for line in out.splitlines()[1:])
    fresh = lines["main thread, fresh program"].strip()
    if sys.version_info >= (3, 14):
        assert fresh.startswith("RuntimeError: There is no current event loop")
    elif sys.version_info >= (3, 12):
        assert fresh == "a new loop, and DeprecationWarning: There is no current event loop"
    else:
        assert fresh == "a new loop, without a warning"
    assert lines["main thread, after asyncio.run()"].strip() == (
        "RuntimeError: There is no current event loop in thread 'MainThread'.")
    assert lines["another thread"].strip() == (
        "RuntimeError: There is no current event loop in thread 'worker'.")
    assert lines["inside a coroutine"].strip() == "the running loop, without a warning"


def test_shell_cells_quote_the_interpreter():
    """Every `!` cell runs `"{sys.executable}"` in quotes (a course path may hold a space)."""
    commands = [line for c in _cells() for line in c.source.splitlines() if line.startswith("!")]
    assert commands
    for command in commands:
        assert command.startswith('!"{sys.executable}" '), command


def test_the_quoted_shell_form_works_when_the_path_has_a_space(tmp_path):
    """Run a notebook `!` line through IPython, with the interpreter at a path with a space."""
    from types import SimpleNamespace

    from IPython.core.interactiveshell import InteractiveShell

    spaced = tmp_path / "my course" / "bin"
    spaced.mkdir(parents=True)
    python = spaced / "python"
    python.symlink_to(sys.executable)
    scripts = tmp_path / "02_scripts"
    scripts.mkdir()
    (scripts / "brew_script.py").write_text(_script("brew_script.py"))
    line = next(line for c in _cells() for line in c.source.splitlines()
                if line.startswith("!") and "brew_script.py" in line)
    shell = InteractiveShell.instance()
    try:
        shell.user_ns["sys"] = SimpleNamespace(executable=str(python))
        command = shell.var_expand(line[1:], depth=0)
        done = subprocess.run(command, shell=True, capture_output=True, text=True,  # noqa: S602
                              cwd=tmp_path, timeout=60, check=False)
        unquoted = subprocess.run(command.replace('"', ""), shell=True, capture_output=True,  # noqa: S602
                                  text=True, cwd=tmp_path, timeout=60, check=False)
    finally:
        InteractiveShell.clear_instance()
    assert done.returncode == 0, done.stderr
    assert "oolong is ready" in done.stdout
    assert unquoted.returncode != 0  # the old form breaks on the space


def test_closed_loop_stays_current(tmp_path):
    out = _run_script("closed_loop_script.py", tmp_path)
    assert "the current loop is the closed one: True / closed: True" in out
    assert "RuntimeError: Event loop is closed" in out


def test_nest_asyncio2_script_shows_the_patch_and_its_surprise(tmp_path):
    out = _run_script("nested_script.py", tmp_path)
    assert f"before apply(): {MESSAGE}" in out
    assert "after apply():  inner result" in out
    assert "other tasks ran during a plain function call: True" in out
