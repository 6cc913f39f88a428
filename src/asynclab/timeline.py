"""Record when pieces of work start and end, from real runs, and draw them as a Gantt chart.

A :class:`Timeline` collects :class:`Span` records measured with ``time.perf_counter``::

    tl = Timeline()
    async def job(i):
        async with tl.track(f"job {i}"):
            await asyncio.sleep(0.1)
    await asyncio.gather(*(job(i) for i in range(3)))
    tl.plot(ideal=0.1)

``track`` works with ``with`` too, for synchronous code. ``tl.timed`` wraps a coroutine
function so that every call is tracked.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["Span", "Timeline", "plot_comparison"]


@dataclass(frozen=True)
class Span:
    """One piece of work: its lane (row in the chart), label, and start/end in seconds."""

    lane: str
    label: str
    start: float
    end: float
    outcome: str = "ok"  # "ok", "error" (an exception left the block) or "cancelled"

    @property
    def ok(self) -> bool:
        """True when the block finished without an exception."""
        return self.outcome == "ok"

    @property
    def duration(self) -> float:
        """Seconds between start and end."""
        return self.end - self.start


class _Tracker:
    """Context manager (sync and async) that records one span into a timeline."""

    def __init__(self, timeline: Timeline, lane: str, label: str) -> None:
        self._timeline = timeline
        self._lane = lane
        self._label = label
        self._start = 0.0

    def __enter__(self) -> _Tracker:
        self._start = self._timeline.now()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        outcome = ("ok" if exc_type is None else
                   "cancelled" if issubclass(exc_type, asyncio.CancelledError) else "error")
        self._timeline.add(self._lane, self._start, self._timeline.now(),
                           label=self._label, outcome=outcome)

    async def __aenter__(self) -> _Tracker:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self.__exit__(exc_type, *rest)


class Timeline:
    """A recording of spans, with times measured from the moment the timeline was created.

    Call :meth:`reset` to start a new recording with the same object.
    """

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.spans: list[Span] = []
        self._t0 = time.perf_counter()

    def reset(self) -> None:
        """Forget all spans and restart the clock at zero."""
        self.spans.clear()
        self._t0 = time.perf_counter()

    def now(self) -> float:
        """Seconds since the timeline was created (or last reset)."""
        return time.perf_counter() - self._t0

    def add(self, lane: str, start: float, end: float, *, label: str | None = None,
            outcome: str = "ok") -> Span:
        """Record a span measured elsewhere (times in seconds on this timeline's clock)."""
        if end < start:
            raise ValueError(f"span {lane!r} ends ({end:.3f}) before it starts ({start:.3f}); "
                             "pass start first, then end")
        if outcome not in ("ok", "error", "cancelled"):
            raise ValueError(f"outcome must be 'ok', 'error' or 'cancelled', got {outcome!r}")
        span = Span(str(lane), str(label if label is not None else lane), start, end, outcome)
        self.spans.append(span)
        return span

    def track(self, lane: str, label: str | None = None) -> _Tracker:
        """Measure the enclosed block; use with ``with`` or ``async with``.

        Spans with the same ``lane`` share a row of the chart (one worker doing several
        jobs); ``label`` is written on the bar (default: the lane).
        """
        if not isinstance(lane, str) or not lane:
            raise TypeError(f"track() needs a non-empty lane name (a str), got {lane!r}")
        return _Tracker(self, lane, lane if label is None else label)

    def timed(self, func: Callable[P, Awaitable[T]] | None = None, *,
              lane: str | None = None) -> Any:
        """Decorate a coroutine function so every call is tracked.

        The lane is ``name(first argument)`` unless ``lane`` is given. Works as
        ``@tl.timed`` and ``@tl.timed(lane="worker")``.
        """
        if func is None:
            return functools.partial(self.timed, lane=lane)
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"timed() wraps coroutine functions (async def); {func!r} is not one. "
                            "For plain functions use `with tl.track(name):` around the call.")

        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            name = lane or (f"{func.__name__}({args[0]!r})" if args else func.__name__)
            async with self.track(name):
                return await func(*args, **kwargs)

        return wrapper

    @property
    def total(self) -> float:
        """Seconds from the first start to the last end (0 when empty)."""
        if not self.spans:
            return 0.0
        return max(s.end for s in self.spans) - min(s.start for s in self.spans)

    @property
    def lanes(self) -> list[str]:
        """Lane names in order of first appearance (by start time)."""
        seen: dict[str, None] = {}
        for span in sorted(self.spans, key=lambda s: s.start):
            seen.setdefault(span.lane, None)
        return list(seen)

    def max_overlap(self) -> int:
        """The largest number of spans in progress at the same moment."""
        events = sorted([(s.start, 1) for s in self.spans] + [(s.end, -1) for s in self.spans],
                        key=lambda e: (e[0], e[1]))
        best = current = 0
        for _, step in events:
            current += step
            best = max(best, current)
        return best

    def _require_spans(self) -> None:
        if not self.spans:
            raise ValueError("this timeline has no spans yet: run some work inside "
                             "`tl.track(...)` (or a `@tl.timed` function) before plotting")

    def draw(self, ax: Axes, *, ideal: float | None = None, title: str | None = None,
             xmax: float | None = None) -> Axes:
        """Draw the chart on an existing matplotlib Axes (see :meth:`plot`)."""
        self._require_spans()
        origin = min(s.start for s in self.spans)
        lanes = self.lanes
        row = {lane: i for i, lane in enumerate(lanes)}
        # One colour per kind of step when bars carry labels ("prep", "oven"); red = failed.
        palette = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:olive"]
        kinds = list(dict.fromkeys(s.label for s in self.spans if s.label != s.lane))
        for span in self.spans:
            color = palette[kinds.index(span.label) % len(palette)] if span.label in kinds \
                else "tab:blue"
            if span.outcome == "error":
                color = "tab:red"
            elif span.outcome == "cancelled":
                color = "lightgrey"
            ax.barh(row[span.lane], span.duration, left=span.start - origin, height=0.6,
                    color=color, edgecolor="black", linewidth=0.5,
                    hatch="//" if span.outcome == "cancelled" else None)
            if span.label != span.lane:
                ax.text(span.start - origin + span.duration / 2, row[span.lane], span.label,
                        ha="center", va="center", fontsize=8, color="white")
        ax.set_yticks(range(len(lanes)), labels=lanes)
        ax.set_ylim(len(lanes) - 0.5, -0.5)
        ax.set_xlabel("seconds")
        ax.axvline(self.total, color="black", linestyle="-", linewidth=1,
                   label=f"total {self.total:.2f} s")
        if ideal is not None:
            ax.axvline(ideal, color="tab:green", linestyle="--", linewidth=1,
                       label=f"ideal {ideal:.2f} s")
        ax.set_xlim(0, max(xmax or 0, self.total, ideal or 0) * 1.05)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        ax.set_title(title if title is not None else self.title)
        ax.grid(axis="x", alpha=0.3)
        return ax

    def plot(self, *, ideal: float | None = None, title: str | None = None) -> Figure:
        """Draw the timeline as a Gantt chart and return the matplotlib Figure.

        One lane per task, seconds on x, a solid line at the total time and, when given,
        a dashed line at the ``ideal`` time. Failed spans (an exception left the block)
        are red.
        """
        import matplotlib.pyplot as plt

        self._require_spans()
        fig, ax = plt.subplots(figsize=(8, 0.5 + 0.4 * len(self.lanes) + 0.6))
        self.draw(ax, ideal=ideal, title=title)
        fig.tight_layout()
        return fig


def plot_comparison(timelines: Mapping[str, Timeline], *, ideal: float | None = None) -> Figure:
    """Draw several timelines one above the other on a shared time axis.

    ``plot_comparison({"sync": t1, "async": t2})``: the usual way to show the same job done
    sequentially and concurrently.
    """
    import matplotlib.pyplot as plt

    if not isinstance(timelines, Mapping) or not timelines:
        raise TypeError("plot_comparison() takes a dict of {title: Timeline}, "
                        "e.g. plot_comparison({'sync': t1, 'async': t2})")
    for name, tl in timelines.items():
        if not isinstance(tl, Timeline):
            raise TypeError(f"plot_comparison(): {name!r} is {type(tl).__name__}, not a Timeline")
    heights = [0.6 + 0.35 * max(1, len(tl.lanes)) for tl in timelines.values()]
    fig, axes = plt.subplots(len(timelines), 1, figsize=(8, sum(heights) + 0.8), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    xmax = max(tl.total for tl in timelines.values())
    for ax, (name, tl) in zip(axes[:, 0], timelines.items(), strict=True):
        tl.draw(ax, ideal=ideal, title=name, xmax=xmax)
    fig.tight_layout()
    return fig
