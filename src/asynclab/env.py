"""The environment check that notebook 00 runs (and instructors use to check a room)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

__all__ = ["CHECKED_PACKAGES", "EnvironmentReport", "check_environment", "minimum_versions"]

#: The distributions the check reports on (those the notebooks import), in this order. Their
#: minimum versions are not repeated here: they are read from the course's one declaration,
#: pyproject.toml (the installed asynclab's requirements).
CHECKED_PACKAGES: tuple[str, ...] = ("aiohttp", "matplotlib", "tqdm", "ipykernel",
                                     "nest-asyncio2", "asynclab")


def minimum_versions() -> dict[str, SpecifierSet]:
    """{canonical name: specifier} for everything asynclab and its ``lab`` extra require."""
    try:
        requires = importlib.metadata.requires("asynclab") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    found = {}
    for text in requires:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": "lab"}):
            found[canonicalize_name(req.name)] = req.specifier
    return found


@dataclass
class EnvironmentReport:
    """One line per check; ``ok`` is True when every line passed."""

    lines: list[tuple[bool, str]]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(passed for passed, _ in self.lines)

    def __repr__(self) -> str:
        body = [f"{'✅' if passed else '❌'} {text}" for passed, text in self.lines]
        failed = sum(not passed for passed, _ in self.lines)
        body.append("All checks passed: you are ready." if self.ok else
                    f"{failed} check(s) failed: see the README's set-up command, then restart "
                    "the kernel (Kernel > Restart Kernel) and run this cell again.")
        return "\n".join(body)


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def check_environment() -> EnvironmentReport:
    """Check Python, the packages and the kernel; return a printable report."""
    lines: list[tuple[bool, str]] = []
    version = ".".join(map(str, sys.version_info[:3]))
    lines.append((sys.version_info >= (3, 11),
                  f"Python {version} (the course needs 3.11 or newer)"))
    minimum = minimum_versions()
    for name in CHECKED_PACKAGES:
        wanted = minimum.get(canonicalize_name(name), SpecifierSet())
        needs = f" (needs {wanted})" if str(wanted) else ""
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            lines.append((False, f"{name} is missing{needs}"))
            continue
        good = wanted.contains(found, prereleases=True)
        lines.append((good, f"{name} {found}" + ("" if good else f" is too old{needs}")))
    in_kernel = "ipykernel" in sys.modules
    loop = _has_running_loop()
    if in_kernel:
        lines.append((loop, "the Jupyter kernel runs an event loop, so top-level `await` works"
                      if loop else "no running event loop in this kernel: top-level `await` "
                      "will not work; update ipykernel"))
    else:
        lines.append((True, "not in a Jupyter kernel (a script or a terminal): fine for tests"))
    return EnvironmentReport(lines)
