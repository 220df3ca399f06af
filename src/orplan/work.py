"""Reproducible budgets: the solver's stages share the run's time by counted work.

A run whose stages stop when the wall clock says so gives a plan that depends on how busy the
machine was (three 60 s runs of the hospital week: 72.48, 72.77 and 73.37 M). A nightly job must
give the same plan for the same input and seed. So by default ([solver] deterministic) each
stage gets its budget in seconds as before, but spends it by counting the work it does (simplex
iterations, knapsack rounds, cases timed) at fixed costs measured on the reference machine (the
two-core machine of the README's figures), and it stops when the counted seconds are spent.
Every decision then depends on the input and seed alone.

The wall clock stays the hard limit (the time limit is a promise to cron jobs): a stage that
the wall clock stops before its counted budget is recorded in `cut`, and the plan is then as
good as the time allowed but may differ from run to run (summary.json `reproducible`: false).
On a machine slower than the reference, give more time. With deterministic off, the stages stop
by the wall clock as they find fit (each run uses all its time; plans are not reproducible).

The costs below are seconds per unit on the reference machine, measured on the hospital week
(`benchmarks/work_costs.py` prints counted against wall seconds per stage).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highspy

from orplan import wall

# Seconds per unit on the reference machine (see the module text), fitted by
# benchmarks/work_costs.py to 60 s runs of the demo week, the hospital week, the split-list
# hospital week and the clinic case (benchmarks/README.md, "Plans a planner can trust"), each
# fitted cost times 1.15; where the fit gave 0, half the earlier cost is kept. The costs before
# (fitted to the region as well) counted about twice the wall seconds on those runs, so runs
# ended at half their limit. Knapsack rounds and interior point iterations cost more per pair at
# the region's size (13.7 million pairs: 5.9e-7 s a pair and round, 1.3e-6 s a row and
# iteration): the knapsack cost kept is between the two, the interior point one the region's. A
# run that the wall clock stops short is still in time, but not reproducible (summary.json
# `reproducible`). Refilling's costs are half the fitted ones: on the hospital week at 120 s they
# still counted 42 s for 21 s of wall time. The comments' figures are from the earlier runs.
COSTS = {
    # building the session relaxation (model.bound.relaxation): fixed and per eligible pair
    "relaxation": 0.045,
    "relaxation_pair": 9.3e-07,
    # making the compact LP and handing it to HiGHS, per pair in it
    "lp_build_pair": 9.7e-06,
    # reduced costs of the compact LP's pairs after a sifting round, per pair
    "reduced_cost_pair": 2.3e-06,
    # one round of session knapsacks (model.bound.session_values): fixed, per pair and per session
    "knapsack_round": 0.00048,
    "knapsack_pair": 2.0e-07,
    "knapsack_session": 0.00048,
    # one refilling round (orplan.refill): fixed, per pair of the relaxation and per session
    "refill_round": 0.02,
    "refill_pair": 8.5e-07,
    "refill_session": 5e-06,
    # rounding or timing a plan (greedy rule, list scheduling): fixed, per eligible pair and per
    # session
    "plan": 0.062,
    "plan_pair": 1.8e-07,
    "plan_session": 0.00091,
    # building a MILP with PuLP, per pair in it
    "milp_build_pair": 6.8e-05,
    # handing an LP to HiGHS and reading its solution, per solve
    "lp_solve": 0.001,
    # a pattern added to a pattern LP (orplan.colgen)
    "pattern_column": 0.00035,
    # a simplex iteration of HiGHS, per column of the LP (hospital week's compact LP: 170 us an
    # iteration with up to 71,187 columns; a 1,000-patient week's: 190 us with 54,225)
    "simplex_column": 1.3e-09,
    # a simplex iteration of a pattern LP (orplan.colgen), per column (pattern) in it: its
    # columns are dense (demo week: 81 us an iteration with 2,835 columns; a 1,000-patient week:
    # 320-440 us with 12,436)
    "master_column": 1e-08,
    # an interior point iteration of HiGHS, per row of the LP
    "ipm_row": 1.3e-06,
    # a simplex iteration inside HiGHS's branch and bound (with its cuts and heuristics): a fixed
    # part, and a part per row of the MILP
    "mip_iteration": 6.4e-05,
    "mip_row": 2e-08,
    # a branch-and-bound node of HiGHS after the root, per row of the MILP, for a deterministic
    # MILP's node limit (demo week: 3 nodes in 24-29 s, most of it strong branching, 11,895 rows:
    # 10 s a node; a small case's nodes cost as much less); not charged: the nodes' time is
    # counted in their iterations
    "mip_node_row": 8.4e-4,
}

Units = tuple[tuple[str, float], ...]


def plan_units(pairs: int, sessions: int, plans: int = 1) -> Units:
    """Rounding or timing `plans` plans of a case of this size."""
    return ("plan", plans), ("plan_pair", plans * pairs), ("plan_session", plans * sessions)


# The knapsack costs were fitted on sessions of 103 capacity units (8 hours and 30 minutes of
# overtime on the 5-minute grid of the generated cases). Every knapsack table is as wide as the
# widest session in grid units, so durations off that grid (grid 1 minute: 511 units) make each
# round about 6 times longer (hospital week, a round of session_values: 0.6 s on the 5-minute
# grid, 3.4-4.3 s with durations moved off it by -2..+2 minutes).
REF_CAP_UNITS = 103


def knapsack_units(pairs: int, sessions: int, cap_units: int = REF_CAP_UNITS) -> Units:
    """One round of session knapsacks over tables `cap_units` wide (model.bound.knapsack_work)."""
    scale = max(1.0, cap_units / REF_CAP_UNITS)
    return (("knapsack_round", 1), ("knapsack_pair", pairs * scale),
            ("knapsack_session", sessions * scale))


def wide_knapsack_units(pairs: int, sessions: int, cap_units: int) -> Units:
    """What tables wider than REF_CAP_UNITS add to a step whose own costs were fitted with them
    (a refilling round runs one round of knapsacks)."""
    extra = max(0.0, cap_units / REF_CAP_UNITS - 1.0)
    return ("knapsack_pair", pairs * extra), ("knapsack_session", sessions * extra)


@dataclass
class Work:
    """The solver's clock. `budget`: counted seconds to share; `hard`: the wall deadline
    (wall.time()) that stops any stage. `now()` is counted seconds when deterministic, wall
    seconds since the start otherwise."""

    budget: float
    hard: float
    deterministic: bool = True
    spent: float = 0.0  # counted seconds
    started: float = field(default_factory=lambda: wall.perf_counter())
    cut: list[str] = field(default_factory=list)  # stages the wall clock stopped short
    counted: dict[str, float] = field(default_factory=dict)  # counted seconds per stage
    # wall seconds per stage: since the previous charge (how the costs are checked)
    wall: dict[str, float] = field(default_factory=dict)
    # units counted, per stage and unit
    units: dict[str, dict[str, float]] = field(default_factory=dict)
    marked: float = field(default_factory=lambda: wall.perf_counter())

    @classmethod
    def wall_clock(cls, seconds: float) -> Work:
        """`seconds` from now by the wall clock (for a step called on its own)."""
        return cls(seconds, wall.time() + seconds, deterministic=False)

    def now(self) -> float:
        return self.spent if self.deterministic else wall.perf_counter() - self.started

    def left(self) -> float:
        """Seconds of the budget left on this clock (the wall clock is checked on its own, by
        `done` and the stages' time limits)."""
        return self.budget - self.now()

    def wall_left(self) -> float:
        return self.hard - wall.time()

    def charge(self, stage: str, *work: tuple[str, float]) -> float:
        """Count the work just done in `stage`: (unit, count) pairs; returns its seconds."""
        seconds = 0.0
        for unit, count in work:
            seconds += self.cost(unit, count)
            counts = self.units.setdefault(stage, {})
            counts[unit] = counts.get(unit, 0.0) + float(count)
        self.spent += seconds
        self.counted[stage] = self.counted.get(stage, 0.0) + seconds
        now = wall.perf_counter()
        self.wall[stage] = self.wall.get(stage, 0.0) + now - self.marked
        self.marked = now
        return seconds

    def cost(self, unit: str, count: float) -> float:
        return COSTS[unit] * float(count)

    def estimate(self, *work: tuple[str, float]) -> float:
        """Seconds of this work on the reference machine."""
        return sum(self.cost(unit, count) for unit, count in work)

    def done(self, stage: str, deadline: float, next_cost: float = 0.0) -> bool:
        """True when `stage` must stop: its deadline (on this clock) would be passed by work of
        `next_cost` more seconds, or the wall clock is up (then the stage is recorded as cut)."""
        if self.wall_left() <= 0.0:
            self.stopped(stage)
            return True
        return self.now() + next_cost >= deadline

    def pace(self) -> float:
        """Wall seconds per counted second so far (at least 1; 1 until a second is counted): how
        much slower than the reference this machine runs now."""
        if not self.deterministic or self.spent < 1.0:
            return 1.0
        return max(1.0, (wall.perf_counter() - self.started) / self.spent)

    def affords(self, stage: str, seconds: float) -> bool:
        """Whether `seconds` of counted work fit in the wall clock's time left at this machine's
        pace; if not, `stage` is recorded as cut (a stage that would start work it cannot finish
        in time stops instead: the deadline is kept, the run is not reproducible)."""
        if self.wall_left() >= seconds * self.pace():
            return True
        self.stopped(stage)
        return False

    def stopped(self, stage: str) -> None:
        """Record that the wall clock, not the counted budget, stopped `stage`."""
        if self.deterministic and stage not in self.cut:
            self.cut.append(stage)

    def run_lp(self, highs: highspy.Highs, stage: str, seconds: float,
               master: bool = False, wall_by: float | None = None) -> bool:
        """Run a HiGHS LP for at most `seconds` of this clock (counted as simplex iterations when
        deterministic; HiGHS's own time limit is the wall clock's); False when it stopped short
        of optimal for lack of time (then, if the wall clock stopped it, the stage is cut).
        `master`: a pattern LP (orplan.colgen), whose iterations cost by its columns. `wall_by`:
        a wall deadline of the stage's own (wall.time()), before the run's."""
        rows, columns = max(1, highs.getNumRow()), max(1, highs.getNumCol())
        simplex = self.cost("master_column" if master else "simplex_column", columns)
        ipm = self.cost("ipm_row", rows)
        limit = self.wall_left() if self.deterministic else min(seconds, self.wall_left())
        if wall_by is not None:  # the stage's own wall deadline (wall.time())
            limit = min(limit, wall_by - wall.time())
        # HiGHS measures time_limit on the instance's clock, which keeps running across runs
        highs.setOptionValue("time_limit", highs.getRunTime() + max(0.05, limit))
        if self.deterministic:
            highs.setOptionValue("simplex_iteration_limit", max(1, int(seconds / simplex)))
            highs.setOptionValue("ipm_iteration_limit", max(1, int(seconds / ipm)))
        highs.run()
        info = highs.getInfo()
        iterations = max(0, info.simplex_iteration_count)
        self.charge(stage, ("lp_solve", 1),
                    ("master_column" if master else "simplex_column", columns * iterations),
                    ("ipm_row", rows * max(0, info.ipm_iteration_count)))
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kTimeLimit:
            self.stopped(stage)
        return bool(status == highspy.HighsModelStatus.kOptimal)

    def figures(self) -> dict[str, object]:
        return {"deterministic": self.deterministic, "budget_s": round(self.budget, 3),
                "counted_s": {k: round(v, 3) for k, v in self.counted.items()},
                "wall_s": {k: round(v, 3) for k, v in self.wall.items()},
                "units": {stage: {k: round(v) for k, v in counts.items()}
                          for stage, counts in self.units.items()},
                "cut_by_clock": list(self.cut)}
