"""Create a new lesson's files from its entry in ``src/asynclab/lessons.py``.

    python tools/new_lesson.py 6

Before: type the lesson's minutes (your estimate: teaching, exercises) into its entry in
``src/asynclab/lessons.py``; its number, slug, title and summary are there already.
It then creates, all passing the anatomy tests, with TODO markers where the content goes
(``tests/test_tools.py`` fails while a committed notebook still holds one):

- ``notebooks/NN_slug.ipynb``: navigation, title, objectives, prerequisites and time, a first
  measured section, two exercises (stub, check, a ladder of hints, a hidden solution), key
  points; executed in a fresh kernel, so nbval passes at once;
- ``src/asynclab/checks/<slug>.py``: two worked example checks that follow the rules;
- ``tests/test_checks_<slug>.py``: their wrong-answer catalogue and the under-load test;
- the lesson's entry in ``instructors/README.md``;

and regenerates the navigation, the course map and the instructor headings
(``tools/navigation.py``). See CONTRIBUTING.md, "Adding a lesson".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from string import Template

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from asynclab.lessons import LESSONS, Lesson, lesson

ROOT = Path(__file__).resolve().parents[1]

#: A solution cell: tagged, and its source hidden (tools/hygiene.py checks both).
HIDDEN_SOLUTION = {"tags": ["solution"], "jupyter": {"source_hidden": True}}
TEMPLATES = Path(__file__).resolve().parent / "lesson_template"
GUIDE_SECTION = "## The notebooks"


def _fill(text: str, entry: Lesson) -> str:
    return Template(text).substitute(NN=f"{entry.number:02d}", TITLE=entry.title,
                                     MODULE=entry.checks_module, SLUG=entry.slug)


def notebook(entry: Lesson) -> nbformat.NotebookNode:
    """The notebook skeleton of ``entry``, with the full anatomy."""
    index = LESSONS.index(entry)
    previous = LESSONS[index - 1] if index else None
    prereq = (f"[{previous.label}]({previous.filename})" if previous
              else "Python functions, loops and classes.")
    module, fetch_all = entry.checks_module, f"check_{entry.checks_module}_fetch_all"
    pause = f"check_{entry.checks_module}_pause"
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md("", metadata={"tags": ["navigation"]}),
        md(f"# {entry.label}\n\nTODO: two or three sentences: what this notebook is about, and "
           "how it continues the one before.\n\n**You will learn**\n- TODO: an objective;\n"
           "- TODO: an objective;\n- TODO: an objective.\n\n"
           f"**Prerequisites:** {prereq}\n\n{entry.time_line}"),
        md("## 1. TODO: the first idea\n\nTODO: the concept in a few sentences. Then code that "
           "shows it, measured:"),
        code("import asyncio\n\nimport aiohttp\n\nfrom asynclab import Timeline\n\n"
             "timeline = Timeline()\n\n\nasync def step(name, seconds):\n"
             "    async with timeline.track(name):\n        await asyncio.sleep(seconds)\n\n\n"
             "await asyncio.gather(step(\"a\", 0.2), step(\"b\", 0.1))\n"
             "print(f\"both steps took {timeline.total:.2f} s\")\n"
             "fig = timeline.plot(ideal=0.2)"),
        md("TODO: what the output shows, in the numbers it printed."),
        md("## Exercises\n\n### Exercise 1: TODO\n\nTODO: the task. `fetch_all(base_url, ids)` "
           "returns the names of the users `ids`, in that order, from the course's `DemoAPI`. "
           "Make the requests wait together."),
        code(f"from asynclab.checks.{module} import {fetch_all}\n\n\n"
             "async def name_of(session, base_url, user_id):\n"
             "    async with session.get(f\"{base_url}/users/{user_id}\") as response:\n"
             "        response.raise_for_status()\n"
             "        return (await response.json())[\"name\"]\n\n\n"
             "async def fetch_all(base_url, ids):\n"
             "    async with aiohttp.ClientSession() as session:\n"
             "        return [await name_of(session, base_url, i) for i in ids]\n\n\n"
             f"await {fetch_all}(fetch_all)"),
        md("<details><summary>Hint 1</summary>\n\nTODO: a nudge: which section, which idea.\n"
           "</details>\n\n<details><summary>Hint 2</summary>\n\nTODO: the API to use.\n"
           "</details>\n\n**Solution** (hidden: click to reveal)"),
        code("async def fetch_all(base_url, ids):\n"
             "    async with aiohttp.ClientSession() as session:\n"
             "        return await asyncio.gather(*(name_of(session, base_url, i) for i in ids))"
             f"\n\n\nawait {fetch_all}(fetch_all)", metadata=HIDDEN_SOLUTION),
        md("### Exercise 2: TODO\n\nTODO: the task. `pause(seconds)` waits `seconds` without "
           "blocking the event loop and returns `seconds`."),
        code(f"from asynclab.checks.{module} import {pause}\n\n\n"
             "async def pause(seconds):\n    return seconds\n\n\n"
             f"await {pause}(pause)"),
        md("<details><summary>Hint 1</summary>\n\nTODO: a nudge.\n</details>\n\n"
           "<details><summary>Hint 2</summary>\n\nTODO: the API to use.\n</details>\n\n"
           "**Solution** (hidden: click to reveal)"),
        code("async def pause(seconds):\n    await asyncio.sleep(seconds)\n    return seconds"
             f"\n\n\nawait {pause}(pause)", metadata=HIDDEN_SOLUTION),
        md("## Key points\n\n- TODO: a key point.\n- TODO: a key point.\n- TODO: a key point.\n\n"
           "**Next:** TODO"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    return nb


def guide_entry(entry: Lesson) -> str:
    """The lesson's entry in the instructor guide (its heading is generated)."""
    return (f"### {entry.label}: {entry.teaching} min teaching · {entry.exercises} min exercises\n"
            "- **Objectives:** TODO\n- **Key points:** TODO\n- **Learners ask:** TODO\n")


