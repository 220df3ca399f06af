"""Plan statistics as pure functions returning tidy frames and dicts; rendering does no arithmetic.

Definitions (also in the README):
- booked: case minutes; turnover: (cases - 1) x turnover minutes; overtime: minutes the last case
  ends past the staffed end; idle: staffed minutes of an open session with no case or turnover
  in them (= capacity + overtime - booked - turnover).
- utilisation of a session: (capacity - idle) / capacity; released sessions have no cases.
- staffed utilisation of the plan: used staffed minutes / all staffed minutes in the horizon
  (released sessions count as unused staffed time: this is the hospital's measure).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.case import Case

SESSION_COLUMNS = ["session_id", "site", "room", "date", "start", "end", "specialty",
                   "capacity_min", "booked_min", "turnover_min", "overtime_min", "idle_min",
                   "utilisation", "cases", "status"]


def planned_dates(priority: pd.DataFrame, plan: pd.DataFrame) -> pd.Series:
    """Planned date per patient (NaT when left out), aligned with `priority`."""
    dates = pd.to_datetime(plan.set_index("patient_id")["date"]).astype("datetime64[ns]")
    return pd.Series(dates.reindex(priority["patient_id"]).to_numpy(), index=priority.index)


def session_report(case: Case, sessions: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """One row per session in the horizon (`sessions` from model.pairs.session_table)."""
    turnover = case.config.turnover_min
    by_session = plan.groupby("session_id").agg(booked_min=("duration_min", "sum"),
                                                cases=("patient_id", "size"),
                                                last_end=("end", "max"))
    report = sessions[["session_id", "site", "room", "date", "start", "end", "specialty",
                       "capacity"]].rename(columns={"capacity": "capacity_min"})
    report = report.join(by_session, on="session_id")
    report["cases"] = report["cases"].fillna(0).astype(int)
    report["booked_min"] = report["booked_min"].fillna(0.0)
    report["turnover_min"] = np.maximum(report["cases"] - 1, 0) * turnover
    report["overtime_min"] = np.maximum(report["last_end"].fillna(0) - report["end"], 0.0)
    opened = report["cases"] > 0
    idle = report["capacity_min"] + report["overtime_min"] - report["booked_min"] - report[
        "turnover_min"]
    report["idle_min"] = np.where(opened, np.maximum(idle, 0.0), 0.0)
    report["utilisation"] = np.where(
        opened, (report["capacity_min"] - report["idle_min"]) / report["capacity_min"], 0.0)
    report["status"] = np.where(opened, "open", "released")
    return report[SESSION_COLUMNS].reset_index(drop=True)


def objective_terms(case: Case, priority: pd.DataFrame, sessions: pd.DataFrame,
                    session_stats: pd.DataFrame, plan: pd.DataFrame) -> dict[str, float]:
    """Every weighted objective term, evaluated on the timed plan (not read from the solver)."""
    weights = case.config.weights
    planned = priority["patient_id"].isin(plan["patient_id"]).to_numpy()
    planned_date = planned_dates(priority, plan)
    on_time = planned & (planned_date <= priority["breach_date"]).to_numpy()
    wait_days = ((planned_date - priority["ready_date"]).dt.days.fillna(0).clip(lower=0)).to_numpy()
    opened = session_stats["status"] == "open"
    open_cost = sessions.set_index("session_id")["open_cost"].reindex(session_stats["session_id"])
    return {
        "unscheduled": float(priority["leave_out_cost"].to_numpy()[~planned].sum()),
        "deadline_breach": float(priority["breach_cost"].to_numpy()[~on_time].sum()),
        "overdue": float(priority["overdue_cost"].to_numpy()[~planned].sum()),
        "mandatory": float(priority["mandatory_cost"].to_numpy()[~planned].sum()),
        "waiting": float((weights.waiting_day * priority["urgency_weight"].to_numpy()
                          * wait_days)[planned].sum()),
        "idle": float(weights.idle_min * session_stats["idle_min"].sum()),
        "overtime": float(weights.overtime_min * session_stats["overtime_min"].sum()),
        "open_sessions": float(open_cost.to_numpy()[opened.to_numpy()].sum()),
        "room_switches": float(weights.room_switch * room_switches(plan)),
        **booking_changes(case, priority, plan, planned, planned_date),
    }


def booking_changes(case: Case, priority: pd.DataFrame, plan: pd.DataFrame, planned: np.ndarray,
                    planned_date: pd.Series) -> dict[str, float]:
    """The priced changes to the previous plan's bookings (0 without one): booked patients left
    out (dropped), planned on another date (moved_date) or on the booked date in another session
    (moved_room); each times the booking's weight (confirmed 1, tentative tentative_share)."""
    weights = case.config.weights
    weight = priority["booked_weight"].to_numpy()
    session = plan.set_index("patient_id")["session_id"].reindex(priority["patient_id"])
    booked_session = priority["booked_session"].to_numpy()
    same_date = (planned_date == priority["booked_date"]).to_numpy()
    kept = (session.to_numpy() == booked_session) | (same_date & (booked_session == ""))
    booked = weight > 0
    moved_room = booked & planned & ~kept & same_date
    moved_date = booked & planned & ~kept & ~same_date
    return {"dropped": float(weights.drop_booked * weight[booked & ~planned].sum()),
            "moved_date": float(weights.move_date * weight[moved_date].sum()),
            "moved_room": float(weights.move_room * weight[moved_room].sum())}


