"""The documents around the notebooks agree with the notebooks: the README's two commands,
the anatomy of every notebook, and the instructor guide's minutes."""

from __future__ import annotations

import re

import nbformat
import pytest
from conftest import ROOT

from asynclab.course import NOTEBOOKS

EXISTING = [nb for nb in NOTEBOOKS if (ROOT / "notebooks" / nb.filename).exists()]
TIME = re.compile(r"\*\*Time:\*\* (\d+) min teaching · (\d+) min exercises")


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_readme_has_exactly_two_commands():
    readme = (ROOT / "README.md").read_text()
    start = readme[:readme.index("## The course map")]
    blocks = re.findall(r"```bash\n(.*?)```", start, re.S)
    assert [b.strip() for b in blocks] == ["python3 course.py lab", "python3 course.py test"]


@pytest.mark.parametrize("notebook", EXISTING, ids=lambda n: n.filename)
def test_notebook_anatomy(notebook):
    nb = nbformat.read(ROOT / "notebooks" / notebook.filename, as_version=4)
    text = _markdown(nb)
    assert nb.cells[0].metadata.get("tags") == ["navigation"]
    assert nb.cells[1].source.startswith(f"# {notebook.number:02d} · ")
    assert "**You will learn**" in text and "**Prerequisites:**" in text
    assert TIME.search(text), "needs '**Time:** N min teaching · N min exercises'"
    assert "## Key points" in text
    exercises = len(re.findall(r"^### Exercise \d", text, re.M))
    solutions = sum("solution" in c.metadata.get("tags", []) for c in nb.cells)
    assert exercises >= 2 and solutions >= exercises
    checks = sum("await check_" in c.source for c in nb.cells if c.cell_type == "code")
    assert checks >= 2 * exercises  # the stub's check and the solution's check


@pytest.mark.parametrize("notebook", EXISTING, ids=lambda n: n.filename)
def test_instructor_guide_has_the_notebooks_minutes(notebook):
    nb = nbformat.read(ROOT / "notebooks" / notebook.filename, as_version=4)
    teach, practise = TIME.search(_markdown(nb)).groups()
    guide = (ROOT / "instructors" / "README.md").read_text()
    heading = (f"### {notebook.number:02d} · {notebook.title}: {teach} min teaching · "
               f"{practise} min exercises")
    assert heading in guide


LINK = re.compile(r"\]\(([^)\s]+)\)")


def _documents():
    """(path, Markdown text) of every notebook's Markdown cells and every README."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        yield path, _markdown(nbformat.read(path, as_version=4))
    for path in [ROOT / "README.md", *sorted(ROOT.glob("*/README.md"))]:
        yield path, path.read_text()


def test_relative_links_point_to_files_that_exist():
    broken = []
    for path, text in _documents():
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor in the same page
            if not (path.parent / target.split("#")[0]).exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, "links to missing files (a notebook not written yet?): " + ", ".join(broken)


def test_half_day_schedule_adds_up():
    """Each row of the instructor guide's half-day table starts when the one before ends, and
    a notebook's row gives the minutes printed at the top of that notebook."""
    guide = (ROOT / "instructors" / "README.md").read_text()
    table = guide[guide.index("### Half day"):guide.index("### Full day")]
    rows = re.findall(r"^\| (\d+):(\d\d) \| ([^|]*?) \|\s*([^|]*?)\s*\|$", table, re.M)
    assert rows and rows[-1][2] == "end", "the table ends with an 'end' row"
    minutes = {nb.number: TIME.search(_markdown(nbformat.read(ROOT / "notebooks" / nb.filename,
                                                              as_version=4))).groups()
               for nb in EXISTING}
    clock = 0
    for hours, mins, what, length in rows:
        assert int(hours) * 60 + int(mins) == clock, f"{what!r} should start at {clock} min"
        if number := re.match(r"(\d\d) ", what):
            teach, practise = minutes[int(number.group(1))]
            assert length == f"{teach} + {practise}", f"{what!r}: the notebook says {teach} + " \
                                                      f"{practise}"
        if what != "end":
            clock += sum(int(n) for n in re.findall(r"\d+", length))
