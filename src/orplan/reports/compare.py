"""Two plans for one case side by side: every KPI and objective term of each, evaluated the same
way (orplan.reports.kpi) whoever made the plan, the rules each breaks (orplan.verify), and which
patients differ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from orplan.case import Case
from orplan.model.pairs import session_table
from orplan.model.priority import patient_priority
from orplan.reports.kpi import breaches_table, kpis, objective_terms, session_report
from orplan.verify import Violation, verify_plan

# (label, key in kpis, lower is better) in the order shown
KPI_ROWS: list[tuple[str, str, bool]] = [
    ("patients planned", "patients_planned", False),
    ("deadlines due in horizon kept", "deadline_kept", False),
    ("overdue patients planned", "overdue_planned", False),
    ("deadline breaches", "deadline_breaches", True),
    ("sessions open", "sessions_open", False),
    ("sessions released", "sessions_released", False),
    ("utilisation of staffed time", "utilisation_staffed", False),
    ("utilisation of open sessions", "utilisation_open", False),
    ("booked minutes", "booked_min", False),
    ("overtime minutes", "overtime_min", True),
    ("idle minutes", "idle_min", True),
    ("surgeon room switches", "room_switches", True),
]


@dataclass
class PlanFigures:
    kpis: dict[str, Any]
    terms: dict[str, float]
    objective: float
    violations: list[Violation]
    ignored: int  # rows left out of the figures: unknown patient or session, or a repeat


def plan_figures(case: Case, plan: pd.DataFrame) -> PlanFigures:
    """Check `plan` (columns patient_id, session_id, start, end in minutes; a plan file as
    orplan.io.plan_file reads it), then evaluate it as orplan evaluates its own plans."""
    violations = verify_plan(case, plan)
    timed = normalised_plan(case, plan)
    sessions = session_table(case)
    priority = patient_priority(case)
    stats = session_report(case, sessions, timed)
    terms = objective_terms(case, priority, sessions, stats, timed)
    figures = kpis(case, priority, stats, timed, breaches_table(case, priority, timed))
    return PlanFigures(figures, terms, float(sum(terms.values())), violations,
                       len(plan) - len(timed))


def normalised_plan(case: Case, plan: pd.DataFrame) -> pd.DataFrame:
    """The plan's rows with a known patient and a session in the horizon (a patient's first row
    only), with the session's site, room and date and the patient's surgeon, specialty and
    procedure from the case; duration is the planned end - start."""
    sessions = session_table(case).set_index("session_id")
    waitlist = case.waitlist.drop_duplicates("patient_id").set_index("patient_id")
    rows = plan[plan["patient_id"].isin(waitlist.index) & plan["session_id"].isin(sessions.index)]
    rows = rows.drop_duplicates("patient_id")
    p, s = waitlist.loc[rows["patient_id"]], sessions.loc[rows["session_id"]]
    return pd.DataFrame({
        "patient_id": rows["patient_id"].to_numpy(), "session_id": rows["session_id"].to_numpy(),
        "site": s["site"].to_numpy(), "room": s["room"].to_numpy(), "date": s["date"].to_numpy(),
        "start": rows["start"].to_numpy(float), "end": rows["end"].to_numpy(float),
        "surgeon_id": p["surgeon_id"].fillna("").to_numpy(),
        "specialty": p["specialty"].to_numpy(), "procedure": p["procedure"].fillna("").to_numpy(),
        "duration_min": (rows["end"] - rows["start"]).to_numpy(float)})


def kpi_table(a: PlanFigures, b: PlanFigures) -> pd.DataFrame:
    """figure, A, B, B - A and which is better, for the objective, each term and each KPI."""
    rows: list[tuple[str, float, float, bool]] = [("objective", a.objective, b.objective, True)]
    rows += [(f"term: {name}", a.terms[name], b.terms[name], True) for name in a.terms]
    rows += [(label, float(a.kpis[key]), float(b.kpis[key]), lower)
             for label, key, lower in KPI_ROWS]
    rows.append(("rule violations", float(len(a.violations)), float(len(b.violations)), True))
    table = pd.DataFrame(rows, columns=["figure", "a", "b", "lower_is_better"])
    table["difference"] = table["b"] - table["a"]
    better = np.where(table["lower_is_better"], table["b"] < table["a"], table["b"] > table["a"])
    worse = np.where(table["lower_is_better"], table["b"] > table["a"], table["b"] < table["a"])
    table["better"] = np.select([better, worse], ["b", "a"], "")
    return table.drop(columns="lower_is_better")


def patient_changes(case: Case, plan_a: pd.DataFrame, plan_b: pd.DataFrame) -> pd.DataFrame:
    """One row per patient planned in either plan: where each plan puts them and the change:
    same (same session), room (same date, other session), date (other date), only-a, only-b
    (orplan.reports.diff's comparison, in the words of two plans side by side)."""
    from orplan.reports.diff import plan_diff

    a = normalised_plan(case, plan_a).assign(status="")
    b = normalised_plan(case, plan_b)
    diff = plan_diff(a, b)
    words = {"kept": "same", "moved-room": "room", "moved-date": "date", "dropped": "only-a",
             "added": "only-b"}
    out = pd.DataFrame({"patient_id": diff["patient_id"], "change": diff["change"].map(words),
                        "session_a": diff["session_old"], "date_a": diff["date_old"],
                        "session_b": diff["session_new"], "date_b": diff["date_new"],
                        "days_moved": diff["days_moved"]})
    rank = {"only-a": 0, "only-b": 1, "date": 2, "room": 3, "same": 4}
    return out.sort_values(["change", "patient_id"], key=lambda c: c.map(rank)
                           if c.name == "change" else c).reset_index(drop=True)
