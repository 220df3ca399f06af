"""Never behind the planner's rule: what a plan must not have fewer of than the planner's rule's
plan (deadlines due in the horizon kept; per urgency class, patients planned among those due or
overdue), and two plans that are never behind it: the planner's plan filled, and another plan
levelled with it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.greedy import (
    fill_previous,
    greedy_assignment,
    greedy_order,
    priced_order,
    priced_plan,
)
from orplan.model.common import PlanningData
from orplan.plan import TimedPlan
from orplan.reports.kpi import planned_dates


def pressing(data: PlanningData) -> np.ndarray:
    """Per patient: due in the horizon (deadline or mandatory) or already overdue."""
    priority = data.priority
    return np.asarray(priority["deadline_in_horizon"].to_numpy(dtype=bool)
                      | (priority["overdue_days"].to_numpy() > 0), dtype=bool)


def clinical_counts(data: PlanningData, plan: pd.DataFrame) -> dict[str, int]:
    """Deadlines due in the horizon kept, and per urgency class the patients planned among those
    due or overdue (orplan.model.floors uses the same keys)."""
    priority = data.priority
    planned = priority["patient_id"].isin(plan["patient_id"]).to_numpy()
    due = priority["deadline_in_horizon"].to_numpy(dtype=bool)
    kept = due & _kept(data, plan)
    counted = planned & pressing(data)
    urgency = data.case.waitlist["urgency"].to_numpy()
    counts = {"deadlines_kept": int(kept.sum())}
    for key in sorted(set(urgency.tolist())):
        counts[f"due_or_overdue_planned_{key}"] = int((counted & (urgency == key)).sum())
    return counts


def _kept(data: PlanningData, plan: pd.DataFrame) -> np.ndarray:
    """Per patient: planned by its deadline (or with none to keep)."""
    dates = planned_dates(data.priority, plan)
    return np.asarray((dates <= data.priority["breach_date"]).to_numpy(), dtype=bool)


def dominates(counts: dict[str, int], reference: dict[str, int]) -> bool:
    return all(counts.get(key, 0) >= value for key, value in reference.items())


def _pairs_of(data: PlanningData, plan: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The rows of data.pairs of a timed plan's cases, and their starts."""
    index = pd.Series(np.arange(len(data.pairs)),
                      index=pd.MultiIndex.from_arrays([data.pairs["p"], data.pairs["s"]]))
    rows = index.reindex(pd.MultiIndex.from_arrays([plan["_p"].astype(int),
                                                    plan["_s"].astype(int)])).to_numpy()
    found = ~np.isnan(rows.astype(float))
    return rows[found].astype(int), plan["start"].to_numpy(dtype=float)[found]


def planner_fill(data: PlanningData, planner: TimedPlan) -> tuple[np.ndarray, np.ndarray]:
    """The planner's plan's due and overdue patients kept at their sessions and starts, the time
    left filled by the optimiser's greedy rule (orplan.greedy.fill_previous): chosen pairs and
    starts."""
    plan = planner.plan[pressing(data)[planner.plan["_p"].to_numpy(dtype=int)]]
    rows, starts = _pairs_of(data, plan)
    keep = np.zeros(len(data.pairs), dtype=bool)
    given = np.full(len(data.pairs), np.nan)
    keep[rows] = True
    given[rows] = starts
    return fill_previous(data, keep, given)


