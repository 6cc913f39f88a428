"""The maintainer tools: navigation is current, notebooks are clean, lint passes, and the
learners' copy has no solutions."""

from __future__ import annotations

import os
import subprocess
import sys

import hygiene
import navigation
import nbformat
import pytest
import run_notebooks
from conftest import ROOT

from asynclab.lessons import LESSONS

NOTEBOOK_FILES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_is_in_the_course_map():
    planned = {entry.filename for entry in LESSONS}
    assert {p.name for p in NOTEBOOK_FILES} <= planned


def test_navigation_and_course_map_are_current():
    assert navigation.stale() == [], "run `python tools/navigation.py` and commit the result"


def test_every_notebook_starts_its_code_with_the_set_up_check():
    for path in NOTEBOOK_FILES:
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert "course-setup" in code[0].metadata.get("tags", []), path.name
        assert code[0].source == navigation.SETUP_SOURCE, path.name


def test_the_set_up_check_says_what_to_do_on_another_python():
    # -I -S: no site-packages and no PYTHONPATH, so asynclab cannot be found, as in a
    # Jupyter that is not the course's
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", navigation.SETUP_SOURCE],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "ModuleNotFoundError: No module named 'asynclab'" in proc.stderr
    assert "python3 course.py lab" in proc.stderr and "SETUP.md" in proc.stderr
    # with the course's packages it prints nothing and raises nothing
    quiet = subprocess.run([sys.executable, "-c", navigation.SETUP_SOURCE],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_a_new_set_up_check_is_numbered_first_and_shifts_the_others():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"),
                nbformat.v4.new_code_cell("1 + 1", execution_count=1, outputs=[
                    nbformat.v4.new_output("execute_result", {"text/plain": "2"},
                                           execution_count=1)])]
    assert navigation._apply_setup_cell(nb) is True
    setup, old = nb.cells[1], nb.cells[2]
    assert setup.metadata["tags"] == ["course-setup"] and setup.execution_count == 1
    assert old.execution_count == 2 and old.outputs[0]["execution_count"] == 2
    assert navigation._apply_setup_cell(nb) is False


def test_navigation_check_sees_a_stale_notebook(tmp_path):
    first = NOTEBOOK_FILES[0]
    nb = nbformat.read(first, as_version=4)
    nav = next(c for c in nb.cells if "navigation" in c.metadata.get("tags", []))
    nav.source = "[Course index](../README.md) · stale"
    intro = nb.cells[1]
    intro.source = intro.source.replace("**Time:** ", "**Time:** 1 min teaching · 1 min exercises"
                                        " (stale) ", 1)
    lesson = next(entry for entry in LESSONS if entry.filename == first.name)
    assert navigation.apply_navigation(nb, lesson) is True
    assert "mybinder.org/v2/gh/" in nav.source
    assert "labpath=notebooks%2F" + first.name in nav.source
    assert lesson.time_line in intro.source and "(stale)" not in intro.source


def test_binder_links_come_from_the_one_repository_address():
    url = navigation.repository_url()
    owner_repo = url.removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text()
    assert f"mybinder.org/v2/gh/{owner_repo}/HEAD?labpath=notebooks%2F00_start_here.ipynb" \
        in readme


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    assert hygiene.problems(path) == []


def test_hygiene_catches_problems(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "other"}
    cell = nbformat.v4.new_code_cell("1/0", execution_count=2)
    cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="",
                                           traceback=[]),
                    nbformat.v4.new_output("stream", text="saved in /home/ada/x.txt"),
                    nbformat.v4.new_output("stream", name="stderr",
                                           text="ResourceWarning: unclosed <socket>")]
    nb.cells = [cell, nbformat.v4.new_code_cell("x", metadata={"tags": ["solution"]})]
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    found = "\n".join(hygiene.problems(path))
    for expected in ("kernel spec", "not executed in order", "not tagged raises-exception",
                     "local path", "not hidden", "writes to stderr"):
        assert expected in found


