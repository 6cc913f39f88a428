"""Exercise checks: ``await check_...(your_answer)`` prints ✅ or ❌ and one plain sentence.

One module per notebook; everything is re-exported here so a notebook imports in one line.
"""

from ._core import CheckResult
from .await_ import CRUNCH_SIZE, check_crunch, check_profile_of, check_warm_up
from .coroutines import check_brew, check_fetch_pair, check_legacy_bridge, legacy_report
from .gather import check_fetch_all_safe, check_fetch_users, check_process_as_completed
from .start_here import DISHES, MENUS, check_dinner, check_greet
from .tasks import check_fetch_or_default, check_run_all, check_start_background
from .why_async import ID_LISTS, JOBS, check_fetch_names, check_io_or_cpu

__all__ = ["DISHES", "ID_LISTS", "JOBS", "MENUS", "CheckResult", "check_dinner",
           "check_fetch_names", "check_greet", "check_io_or_cpu",
           "CRUNCH_SIZE", "check_crunch", "check_profile_of", "check_warm_up",
           "check_brew", "check_fetch_pair", "check_legacy_bridge", "legacy_report",
           "check_fetch_all_safe", "check_fetch_users", "check_process_as_completed",
           "check_fetch_or_default", "check_run_all", "check_start_background"]
