"""asynclab: the helper package of the hands-on asyncio course.

Three jobs, each in its own module:

- :mod:`asynclab.timeline` and :mod:`asynclab.looplag`: measure real runs and plot them;
- :mod:`asynclab.servers`: local demo servers on 127.0.0.1;
- :mod:`asynclab.checks`: the exercise checks.

Notebooks import what they need in one line, e.g. ``from asynclab import Timeline, DemoAPI``.
"""

from .looplag import LagMonitor
from .servers import DemoAPI, DemoSite, DemoWebSocketServer, stop_all_servers
from .timeline import Span, Timeline, plot_comparison

__all__ = ["DemoAPI", "DemoSite", "DemoWebSocketServer", "LagMonitor", "Span", "Timeline",
           "plot_comparison", "stop_all_servers"]
