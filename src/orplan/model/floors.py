"""Never behind the planner's rule: the plan keeps at least as many deadlines due in the horizon
as the planner's rule's plan, and plans at least as many patients of each urgency class among
those due or overdue (the floors, orplan.pipeline.clinical_counts of that plan)."""

from __future__ import annotations

import numpy as np

from orplan.model.common import Model, add_rows
from orplan.model.priority import on_time

KEPT = "deadlines_kept"
CLASS = "due_or_overdue_planned_"


def define_planner_floors(model: Model, floors: dict[str, int] | None) -> None:
    """sum_{p due, s on time} x[p,s] >= kept; per class c: sum_{p due or overdue of c} x >= n_c.
    The planner's plan satisfies every row, so the model stays feasible."""
    if not floors or model.pairs.empty:
        return
    priority, pairs = model.priority, model.pairs
    p = pairs["p"].to_numpy()
    x = pairs["x"].to_numpy()
    due = priority["deadline_in_horizon"].to_numpy(dtype=bool)
    pressing = due | (priority["overdue_days"].to_numpy() > 0)
    urgency = model.case.waitlist["urgency"].to_numpy()
    keys: list[np.ndarray] = []
    variables: list[np.ndarray] = []
    rhs: dict[int, float] = {}
    names = sorted(floors)
    for key, name in enumerate(names):
        if floors[name] <= 0:
            continue
        if name == KEPT:
            member = due[p] & on_time(priority, p, pairs["date"].to_numpy())
        elif name.startswith(CLASS):
            member = pressing[p] & (urgency[p] == name[len(CLASS):])
        else:
            continue
        keys.append(np.full(int(member.sum()), key))
        variables.append(x[member])
        rhs[key] = float(floors[name])
    if not keys:
        return
    key_array = np.concatenate(keys)
    add_rows(model, "planner_floor", key_array, np.concatenate(variables),
             np.ones(len(key_array)), ">=", rhs)
