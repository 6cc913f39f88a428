"""Binder builds what we tested: binder/ is what repo2docker reads, and its pins are complete.

repo2docker reads only ``binder/`` when that folder exists (root-level requirements.txt is
then ignored). binder/requirements.txt holds exact versions written by tools/pin_binder.py
from an environment that passed the tests; binder/runtime.txt picks Python.

Installed == pinned is only demanded with ``COURSE_STRICT_BINDER=1`` (set by
``tools/pin_binder.py --check``, which installs the pins themselves). Everywhere else the
environment comes from requirements.txt's lower bounds and moves with PyPI, so a difference
is reported as a skip reason (``pytest -rs``), not a failure: CI must not turn red the day
a dependency releases.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from asynclab.lessons import notebook_paths

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
NOTEBOOKS = notebook_paths(ROOT)
# Files that make repo2docker pick another build pack or a different environment than
# binder/requirements.txt; none may exist in binder/.
OTHER_BUILD_FILES = ["environment.yml", "Pipfile", "Pipfile.lock", "Dockerfile", "Project.toml",
                     "install.R", "DESCRIPTION", "setup.py", "pyproject.toml", "default.nix",
                     "requirements.in"]


def runtime_python() -> tuple[int, int]:
    text = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3)\.(\d+)", text)
    assert match, f"binder/runtime.txt must read like 'python-3.11' (repo2docker), not {text!r}"
    return int(match[1]), int(match[2])


def binder_pins() -> dict[str, str]:
    """{canonical name: version} from binder/requirements.txt; other lines checked apart."""
    pins = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line == "-e .":
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"binder/requirements.txt: {line!r} is not an exact `==` pin"
        pins[canonicalize_name(name)] = version.strip()
    return pins


def learner_requirements() -> list[Requirement]:
    """What requirements.txt installs: the helper package's dependencies and its ``lab``
    extra, with the floors declared in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"],
                                     *project["optional-dependencies"]["lab"]]]


def test_every_learner_requirement_is_a_plain_floor() -> None:
    """``name>=version``, at most with a platform marker (uvloop has no Windows build), nothing
    else: tools/lowest_versions.py installs exactly that version (and reads it without
    ``packaging``)."""
    from lowest_versions import FLOOR

    for req in learner_requirements():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == ">=", req
        assert not req.marker or "platform" in str(req.marker), req
        assert FLOOR.fullmatch(str(req).partition(";")[0].replace(" ", "")), req


def test_requirements_txt_is_the_learner_set() -> None:
    lines = [ln.split("#", 1)[0].strip()
             for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    assert [ln for ln in lines if ln] == ["-e .[lab]"], (
        "requirements.txt installs the helper package with its `lab` extra, nothing else: "
        "minimum versions live in pyproject.toml")


def test_binder_folder_is_what_repo2docker_reads() -> None:
    assert (BINDER / "requirements.txt").is_file(), "binder/requirements.txt is missing"
    assert (BINDER / "runtime.txt").is_file(), "binder/runtime.txt is missing"
    present = [name for name in OTHER_BUILD_FILES if (BINDER / name).exists()]
    assert not present, f"binder/ holds {present}: repo2docker would not use requirements.txt"


def test_runtime_is_a_supported_python() -> None:
    major, minor = runtime_python()
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert Version(f"{major}.{minor}") in SpecifierSet(floor), (
        f"binder/runtime.txt picks {major}.{minor}, outside requires-python {floor}")


def test_helper_package_installs_from_the_repository() -> None:
    lines = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()]
    assert lines[-1] == "-e .", "binder/requirements.txt must end with `-e .` (asynclab)"


def test_every_requirement_is_pinned_within_its_bounds() -> None:
    pins = binder_pins()
    problems = []
    for req in learner_requirements():
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name} has no pin")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}=={pins[name]} is outside pyproject.toml's {req}")
    assert not problems, "binder/requirements.txt: " + "; ".join(problems)


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """Canonical names of ``requirements`` and of everything they need, as installed here."""
    seen: set[str] = set()
    todo = [(req, frozenset()) for req in requirements]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
            continue
        if name in seen:
            continue
        seen.add(name)
        try:
            needs = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [(Requirement(r), frozenset(req.extras)) for r in needs]
    return seen


