"""Write everything that is generated from the lessons' metadata (``asynclab.lessons``) and
the repository address (``pyproject.toml``):

- in every notebook: the navigation line with its Binder badge, the title line, the
  ``**Time:**`` line, the set-up check before the first code cell, and (in 00) the course map;
- in the README: the Binder badge and the course map;
- in the instructor guide: each notebook's heading (title and minutes) and the schedule tables.

    python tools/navigation.py          # rewrite what is stale
    python tools/navigation.py --check  # exit 1 and list what is stale (the tests run this)
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import nbformat

from asynclab.lessons import LESSONS, SCHEDULES, Lesson, existing

ROOT = Path(__file__).resolve().parents[1]
NAV_TAG = "navigation"
MAP_TAG = "course-map"
SETUP_TAG = "course-setup"
#: The first code cell of every notebook. Opened in another Jupyter (Anaconda, VS Code, a
#: system install), a notebook's imports fail with a bare "No module named 'asynclab'"; this
#: cell stops there first, with what to do.
SETUP_SOURCE = """\
# Set-up check: is this notebook running on the course's Python? (The same in every notebook.)
import importlib.util

if importlib.util.find_spec("asynclab") is None:
    raise ModuleNotFoundError(
        "No module named 'asynclab': this notebook runs on a Python that is not the course's. "
        "Open the course with `python3 course.py lab` (Windows: `py course.py lab`) in its "
        "folder, or choose the course's kernel: SETUP.md, 'When something goes wrong'.",
        name="asynclab")"""


def repository_url(root: Path = ROOT) -> str:
    """The public address from ``[project.urls] Repository`` in pyproject.toml."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    url = data["project"]["urls"]["Repository"].rstrip("/")
    if not url.startswith("https://github.com/"):
        raise SystemExit(f"[project.urls] Repository must be a https://github.com/OWNER/REPO "
                         f"address (Binder builds from GitHub); got {url!r}")
    return url


def binder_url(notebook: Lesson | None, root: Path = ROOT) -> str:
    """mybinder.org link that opens JupyterLab on ``notebook`` (or on the file browser)."""
    owner_repo = repository_url(root).removeprefix("https://github.com/")
    link = f"https://mybinder.org/v2/gh/{owner_repo}/HEAD"
    if notebook is not None:
        link += "?labpath=" + quote(f"notebooks/{notebook.filename}", safe="")
    return link


def binder_badge(notebook: Lesson | None, root: Path = ROOT) -> str:
    """The Markdown Binder badge for ``notebook``."""
    return (f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]"
            f"({binder_url(notebook, root)})")


def nav_line(notebook: Lesson, root: Path = ROOT) -> str:
    """``Course index · ← previous · next → · Binder badge`` for one notebook."""
    present = {nb.number for nb in existing(root)}
    parts = ["[Course index](../README.md)"]
    index = LESSONS.index(notebook)
    if index > 0:
        prev = LESSONS[index - 1]
        parts.append(f"[← {prev.number:02d} {prev.title}]({prev.filename})"
                     if prev.number in present
                     else f"previous: {prev.number:02d} {prev.title} (coming soon)")
    if index + 1 < len(LESSONS):
        nxt = LESSONS[index + 1]
        parts.append(f"[{nxt.number:02d} {nxt.title} →]({nxt.filename})" if nxt.number in present
                     else f"next: {nxt.number:02d} {nxt.title} (coming soon)")
    parts.append(binder_badge(notebook, root))
    return " · ".join(parts)


def course_map(prefix: str, root: Path = ROOT) -> str:
    """A Markdown table of every planned notebook; existing ones are linked."""
    present = {nb.number for nb in existing(root)}
    rows = ["| # | notebook | what you learn |", "|---|---|---|"]
    for nb in LESSONS:
        title = f"[{nb.title}]({prefix}{nb.filename})" if nb.number in present \
            else f"{nb.title} *(coming soon)*"
        rows.append(f"| {nb.number:02d} | {title} | {nb.summary} |")
    return "\n".join(rows)


def _tagged(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode | None:
    for cell in nb.cells:
        if tag in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


TIME_LINE = re.compile(r"^\*\*Time:\*\*.*$", re.M)


def apply_navigation(nb: nbformat.NotebookNode, notebook: Lesson, root: Path = ROOT) -> bool:
    """Put the navigation line, the title and time lines (and, in 00, the course map) into
    ``nb``; True if it changed."""
    changed = False
    if len(nb.cells) > 1 and nb.cells[1].cell_type == "markdown":
        intro = nb.cells[1]
        text = re.sub(r"\A# .*$", f"# {notebook.label}", intro.source, count=1, flags=re.M)
        text = TIME_LINE.sub(notebook.time_line, text, count=1)
        if text != intro.source:
            intro.source, changed = text, True
    nav = _tagged(nb, NAV_TAG)
    text = nav_line(notebook, root)
    if nav is None:
        cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [NAV_TAG]})
        nb.cells.insert(0, cell)
        changed = True
    elif nav.source != text:
        nav.source, changed = text, True
    changed |= _apply_setup_cell(nb)
    cmap = _tagged(nb, MAP_TAG)
    if cmap is not None:
        text = "## The course map\n\n" + course_map("", root)
        if cmap.source != text:
            cmap.source, changed = text, True
    return changed


