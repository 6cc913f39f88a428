"""Build the offline wheel folders for a mixed room: one folder per operating system and
Python version, each complete for its target, and check them.

    python tools/wheelhouse.py build OUT                  # every target, Pythons 3.11-3.15
    python tools/wheelhouse.py build OUT --target windows-amd64 --python 3.13
    python tools/wheelhouse.py check OUT                  # every folder in OUT, no network
    python tools/wheelhouse.py check OUT --install        # and install offline here (Linux)

``pip download --platform ... --python-version ...`` finds wheels for another system, but it
evaluates environment markers for *this* machine: from Linux, ``colorama; platform_system ==
"Windows"`` (tqdm, ipython), ``pywinpty; os_name == "nt"`` (terminado, jupyter_server) and
``appnope; sys_platform == "darwin"`` (ipykernel) are silently left out, and a Windows laptop
then fails to install offline. So this tool reads every downloaded wheel's own requirements,
evaluates their markers for the target (``packaging.markers``), and downloads what is missing,
until the folder is closed. ``check`` repeats that walk without the network and reports every
requirement no wheel in the folder satisfies, and every wheel that cannot install on the
target. ``check --install`` installs a folder for this machine (Linux, the Python that runs
this tool) into a fresh virtual environment with ``--no-index``, as a learner's laptop
without network would, and imports the course's packages.

What a folder holds: the learner's set (``pyproject.toml``: ``dependencies`` and the ``lab``
extra) and setuptools (``pip install -e .`` builds the course's own package with it). In the
room: ``PIP_NO_INDEX=1 PIP_FIND_LINKS=<folder> python3 course.py lab`` (instructors/offline.md).
"""

from __future__ import annotations

import argparse
import email.parser
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.11", "3.12", "3.13", "3.14", "3.15")  # what the course supports


@dataclass(frozen=True)
class Target:
    """A learner's system: pip's platform tags for it and the values of its markers."""

    name: str
    #: ``--platform`` values (pip widens macOS tags to older versions itself, not manylinux).
    platforms: tuple[str, ...]
    sys_platform: str
    platform_system: str
    os_name: str
    platform_machine: str

    def markers(self, python: str) -> dict[str, str]:
        """The environment markers of CPython ``python`` (e.g. "3.13") on this system."""
        return {"implementation_name": "cpython", "platform_python_implementation": "CPython",
                "python_version": python, "python_full_version": f"{python}.0",
                "implementation_version": f"{python}.0", "sys_platform": self.sys_platform,
                "platform_system": self.platform_system, "os_name": self.os_name,
                "platform_machine": self.platform_machine, "platform_release": "",
                "platform_version": "", "extra": ""}

    def folder(self, python: str) -> str:
        """The name of the wheel folder for ``python``: ``windows-amd64-py3.13``."""
        return f"{self.name}-py{python}"

    def accepts(self, platform_tag: str) -> bool:
        """Whether a wheel's platform tag installs on this system."""
        if platform_tag == "any":
            return True
        if self.sys_platform == "darwin":
            match = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", platform_tag)
            newest = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", self.platforms[0])
            if not match or not newest:
                return False
            archs = {self.platform_machine, "universal2"} | (
                {"intel", "universal"} if self.platform_machine == "x86_64" else set())
            return (match.group(3) in archs and
                    (int(match.group(1)), int(match.group(2)))
                    <= (int(newest.group(1)), int(newest.group(2))))
        return platform_tag in self.platforms


def _manylinux(arch: str) -> tuple[str, ...]:
    # glibc 2.17 (CentOS 7) to 2.39 (Ubuntu 24.04): any laptop's Linux of the last years
    return (*(f"manylinux_2_{minor}_{arch}" for minor in range(39, 16, -1)),
            f"manylinux2014_{arch}")


TARGETS = {target.name: target for target in (
    Target("linux-x86_64", _manylinux("x86_64"), "linux", "Linux", "posix", "x86_64"),
    Target("linux-aarch64", _manylinux("aarch64"), "linux", "Linux", "posix", "aarch64"),
    Target("macos-arm64", ("macosx_14_0_arm64",), "darwin", "Darwin", "posix", "arm64"),
    Target("macos-x86_64", ("macosx_13_0_x86_64",), "darwin", "Darwin", "posix", "x86_64"),
    Target("windows-amd64", ("win_amd64",), "win32", "Windows", "nt", "AMD64"),
)}
#: What a room of laptops usually needs (linux-aarch64 on request: Raspberry Pi, ARM laptops).
DEFAULT_TARGETS = ("linux-x86_64", "macos-arm64", "macos-x86_64", "windows-amd64")


