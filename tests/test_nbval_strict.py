"""nbval in strict mode protects the course: a changed printed result fails, a changed timing
does not (the sanitize file masks it)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT

SOURCE = ROOT / "notebooks" / "00_start_here.ipynb"
VERDICT = "the interleaving chef needed less than three quarters of the time: True"


def _run_nbval(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--nbval", "--nbval-current-env", f"--nbval-sanitize-with={ROOT / 'tests/sanitize.cfg'}",
         str(path)],
        cwd=path.parent, capture_output=True, text=True, timeout=300)


def _copy_with(tmp_path, old: str, new: str):
    nb = nbformat.read(SOURCE, as_version=4)
    hits = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and old in output.text:
                output.text = output.text.replace(old, new)
                hits += 1
    assert hits == 1, f"expected {old!r} once in the stored outputs of {SOURCE.name}"
    path = tmp_path / SOURCE.name
    nbformat.write(nb, path)
    return path


@pytest.fixture
def workdir(tmp_path):
    shutil.copytree(ROOT / "data", tmp_path / "data", dirs_exist_ok=True)
    return tmp_path


def test_altered_printed_result_fails(workdir):
    path = _copy_with(workdir, VERDICT, VERDICT.replace("True", "False"))
    result = _run_nbval(path)
    assert result.returncode == 1, result.stdout
    assert "1 failed" in result.stdout


def test_only_a_different_timing_passes(workdir):
    nb = nbformat.read(SOURCE, as_version=4)
    stored = next(o.text for c in nb.cells for o in c.get("outputs", [])
                  if o.get("output_type") == "stream" and "the waiting chef took" in o.text)
    path = _copy_with(workdir, stored, "the waiting chef took 9.87 s\n")
    result = _run_nbval(path)
    assert result.returncode == 0, result.stdout
