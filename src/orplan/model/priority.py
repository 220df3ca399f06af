"""Per-patient clinical priority: weight, effective deadline, overdue days, and the prices of
leaving a patient out. These are data about patients, used by the model and by the objective
evaluation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.case import Case
from orplan.config import Weights


def patient_priority(case: Case) -> pd.DataFrame:
    """One row per waitlist patient (same order as case.waitlist) with:

    - urgency_weight, max_days: from the urgency class
    - days_waited: horizon start - referral_date (0 when unknown)
    - priority: explicit `weight`, else urgency_weight * (1 + days_waited / max_days)
    - deadline: the explicit deadline, else referral_date + max_days (the class's maximum wait)
    - deadline_in_horizon: deadline (or mandatory) falls inside the horizon -> a breach if missed
    - breach_date: last date that keeps the deadline (horizon end for mandatory-only patients)
    - overdue_days: days the deadline is already past at horizon start (0 if not overdue)
    - ready_date: first date the patient can be operated (max of earliest_date and horizon start)
    - leave_out_cost / breach_cost / overdue_cost: objective prices (weights applied)
    - booked_session, booked_date, booked_weight, pin: the previous plan's booking the plan can
      keep ("", NaT, 0 and "none" without one; weight 1 confirmed, tentative_share tentative)
    - drop_cost: the price of leaving a booked patient out (drop_booked x booked_weight)
    """
    config, waitlist = case.config, case.waitlist
    weights = config.weights
    start = pd.Timestamp(case.horizon_start)
    end = pd.Timestamp(case.horizon_end)
    classes = waitlist["urgency"].map(config.urgency)
    known = classes.notna()
    urgency_weight = classes.map(lambda c: c.weight, na_action="ignore").where(known, 1.0)
    max_days = classes.map(lambda c: c.max_days, na_action="ignore").where(known, 365)
    max_days = max_days.astype(float)
    urgency_weight = urgency_weight.astype(float)
    days_waited = (start - waitlist["referral_date"]).dt.days.fillna(0).clip(lower=0)
    computed = urgency_weight * (1.0 + days_waited / max_days.clip(lower=1.0))
    priority = waitlist["weight"].where(waitlist["weight"].notna(), computed)
    implied = waitlist["referral_date"] + pd.to_timedelta(max_days, unit="D")
    deadline = waitlist["deadline"].where(waitlist["deadline"].notna(), implied)
    in_horizon = deadline.notna() & (deadline >= start) & (deadline <= end)
    mandatory = waitlist["mandatory"].astype(bool)
    breach_date = deadline.where(in_horizon, pd.NaT)
    breach_date = breach_date.where(~(mandatory & ~in_horizon & ~(deadline < start)), end)
    deadline_in_horizon = breach_date.notna()
    overdue_days = (start - deadline).dt.days.fillna(0).clip(lower=0)
    ready_date = waitlist["earliest_date"].where(waitlist["earliest_date"] > start, start)
    ready_date = ready_date.fillna(start)
    booking = _bookings(case)
    return pd.DataFrame({
        "patient_id": waitlist["patient_id"],
        "urgency_weight": urgency_weight,
        "max_days": max_days,
        "days_waited": days_waited.astype(float),
        "priority": priority.astype(float),
        "deadline": deadline,
        "deadline_in_horizon": deadline_in_horizon,
        "breach_date": breach_date,
        "overdue_days": overdue_days.astype(float),
        "ready_date": ready_date,
        "leave_out_cost": weights.unscheduled * priority.astype(float),
        "breach_cost": np.where(deadline_in_horizon, weights.deadline_breach, 0.0),
        "overdue_cost": weights.overdue_per_day * overdue_days.astype(float),
        "booked_session": booking["session_id"].to_numpy(),
        "booked_date": booking["date"].to_numpy(),
        "booked_weight": booking["weight"].to_numpy(),
        "pin": booking["pin"].to_numpy(),
        "drop_cost": weights.drop_booked * booking["weight"].to_numpy(),
    })


def _bookings(case: Case) -> pd.DataFrame:
    """Per waitlist patient (in order): the previous plan's booking that can be kept."""
    weights = case.config.weights
    ids = case.waitlist["patient_id"]
    frame = case.previous_plan
    if frame is None or frame.empty:
        return pd.DataFrame({"session_id": "", "date": pd.NaT, "weight": 0.0, "pin": "none"},
                            index=ids.index)
    # a closed session's booking stays a promise: of its day when the day is known, else any
    # session is a move
    usable = frame["change"].isin(["", "session-closed"])
    kept = frame[usable].drop_duplicates("patient_id").set_index("patient_id")
    weight = np.where(kept["status"] == "tentative", weights.tentative_share, 1.0)
    table = pd.DataFrame({"session_id": kept["session_id"], "date": kept["date"],
                          "weight": weight, "pin": kept["pin"]}, index=kept.index)
    table = table.reindex(ids.to_numpy())
    return pd.DataFrame({"session_id": table["session_id"].fillna("").to_numpy(),
                         "date": pd.to_datetime(table["date"]).to_numpy(),
                         "weight": table["weight"].fillna(0.0).to_numpy(),
                         "pin": table["pin"].fillna("none").to_numpy()}, index=ids.index)


def change_cost(priority: pd.DataFrame, p: np.ndarray, session_ids: np.ndarray,
                dates: np.ndarray, move_date: float, move_room: float) -> np.ndarray:
    """Cost of planning booked patient p in session `session_ids` on `dates`: 0 in the booked
    session (or on the booked date when only a date was booked), move_room on the booked date in
    another session, move_date on another date; times the booking's weight (0 if not booked)."""
    weight = priority["booked_weight"].to_numpy()[p]
    if not weight.any():
        return np.zeros(len(p))
    booked_session = priority["booked_session"].to_numpy()[p]
    same_date = dates == priority["booked_date"].to_numpy()[p]
    kept = (session_ids == booked_session) | (same_date & (booked_session == ""))
    cost = np.where(kept, 0.0, np.where(same_date, move_room, move_date))
    return np.asarray(weight * cost, dtype=float)


def on_time(priority: pd.DataFrame, p: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """True where planning patient p on `dates` keeps the deadline (or there is none to keep)."""
    breach_date = priority["breach_date"].to_numpy()[p]
    return np.asarray(~(dates > breach_date), dtype=bool)


def waiting_cost(priority: pd.DataFrame, p: np.ndarray, dates: np.ndarray,
                 waiting_day: float) -> np.ndarray:
    """Cost of planning patient p on `dates` rather than on its ready date."""
    days = (dates - priority["ready_date"].to_numpy()[p]) / np.timedelta64(1, "D")
    return np.asarray(waiting_day * priority["urgency_weight"].to_numpy()[p]
                      * np.maximum(days, 0), dtype=float)


def pair_gain(priority: pd.DataFrame, p: np.ndarray, dates: np.ndarray, weights: Weights,
              session_ids: np.ndarray) -> np.ndarray:
    """What planning patient p in `session_ids` on `dates` takes off the objective: the prices of
    leaving them out (unscheduled, overdue, dropping a booking, and the breach when the date
    keeps the deadline) less the waiting cost and the cost of moving a booking."""
    leave_out = (priority["leave_out_cost"] + priority["overdue_cost"]
                 + priority["drop_cost"]).to_numpy()[p]
    breach = priority["breach_cost"].to_numpy()[p] * on_time(priority, p, dates)
    return (leave_out + breach - waiting_cost(priority, p, dates, weights.waiting_day)
            - change_cost(priority, p, session_ids, dates, weights.move_date, weights.move_room))
