"""Write the navigation line and Binder badge into every notebook, and the course map into the
README and notebook 00, from one place: the course map in ``asynclab.course`` and the
repository address in ``pyproject.toml``.

    python tools/navigation.py          # rewrite what is stale
    python tools/navigation.py --check  # exit 1 and list what is stale (the tests run this)
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from urllib.parse import quote

import nbformat

from asynclab.course import NOTEBOOKS, Notebook

ROOT = Path(__file__).resolve().parents[1]
NAV_TAG = "navigation"
MAP_TAG = "course-map"


def repository_url(root: Path = ROOT) -> str:
    """The public address from ``[project.urls] Repository`` in pyproject.toml."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    url = data["project"]["urls"]["Repository"].rstrip("/")
    if not url.startswith("https://github.com/"):
        raise SystemExit(f"[project.urls] Repository must be a https://github.com/OWNER/REPO "
                         f"address (Binder builds from GitHub); got {url!r}")
    return url


def binder_url(notebook: Notebook | None, root: Path = ROOT) -> str:
    """mybinder.org link that opens JupyterLab on ``notebook`` (or on the file browser)."""
    owner_repo = repository_url(root).removeprefix("https://github.com/")
    link = f"https://mybinder.org/v2/gh/{owner_repo}/HEAD"
    if notebook is not None:
        link += "?labpath=" + quote(f"notebooks/{notebook.filename}", safe="")
    return link


def binder_badge(notebook: Notebook | None, root: Path = ROOT) -> str:
    """The Markdown Binder badge for ``notebook``."""
    return (f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]"
            f"({binder_url(notebook, root)})")


def existing(root: Path = ROOT) -> list[Notebook]:
    """The planned notebooks that exist in ``notebooks/``."""
    return [nb for nb in NOTEBOOKS if (root / "notebooks" / nb.filename).exists()]


def nav_line(notebook: Notebook, root: Path = ROOT) -> str:
    """``Course index · ← previous · next → · Binder badge`` for one notebook."""
    present = {nb.number for nb in existing(root)}
    parts = ["[Course index](../README.md)"]
    index = NOTEBOOKS.index(notebook)
    if index > 0:
        prev = NOTEBOOKS[index - 1]
        parts.append(f"[← {prev.number:02d} {prev.title}]({prev.filename})")
    if index + 1 < len(NOTEBOOKS):
        nxt = NOTEBOOKS[index + 1]
        parts.append(f"[{nxt.number:02d} {nxt.title} →]({nxt.filename})" if nxt.number in present
                     else f"next: {nxt.number:02d} {nxt.title} (coming soon)")
    parts.append(binder_badge(notebook, root))
    return " · ".join(parts)


def course_map(prefix: str, root: Path = ROOT) -> str:
    """A Markdown table of every planned notebook; existing ones are linked."""
    present = {nb.number for nb in existing(root)}
    rows = ["| # | notebook | what you learn |", "|---|---|---|"]
    for nb in NOTEBOOKS:
        title = f"[{nb.title}]({prefix}{nb.filename})" if nb.number in present \
            else f"{nb.title} *(coming soon)*"
        rows.append(f"| {nb.number:02d} | {title} | {nb.summary} |")
    return "\n".join(rows)


def _tagged(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode | None:
    for cell in nb.cells:
        if tag in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def apply_navigation(nb: nbformat.NotebookNode, notebook: Notebook, root: Path = ROOT) -> bool:
    """Put the navigation line (and, in 00, the course map) into ``nb``; True if it changed."""
    changed = False
    nav = _tagged(nb, NAV_TAG)
    text = nav_line(notebook, root)
    if nav is None:
        cell = nbformat.v4.new_markdown_cell(text, metadata={"tags": [NAV_TAG]})
        nb.cells.insert(0, cell)
        changed = True
    elif nav.source != text:
        nav.source, changed = text, True
    cmap = _tagged(nb, MAP_TAG)
    if cmap is not None:
        text = "## The course map\n\n" + course_map("", root)
        if cmap.source != text:
            cmap.source, changed = text, True
    return changed


def _replace_between(text: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise SystemExit(f"README.md needs the markers {start} and {end}")
    return text[:i + len(start)] + "\n" + content + "\n" + text[j:]


def readme_text(root: Path = ROOT) -> str:
    """README.md with its Binder badge and course map regenerated."""
    text = (root / "README.md").read_text()
    text = _replace_between(text, "binder", binder_badge(NOTEBOOKS[0], root))
    return _replace_between(text, "course-map", course_map("notebooks/", root))


def stale(root: Path = ROOT) -> list[str]:
    """Files whose navigation or course map is out of date (nothing is written)."""
    out = []
    for notebook in existing(root):
        path = root / "notebooks" / notebook.filename
        if apply_navigation(nbformat.read(path, as_version=4), notebook, root):
            out.append(f"notebooks/{notebook.filename}")
    if readme_text(root) != (root / "README.md").read_text():
        out.append("README.md")
    return out


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
    for notebook in existing():
        path = ROOT / "notebooks" / notebook.filename
        nb = nbformat.read(path, as_version=4)
        if apply_navigation(nb, notebook):
            nbformat.write(nb, path)
            print("updated", path.relative_to(ROOT))
    text = readme_text()
    if text != (ROOT / "README.md").read_text():
        (ROOT / "README.md").write_text(text)
        print("updated README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
