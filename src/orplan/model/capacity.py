"""Session capacity: case minutes plus turnover between cases fit in staffed time plus bounded
overtime; idle and overtime minutes are measured for the objective."""

from __future__ import annotations

import numpy as np

from orplan.model.common import Model, add_rows, binaries, continuous


def define_session_variables(model: Model) -> None:
    """y[s] (session opened), overtime[s] in [0, max_ot], idle[s] >= 0."""
    sessions = model.sessions
    n = len(sessions)
    sessions["y"] = binaries(model, "open", n)
    sessions["overtime"] = continuous(model, "overtime", n)
    sessions["idle"] = continuous(model, "idle", n)


def define_capacity_constraints(model: Model) -> None:
    """sum_p (d_p + T) x[p,s] - T y[s] - overtime[s] + idle[s] = capacity[s] y[s];
    overtime[s] <= max_ot[s] y[s]; x[p,s] <= y[s]."""
    sessions, pairs = model.sessions, model.pairs
    if sessions.empty:
        return
    turnover = model.case.config.turnover_min
    s = pairs["s"].to_numpy()
    n = len(sessions)
    index = np.arange(n)
    keys = np.concatenate([s, index, index, index])
    variables = np.concatenate([pairs["x"].to_numpy(), sessions["y"].to_numpy(),
                                sessions["overtime"].to_numpy(), sessions["idle"].to_numpy()])
    coefs = np.concatenate([pairs["duration"].to_numpy() + turnover,
                            -(turnover + sessions["capacity"].to_numpy()),
                            -np.ones(n), np.ones(n)])
    add_rows(model, "capacity", keys, variables, coefs, "==", 0.0)
    keys = np.concatenate([index, index])
    variables = np.concatenate([sessions["overtime"].to_numpy(), sessions["y"].to_numpy()])
    coefs = np.concatenate([np.ones(n), -sessions["max_ot"].to_numpy()])
    add_rows(model, "overtime_limit", keys, variables, coefs, "<=", 0.0)
    # x <= y per pair: implied by the capacity row, but it tightens the relaxation considerably.
    pair_index = np.arange(len(pairs))
    add_rows(model, "open_link", np.concatenate([pair_index, pair_index]),
             np.concatenate([pairs["x"].to_numpy(), sessions["y"].to_numpy()[s]]),
             np.concatenate([np.ones(len(pairs)), -np.ones(len(pairs))]), "<=", 0.0)
