"""Exercise checks: ``await check_...(your_answer)`` prints ✅ or ❌ and one plain sentence.

One module per notebook; everything is re-exported here so a notebook imports in one line.
"""

from ._core import CheckResult
from .start_here import DISHES, check_dinner, check_greet
from .why_async import JOBS, check_fetch_names, check_io_or_cpu

__all__ = ["DISHES", "JOBS", "CheckResult", "check_dinner", "check_fetch_names", "check_greet",
           "check_io_or_cpu"]
