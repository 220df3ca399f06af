"""A timed plan that breaks a hard rule, repaired by giving up the cases at fault.

Every plan orplan writes is first checked by orplan.verify, which shares no code with the model,
the planner's rule or the timing. A candidate the check rejects (a rule some stage does not see,
or a stage's bug) is never written as it is: the cases the check names are taken out (for a rule
of a surgeon-day, ward-day or equipment-day, the one of its cases worth least), and the check runs
again, a few rounds at most. Cases taken out are reported with reason `sequencing`. Taking a case
out never breaks another rule, so a repair that names cases always ends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.case import Case
from orplan.plan import TimedPlan
from orplan.verify import Violation, verify_plan

MAX_ROUNDS = 10
# Violations handled last, each round only the first kind present: taking out a case that runs
# past its allowed overtime often ends an overlap with the case after it too, so overlaps wait.
LATER = ("surgeon-limit", "equipment", "beds", "room-overlap", "surgeon-overlap")


def renumber(plan: pd.DataFrame) -> pd.DataFrame:
    """The order of the cases in each session, 1, 2, ... by start (after cases are taken out)."""
    if plan.empty:
        return plan
    plan = plan.sort_values(["session_id", "start"], kind="stable")
    plan = plan.assign(order=plan.groupby("session_id").cumcount() + 1)
    return plan.sort_index()


def at_fault(violations: list[Violation], value: dict[str, float]) -> set[str]:
    """The patients to take out for the violations of the first kind present (see LATER): every
    patient a violation names, and for a violation of a surgeon-day or resource-day the planned
    patient of it worth least (`value`: keep value)."""
    out: set[str] = set()
    rank = {code: i + 1 for i, code in enumerate(LATER)}
    first = min(rank.get(v.code, 0) for v in violations) if violations else 0
    for violation in (v for v in violations if rank.get(v.code, 0) == first):
        if violation.patient_id:
            if violation.patient_id in value:
                out.add(violation.patient_id)
            continue
        candidates = [p for p in violation.involved if p in value]
        if candidates and not out.intersection(candidates):
            out.add(min(candidates, key=lambda p: (value[p], p)))
    return out


def repair(case: Case, timed: TimedPlan,
           keep_value: np.ndarray) -> tuple[TimedPlan | None, list[Violation], int]:
    """`timed` checked by orplan.verify and, when it breaks a rule, with the cases at fault
    taken out until it keeps every rule. Returns the plan (None when no repair was found: the
    candidate is then not used), the violations left, and how many cases were taken out."""
    plan, dropped, taken = timed.plan, list(timed.dropped), 0
    violations = verify_plan(case, plan)
    for _ in range(MAX_ROUNDS):
        if not violations:
            break
        value = dict(zip(plan["patient_id"], keep_value[plan["_p"].to_numpy(dtype=int)],
                         strict=True))
        out = plan["patient_id"].isin(at_fault(violations, value))
        if not out.any():
            break
        taken += int(out.sum())
        dropped += sorted(set(plan.loc[out, "_p"].astype(int)) - set(dropped))
        plan = renumber(plan[~out])
        violations = verify_plan(case, plan)
    if violations:
        return None, violations, taken
    return TimedPlan(plan, dropped, timed.cut), [], taken
