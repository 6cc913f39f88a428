"""The workshop kit: the learners' copy (built from the committed tree, no solution left, badges
that open it, published on a branch), the offline wheel folders (complete for each system's
markers), the set-up page and the instructor pages (linked, their commands real)."""

from __future__ import annotations

import ast
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import learner_copy
import nbformat
import pytest
import wheelhouse
from conftest import ROOT
from packaging.requirements import Requirement

LINK = re.compile(r"\]\(([^)\s]+)\)")
PAGES = ["SETUP.md", "instructors/checklist.md", "instructors/glossary.md",
         "instructors/offline.md", "instructors/jupyterhub.md"]


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def _notebook(answer: str = "pass") -> nbformat.NotebookNode:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    badge = ("[![Launch on Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/"
             "v2/gh/ada/course/HEAD?labpath=notebooks%2F00_x.ipynb)")
    return nbformat.v4.new_notebook(cells=[
        md(f"[Course index](../README.md) · {badge}", metadata={"tags": ["navigation"]}),
        md("### Exercise 1: add"),
        code(f"def add(a, b):\n    {answer}"),
        md("<details><summary>Hint 1</summary>\n\nThe plus sign.\n</details>\n\n"
           "**Solution** (hidden: click to reveal)"),
        code("def add(a, b):\n    return a + b  # SECRET-1", metadata={"tags": ["solution"]}),
        md("The solution adds: SECRET-2 explains why."),
        md("### Exercise 2: only a solution below\n\n**Solution** (hidden: click to reveal)"),
        code("SECRET = 3", metadata={"tags": ["solution"]}),
        md("## Key points\n\n- adding"),
    ])


@pytest.fixture
def tiny_course(tmp_path):
    """A committed course with a solution, then a working tree with what must not ship."""
    repo = tmp_path / "course"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[project.urls]\nRepository = "https://github.com/ada/course"\n')
    (repo / "README.md").write_text(
        "# Course\n\n<!-- binder:start -->\n[![b](https://mybinder.org/badge_logo.svg)]"
        "(https://mybinder.org/v2/gh/ada/course/HEAD?labpath=notebooks%2F00_x.ipynb)\n"
        "<!-- binder:end -->\n\nSee [the tests](tests/test_x.py) and [set-up](SETUP.md).\n")
    (repo / "SETUP.md").write_text("# Set-up\n")
    (repo / "tests" / "test_x.py").write_text("def test(): pass\n")
    nbformat.write(_notebook(), repo / "notebooks" / "00_x.ipynb")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "course")
    # a rehearsal: an answer typed into the notebook, environments, an untracked notebook
    nbformat.write(_notebook("return a + b  # REHEARSAL"), repo / "notebooks" / "00_x.ipynb")
    for junk in (".venv-repo2docker/lib/x.py", ".venv-3.13/bin/python", "notebooks/mine.ipynb"):
        (repo / junk).parent.mkdir(parents=True, exist_ok=True)
        (repo / junk).write_text("{}")
    return repo


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_copy_comes_from_the_commit_without_solutions(tiny_course, tmp_path):
    out = tmp_path / "copy"
    removed = learner_copy.make_copy(out, tiny_course)
    assert removed == {"00_x.ipynb": 2}
    assert _files(out) == {"README.md", "SETUP.md", "pyproject.toml", "notebooks/00_x.ipynb"}
    nb = nbformat.read(out / "notebooks" / "00_x.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    assert "REHEARSAL" not in text and "def add(a, b):\n    pass" in text  # the committed stub
    assert "SECRET" not in text and "**Solution**" not in text
    # the hints stay; a heading whose only content was the solution line keeps its heading
    assert "The plus sign." in text and "### Exercise 2: only a solution below" in text
    assert nb.cells[-1].source.startswith("## Key points")
    assert "v2/gh/ada/course/learners?labpath=notebooks%2F00_x.ipynb" in nb.cells[0].source
    readme = (out / "README.md").read_text()
    assert "v2/gh/ada/course/learners?labpath=" in readme and "/HEAD?" not in readme
    sha = _git(tiny_course, "rev-parse", "HEAD")
    assert f"(https://github.com/ada/course/blob/{sha}/tests/test_x.py)" in readme
    assert "[set-up](SETUP.md)" in readme and "learners' copy" in readme


def test_the_copy_for_a_separate_repository_opens_that_repository(tiny_course, tmp_path):
    learner_copy.make_copy(tmp_path / "copy", tiny_course,
                           repository="https://github.com/ada/workshop", branch="HEAD")
    readme = (tmp_path / "copy" / "README.md").read_text()
    assert "https://mybinder.org/v2/gh/ada/workshop/HEAD?labpath=" in readme


def test_an_existing_folder_or_a_bad_commit_is_refused(tiny_course, tmp_path):
    with pytest.raises(SystemExit, match="exists already"):
        learner_copy.make_copy(tmp_path, tiny_course)
    with pytest.raises(SystemExit, match="is not a commit"):
        learner_copy.make_copy(tmp_path / "copy", tiny_course, ref="no-such-branch")


def test_publish_commits_the_copy_on_a_branch_and_leaves_the_tree_alone(tiny_course):
    before = _git(tiny_course, "status", "--porcelain")
    first = learner_copy.publish(tiny_course)
    assert _git(tiny_course, "rev-parse", "learners") == first
    files = set(_git(tiny_course, "ls-tree", "-r", "--name-only", "learners").split())
    assert files == {"README.md", "SETUP.md", "pyproject.toml", "notebooks/00_x.ipynb"}
    shown = _git(tiny_course, "show", "learners:notebooks/00_x.ipynb")
    assert "SECRET" not in shown and "REHEARSAL" not in shown
    assert _git(tiny_course, "status", "--porcelain") == before
    assert _git(tiny_course, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert learner_copy.publish(tiny_course) == first  # nothing new: no new commit
    (tiny_course / "SETUP.md").write_text("# Set-up, second edition\n")
    _git(tiny_course, "commit", "-q", "-am", "next workshop")
    second = learner_copy.publish(tiny_course)  # the next workshop: one more commit
    assert _git(tiny_course, "rev-parse", f"{second}^") == first
    assert "second edition" in _git(tiny_course, "show", "learners:SETUP.md")


def test_hub_links_open_each_notebook_of_the_copy():
    link = learner_copy.hub_link("https://hub.example.org/", "00_start_here.ipynb",
                                 "https://github.com/ada/course", "learners")
    assert link == ("https://hub.example.org/hub/user-redirect/git-pull?repo=https%3A%2F%2F"
                    "github.com%2Fada%2Fcourse&branch=learners&urlpath=lab%2Ftree%2Fcourse%2F"
                    "notebooks%2F00_start_here.ipynb")
    default = learner_copy.hub_link("https://hub.example.org", "00_start_here.ipynb",
                                    "https://github.com/ada/workshop", "HEAD")
    assert "branch=" not in default and "workshop%2Fnotebooks" in default
    guide = (ROOT / "instructors" / "jupyterhub.md").read_text()
    owner = learner_copy.repository_url()
    assert learner_copy.hub_link("https://hub.example.org", "00_start_here.ipynb", owner,
                                 "learners") in guide


def test_the_copy_of_this_course(tmp_path):
    """HEAD's learners' copy: no solution cell, no solution text, no announced solution, every
    badge opens the copy, every relative link works."""
    out = tmp_path / "copy"
    removed = learner_copy.make_copy(out, ROOT)
    assert sum(removed.values()) >= 2 * len(removed) > 0
    for name in ("tests", "tools", ".ci", ".github", "requirements-dev.txt", ".git"):
        assert not (out / name).exists(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".venv")]
    assert (out / "course.py").exists() and (out / "binder" / "requirements.txt").exists()
    # the learner's set, without what only maintainers use
    assert (out / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()
    branch_badge = "mybinder.org/v2/gh/asyncio-course/asyncio-hands-on/learners?labpath="
    broken = []
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        original = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        secrets = [c.source for c in original.cells
                   if "solution" in c.metadata.get("tags", []) and c.source.strip()]
        nb = nbformat.read(path, as_version=4)
        sources = "\n".join(c.source for c in nb.cells)
        assert not [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
        assert not [s for s in secrets if s in sources], path.name
        assert "**Solution**" not in sources, path.name
        assert branch_badge + "notebooks%2F" + path.name in nb.cells[0].source
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                broken += _broken_links(path, cell.source)
    for page in out.rglob("*.md"):
        broken += _broken_links(page, page.read_text())
        assert "/HEAD?labpath" not in page.read_text(), page
    assert not broken, broken


def _tree(source: str) -> ast.AST | None:
    """A code cell's syntax tree (top-level await allowed, IPython's ! and % lines left out)."""
    if source.lstrip().startswith("%%"):
        return None
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("!", "%"))]
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        return compile("\n".join(lines), "<cell>", "exec", flags=flags)
    except SyntaxError:
        return None


def _defined(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _needs_a_solution(cells) -> list[str]:
    """Names used by a code cell that only an earlier solution cell defines."""
    only_solutions: set[str] = set()
    elsewhere: set[str] = set()
    needed = []
    for cell in cells:
        tree = _tree(cell.source) if cell.cell_type == "code" else None
        if tree is None:
            continue
        if "solution" in cell.metadata.get("tags", []):
            only_solutions |= _defined(tree) - elsewhere
            continue
        used = {node.id for node in ast.walk(tree)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        needed += sorted((used & only_solutions) - _defined(tree) - elsewhere)
        elsewhere |= _defined(tree)
        only_solutions -= elsewhere
    return needed


def test_a_cell_that_needs_a_solution_is_found():
    cells = _notebook().cells
    assert _needs_a_solution(cells) == []
    cells.append(nbformat.v4.new_code_cell("print(SECRET + add(1, 2))"))
    assert _needs_a_solution(cells) == ["SECRET"]  # add() is also the stub's


def test_no_later_cell_needs_a_name_only_a_solution_defines():
    """The learners' copy runs without its solution cells: a name that only a solution
    defines must not be used by a cell after it. (One test for every notebook: cheaper than
    one per notebook, and the message names the notebook.)"""
    needed = {path.name: names for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
              if (names := _needs_a_solution(nbformat.read(path, as_version=4).cells))}
    assert not needed, f"used after a solution cell that alone defines it: {needed}"


def _broken_links(page: Path, text: str) -> list[str]:
    return [f"{page.name}: {target}" for target in LINK.findall(text)
            if not re.match(r"[a-z]+:", target) and not target.startswith("#")
            and not (page.parent / target.split("#")[0]).exists()]


# -- the offline wheel folders ------------------------------------------------------------

def _wheel(folder: Path, filename: str, *requires: str) -> None:
    name, version = filename.split("-")[:2]
    with zipfile.ZipFile(folder / filename, "w") as archive:
        meta = "".join(f"Requires-Dist: {line}\n" for line in requires)
        archive.writestr(f"{name}-{version}.dist-info/METADATA",
                         f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{meta}")


def test_the_walk_follows_each_systems_markers(tmp_path):
    """tqdm needs colorama on Windows only, ipykernel appnope on macOS only: what pip's
    cross-platform download misses is reported for that system, and only there."""
    _wheel(tmp_path, "tqdm-4.70.1-py3-none-any.whl", 'colorama; platform_system == "Windows"')
    _wheel(tmp_path, "ipykernel-7.0.0-py3-none-any.whl", 'appnope>=0.1.2; sys_platform == "darwin"',
           "pyzmq>=25", 'pytest; extra == "test"')
    _wheel(tmp_path, "pyzmq-27.0.0-cp313-cp313-win_amd64.whl")
    _wheel(tmp_path, "aiohttp-3.14.5-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    roots = [Requirement("tqdm>=4.66"), Requirement("ipykernel>=6.29"),
             Requirement("uvloop>=0.21; sys_platform != 'win32'")]
    targets = wheelhouse.TARGETS
    assert wheelhouse.missing(tmp_path, targets["windows-amd64"], "3.13", roots) == (
        ["colorama"], ["aiohttp-3.14.5-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"])
    absent, wrong = wheelhouse.missing(tmp_path, targets["macos-arm64"], "3.13", roots)
    assert absent == ["appnope>=0.1.2", "pyzmq>=25", "uvloop>=0.21"] and len(wrong) == 2
    absent, wrong = wheelhouse.missing(tmp_path, targets["linux-x86_64"], "3.12", roots)
    assert absent == ["pyzmq>=25", "uvloop>=0.21"]  # a cp313 wheel is not for 3.12


def test_platform_tags_of_each_system():
    mac, linux = wheelhouse.TARGETS["macos-arm64"], wheelhouse.TARGETS["linux-x86_64"]
    assert mac.accepts("macosx_11_0_arm64") and mac.accepts("macosx_10_9_universal2")
    assert not mac.accepts("macosx_10_9_x86_64") and not mac.accepts("macosx_15_0_arm64")
    assert linux.accepts("manylinux_2_28_x86_64") and not linux.accepts("musllinux_1_2_x86_64")
    assert wheelhouse.TARGETS["windows-amd64"].accepts("win_amd64")


def test_a_folder_is_named_for_its_system_and_python(tmp_path):
    target, python = wheelhouse.parse_folder("windows-amd64-py3.13")
    assert target.os_name == "nt" and python == "3.13"
    with pytest.raises(SystemExit, match="not a wheel folder"):
        wheelhouse.parse_folder("wheels")
    empty = tmp_path / "linux-x86_64-py3.13"
    empty.mkdir()
    problems = wheelhouse.check_folder(empty)
    assert "linux-x86_64-py3.13: no wheel for aiohttp>=3.10.8" in problems
    assert not [p for p in problems if "uvloop" in p] or "windows" not in empty.name


def test_the_learners_set_includes_the_build_backend():
    names = {r.name for r in wheelhouse.learner_requirements()}
    assert {"setuptools", "aiohttp", "jupyterlab", "uvloop"} <= names


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.slow  # 2-8 s of downloads: left out of the quick runs
@pytest.mark.skipif(not _pypi_reachable(), reason="needs PyPI (pypi.org:443)")
def test_build_adds_what_pip_leaves_out_for_windows(tmp_path):
    """The real thing, small: tqdm for Windows from this Linux machine. pip's own download
    leaves colorama out (its marker is evaluated here); the tool adds it."""
    folder = wheelhouse.build(tmp_path, wheelhouse.TARGETS["windows-amd64"], "3.13",
                              [Requirement("tqdm>=4.66")])
    names = sorted(p.name.split("-")[0] for p in folder.glob("*.whl"))
    assert names == ["colorama", "tqdm"]
    assert wheelhouse.missing(folder, wheelhouse.TARGETS["windows-amd64"], "3.13",
                              [Requirement("tqdm>=4.66")]) == ([], [])


# -- the pages ----------------------------------------------------------------------------

def test_kit_pages_exist_are_linked_and_link_to_what_exists():
    for page in PAGES:
        path = ROOT / page
        assert not _broken_links(path, path.read_text()), page
        linked_from = ROOT / ("README.md" if page == "SETUP.md" else "instructors/README.md")
        assert f"]({Path(page).name}" in linked_from.read_text() or \
            f"]({page}" in linked_from.read_text(), page


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown page."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_links_into_the_kit_pages_land_on_headings():
    pages = [ROOT / p for p in PAGES] + [ROOT / "README.md", ROOT / "instructors" / "README.md"]
    wrong = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if "#" not in target or re.match(r"[a-z]+:", target):
                continue
            file, anchor = target.split("#", 1)
            path = (page.parent / file) if file else page
            if path.suffix == ".md" and anchor not in _anchors(path):
                wrong.append(f"{page.name}: {target}")
    assert not wrong, wrong


def test_readme_links_the_set_up_page_and_the_instructor_kit():
    readme = (ROOT / "README.md").read_text()
    for target in ("SETUP.md", "instructors/README.md", "instructors/checklist.md",
                   "instructors/offline.md", "instructors/jupyterhub.md",
                   "instructors/glossary.md"):
        assert f"]({target})" in readme, target


def test_set_up_page_commands_name_real_files_and_windows_forms():
    text = (ROOT / "SETUP.md").read_text()
    assert "py course.py lab" in text and "python3 course.py lab" in text
    assert r".venv\Scripts\python" in text and ".venv/bin/python" in text
    assert "No module named 'asynclab'" in text
    for script in set(re.findall(r"(tools/\w+\.py|course\.py)", text)):
        assert (ROOT / script).exists(), script


@pytest.mark.parametrize("version", ["3.9", "3.10"])
def test_an_old_python_is_refused_with_a_sentence(version):
    """macOS's system python3 is 3.9: course.py must say what to do, not crash."""
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    found += [Path(p) for p in ("/usr/bin/python" + version,) if Path(p).exists()]
    if not found:
        pytest.skip(f"no Python {version} here")
    done = subprocess.run([found[0], str(ROOT / "course.py"), "lab"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode != 0
    assert "The course needs Python 3.11 or newer" in done.stderr + done.stdout


def test_dockerignore_keeps_environments_out_of_images():
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    for pattern in (".venv*", ".git", "test-artifacts", "**/__pycache__"):
        assert pattern in lines
    # what Binder and repo2docker need stays in
    for needed in ("binder", "src", "notebooks", "pyproject.toml", "data", "README.md"):
        assert not any(line.rstrip("/") == needed for line in lines), needed


def test_wheelhouse_help_runs():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "wheelhouse.py"), "--help"],
                          capture_output=True, text=True, check=True)
    assert "build" in done.stdout and "check" in done.stdout
