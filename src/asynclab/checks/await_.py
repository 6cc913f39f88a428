"""Checks for notebook 03 (await).

Like the checks of 02, they call the learner's code through :func:`run_learner` with several
argument values, name the blocking calls they catch, and say what they observed and where the
lesson teaches it. Only ``check_crunch`` judges the loop by a heartbeat's rhythm: there, the
loop's lateness is the point of the exercise.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from ..servers import USERS, DemoAPI, profile_record, user_record
from ._core import blocking_message, checker, fail, require_callable
from ._observe import fail_on_outcome, observe
from ._timers import Alarm, with_alarm

__all__ = ["CRUNCH_SIZE", "check_crunch", "check_profile_of", "check_warm_up"]


# -- Exercise 1: profile_of -------------------------------------------------------------------
class _ShuffledAPI(DemoAPI):
    """The demo users API, but ``GET /users`` lists the users in a shuffled order (seeded), so
    that a user's position in the list says nothing about its id; it also records which
    profile ids were requested."""

    def __init__(self, *, latency: float, seed: int) -> None:
        super().__init__(latency=latency)
        self.order = list(USERS)
        random.Random(seed).shuffle(self.order)
        self.profiles_asked: list[str] = []

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response([{"id": u, "name": user_record(u)["name"]} for u in self.order])

    async def _profile(self, request: web.Request) -> web.Response:
        self.profiles_asked.append(request.match_info["id"])
        return await super()._profile(request)


def _names_far_from_their_position(order: list[int], count: int) -> list[str]:
    """``count`` names whose id is neither their 0-based nor their 1-based list position."""
    names = [str(user_record(u)["name"]) for pos, u in enumerate(order)
             if u not in (pos, pos + 1) and pos not in (0, len(order) - 1)]
    return names[::3][:count]


@checker
async def check_profile_of(profile_of: Callable[..., Any]) -> str:
    """``profile_of(session, base_url, name)`` must find the user called ``name`` in
    ``GET /users``, then return the JSON of ``GET /users/{id}/profile`` for that user."""
    require_callable(profile_of, "profile_of", is_async=True)
    ids = {str(user_record(u)["name"]): u for u in USERS}
    with _ShuffledAPI(latency=0.05, seed=3) as api:
        cases = _names_far_from_their_position(api.order, 3)
        served = [str(user_record(u)["name"]) for u in api.order]
        async with aiohttp.ClientSession() as session:
            for name in cases:
                user_id = ids[name]
                call = f"profile_of(session, url, {name!r})"
                before = api.stats.requests
                api.profiles_asked.clear()
                seen = await observe(profile_of, session, api.url, name)
                outcome = seen.outcome
                requests = api.stats.requests - before
                position = served.index(name)
                asked = [a for a in api.profiles_asked if a != str(user_id)]
                if outcome.blocking:
                    fail(blocking_message(call, outcome.blocking,
                                          "notebook 03, section 4, shows what that costs; this "
                                          "exercise gives you an aiohttp session for requests"))
                if asked and asked[0] in (str(position), str(position + 1)):
                    fail(f"{call} asked for /users/{asked[0]}/profile, but {name} has id "
                         f"{user_id}; {asked[0]} is {name}'s position in the list that "
                         "/users served. The check serves the list in a shuffled order: the id "
                         "is in each user's JSON, not in its position.")
                fail_on_outcome(call, outcome, time_limit=5.0,
                                unawaited_see="notebook 02, section 2,")
                result = outcome.value
                expected = profile_record(user_id)
                if isinstance(result, aiohttp.ClientResponse):
                    fail(f"{call} returned the response object, not the data it carries: its "
                         "JSON body is read with another call, which must be awaited too.")
                if result is None:
                    fail(f"{call} returned None: the exercise asks it to return the profile.")
                if isinstance(result, dict) and "email" in result:
                    fail(f"{call} returned {result!r}: that is the user's own record (it has an "
                         f"email), not the profile; expected {expected!r}, the JSON of "
                         f"/users/{user_id}/profile.")
                if result != expected:
                    other = result.get("user_id") if isinstance(result, dict) else None
                    whose = (f" That is the profile of user {other}; {name} has id {user_id}."
                             if isinstance(other, int) and other != user_id else "")
                    fail(f"{call} returned {result!r}; expected {expected!r} (the JSON of "
                         f"/users/{user_id}/profile).{whose} The check tries several names.")
                if requests > 3:
                    fail(f"{call} made {requests} requests for one name: one request for the "
                         "list of users, then one for the profile is enough.")
    return (f"profile_of found each of {len(cases)} users in a shuffled list by name, then "
            "fetched the profile: two steps where the second needs the result of the first.")


# -- Exercise 2: warm_up ----------------------------------------------------------------------
#: The step counts check_warm_up tries: a warm_up that ignores ``steps`` cannot pass them all.
#: A call must outlast an :class:`~._timers.Alarm` set for 0.95 x its wait (a right answer's
#: last timer is due no earlier than steps x 0.05 s after it starts, so lateness never makes
#: it lose that race), and take at most 1.3 x its wait + 0.15 s. An answer that always waits
#: a fixed K steps must pass the 2-step case, 0.05 x K <= 0.28 s, so K <= 5 (0.25 s); in the
#: 20-step case its last timer must then be due after the alarm at 0.95 s, which takes 0.7 s
#: of lateness piled up in its own first wake-ups (4 steps: 0.75 s). One constant sleep (at
#: most 0.28 s) cannot outlast the alarm however late the loop runs. With 10 steps and the
#: old bound (elapsed >= 0.8 x wait) a fixed 5 steps passed with 0.15 s of lateness, and
#: with 6 steps a fixed 4 steps passed once on a loaded machine.
_WARM_UP_STEPS: tuple[int, ...] = (2, 20, 3)
_STEP = 0.05  # seconds per step
_WARM_UP_ALARM = 0.95


@checker
async def check_warm_up(warm_up: Callable[[int], Any]) -> str:
    """``warm_up(steps)`` must wait 0.05 s per step without blocking the event loop and
    return ``"warm after <steps> steps"``."""
    require_callable(warm_up, "warm_up", is_async=True)
    took = []
    for steps in _WARM_UP_STEPS:
        call = f"warm_up({steps})"
        wait = steps * _STEP
        alarm = Alarm(wait * _WARM_UP_ALARM)
        seen = await observe(with_alarm(warm_up, alarm), steps)
        fail_on_outcome(call, seen.outcome, time_limit=5.0,
                        see="section 4 measures what that does to the other tasks",
                        unawaited_see="notebook 02, section 2,")
        result, elapsed = seen.outcome.value, seen.outcome.elapsed
        expected = f"warm after {steps} steps"
        if result != expected:
            fail(f"{call} returned {result!r}; expected {expected!r}. The check tries several "
                 "step counts.")
        # Returned before the alarm although the loop was free (the heartbeat ran): too short,
        # however late the loop ran. A loop blocked the whole time is the heartbeat's verdict.
        if elapsed < wait * 0.8 or (not alarm.rang and seen.beats > 0):
            warned = (f" Python warned that the coroutine {seen.unawaited[0]!r} was never "
                      "awaited (notebook 02, section 2)." if seen.unawaited else "")
            fail(f"{call} returned after {elapsed:.2f} s instead of about {wait:.2f} s "
                 f"({steps} steps of {_STEP:g} s): it did not wait every step.{warned}")
        if elapsed > wait * 1.3 + 0.15:
            fail(f"{call} took {elapsed:.2f} s instead of about {wait:.2f} s ({steps} steps of "
                 f"{_STEP:g} s): it does not wait once per step it is given.")
        # A blocking call that blockbuster cannot see (``from time import sleep`` bound before
        # the check) still stops the heartbeat completely; a free loop lets it run ~10 times
        # per step even on a busy machine. Counting beats does not flip under load.
        if wait >= 0.15 and seen.beats <= 1:
            fail(f"{call} waited {elapsed:.2f} s, but a heartbeat task that wants to run every "
                 f"10 ms ran {seen.beats} time(s) meanwhile: the event loop's thread was "
                 "blocked, by a call the check could not name (section 4).")
        took.append(f"{elapsed:.2f} s for {steps} steps")
    return (f"warm_up waited the right time ({', '.join(took)}) and the event loop stayed free: "
            "no blocking call, and a heartbeat task kept running.")


# -- Exercise 3: crunch -----------------------------------------------------------------------
#: How many numbers ``crunch`` gets in the check's main case.
CRUNCH_SIZE = 1_500_000
#: The heartbeat's interval in check_crunch, and the latency budget: the heartbeat's typical
#: (median) wait during crunch must stay under the budget, or under a fifteenth of crunch's
#: time when the machine is so busy that everything is slower (under tests/loadgen.py plus
#: other test runs, a right answer took 1.5 s instead of 0.1 s and its median wait was 38 ms).
#: A loop that yields every few thousand numbers keeps the median near the interval; one that
#: yields a handful of times makes each wait a large part of the whole computation.
_BEAT = 0.005
_BUDGET = 0.025
_SHARE = 15


def _plain_sum_seconds(n: int) -> float:
    """How long the plain loop takes here and now (the yardstick for "much slower")."""
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return time.perf_counter() - start


@checker
async def check_crunch(crunch: Callable[[int], Any]) -> str:
    """``crunch(n)`` must return ``sum(i * i for i in range(n))``, computed in a loop that lets
    other tasks run now and then, without becoming much slower than the plain loop."""
    require_callable(crunch, "crunch", is_async=True)
    n = CRUNCH_SIZE
    small = 1_234
    plain = _plain_sum_seconds(n)
    limit = max(8.0, 20 * plain)
    seen = await observe(crunch, small)
    fail_on_outcome(f"crunch({small})", seen.outcome, time_limit=5.0,
                    see="section 4 shows what blocking the loop does",
                    unawaited_see="notebook 02, section 2,")
    expected = small * (small - 1) * (2 * small - 1) // 6
    if seen.outcome.value != expected:
        fail(f"crunch({small}) returned {seen.outcome.value!r}; expected {expected} (the sum of "
             f"i * i for i from 0 to {small - 1}).")
    printed_n = f"{n:,}"
    seen = await observe(crunch, n, interval=_BEAT, time_limit=limit)
    outcome = seen.outcome
    elapsed = outcome.elapsed
    if outcome.timed_out:
        fail(f"crunch({printed_n}) did not finish within {limit:g} s, although the plain loop "
             f"takes {plain:.2f} s here; meanwhile a heartbeat task ran {seen.beats} times. "
             "It lets other tasks run, but it pauses so often (or so long) that the work "
             "hardly moves (section 6 measures what one pause costs).")
    fail_on_outcome(f"crunch({printed_n})", outcome, time_limit=limit,
                    see="section 4 shows what that does; section 6 the way to share the loop",
                    unawaited_see="notebook 02, section 2,")
    expected = n * (n - 1) * (2 * n - 1) // 6
    if outcome.value != expected:
        fail(f"crunch({printed_n}) returned {outcome.value!r}; expected {expected} (the sum of "
             "i * i).")
    if seen.beats < 3:
        what = ("did not get to run another task" if seen.beats == 0 else
                "hardly ever got to run another task")
        fail(f"The sum is right, but in {elapsed:.2f} s a heartbeat task that wants to run "
             f"every {_BEAT * 1000:g} ms ran {seen.beats} time(s) while crunch worked: the "
             f"event loop {what} during the computation (sections 5 and 6: which awaits give "
             "the loop a turn, and how often to give it one).")
    # The median wait between two beats is the loop's typical lateness: one pause of the whole
    # process on a busy machine makes one long gap, not a long median.
    typical = statistics.median(seen.gaps)
    budget = max(_BUDGET, elapsed / _SHARE)
    if typical > budget:
        fail(f"The sum is right, but in {elapsed:.2f} s a heartbeat task that wants to run "
             f"every {_BEAT * 1000:g} ms ran only {seen.beats} times: it usually waited about "
             f"{typical * 1000:.0f} ms for a turn (the check's budget: {budget * 1000:.0f} ms). "
             "crunch lets others run, but too seldom (section 6: a latency budget).")
    plain = max(plain, _plain_sum_seconds(n))  # the slower of two: the machine may be busy
    if elapsed > 10 * plain + 1.5:
        fail(f"The sum is right and the heartbeat kept running, but crunch took {elapsed:.2f} s "
             f"where the plain loop takes {plain:.2f} s here: it pauses so often (or so long) "
             "that most of the time goes into the pauses (section 6 measures what one costs).")
    return (f"crunch took {elapsed:.2f} s (the plain loop: {plain:.2f} s) and a heartbeat task "
            f"kept running meanwhile, usually waiting about {typical * 1000:.0f} ms for a "
            "turn.")