def level_with(data: PlanningData, candidate: TimedPlan, planner: TimedPlan,
               from_planner: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`candidate` levelled with the planner's plan: the candidate's due and overdue patients of
    the classes it has fewer of than the planner's plan (all its due patients when it keeps
    fewer deadlines) first, each trying its own session; then the planner's due or overdue
    patients of those classes that the candidate lacks, in the planner's order, each trying its
    session in the planner's plan; then the candidate's other due and overdue patients, then
    its other patients, each trying its own session; then everyone else, by price per minute
    (orplan.greedy.priced_plan: allowed overtime used, flip rooms timed as placed). Chosen pairs
    and starts; the levelled plan can still be behind (a second levelling may help).

    `from_planner`: the other way round, never behind by construction: every due or overdue
    patient of the planner's plan kept at its session and start there, then the candidate's due
    and overdue patients, then its others, each trying its own session, then everyone else
    (orplan.greedy.greedy_assignment with `fixed`)."""
    if from_planner:
        counted = pressing(data)
        own = np.zeros(len(data.priority), dtype=bool)
        own[candidate.plan["_p"].to_numpy(dtype=int)] = True
        base_plan = planner.plan[counted[planner.plan["_p"].to_numpy(dtype=int)]]
        base_rows, base_starts = _pairs_of(data, base_plan)
        base = np.zeros(len(data.priority), dtype=bool)
        base[base_plan["_p"].to_numpy(dtype=int)] = True
        fixed = np.zeros(len(data.pairs), dtype=bool)
        times = np.full(len(data.pairs), np.nan)
        fixed[base_rows] = True
        times[base_rows] = base_starts
        preferred = fixed.copy()
        pair_p = data.pairs["p"].to_numpy()
        own_rows, _ = _pairs_of(data, candidate.plan)
        preferred[own_rows[~base[pair_p[own_rows]]]] = True
        by_price = priced_order(data.priority,
                                data.case.waitlist["duration_min"].to_numpy(dtype=float))
        rest = ~base[by_price]
        first = np.concatenate([by_price[base[by_price]],
                                by_price[rest & own[by_price] & counted[by_price]],
                                by_price[rest & own[by_price] & ~counted[by_price]],
                                by_price[rest & ~own[by_price]]])
        chosen = greedy_assignment(data, first, preferred=preferred, allow_overtime=True,
                                   times=times, fixed=fixed)
        # one pair per patient (a patient placed twice would break a rule; keep its first)
        rows = np.flatnonzero(chosen)
        _, first_rows = np.unique(pair_p[rows], return_index=True)
        chosen = np.zeros(len(data.pairs), dtype=bool)
        chosen[rows[first_rows]] = True
        return chosen, times
    floor = clinical_counts(data, planner.plan)
    have = clinical_counts(data, candidate.plan)
    urgency = data.case.waitlist["urgency"].to_numpy()
    in_candidate = np.zeros(len(data.priority), dtype=bool)
    in_candidate[candidate.plan["_p"].to_numpy(dtype=int)] = True
    behind = {key for key, value in floor.items() if have.get(key, 0) < value}
    planner_p = planner.plan["_p"].to_numpy(dtype=int)
    need = np.zeros(len(data.priority), dtype=bool)
    counted = pressing(data)
    for key in behind:
        if key == "deadlines_kept":
            due = data.priority["deadline_in_horizon"].to_numpy(dtype=bool)
            need[planner_p[due[planner_p]]] = True
        else:
            cls = key.removeprefix("due_or_overdue_planned_")
            need[planner_p[counted[planner_p] & (urgency[planner_p] == cls)]] = True
    need &= ~in_candidate
    preferred = np.zeros(len(data.pairs), dtype=bool)
    own_rows, _ = _pairs_of(data, candidate.plan)
    planner_rows, _ = _pairs_of(data, planner.plan)
    pair_p = data.pairs["p"].to_numpy()
    preferred[own_rows[~need[pair_p[own_rows]]]] = True
    preferred[planner_rows[need[pair_p[planner_rows]]]] = True
    duration = data.case.waitlist["duration_min"].to_numpy(dtype=float)
    by_price = priced_order(data.priority, duration)
    by_rule = greedy_order(data.priority, data.case.waitlist["mandatory"].to_numpy(dtype=bool))
    # the candidate's due and overdue patients of the classes it is behind in keep their place;
    # the planner's missing ones come next, displacing the candidate's patients of the classes
    # it has more of than the planner, then its other patients
    short = np.zeros(len(data.priority), dtype=bool)
    for key in behind:
        if key.startswith("due_or_overdue_planned_"):
            short |= urgency == key.removeprefix("due_or_overdue_planned_")
    if "deadlines_kept" in behind:
        short |= data.priority["deadline_in_horizon"].to_numpy(dtype=bool)
    # mandatory patients always keep their place
    held = in_candidate & counted & (short | data.case.waitlist["mandatory"].to_numpy(bool))
    # and of each count it is not behind in, as many of its patients as the planner's plan has
    # (the most valuable): the patients brought in then cannot put it behind there instead
    for key, value in floor.items():
        if key in behind:
            continue
        if key == "deadlines_kept":
            due = data.priority["deadline_in_horizon"].to_numpy(dtype=bool)
            member = in_candidate & due & _kept(data, candidate.plan)
        else:
            member = in_candidate & counted & (
                urgency == key.removeprefix("due_or_overdue_planned_"))
        held[by_price[member[by_price]][:value]] = True
    spare = in_candidate & counted & ~held
    first = np.concatenate([by_price[held[by_price]], by_rule[need[by_rule]],
                            by_price[spare[by_price]],
                            by_price[in_candidate[by_price] & ~counted[by_price]],
                            by_price[~in_candidate[by_price] & ~need[by_price]]])
    return priced_plan(data, preferred=preferred, first=first)
