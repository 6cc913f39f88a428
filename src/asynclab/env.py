"""The environment check that notebook 00 runs (and instructors use to check a room)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

__all__ = ["CHECKED_PACKAGES", "EnvironmentReport", "check_environment", "kernel_line",
           "minimum_versions"]

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


def _kernel_shell() -> object | None:
    """The IPython shell of the Jupyter kernel running this code, or None (a script, a
    terminal, or a test process that merely imported ipykernel)."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if type(shell).__module__.startswith("ipykernel") else None


def kernel_line(in_kernel: bool, loop_running: bool, autoawait: bool | None) -> tuple[bool, str]:
    """The report's line about top-level ``await``.

    It works in a notebook for two reasons together: IPython compiles each cell with top-level
    ``await`` allowed (``autoawait``, the compiler flag ``PyCF_ALLOW_TOP_LEVEL_AWAIT``), and the
    kernel runs the cell on its own event loop, which is already running (that running loop is
    also why ``asyncio.run()`` fails in a notebook).
    """
    if not in_kernel:
        return True, "not in a Jupyter kernel (a script or a terminal): fine for tests"
    if not loop_running:
        return False, ("no event loop runs in this kernel, so cells cannot use top-level "
                       f"`await`: update ipykernel ({minimum_versions().get('ipykernel', '')})")
    if not autoawait:
        return False, ("top-level `await` is switched off in this kernel: run `%autoawait on` "
                       "in a cell, or restart the kernel")
    return True, ("the kernel runs an event loop, and IPython lets cells `await` at the top "
                  "level on it")


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
    shell = _kernel_shell()
    lines.append(kernel_line(shell is not None, _has_running_loop(),
                             bool(getattr(shell, "autoawait", False))))
    return EnvironmentReport(lines)