def test_binder_gets_no_test_tools() -> None:
    """Binder is a learner's environment: the test tools (those that nothing a learner needs
    pulls in) are added only to test the pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tools = {canonicalize_name(Requirement(r).name)
             for r in project["optional-dependencies"]["test"]}
    test_only = tools - installed_closure(learner_requirements())
    # pytest is not among them: the learners' set has it (notebook 17 runs tests)
    assert {"nbval", "ruff", "playwright"} <= test_only  # the test sees the tools it checks
    pinned = sorted(test_only & binder_pins().keys())
    assert not pinned, f"binder/requirements.txt pins test tools: {', '.join(pinned)}"


def _cell_code(source: str) -> str | None:
    """Python source of a code cell without IPython syntax; None for non-Python cell magics."""
    lines = source.splitlines()
    if lines and lines[0].startswith("%%"):
        if not lines[0].startswith("%%writefile"):
            return None
        lines = lines[1:]  # the script's imports run with the course's Python too
    # IPython's own transformer turns `!cmd`, `out = !cmd` and `%magic` into Python calls
    return TransformerManager().transform_cell("\n".join(lines))


def notebook_imports() -> dict[str, set[str]]:
    """{top-level module: notebooks importing it}, written scripts included."""
    found: dict[str, set[str]] = {}
    local: set[str] = set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            first = cell.source.splitlines()[0] if cell.source else ""
            if first.startswith("%%writefile"):
                local.add(Path(first.split()[-1]).stem)
            code = _cell_code(cell.source)
            if code is None:
                continue
            try:
                tree = compile(code, path.name, "exec",
                               flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            except SyntaxError:
                if "raises-exception" in cell.metadata.get("tags", []):
                    continue
                raise
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(path.name)
    ignore = set(sys.stdlib_module_names) | local | {"__future__"}
    return {name: books for name, books in found.items() if name not in ignore}


def test_every_module_the_notebooks_import_is_pinned() -> None:
    pins = binder_pins()
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, books in sorted(notebook_imports().items()):
        dists = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not dists:
            problems.append(f"`import {module}` ({', '.join(sorted(books))}) is not installed")
        elif dists == {"asynclab"}:
            continue  # the course's own package: `-e .`
        elif not dists & pins.keys():
            problems.append(f"`import {module}` ({', '.join(sorted(books))}) needs "
                            f"{'/'.join(sorted(dists))} in binder/requirements.txt")
    assert not problems, "; ".join(problems)


def test_pins_are_what_is_installed_here() -> None:
    major, minor = runtime_python()
    if sys.version_info[:2] != (major, minor):
        pytest.skip(f"pins are for Python {major}.{minor}; this is "
                    f"{sys.version_info[0]}.{sys.version_info[1]}")
    differ = []
    for name, version in binder_pins().items():
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found = "missing"
        if found != version:
            differ.append(f"{name} {found} (pinned {version})")
    if differ and os.environ.get("COURSE_STRICT_BINDER") != "1":
        pytest.skip(f"this environment differs from Binder's pins in {len(differ)} packages "
                    f"(e.g. {', '.join(differ[:3])}); newer releases are expected here. "
                    "python3 tools/pin_binder.py --check tests the pins themselves")
    assert not differ, "installed differs from binder/requirements.txt: " + ", ".join(differ)


def repo2docker() -> str:
    """The ``jupyter-repo2docker`` command: from PATH, else installed once into
    ``.venv-repo2docker`` (gitignored; it is a maintainer's tool, not a learner's package, so
    it stays out of requirements.txt and out of Binder's pins). Skips when it cannot be
    installed (no access to PyPI)."""
    if found := shutil.which("jupyter-repo2docker"):
        return found
    venv = ROOT / ".venv-repo2docker"
    scripts = venv / ("Scripts" if os.name == "nt" else "bin")
    command = scripts / "jupyter-repo2docker"
    if not command.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True,
                           capture_output=True, timeout=120)
            subprocess.run([str(scripts / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "jupyter-repo2docker"],
                           check=True, capture_output=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"could not install jupyter-repo2docker into {venv.name} ({exc}); "
                        "the other Binder checks still ran")
    return str(command)


def test_repo2docker_dockerfile() -> None:
    """The Dockerfile repo2docker would build (printed without Docker) uses binder/."""
    out = subprocess.run([repo2docker(), "--no-build", "--debug", str(ROOT)],
                         capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-2000:]
    major, minor = runtime_python()
    assert f"python={major}.{minor}" in text, "repo2docker did not pick binder/runtime.txt"
    install = re.search(r'pip install [^\n]*-r "?binder/requirements.txt', text)
    assert install, "repo2docker does not install binder/requirements.txt"
    copy_repo = re.search(r"COPY [^\n]*src/ \$\{REPO_DIR\}/", text)
    assert copy_repo and copy_repo.start() < install.start(), (
        "the repository is not copied before pip runs, so `-e .` would fail")
