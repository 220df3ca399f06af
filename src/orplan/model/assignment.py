"""Assignment: each patient is planned in at most one session."""

from __future__ import annotations

import numpy as np

from orplan.model.common import Model, add_rows


def define_assignment_constraints(model: Model) -> None:
    """sum_s x[p,s] <= 1 for every patient p with two or more eligible sessions."""
    pairs = model.pairs
    p = pairs["p"].to_numpy()
    multi = np.bincount(p, minlength=len(model.priority))[p] > 1
    if not multi.any():
        return
    add_rows(model, "assign", p[multi], pairs["x"].to_numpy()[multi], np.ones(int(multi.sum())),
             "<=", 1.0)