def add_guide_entry(text: str, entry: Lesson) -> str:
    """Insert ``entry``'s section into the guide's "The notebooks" part, in course order."""
    start = text.index(GUIDE_SECTION)
    end = text.find("\n## ", start + len(GUIDE_SECTION))
    end = len(text) if end < 0 else end + 1
    later = [f"### {e.number:02d} · " for e in LESSONS if e.number > entry.number]
    where = min([i for i in (text.find(h, start, end) for h in later) if i >= 0], default=end)
    return text[:where] + guide_entry(entry) + "\n" + text[where:]


def create(entry: Lesson, root: Path = ROOT, execute: bool = True) -> list[Path]:
    """Write the lesson's files under ``root``; return them. Refuses to overwrite."""
    if not (entry.teaching and entry.exercises):
        raise SystemExit(f"Type the minutes of lesson {entry.number} (teaching, exercises) into "
                         "its entry in src/asynclab/lessons.py first: your estimate, e.g. "
                         f'({entry.number}, "{entry.slug}", ..., 25, 20).')
    paths = {
        "notebook": root / "notebooks" / entry.filename,
        "checks": root / "src" / "asynclab" / "checks" / f"{entry.checks_module}.py",
        "tests": root / entry.test_file,
    }
    exists = [str(p.relative_to(root)) for p in paths.values() if p.exists()]
    if exists:
        raise SystemExit(f"Lesson {entry.number} already has {', '.join(exists)}: nothing "
                         "written.")
    paths["checks"].write_text(_fill((TEMPLATES / "checks.py.tmpl").read_text(), entry))
    paths["tests"].write_text(_fill((TEMPLATES / "test_checks.py.tmpl").read_text(), entry))
    nbformat.write(notebook(entry), paths["notebook"])
    guide = root / "instructors" / "README.md"
    guide.write_text(add_guide_entry(guide.read_text(), entry))

    import navigation  # noqa: PLC0415 (tools/ is on sys.path when run as a script)
    navigation.write(root)
    if execute:
        import run_notebooks  # noqa: PLC0415
        run_notebooks.run(paths["notebook"])
    return [*paths.values(), guide]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("number", type=int, help="the lesson's number in src/asynclab/lessons.py")
    parser.add_argument("--no-execute", action="store_true",
                        help="do not run the new notebook (its outputs stay empty)")
    args = parser.parse_args()
    try:
        entry = lesson(args.number)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    for path in create(entry, execute=not args.no_execute):
        print("wrote", path.relative_to(ROOT))
    print("Next: replace every TODO, then run the tests (CONTRIBUTING.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