def room_switches(plan: pd.DataFrame) -> int:
    """Sum over surgeon-days of (distinct rooms - 1)."""
    named = plan[plan["surgeon_id"] != ""]
    if named.empty:
        return 0
    rooms = named.assign(place=named["site"] + "\x1f" + named["room"]).groupby(
        ["surgeon_id", "date"])["place"].nunique()
    return int((rooms - 1).sum())


def unscheduled_table(case: Case, priority: pd.DataFrame, plan: pd.DataFrame,
                      ineligible: dict[str, tuple[str, str]], dropped: set[str],
                      eligible_sessions: pd.Series) -> pd.DataFrame:
    """Every patient left out, most pressing first, with a reason code and a readable message."""
    left = ~priority["patient_id"].isin(plan["patient_id"])
    rows = priority[left]
    waitlist = case.waitlist[left.to_numpy()]
    codes, messages = [], []
    for pid in rows["patient_id"]:
        if pid in ineligible:
            code, message = ineligible[pid]
        elif pid in dropped:
            code, message = ("sequencing", "planned by the model but could not be timed without "
                             "the surgeon being in two rooms at once or running past allowed "
                             "overtime; a higher-priority case kept the slot")
        else:
            n = int(eligible_sessions.get(pid, 0))
            code, message = ("capacity", f"{n} suitable session(s), all used for patients of higher"
                             " priority or limited by surgeon time, equipment or beds")
        codes.append(code)
        messages.append(message)
    table = pd.DataFrame({
        "patient_id": rows["patient_id"].to_numpy(),
        "urgency": waitlist["urgency"].to_numpy(),
        "deadline": rows["deadline"].dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
        "deadline_breach": (rows["deadline_in_horizon"] | (rows["overdue_days"] > 0)).to_numpy(),
        "days_overdue": rows["overdue_days"].astype(int).to_numpy(),
        "priority": rows["priority"].round(3).to_numpy(),
        "days_waited": rows["days_waited"].astype(int).to_numpy(),
        "due_by": rows["breach_date"].dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
        "reason": codes,
        "message": messages,
    })
    cost = (rows["leave_out_cost"] + rows["breach_cost"] + rows["overdue_cost"]
            + rows["mandatory_cost"]).to_numpy()
    order = np.lexsort((table["patient_id"].to_numpy(), -cost))
    return table.iloc[order].reset_index(drop=True)


def breaches_table(case: Case, priority: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """Patients whose deadline is missed: due in the horizon and left out or planned late, or
    already overdue at the horizon start."""
    planned_date = planned_dates(priority, plan)
    due = priority["deadline_in_horizon"] | (priority["overdue_days"] > 0)
    late = planned_date.isna() | (planned_date > priority["breach_date"]) | (
        priority["overdue_days"] > 0)
    rows = priority[due & late]
    planned = planned_date[due & late]
    # the date that had to be kept: the deadline, or the horizon end for a mandatory patient
    kept_by = rows["breach_date"].where(rows["breach_date"].notna(), rows["deadline"])
    days_late = (planned.fillna(pd.Timestamp(case.horizon_end) + pd.Timedelta(days=1))
                 - kept_by).dt.days
    return pd.DataFrame({
        "patient_id": rows["patient_id"].to_numpy(),
        "urgency": case.waitlist["urgency"].to_numpy()[rows.index],
        "deadline": kept_by.dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
        "planned_date": planned.dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
        "status": np.where(planned.isna(), "left-out", "planned-late"),
        "days_late": days_late.fillna(0).astype(int).to_numpy(),
    }).sort_values(["days_late", "patient_id"], ascending=[False, True]).reset_index(drop=True)


def kpis(case: Case, priority: pd.DataFrame, session_stats: pd.DataFrame, plan: pd.DataFrame,
         breaches: pd.DataFrame) -> dict[str, object]:
    staffed = float(session_stats["capacity_min"].sum())
    opened = session_stats["status"] == "open"
    used = float((session_stats["capacity_min"] - session_stats["idle_min"])[opened].sum())
    open_staffed = float(session_stats.loc[opened, "capacity_min"].sum())
    planned = priority["patient_id"].isin(plan["patient_id"])
    urgency = case.waitlist["urgency"]
    by_urgency = {str(k): {"waiting": int((urgency == k).sum()),
                           "planned": int(((urgency == k) & planned).sum())}
                  for k in sorted(urgency.unique())}
    due = priority["deadline_in_horizon"]
    return {
        "patients_waiting": int(len(priority)),
        "patients_planned": int(planned.sum()),
        "patients_left_out": int((~planned).sum()),
        "by_urgency": by_urgency,
        "deadline_due_in_horizon": int(due.sum()),
        "deadline_kept": int((due & (planned_dates(priority, plan) <= priority["breach_date"]))
                             .sum()),
        "deadline_breaches": int(len(breaches)),
        "overdue_waiting": int((priority["overdue_days"] > 0).sum()),
        "overdue_planned": int(((priority["overdue_days"] > 0) & planned).sum()),
        "sessions": int(len(session_stats)),
        "sessions_open": int(opened.sum()),
        "sessions_released": int((~opened).sum()),
        "staffed_min": staffed,
        "used_staffed_min": used,
        "booked_min": float(session_stats["booked_min"].sum()),
        "overtime_min": float(session_stats["overtime_min"].sum()),
        "idle_min": float(session_stats["idle_min"].sum()),
        "utilisation_staffed": used / staffed if staffed else 0.0,
        "utilisation_open": used / open_staffed if open_staffed else 0.0,
        "room_switches": room_switches(plan),
    }