def _apply_setup_cell(nb: nbformat.NotebookNode) -> bool:
    """Make the set-up check the first code cell, with the current source; True if changed.

    A new one is numbered 1 and the executed cells after it one more, as if the notebook had
    run with it (it prints nothing and changes nothing when ``asynclab`` is there)."""
    setup = _tagged(nb, SETUP_TAG)
    if setup is not None:
        if setup.source == SETUP_SOURCE:
            return False
        setup.source = SETUP_SOURCE
        return True
    code = [c for c in nb.cells if c.cell_type == "code"]
    executed = bool(code) and all(c.get("execution_count") for c in code if c.source.strip())
    cell = nbformat.v4.new_code_cell(SETUP_SOURCE, metadata={"tags": [SETUP_TAG]})
    cell.id = SETUP_TAG  # the same in every notebook, so re-generating changes nothing
    if executed:
        for c in code:
            if c.get("execution_count"):
                c.execution_count += 1
                for output in c.get("outputs", []):
                    if output.get("execution_count"):
                        output["execution_count"] += 1
        cell.execution_count = 1
    first = nb.cells.index(code[0]) if code else len(nb.cells)
    nb.cells.insert(first, cell)
    return True


def _replace_between(text: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise SystemExit(f"the file needs the markers {start} and {end}")
    return text[:i + len(start)] + "\n" + content + "\n" + text[j:]


def readme_text(root: Path = ROOT) -> str:
    """README.md with its Binder badge and course map regenerated."""
    text = (root / "README.md").read_text()
    text = _replace_between(text, "binder", binder_badge(LESSONS[0], root))
    return _replace_between(text, "course-map", course_map("notebooks/", root))


HEADING = re.compile(r"^### (\d\d) · .*: \d+ min teaching · \d+ min exercises$", re.M)


def schedule_table(name: str) -> str:
    """The instructor guide's table for the schedule ``name`` (a heading with its length, then
    one row per item, with the clock)."""
    schedule = SCHEDULES[name]
    hours, minutes = divmod(schedule.minutes, 60)
    rows = [f"### {schedule.name} ({hours} h {minutes:02d} with breaks)", "",
            "| time | what | minutes |", "|---|---|---|"]
    for start, what, length in schedule.rows():
        rows.append(f"| {start // 60}:{start % 60:02d} | {what} | {length} |")
    return "\n".join(rows)


def guide_text(root: Path = ROOT) -> str:
    """The instructor guide with each notebook's heading and the schedules regenerated."""
    text = (root / "instructors" / "README.md").read_text()
    labels = {f"{entry.number:02d}": entry for entry in LESSONS}

    def heading(match: re.Match[str]) -> str:
        entry = labels[match.group(1)]
        return (f"### {entry.label}: {entry.teaching} min teaching · "
                f"{entry.exercises} min exercises")

    text = HEADING.sub(heading, text)
    for name in SCHEDULES:
        text = _replace_between(text, f"schedule:{name}", schedule_table(name))
    return text


def _pending(root: Path) -> list[tuple[str, Callable[[], None]]]:
    """(file, how to rewrite it) for every file whose generated parts are out of date."""
    pending: list[tuple[str, Callable[[], None]]] = []
    for notebook in existing(root):
        path = root / "notebooks" / notebook.filename
        nb = nbformat.read(path, as_version=4)
        if apply_navigation(nb, notebook, root):
            pending.append((f"notebooks/{notebook.filename}",
                            lambda nb=nb, path=path: nbformat.write(nb, path)))
    for name, text in (("README.md", readme_text(root)),
                       ("instructors/README.md", guide_text(root))):
        if text != (root / name).read_text():
            pending.append((name, lambda name=name, text=text: (root / name).write_text(text)))
    return pending


def stale(root: Path = ROOT) -> list[str]:
    """Files whose generated parts are out of date (nothing is written)."""
    return [name for name, _ in _pending(root)]


def write(root: Path = ROOT) -> list[str]:
    """Rewrite every stale file; return their names."""
    pending = _pending(root)
    for _, rewrite in pending:
        rewrite()
    return [name for name, _ in pending]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    if args.check:
        bad = stale()
        if bad:
            print("Stale navigation (run `python tools/navigation.py`):", *bad, sep="\n  ")
            return 1
        print("navigation is up to date")
        return 0
    for name in write():
        print("updated", name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
