"""Per-patient clinical priority: weight, effective deadline, overdue days, and the prices of
leaving a patient out. These are data about patients, used by the model and by the objective
evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    # a mandatory patient is due by the horizon's end unless their deadline falls in it (an
    # overdue mandatory patient too: mandatory means planned within the horizon)
    breach_date = breach_date.where(~(mandatory & ~in_horizon), end)
    deadline_in_horizon = breach_date.notna()
    overdue_days = (start - deadline).dt.days.fillna(0).clip(lower=0)
    ready_date = waitlist["earliest_date"].where(waitlist["earliest_date"] > start, start)
    ready_date = ready_date.fillna(start)
    booking = _bookings(case)
    frame = pd.DataFrame({
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
    frame["overdue_days"] = frame["overdue_days"].where(~frame["deadline_in_horizon"], 0.0)
    frame["mandatory_cost"] = 0.0
    if config.priority.tiers:
        prices = tier_prices(case, frame)
        frame["breach_cost"] = prices.due
        frame["overdue_cost"] = prices.overdue
        frame["leave_out_cost"] = prices.others
        frame["mandatory_cost"] = prices.mandatory
        frame.attrs["tier_scales"] = prices.scales
    return frame


@dataclass(frozen=True)
class TierPrices:
    """Per patient: the price of each tier's term (same order as the waitlist); per tier: its
    scale (price per unit of the tier's own weight) and the tier's members' weights."""

    mandatory: np.ndarray
    due: np.ndarray
    overdue: np.ndarray
    others: np.ndarray
    scales: dict[str, float]
    exchange: int


def tier_values(case: Case, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per patient, what planning them (on time) is worth in each tier, unscaled: `mandatory`
    the class weight of a mandatory patient (planned at all) plus the largest class weight;
    `due` the class weight of a due patient (deadline in the horizon, or mandatory: on time);
    `overdue` the class weight times 1 + half the days overdue over the cap, at most (class
    first, then days overdue); `others` the [weights] price of leaving them out (unscheduled
    x priority); `efficiency` the price of dropping their booking (the rest of that tier is
    per session)."""
    policy = case.config.priority
    urgency = case.waitlist["urgency"].to_numpy()
    base = frame["urgency_weight"].to_numpy(dtype=float)
    class_weight = np.array([policy.class_weight.get(u, w) for u, w in zip(urgency, base,
                                                                               strict=True)])
    due = frame["deadline_in_horizon"].to_numpy(dtype=bool)
    days = frame["overdue_days"].to_numpy(dtype=float)
    overdue = (days > 0) & ~due
    growth = 1.0 + 0.5 * np.minimum(days, policy.overdue_cap_days) / policy.overdue_cap_days
    mandatory = case.waitlist["mandatory"].to_numpy(dtype=bool)
    # a mandatory patient outweighs any other due patient of a tier they share
    top = float(class_weight.max()) if len(class_weight) else 1.0
    return {"mandatory": np.where(mandatory, class_weight + top, 0.0),
            "due": np.where(due, class_weight, 0.0),
            "overdue": np.where(overdue, class_weight * growth, 0.0),
            "others": frame["leave_out_cost"].to_numpy(dtype=float),
            "efficiency": frame["drop_cost"].to_numpy(dtype=float)}


def exchange_count(case: Case) -> int:
    """The most cases that making room for one case can displace: in its session, cases of the
    shortest length filling the longest case's minutes with their turnovers, and one a day in a
    ward over its stay (the exchange argument behind tier_prices)."""
    minutes = case.waitlist["duration_min"].to_numpy(dtype=float)
    minutes = minutes[np.isfinite(minutes) & (minutes > 0)]
    if not len(minutes):
        return 1
    turnover = case.config.turnover_min
    los = case.waitlist["los_days"].to_numpy(dtype=float)
    longest_stay = int(np.nanmax(los)) if np.isfinite(los).any() else 0
    return int(math.ceil((minutes.max() + turnover) / (minutes.min() + turnover))) + longest_stay


def session_swing(case: Case, frame: pd.DataFrame) -> float:
    """The most a case changes the efficiency tier on its own: its session's allowed overtime,
    opening cost and a surgeon's room switch, its own waiting to the horizon's end, and a
    displaced booking moved to another date."""
    weights = case.config.weights
    sessions = case.sessions
    overtime = sessions["max_overtime_min"].fillna(case.config.max_overtime_min).max()
    open_cost = sessions["open_cost"].fillna(weights.open_session).max()
    urgency = frame["urgency_weight"].max() if len(frame) else 1.0
    return float(weights.overtime_min * max(overtime, 0.0) + max(open_cost, 0.0)
                 + weights.room_switch + weights.waiting_day * urgency * case.horizon_days
                 + weights.move_date)


def tier_prices(case: Case, frame: pd.DataFrame) -> TierPrices:
    """Prices derived from the ordered tiers ([priority] tiers): the last tier keeps the
    [weights]; each tier above is scaled so that one unit of its weight is worth more than what
    `exchange_count` cases of the tiers below can be worth, each at its most (among the
    patients with no weight in this tier or above), plus the efficiency a case can change
    (`session_swing`). So no exchange of cases that makes room for a higher tier's patient can
    pay for itself in a lower tier."""
    tiers = case.config.priority.tiers
    values = tier_values(case, frame)
    exchange = exchange_count(case)
    swing = session_swing(case, frame)
    scales: dict[str, float] = {}
    n = len(frame)
    lower = np.zeros(n)  # per patient: their worth in the tiers below, scaled
    efficiency_below = False
    for position in range(len(tiers) - 1, -1, -1):
        tier = tiers[position]
        own = sum((values[name] for name in tier), np.zeros(n))
        if position == len(tiers) - 1:
            scale = 1.0
        else:
            # patients with no weight in this tier or above can be displaced for its patients
            above = sum((values[name] for t in tiers[:position + 1] for name in t
                         if name in ("mandatory", "due", "overdue")), np.zeros(n))
            free = above <= 0
            worth = float(lower[free].max()) if free.any() else 0.0
            positive = own[own > 0]
            unit = float(positive.min()) if len(positive) else 1.0
            scale = max(1.0, exchange * (worth + (swing if efficiency_below else 0.0)) / unit)
        for name in tier:
            scales[name] = scale
        lower = lower + scale * own
        efficiency_below = efficiency_below or "efficiency" in tier
    return TierPrices(mandatory=scales["mandatory"] * values["mandatory"],
                      due=scales["due"] * values["due"],
                      overdue=scales["overdue"] * values["overdue"],
                      others=scales["others"] * values["others"], scales=scales,
                      exchange=exchange)


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
                 + priority["drop_cost"] + priority["mandatory_cost"]).to_numpy()[p]
    breach = priority["breach_cost"].to_numpy()[p] * on_time(priority, p, dates)
    return (leave_out + breach - waiting_cost(priority, p, dates, weights.waiting_day)
            - change_cost(priority, p, session_ids, dates, weights.move_date, weights.move_room))


def lowest_tier_reference(case: Case, priority: pd.DataFrame, sessions: pd.DataFrame) -> float:
    """The last priority tier's cost when nobody is planned and every session idles: with tiers,
    MILPs stop at an absolute gap of their relative gap times this (a relative gap of the whole
    objective, which the higher tiers' prices dominate, would leave the last tier unsolved)."""
    last = case.config.priority.tiers[-1] if case.config.priority.tiers else ()
    total = 0.0
    if "others" in last:
        total += float(priority["leave_out_cost"].sum())
    if "efficiency" in last:
        total += float(case.config.weights.idle_min * sessions["capacity"].sum())
        total += float(priority["drop_cost"].sum())
    return max(total, 1.0)
