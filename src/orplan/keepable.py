"""How many of the deadlines due in the horizon can be kept at all: a valid upper bound.

The MILP over the due patients alone and their sessions on or before the date to keep (every
other patient left out, so none competes for the time), with the model's rules (capacity with
turnover and allowed overtime, surgeon-day limits and overlaps, mobile equipment, ward beds),
maximising the number kept. Any plan's kept deadlines are a solution of it, so its best bound is
an upper bound on what any plan can keep; when it is solved to optimality the figure is exact for
those rules (timing details such as first/last-case hints aside). HiGHS stops it by a node
limit, so the figure does not depend on the machine, and by a short time limit as a safeguard.
Where making the MILP would take longer than its time (by orplan.work's cost per pair), it is
not made: the bound is then the count of due patients with a session in time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pulp

from orplan import wall
from orplan.model.build import build_model
from orplan.model.common import PlanningData, expression
from orplan.model.priority import on_time
from orplan.work import COSTS

MAX_NODES = 200


@dataclass(frozen=True)
class Keepable:
    due: int  # patients due in the horizon
    at_most: float  # no plan keeps more of their deadlines (a count, or a weight with weights)
    found: float  # a plan of the due patients alone keeps this many (under the model's rules)
    exact: bool  # at_most == found: proven
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {"due": self.due, "keepable_at_most": int(self.at_most), "found": int(self.found),
                "exact": self.exact, "seconds": round(self.seconds, 3)}


def keepable_deadlines(data: PlanningData, seconds: float, seed: int = 0,
                       weights: np.ndarray | None = None) -> Keepable:
    """The bound above, within `seconds` (and MAX_NODES nodes). With `weights` (per patient) the
    MILP maximises the weight of the deadlines kept instead, and the figures are weights."""
    started = wall.perf_counter()
    priority = data.priority
    due = priority["deadline_in_horizon"].to_numpy(dtype=bool)
    p = data.pairs["p"].to_numpy()
    dates = data.sessions["date"].to_numpy()[data.pairs["s"].to_numpy()]
    keep = due[p] & on_time(priority, p, dates)
    n_due = int(due.sum())
    # a due patient with no session on or before the date to keep cannot keep it
    reachable = int(len(np.unique(p[keep])))
    if not keep.any():
        return Keepable(n_due, 0, 0, True, wall.perf_counter() - started)
    if COSTS["milp_build_pair"] * int(keep.sum()) > seconds:
        # making the MILP alone would take longer than its time (hospital week: 40,000 pairs,
        # 4-6 s for a 1.8 s limit, and no plan found): the count of due patients with a session
        # in time is the bound
        if weights is not None:
            top = float(weights[np.unique(p[keep])].sum())
            return Keepable(n_due, top, 0.0, False, wall.perf_counter() - started)
        return Keepable(n_due, reachable, 0, False, wall.perf_counter() - started)
    model = build_model(data.case, data, keep)
    x = model.pairs["x"].to_numpy()
    value = np.ones(len(x)) if weights is None else weights[model.pairs["p"].to_numpy()]
    model.problem.setObjective(expression(x, -value))
    solver = pulp.HiGHS(msg=False, gapRel=0.0, threads=1, timeLimit=max(0.5, seconds),
                        random_seed=int(seed), mip_max_nodes=MAX_NODES)
    stats = model.problem.solve(solver)
    found_value = -stats.objective if stats.has_solution and stats.objective is not None else 0.0
    bound = stats.best_bound
    if weights is not None:
        top = float(weights[np.unique(p[keep])].sum())
        at_most_value = top if bound is None or not math.isfinite(bound) else min(top, -bound)
        at_most_value = max(at_most_value, found_value)
        return Keepable(n_due, at_most_value, found_value,
                        at_most_value - found_value <= 1e-6 * max(1.0, at_most_value),
                        wall.perf_counter() - started)
    found = int(round(found_value))
    at_most = reachable
    if bound is not None and math.isfinite(bound):
        at_most = min(reachable, int(math.floor(-bound + 1e-6)))
    at_most = max(at_most, found)
    return Keepable(n_due, at_most, found, at_most == found, wall.perf_counter() - started)
