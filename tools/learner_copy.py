"""Make the learners' copy of the course: the committed course without the worked solutions.

    python tools/learner_copy.py OUTDIR            # write the copy to a new folder
    python tools/learner_copy.py --publish         # commit it to the branch `learners`
    python tools/learner_copy.py --hub-links URL   # nbgitpuller links to it on a JupyterHub

The copy is built from a commit (``--ref``, default ``HEAD``) with ``git archive``, never from
the working tree: virtual environments, rehearsal answers and anything not committed stay out.
In every notebook it removes

- the cells tagged ``solution`` (the hidden worked solutions),
- the Markdown cells right after a solution that discuss it (up to the next heading),
- the "**Solution** (hidden: click to reveal)" line above each one (it would announce nothing).

Checks and hints stay, so learners still get feedback. What only maintainers use stays out:
the tests (they hold the reference answers), the tools, CI and ``requirements-dev.txt``;
``requirements.txt`` (what a learner needs) and Binder's pins stay. Relative links to what was
left out point to the course's repository instead.

Where it is published decides its links: every Binder badge opens the copy itself, on
``--branch`` (default ``learners``) of ``--repository`` (default: this course's address in
pyproject.toml; a separate repository, e.g. ``https://github.com/ORG/asyncio-workshop``, with
``--branch HEAD`` for its default branch). ``--publish`` makes a commit of the copy on that
branch of this git repository (without touching the working tree or the index); then
``git push origin learners``. instructors/README.md ("The learners' copy") says which to use.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import quote, urlencode

import nbformat

ROOT = Path(__file__).resolve().parents[1]
#: Top-level entries that are for maintainers only.
MAINTAINERS_ONLY = ("tests", "tools", ".ci", ".github", "requirements-dev.txt", "conftest.py")
DEFAULT_BRANCH = "learners"
SOLUTION_LINE = re.compile(r"\n*^\*\*Solution\*\*[^\n]*\Z", re.M)
LINK = re.compile(r"\]\(([^)\s]+)\)")
BINDER = re.compile(r"https://mybinder\.org/v2/gh/([^/\s]+/[^/\s]+)/([^?)\s]+)")


def repository_url(root: Path = ROOT) -> str:
    """The course's public address, ``[project.urls] Repository`` in pyproject.toml."""
    import tomllib

    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["urls"]["Repository"].rstrip("/")


def _is_solution(cell) -> bool:
    return "solution" in cell.get("metadata", {}).get("tags", [])


def strip_solutions(path: Path) -> int:
    """Remove the worked solutions from one notebook (see the module's doc); return how many
    solution cells were removed."""
    nb = nbformat.read(path, as_version=4)
    keep, removed, after_solution = [], 0, False
    for cell in nb.cells:
        if _is_solution(cell):
            removed += 1
            after_solution = True
            if keep and keep[-1].cell_type == "markdown":
                keep[-1].source = SOLUTION_LINE.sub("", keep[-1].source).rstrip()
                if not keep[-1].source:
                    keep.pop()
            continue
        if after_solution and cell.cell_type == "markdown" and not cell.source.startswith("#"):
            continue  # a note on the solution just removed
        after_solution = False
        keep.append(cell)
    if removed:
        nb.cells = keep
        nbformat.write(nb, path)
    return removed


def export(root: Path, ref: str, out: Path) -> str:
    """Write the files of commit ``ref`` of the git repository ``root`` into ``out`` (a new
    folder); return the commit's full hash."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=root,
                            capture_output=True, text=True)
    if commit.returncode != 0:
        raise SystemExit(f"{ref!r} is not a commit of {root}: {commit.stderr.strip()}")
    sha = commit.stdout.strip()
    archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=root,
                             capture_output=True, check=True).stdout
    out.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.11.4+
            tar.extractall(out, filter="data")
        else:  # pragma: no cover
            tar.extractall(out)  # noqa: S202 (our own repository's archive)
    return sha


def _remove(out: Path, names: tuple[str, ...]) -> None:
    import shutil

    for name in names:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def binder_base(repository: str, branch: str) -> str:
    """``https://mybinder.org/v2/gh/OWNER/REPO/BRANCH``."""
    owner_repo = repository.removeprefix("https://github.com/").strip("/")
    return f"https://mybinder.org/v2/gh/{owner_repo}/{quote(branch, safe='')}"


def _fix_text(text: str, page: Path, out: Path, binder: str, blob: str) -> str:
    """Binder badges that open the copy; relative links to files left out of it point to the
    course's repository instead."""
    text = BINDER.sub(binder, text)

    def link(match: re.Match[str]) -> str:
        target = match.group(1)
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path = (page.parent / target.split("#")[0]).resolve()
        if path.exists():
            return match.group(0)
        try:
            inside = path.relative_to(out.resolve()).as_posix()
        except ValueError:
            return match.group(0)
        anchor = "#" + target.split("#", 1)[1] if "#" in target else ""
        return f"]({blob}/{inside}{anchor})"

    return LINK.sub(link, text)


NOTE = """
> **This is the learners' copy** of the course: the exercises keep their checks and hints;
> the worked solutions are shared after the workshop. How to install it: [SETUP.md](SETUP.md).
> (The maintainers' tests and tools are not in it: `course.py test` is for the full course.)
"""