def test_ruff_is_clean():
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tools", "tests",
                           "notebooks", "course.py"], cwd=ROOT, capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_other_pythons_passes_words_after_double_dash_to_pytest():
    from other_pythons import split_arguments

    assert split_arguments(["3.13", "--", "-x", "-k", "gather"]) == (["3.13"], ["-x", "-k",
                                                                                "gather"])
    assert split_arguments(["3.12"]) == (["3.12"], [])
    assert split_arguments(["--", "-q"]) == ([], ["-q"])


def test_rerunning_a_notebook_writes_no_timestamps(tmp_path):
    """Re-running a notebook whose outputs do not change leaves the file as it was: no
    execution timestamps, no Python patch version (issue 9: 86% of the changed lines)."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# a lesson"),
        nbformat.v4.new_code_cell("print('same every time')"),
        nbformat.v4.new_code_cell("6 * 7"),
    ])
    # as a notebook saved by an older run_notebooks, or by JupyterLab, may hold them
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2026-11-01T10:00:00.000001Z"}
    nb.cells[2].metadata["ExecuteTime"] = {"end_time": "2026-11-01T10:00:00.5Z"}
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, path)
    run_notebooks.run(path)
    first = path.read_text()
    ran = nbformat.read(path, as_version=4)
    assert ran.cells[1].outputs[0].text == "same every time\n"  # it did run
    for cell in ran.cells:
        assert not set(cell.metadata) & {"execution", "ExecuteTime"}, cell.metadata
    assert "version" not in ran.metadata.get("language_info", {})
    run_notebooks.run(path)
    assert path.read_text() == first, "a second run changed the file"


def test_course_test_command_narrows_both_runs_with_m():
    from other_pythons import readme_setup

    split_marker = readme_setup().split_marker
    assert split_marker(["-m", "not browser", "-k", "gather"]) == ("not browser",
                                                                   ["-k", "gather"])
    assert split_marker(["-mslow", "-x"]) == ("slow", ["-x"])
    assert split_marker(["--maxfail=1", "tests/test_servers.py"]) == (
        None, ["--maxfail=1", "tests/test_servers.py"])


def test_lab_installs_the_learner_set_and_test_adds_the_tools(tmp_path, monkeypatch):
    from other_pythons import readme_setup

    course = readme_setup()
    venv = tmp_path / "venv"
    course.venv_bin("python", venv).parent.mkdir(parents=True)
    course.venv_bin("python", venv).touch()  # an existing venv: only pip runs
    installed: list[str] = []

    def fake_run(command, **kwargs):
        if "-r" in command:
            installed.append(command[command.index("-r") + 1])

    monkeypatch.setattr(course.subprocess, "run", fake_run)
    course.ensure_venv(venv, sys.executable, "lab")
    course.ensure_venv(venv, sys.executable, "lab")  # done: nothing again
    assert installed == ["requirements.txt"]
    course.ensure_venv(venv, sys.executable, "test")
    course.ensure_venv(venv, sys.executable, "lab")  # the test set holds the learner's
    assert installed == ["requirements.txt", "requirements-dev.txt"]


def test_first_run_leaves_plain_nbval_to_the_load_run_unless_a_notebook_is_named():
    """course.py test's first run sets COURSE_NBVAL_UNDER_LOAD=1: the notebooks' nbval cells
    are not collected from the default paths (the load run compares them under load), but a
    notebook named on the command line is."""

    def collected(*args: str, flag: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not load", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "COURSE_NBVAL_UNDER_LOAD": flag})
        return [ln for ln in proc.stdout.splitlines() if ".ipynb::" in ln]

    assert not collected(flag="1")
    assert collected(flag="0")
    named = collected("notebooks/00_start_here.ipynb", flag="1")
    assert named and all(ln.startswith("notebooks/00_start_here.ipynb::") for ln in named)
