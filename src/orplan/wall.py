"""The wall clock, read in one place.

orplan's stages read the time of day (deadlines, as time.time()) and elapsed seconds (as
time.perf_counter()) through this module, so that a test can run a whole solve on a clock of
its own, for example one on which the machine is slower or busier, instead of sleeping and
depending on how much headroom the machine it runs on has (tests/conftest.py `FakeClock`).
"""

from __future__ import annotations

import time as _time


def time() -> float:
    """Seconds since the epoch, as time.time()."""
    return _time.time()


def perf_counter() -> float:
    """Elapsed seconds on a monotonic clock, as time.perf_counter()."""
    return _time.perf_counter()
