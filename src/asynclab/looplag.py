"""Measure how late the event loop wakes up: a heartbeat task that should tick every
``interval`` seconds records, for each tick, how much later than planned it ran.

While the loop is free, lateness stays near zero. A blocking call (``time.sleep``,
CPU-heavy work) freezes the loop and shows up as a tall spike::

    async with LagMonitor() as lag:
        await asyncio.sleep(0.2)   # the heartbeat keeps ticking
        time.sleep(0.2)            # the heartbeat stops: a 0.2 s spike
    lag.plot()
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LagMonitor", "Tick"]


@dataclass(frozen=True)
class Tick:
    """One heartbeat: when it ran (seconds since the monitor started) and how late it was."""

    at: float
    lag: float


@dataclass
class LagMonitor:
    """An async context manager that runs a heartbeat task while the block runs.

    ``interval`` is the planned time between ticks, in seconds.
    """

    interval: float = 0.01
    ticks: list[Tick] = field(default_factory=list)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _t0: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not 0.001 <= self.interval <= 1:
            raise ValueError(f"interval must be between 0.001 and 1 second, got {self.interval!r}")

    async def _beat(self) -> None:
        while True:
            planned = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.ticks.append(Tick(now - self._t0, max(0.0, now - planned)))

    async def __aenter__(self) -> LagMonitor:
        if self._task is not None:
            raise RuntimeError("this LagMonitor is already running; create a new one")
        self.ticks.clear()
        self._t0 = time.perf_counter()
        self._task = asyncio.create_task(self._beat(), name="lag-monitor")
        await asyncio.sleep(0)  # let the heartbeat start before the block runs
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        # One more wake-up so that a block ending in a blocking call is recorded.
        await asyncio.sleep(self.interval * 1.5)
        self._task.cancel()
        # gather collects the heartbeat's CancelledError as a result, while a cancellation
        # of the task running this block still propagates.
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    @property
    def max_lag(self) -> float:
        """The worst lateness seen, in seconds (0 when nothing was recorded)."""
        return max((t.lag for t in self.ticks), default=0.0)

    def time_blocked(self, threshold: float = 0.005) -> float:
        """Total seconds of lateness from ticks later than ``threshold``."""
        return sum(t.lag for t in self.ticks if t.lag > threshold)

    def plot(self, *, title: str = "event-loop lag") -> Figure:
        """Plot lateness (ms) against time (s) and return the Figure."""
        import matplotlib.pyplot as plt

        if not self.ticks:
            raise ValueError("no heartbeats recorded: use `async with LagMonitor() as lag:` "
                             "around the code to measure, then call lag.plot()")
        fig, ax = plt.subplots(figsize=(8, 2.6))
        at = [t.at for t in self.ticks]
        late = [t.lag * 1000 for t in self.ticks]
        # One stem per heartbeat; no line between them: a gap means no heartbeat ran at all.
        ax.vlines(at, 0, late, linewidth=1)
        ax.plot(at, late, marker=".", linestyle="none")
        ax.set_xlabel("seconds")
        ax.set_ylabel("lateness (ms)")
        ax.set_title(f"{title} (worst {self.max_lag * 1000:.0f} ms)")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig
