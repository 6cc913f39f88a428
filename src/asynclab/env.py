"""The environment check that notebook 00 runs (and instructors use to check a room)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
from dataclasses import dataclass

__all__ = ["REQUIRED_PACKAGES", "EnvironmentReport", "check_environment"]

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
    in_kernel = "ipykernel" in sys.modules
    loop = _has_running_loop()
    if in_kernel:
        lines.append((loop, "the Jupyter kernel runs an event loop, so top-level `await` works"
                      if loop else "no running event loop in this kernel: top-level `await` "
                      "will not work; update ipykernel"))
    else:
        lines.append((True, "not in a Jupyter kernel (a script or a terminal): fine for tests"))
    return EnvironmentReport(lines)
