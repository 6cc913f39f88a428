"""The environment check that notebook 00 runs (and instructors use to check a room)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
from dataclasses import dataclass

__all__ = ["REQUIRED_PACKAGES", "EnvironmentReport", "check_environment", "kernel_line"]

#: Distributions the notebooks import, with the oldest version the course is tested with.
REQUIRED_PACKAGES: dict[str, str] = {
    "aiohttp": "3.10",
    "matplotlib": "3.8",
    "tqdm": "4.66",
    "ipykernel": "6.29",
    "nest-asyncio2": "1.6",
    "asynclab": "0.1",
}


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


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
                       f"`await`: update ipykernel ({REQUIRED_PACKAGES['ipykernel']} or newer)")
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
    for name, minimum in REQUIRED_PACKAGES.items():
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            lines.append((False, f"{name} is missing (needs {minimum} or newer)"))
            continue
        good = _version_tuple(found) >= _version_tuple(minimum)
        lines.append((good, f"{name} {found}" + ("" if good else f" is too old: needs {minimum}")))
    shell = _kernel_shell()
    lines.append(kernel_line(shell is not None, _has_running_loop(),
                             bool(getattr(shell, "autoawait", False))))
    return EnvironmentReport(lines)