def learner_requirements(root: Path = ROOT) -> list[Requirement]:
    """What ``pip install -e .[lab]`` needs from an index: the helper package's dependencies,
    its ``lab`` extra, and the build backend of the course's own package."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = data["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["lab"],
             *data["build-system"]["requires"]]
    return [Requirement(line) for line in lines]


@dataclass
class Wheel:
    path: Path
    name: str
    version: Version
    requires: list[Requirement]
    tags: frozenset


def read_wheel(path: Path) -> Wheel:
    """A wheel's name, version, tags and ``Requires-Dist`` (from its METADATA)."""
    name, version, _, tags = parse_wheel_filename(path.name)
    with zipfile.ZipFile(path) as archive:
        meta = next(n for n in archive.namelist()
                    if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        message = email.parser.BytesParser().parsebytes(archive.read(meta), headersonly=True)
    requires = [Requirement(line) for line in message.get_all("Requires-Dist") or []]
    return Wheel(path, name, version, requires, tags)


def _applies(requirement: Requirement, env: dict[str, str], extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**env, "extra": extra}) for extra in extras or {""})


def _installable(wheel: Wheel, target: Target, python: str) -> bool:
    major, minor = python.split(".")
    ok_python = {f"py{major}", f"py{major}{minor}", f"cp{major}{minor}", "py2.py3"}
    for tag in wheel.tags:
        interp_ok = (tag.interpreter in ok_python or
                     (tag.abi == "abi3" and tag.interpreter.startswith("cp3")
                      and int(tag.interpreter[3:]) <= int(minor)))
        if interp_ok and target.accepts(tag.platform):
            return True
    return False


def missing(folder: Path, target: Target, python: str,
            roots: list[Requirement] | None = None) -> tuple[list[str], list[str]]:
    """Walk the requirements from ``roots`` (default: the learner's set) through the wheels in
    ``folder`` with the target's markers. Return (requirements no installable wheel there
    satisfies, wheels there that cannot install on the target)."""
    env = target.markers(python)
    wheels: dict[str, list[Wheel]] = {}
    wrong = []
    for path in sorted(folder.glob("*.whl")):
        wheel = read_wheel(path)
        if _installable(wheel, target, python):
            wheels.setdefault(wheel.name, []).append(wheel)
        else:
            wrong.append(path.name)
    todo = [(req, {""}) for req in (learner_requirements() if roots is None else roots)]
    seen: set[tuple[str, frozenset]] = set()
    absent: list[str] = []
    while todo:
        req, extras = todo.pop()
        if not _applies(req, env, extras):
            continue
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        found = [w for w in wheels.get(name, [])
                 if req.specifier.contains(w.version, prereleases=True)]
        if not found:
            absent.append(str(Requirement(f"{req.name}{req.specifier}")))
            continue
        best = max(found, key=lambda w: w.version)
        todo += [(sub, set(req.extras) or {""}) for sub in best.requires]
    return sorted(set(absent)), wrong


SDIST_ONLY = re.compile(r"no matching distributions? (?:available|found) for "
                        r"(?:your environment:\n((?:    \S+\n?)+)|(\S+))", re.I)


