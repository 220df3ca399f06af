"""Per-patient clinical priority: weight, effective deadline, overdue days, and the prices of
leaving a patient out. These are data about patients, used by the model and by the objective
evaluation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.case import Case


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
    })


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


def pair_gain(priority: pd.DataFrame, p: np.ndarray, dates: np.ndarray,
              waiting_day: float) -> np.ndarray:
    """What planning patient p on `dates` takes off the objective: the prices of leaving them out
    (unscheduled, overdue, and the breach when the date keeps the deadline) less the waiting
    cost."""
    leave_out = (priority["leave_out_cost"] + priority["overdue_cost"]).to_numpy()[p]
    breach = priority["breach_cost"].to_numpy()[p] * on_time(priority, p, dates)
    return leave_out + breach - waiting_cost(priority, p, dates, waiting_day)
