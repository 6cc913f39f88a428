"""Timelines record real runs, and their plots are checked through the Axes, not pixels."""

from __future__ import annotations

import asyncio
import time

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asynclab import Timeline, plot_comparison  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_track_records_real_durations_for_sync_and_async_blocks():
    tl = Timeline()
    with tl.track("sync"):
        time.sleep(0.05)

    async def job():
        async with tl.track("async"):
            await asyncio.sleep(0.05)

    asyncio.run(job())
    sync, async_ = tl.spans
    assert (sync.lane, async_.lane) == ("sync", "async")
    for span in tl.spans:
        assert 0.045 <= span.duration < 0.2
    assert async_.start >= sync.end


def test_concurrent_spans_overlap_and_sequential_ones_do_not():
    tl = Timeline()

    @tl.timed
    async def wait(i):
        await asyncio.sleep(0.1)
        return i

    async def both():
        concurrent = await asyncio.gather(*(wait(i) for i in range(4)))
        return concurrent

    assert asyncio.run(both()) == [0, 1, 2, 3]
    assert tl.max_overlap() == 4
    assert tl.total < 0.3
    assert tl.lanes == ["wait(0)", "wait(1)", "wait(2)", "wait(3)"]

    tl.reset()

    async def staircase():
        for i in range(3):
            await wait(i)

    asyncio.run(staircase())
    assert tl.max_overlap() == 1
    assert tl.total >= 0.3


def test_outcomes_error_and_cancelled_are_recorded():
    tl = Timeline()

    async def main():
        with pytest.raises(ValueError):
            async with tl.track("boom"):
                raise ValueError

        async def sleeper():
            async with tl.track("cancelled"):
                await asyncio.sleep(10)

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [s.outcome for s in tl.spans] == ["error", "cancelled"]
    assert not any(s.ok for s in tl.spans)


def test_plot_draws_one_lane_per_task_with_total_and_ideal():
    tl = Timeline(title="demo")
    tl.add("a", 0.0, 0.5, label="prep")
    tl.add("a", 0.5, 1.0, label="oven")
    tl.add("b", 0.2, 0.4, outcome="error")
    fig = tl.plot(ideal=0.5)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    bars = ax.patches
    assert len(bars) == 3
    assert sorted(round(b.get_width(), 3) for b in bars) == [0.2, 0.5, 0.5]
    colors = {tuple(b.get_facecolor()) for b in bars}
    assert len(colors) == 3  # prep, oven and the red failed bar differ
    assert ax.get_xlabel() == "seconds"
    assert ax.get_title() == "demo"
    lines = {ln.get_label(): ln.get_xdata()[0] for ln in ax.get_lines()}
    assert lines == {"total 1.00 s": 1.0, "ideal 0.50 s": 0.5}
    assert {t.get_text() for t in ax.texts} == {"prep", "oven"}


def test_plot_comparison_shares_the_time_axis():
    slow, fast = Timeline(), Timeline()
    slow.add("x", 0, 1.0)
    fast.add("x", 0, 0.25)
    fig = plot_comparison({"sequential": slow, "concurrent": fast})
    top, bottom = fig.axes
    assert (top.get_title(), bottom.get_title()) == ("sequential", "concurrent")
    assert top.get_xlim() == bottom.get_xlim()
    assert top.get_xlim()[1] >= 1.0


def test_wrong_use_says_what_to_do():
    tl = Timeline()
    with pytest.raises(ValueError, match="no spans yet"):
        tl.plot()
    with pytest.raises(TypeError, match="non-empty lane name"):
        tl.track("")
    with pytest.raises(TypeError, match="coroutine functions"):
        tl.timed(lambda: None)
    with pytest.raises(ValueError, match="before it starts"):
        tl.add("x", 1.0, 0.5)
    with pytest.raises(TypeError, match="dict of"):
        plot_comparison([tl])