def _build_pure(folder: Path, names: list[str]) -> None:
    """Build wheels for requirements published only as source (e.g. blockbuster's
    forbiddenfruit); refuse any that is not pure Python (it would work on this system only)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "--wheel-dir", tmp, *names], check=True)
        for path in Path(tmp).glob("*.whl"):
            if not path.name.endswith("-none-any.whl"):
                raise SystemExit(f"{path.name}: only a source release exists and it is not "
                                 "pure Python; build it on each target system")
            shutil.copy2(path, folder / path.name)
            print(f"   built {path.name} from its source release (pure Python)", flush=True)


def _pip_download(folder: Path, target: Target, python: str, requirements: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
               "--dest", str(folder), "--find-links", str(folder)]
    for tag in target.platforms:
        command += ["--platform", tag]
    built: set[str] = set()
    while True:
        done = subprocess.run([*command, *requirements], capture_output=True, text=True)
        if done.returncode == 0:
            return
        names = {name for match in SDIST_ONLY.finditer(done.stderr)
                 for name in (match.group(1) or match.group(2) or "").split()} - built
        if not names:
            raise SystemExit(f"pip download failed for {folder.name}:\n{done.stderr}")
        _build_pure(folder, sorted(names))
        built |= names


def build(out: Path, target: Target, python: str,
          requirements: list[Requirement] | None = None) -> Path:
    """Download ``requirements`` (default: the learner's set) for ``target`` and ``python``
    into ``out/<folder>``, with what pip's own resolution leaves out for that target; return
    the folder."""
    folder = out / target.folder(python)
    folder.mkdir(parents=True, exist_ok=True)
    env = target.markers(python)
    requirements = learner_requirements() if requirements is None else requirements
    roots = [str(Requirement(f"{r.name}{r.specifier}")) for r in requirements
             if r.marker is None or r.marker.evaluate(env)]
    print(f"== {folder.name}", flush=True)
    _pip_download(folder, target, python, roots)
    for _ in range(10):
        absent, _ = missing(folder, target, python, requirements)
        if not absent:
            print(f"   {len(list(folder.glob('*.whl')))} wheels, complete", flush=True)
            return folder
        print("   left out by pip for this target, downloading:", ", ".join(absent), flush=True)
        _pip_download(folder, target, python, absent)
    raise SystemExit(f"{folder}: still incomplete after 10 rounds: {', '.join(absent)}")


def parse_folder(name: str) -> tuple[Target, str]:
    """The target and Python of a folder called ``<target>-py<X.Y>``."""
    match = re.fullmatch(r"(.+)-py(3\.\d+)", name)
    if not match or match.group(1) not in TARGETS:
        raise SystemExit(f"{name}: not a wheel folder of this tool (<target>-py3.X, targets: "
                         f"{', '.join(TARGETS)})")
    return TARGETS[match.group(1)], match.group(2)


def check_folder(folder: Path) -> list[str]:
    """What is wrong with one wheel folder for its target (empty if nothing)."""
    target, python = parse_folder(folder.name)
    absent, wrong = missing(folder, target, python)
    return ([f"{folder.name}: no wheel for {req}" for req in absent]
            + [f"{folder.name}: {name} does not install on {target.name} / Python {python}"
               for name in wrong])


def install_check(folder: Path, root: Path = ROOT) -> None:
    """Install the course from ``folder`` alone into a fresh venv (no index, no pip
    configuration of this machine), then import what the notebooks import."""
    target, python = parse_folder(folder.name)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if sys.platform != "linux" or python != here or platform.machine() != \
            target.platform_machine:
        raise SystemExit(f"--install needs a folder for this machine and Python "
                         f"(linux-{platform.machine()}-py{here}); got {folder.name}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(folder.resolve()), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    with tempfile.TemporaryDirectory(prefix="course wheels ") as tmp:  # a space on purpose
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python_exe = venv / "bin" / "python"
        subprocess.run([str(python_exe), "-m", "pip", "install", "--quiet", "-r",
                        "requirements.txt"], cwd=root, env=env, check=True)
        imports = ("import asynclab, aiohttp, jupyterlab, ipykernel, matplotlib, tqdm, "
                   "nest_asyncio2, aiolimiter, tenacity, bs4, fastapi, httpx, uvicorn, "
                   "aiofiles, pytest, pytest_asyncio; print('imports: ok')")
        subprocess.run([str(python_exe), "-c", imports], cwd=tmp, check=True)
    print(f"{folder.name}: installed offline into a fresh venv and imported")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="download the wheel folders into OUT")
    build_cmd.add_argument("out", type=Path)
    build_cmd.add_argument("--target", nargs="+", choices=sorted(TARGETS),
                           default=list(DEFAULT_TARGETS))
    build_cmd.add_argument("--python", nargs="+", default=list(PYTHONS))
    check_cmd = commands.add_parser("check", help="check the wheel folders in OUT")
    check_cmd.add_argument("out", type=Path)
    check_cmd.add_argument("--install", action="store_true",
                           help="also install this machine's folder offline into a fresh venv")
    check_cmd.add_argument("--course", type=Path, default=ROOT,
                           help="the course folder to install (default: this one; e.g. the "
                           "learners' copy)")
    args = parser.parse_args()
    if args.command == "build":
        for target in args.target:
            for python in args.python:
                build(args.out, TARGETS[target], python)
        return 0
    folders = sorted(p for p in args.out.iterdir() if p.is_dir())
    if not folders:
        raise SystemExit(f"{args.out} holds no wheel folder")
    problems = [line for folder in folders for line in check_folder(folder)]
    for line in problems:
        print(line)
    print(f"{len(folders)} folders checked: "
          + ("complete" if not problems else f"{len(problems)} problems"))
    if problems:
        return 1
    if args.install:
        here = f"linux-{platform.machine()}-py{sys.version_info.major}.{sys.version_info.minor}"
        chosen = [f for f in folders if f.name == here]
        if not chosen:
            raise SystemExit(f"--install: no folder {here} in {args.out}")
        install_check(chosen[0], args.course.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
