"""The loop-lag monitor sees a blocking call and stays quiet while the loop is free."""

from __future__ import annotations

import asyncio
import time

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asynclab import LagMonitor  # noqa: E402


def test_free_loop_has_small_lag_and_blocking_call_shows_up():
    async def main():
        async with LagMonitor(interval=0.01) as free:
            await asyncio.sleep(0.15)
        async with LagMonitor(interval=0.01) as blocked:
            await asyncio.sleep(0.05)
            time.sleep(0.2)  # noqa: ASYNC251 (blocking on purpose)
            await asyncio.sleep(0.05)
        return free, blocked

    free, blocked = asyncio.run(main())
    assert free.max_lag < 0.08
    assert 0.17 <= blocked.max_lag < 0.4
    assert blocked.time_blocked() >= 0.17
    assert len(free.ticks) >= 5


def test_monitor_leaves_no_task_behind():
    async def main():
        async with LagMonitor():
            await asyncio.sleep(0.03)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(main()) == []


def test_plot_and_wrong_use():
    lag = LagMonitor()
    with pytest.raises(ValueError, match="async with LagMonitor"):
        lag.plot()
    with pytest.raises(ValueError, match="between 0.001 and 1"):
        LagMonitor(interval=5)

    async def main():
        async with lag:
            time.sleep(0.05)  # noqa: ASYNC251 (blocking on purpose)

    asyncio.run(main())
    fig = lag.plot()
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert max(line.get_ydata()) >= 30  # milliseconds: the 50 ms block, less one interval
    assert ax.get_ylabel() == "lateness (ms)"
    plt.close(fig)