def make_copy(out: Path, root: Path = ROOT, ref: str = "HEAD", repository: str | None = None,
              branch: str = DEFAULT_BRANCH) -> dict[str, int]:
    """Write the learners' copy of commit ``ref`` into the new folder ``out``; return the
    number of solution cells removed per notebook."""
    if out.exists():
        raise SystemExit(f"{out} exists already: choose a new folder")
    home = repository_url(root)
    sha = export(root, ref, out)
    _remove(out, MAINTAINERS_ONLY)
    removed = {p.name: strip_solutions(p) for p in sorted((out / "notebooks").glob("*.ipynb"))}
    binder = binder_base(repository or home, branch)
    blob = f"{home}/blob/{sha}"
    for page in sorted(out.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        fixed = _fix_text(text, page, out, binder, blob)
        if page == out / "README.md":
            fixed = re.sub(r"(<!-- binder:end -->\n)", r"\1" + NOTE.replace("\\", "\\\\"),
                           fixed, count=1)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        changed = False
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                fixed = _fix_text(cell.source, path, out, binder, blob)
                if fixed != cell.source:
                    cell.source, changed = fixed, True
        if changed:
            nbformat.write(nb, path)
    return removed


def publish(root: Path = ROOT, ref: str = "HEAD", repository: str | None = None,
            branch: str = DEFAULT_BRANCH) -> str:
    """Commit the learners' copy of ``ref`` on ``branch`` of the repository at ``root`` (a new
    commit on top of the branch if it exists); the working tree and the index are untouched.
    Return the new commit's hash."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "copy"
        make_copy(out, root, ref, repository, branch)
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git_dir = subprocess.run(["git", "rev-parse", "--absolute-git-dir"], cwd=root,
                                 check=True, capture_output=True, text=True).stdout.strip()

        def git(*args: str) -> str:
            return subprocess.run(["git", f"--git-dir={git_dir}", f"--work-tree={out}", *args],
                                  cwd=out, env=env, check=True, capture_output=True,
                                  text=True).stdout.strip()

        git("add", "--all", "--force", ".")
        tree = git("write-tree")
        source = subprocess.run(["git", "rev-parse", "--short", ref], cwd=root, check=True,
                                capture_output=True, text=True).stdout.strip()
        parent = subprocess.run(["git", "rev-parse", "--verify", "--quiet",
                                 f"refs/heads/{branch}"], cwd=root, capture_output=True,
                                text=True).stdout.strip()
        if parent and git("rev-parse", f"{parent}^{{tree}}") == tree:
            return parent  # the same copy as last time: nothing to commit
        parents = ["-p", parent] if parent else []
        commit = git("commit-tree", tree, *parents, "-m",
                     f"Learners' copy of {source} (tools/learner_copy.py)")
        git("update-ref", f"refs/heads/{branch}", commit)
        return commit


def hub_link(hub: str, notebook: str, repository: str, branch: str) -> str:
    """An nbgitpuller link: the hub clones (or updates) the learners' copy into the learner's
    home and opens ``notebook`` in JupyterLab."""
    folder = repository.rstrip("/").rsplit("/", 1)[-1]
    fields = {"repo": repository, "branch": branch,
              "urlpath": f"lab/tree/{folder}/notebooks/{notebook}"}
    if branch == "HEAD":
        del fields["branch"]  # nbgitpuller then takes the repository's default branch
    query = urlencode(fields)
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, nargs="?", help="a new folder for the copy")
    parser.add_argument("--ref", default="HEAD", help="the commit to copy (default HEAD)")
    parser.add_argument("--repository", help="where the copy is published (default: this "
                        "course's address in pyproject.toml)")
    parser.add_argument("--branch", default=DEFAULT_BRANCH,
                        help=f"its branch there (default {DEFAULT_BRANCH}; HEAD for the "
                        "default branch of a separate repository)")
    parser.add_argument("--publish", action="store_true",
                        help="commit the copy on --branch of this repository")
    parser.add_argument("--hub-links", metavar="HUB_URL",
                        help="print an nbgitpuller link per notebook for this JupyterHub")
    args = parser.parse_args()
    repository = args.repository or repository_url()
    if args.hub_links:
        from asynclab.lessons import existing

        for entry in existing(ROOT):
            print(f"{entry.number:02d} {entry.title}: "
                  f"{hub_link(args.hub_links, entry.filename, repository, args.branch)}")
        return 0
    if args.publish:
        commit = publish(ROOT, args.ref, args.repository, args.branch)
        print(f"branch {args.branch} is now {commit[:12]}: the learners' copy of {args.ref}.\n"
              f"Publish it: git push origin {args.branch}")
        return 0
    if args.outdir is None:
        parser.error("give a folder for the copy, --publish or --hub-links")
    out = args.outdir.resolve()
    removed = make_copy(out, ROOT, args.ref, args.repository, args.branch)
    print(f"learners' copy of {args.ref} in {out}: {sum(removed.values())} solution cells "
          f"removed; its Binder badges open {binder_base(repository, args.branch)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
