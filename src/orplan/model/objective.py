"""Objective terms: each is a named, weighted expression; the objective is their sum (minimised)."""

from __future__ import annotations

import numpy as np

from orplan.model.common import Model, expression
from orplan.model.priority import change_cost, on_time, waiting_cost

TERM_NAMES = ("unscheduled", "mandatory", "deadline_breach", "overdue", "waiting", "idle",
              "overtime", "open_sessions", "room_switches")


def define_objective(model: Model) -> None:
    """unscheduled = sum_p L_p (1 - sum_s x); deadline_breach = sum_p B_p (1 - sum_{s on time} x);
    overdue = sum_p O_p (1 - sum_s x); waiting = sum w_wait u_p (day_s - ready_p) x;
    idle, overtime = weight * minutes; open_sessions = sum open_cost_s y_s;
    room_switches = weight * extra rooms per surgeon-day."""
    weights = model.case.config.weights
    pairs, sessions, priority = model.pairs, model.sessions, model.priority
    x = pairs["x"].to_numpy()
    p = pairs["p"].to_numpy()
    leave_out = priority["leave_out_cost"].to_numpy()
    model.add_term("unscheduled", expression(x, -leave_out[p], float(leave_out.sum())))
    breach = priority["breach_cost"].to_numpy()
    dates = pairs["date"].to_numpy()
    kept = on_time(priority, p, dates)
    model.add_term("deadline_breach", expression(x, -(breach[p] * kept), float(breach.sum())))
    overdue = priority["overdue_cost"].to_numpy()
    model.add_term("overdue", expression(x, -overdue[p], float(overdue.sum())))
    mandatory = priority["mandatory_cost"].to_numpy()
    if mandatory.any():  # priority tiers: mandatory patients left out
        model.add_term("mandatory", expression(x, -mandatory[p], float(mandatory.sum())))
    model.add_term("waiting", expression(x, waiting_cost(priority, p, dates, weights.waiting_day)))
    drop = priority["drop_cost"].to_numpy()
    if drop.any():  # a previous plan: dropping and moving its bookings
        model.add_term("dropped", expression(x, -drop[p], float(drop.sum())))
        model.add_term("moved", expression(x, change_cost(
            priority, p, sessions["session_id"].to_numpy()[pairs["s"].to_numpy()], dates,
            weights.move_date, weights.move_room)))
    n = len(sessions)
    if n:
        model.add_term("idle", expression(sessions["idle"].to_numpy(),
                                          np.full(n, weights.idle_min)))
        model.add_term("overtime", expression(sessions["overtime"].to_numpy(),
                                              np.full(n, weights.overtime_min)))
        model.add_term("open_sessions", expression(sessions["y"].to_numpy(),
                                                   sessions["open_cost"].to_numpy()))
    if "room_switches" in model.terms:
        model.terms["room_switches"] = model.terms["room_switches"] * weights.room_switch
    import pulp

    model.problem.setObjective(pulp.lpSum(list(model.terms.values())))
