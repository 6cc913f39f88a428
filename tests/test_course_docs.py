"""The documents around the notebooks agree with the notebooks: the README's two commands,
the anatomy of every notebook, and the instructor guide's minutes."""

from __future__ import annotations

import re

import nbformat
import pytest
from conftest import ROOT

from asynclab.lessons import SCHEDULES, existing, lesson

EXISTING = existing(ROOT)
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


#: "NN ... (coming soon)": a lesson named as not written yet, in the text of a notebook or a README.
SOON = re.compile(r"\b(\d\d)\b[^()\n]{0,60}\(coming soon\)")


def test_no_written_lesson_is_called_coming_soon():
    """A notebook written before the next one says the next is coming soon; once it exists,
    that sentence must become a link (the navigation line is generated, the prose is not)."""
    present = {entry.number for entry in EXISTING}
    stale = [f"{path.relative_to(ROOT)}: {found.group(0)!r}" for path, text in _documents()
             for found in SOON.finditer(text) if int(found.group(1)) in present]
    assert not stale, "these lessons exist now, link to them: " + ", ".join(stale)


def test_schedules_add_up_with_the_lessons_minutes():
    """A schedule's clock moves on by each item's minutes, and a lesson's row gives the minutes
    of its metadata (the notebook's Time line and the guide's tables are generated from it:
    tools/navigation.py --check, in tests/test_tools.py, proves they are up to date)."""
    for schedule in SCHEDULES.values():
        rows = schedule.rows()
        assert rows[0][0] == 0 and rows[-1][1:] == ("end", "")
        for (start, what, length), (following, _, _) in zip(rows, rows[1:], strict=False):
            assert following - start == sum(int(n) for n in re.findall(r"\d+", length)), what
            if number := re.match(r"(\d\d) ", what):
                entry = lesson(int(number.group(1)))
                assert length == f"{entry.teaching} + {entry.exercises}"


def test_every_existing_lesson_has_its_minutes():
    assert all(entry.teaching and entry.exercises for entry in EXISTING)


def _unfinished(root) -> list[str]:
    """Files of existing lessons that still hold the scaffold's TODO markers."""
    places = [root / "instructors" / "README.md"]
    for entry in existing(root):
        places += [root / "notebooks" / entry.filename,
                   root / "src" / "asynclab" / "checks" / f"{entry.checks_module}.py",
                   root / entry.test_file]
    return [str(p.relative_to(root)) for p in places if p.exists() and "TODO" in p.read_text()]


def test_no_lesson_is_left_with_scaffold_todos():
    unfinished = _unfinished(ROOT)
    assert not unfinished, "replace the TODO markers tools/new_lesson.py left in: " + \
        ", ".join(unfinished)
