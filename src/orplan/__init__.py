"""orplan: an operating-room planner (waitlist + staffed sessions -> weekly theatre plan)."""

from time import perf_counter as _perf_counter

__version__ = "0.1.0"

# when this process began to import orplan (the CLI: near its start): importing the solver's
# libraries takes about two seconds, and `orplan solve`'s time limit counts them (a cron job
# sees the whole process)
BEGUN = _perf_counter()
