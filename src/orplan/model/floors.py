"""Never behind the planner's rule: the plan keeps at least as many deadlines due in the horizon
as the planner's rule's plan, and plans at least as many patients of each urgency class among
those due or overdue (the floors, orplan.pipeline.clinical_counts of that plan)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.model.common import Model, PlanningData, add_rows, continuous, expression
from orplan.model.priority import on_time

KEPT = "deadlines_kept"
CLASS = "due_or_overdue_planned_"


# A unit short of the planner's rule's counts costs this many times the highest price of leaving a
# patient out, where the floors are soft (the compact LP, the neighbourhoods' MILPs).
FLOOR_PRICE = 2.0


def floor_members(priority: pd.DataFrame, urgency: np.ndarray, p: np.ndarray,
                  dates: np.ndarray, floors: dict[str, int]) -> list[tuple[str, np.ndarray]]:
    """Per floor with a positive count, in name order: its name and the mask over the pairs
    (patient p planned on dates) that count towards it."""
    due = priority["deadline_in_horizon"].to_numpy(dtype=bool)
    pressing = due | (priority["overdue_days"].to_numpy() > 0)
    out: list[tuple[str, np.ndarray]] = []
    for name in sorted(floors):
        if floors[name] <= 0:
            continue
        if name == KEPT:
            member = due[p] & on_time(priority, p, dates)
        elif name.startswith(CLASS):
            member = pressing[p] & (urgency[p] == name[len(CLASS):])
        else:
            continue
        out.append((name, member))
    return out


def pair_floor_members(data: PlanningData, floors: dict[str, int]
                       ) -> list[tuple[str, np.ndarray]]:
    """floor_members over data.pairs (the relaxation's pairs too)."""
    pairs = data.pairs
    dates = data.sessions["date"].to_numpy()[pairs["s"].to_numpy()]
    return floor_members(data.priority, data.case.waitlist["urgency"].to_numpy(),
                         pairs["p"].to_numpy(), dates, floors)


def floor_price(priority: pd.DataFrame) -> float:
    """The price of one unit short of a floor where the floors are soft: FLOOR_PRICE x the
    highest price of leaving a patient out."""
    from orplan.greedy import leave_out_price

    return FLOOR_PRICE * float(leave_out_price(priority).max(initial=0.0))


def shortfall(data: PlanningData, floors: dict[str, int], chosen: np.ndarray) -> int:
    """Units the plan `chosen` (mask over data.pairs) is behind the floors."""
    return sum(max(0, floors[name] - int(member[chosen].sum()))
               for name, member in pair_floor_members(data, floors))


def _floor_members(model: Model, floors: dict[str, int]
                   ) -> list[tuple[str, np.ndarray]]:
    """floor_members over model.pairs."""
    return floor_members(model.priority, model.case.waitlist["urgency"].to_numpy(),
                         model.pairs["p"].to_numpy(), model.pairs["date"].to_numpy(), floors)


def define_planner_floors(model: Model, floors: dict[str, int] | None) -> None:
    """sum_{p due, s on time} x[p,s] >= kept; per class c: sum_{p due or overdue of c} x >= n_c.
    The planner's plan satisfies every row, so the model stays feasible."""
    _floor_rows(model, floors, None)


def define_soft_floors(model: Model, floors: dict[str, int] | None, price: float) -> None:
    """The floors with a shortfall variable each (sum x + short >= n), `price` a unit of
    shortfall in the objective (term floor_shortfall): a plan behind the planner's rule stays a
    solution, and one less behind is worth more than any patient it costs."""
    _floor_rows(model, floors, price)


def _floor_rows(model: Model, floors: dict[str, int] | None, price: float | None) -> None:
    """One row per floor; with `price`, each with its own priced shortfall variable."""
    import pulp

    if not floors or model.pairs.empty:
        return
    x = model.pairs["x"].to_numpy()
    members = _floor_members(model, floors)
    if not members:
        return
    short = continuous(model, "floor_short", len(members)) if price is not None else None
    keys = np.concatenate([np.full(int(member.sum()) + (short is not None), key)
                           for key, (_, member) in enumerate(members)])
    variables = np.concatenate([x[member] if short is None else np.append(x[member], short[key])
                                for key, (_, member) in enumerate(members)])
    rhs = {key: float(floors[name]) for key, (name, _) in enumerate(members)}
    add_rows(model, "planner_floor", keys, variables, np.ones(len(keys)), ">=", rhs)
    if short is not None and price is not None:
        model.add_term("floor_shortfall", expression(short, np.full(len(short), float(price))))
        model.problem.setObjective(pulp.lpSum(list(model.terms.values())))
