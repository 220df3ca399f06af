"""The model container shared by the constraint families, and the fast row builder."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pulp

from orplan.case import Case


@dataclass
class PlanningData:
    """What the model is built from and the reports read: eligible pairs (positional p, s),
    sessions in the horizon, patient priorities, and the reason for each patient with no pair."""

    case: Case
    pairs: pd.DataFrame
    sessions: pd.DataFrame
    priority: pd.DataFrame
    ineligible: dict[str, tuple[str, str]]
    # patient_id -> why a pin of the previous plan was released (model.pairs.keep_bookings)
    released: dict[str, str] = field(default_factory=dict)


@dataclass
class Model(PlanningData):
    """A built MILP. `pairs` holds one binary `x` per eligible pair; `sessions` holds `y` (session
    opened), `overtime` and `idle` per session. Each objective term is kept as its own expression
    so the summary can report it."""

    problem: pulp.LpProblem = field(default_factory=lambda: pulp.LpProblem("orplan",
                                                                          pulp.LpMinimize))
    terms: dict[str, pulp.LpAffineExpression] = field(default_factory=dict)
    family_rows: dict[str, int] = field(default_factory=dict)

    def add_term(self, name: str, expression: pulp.LpAffineExpression) -> None:
        self.terms[name] = expression


def groups(keys: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (group key, positions) for each distinct integer key, in key order."""
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    bounds = np.flatnonzero(np.diff(sorted_keys)) + 1
    for chunk in np.split(order, bounds):
        yield int(keys[chunk[0]]), chunk


def add_rows(model: Model, family: str, keys: np.ndarray, variables: np.ndarray,
             coefs: np.ndarray, sense: Literal["<=", "==", ">="],
             rhs: dict[int, float] | float = 0.0) -> int:
    """Add one row per distinct key: sum(coef * var over the key's entries) <sense> rhs[key]."""
    count = 0
    for key, positions in groups(keys):
        expression = pulp.lpSum_vars_coefs(
            list(zip(variables[positions].tolist(), coefs[positions].astype(float).tolist(),
                     strict=True)))
        bound = float(rhs[key]) if isinstance(rhs, dict) else float(rhs)
        if sense == "<=":
            constraint = expression <= bound
        elif sense == ">=":
            constraint = expression >= bound
        else:
            constraint = expression == bound
        model.problem.addConstraint(constraint, f"{family}_{key}")
        count += 1
    model.family_rows[family] = model.family_rows.get(family, 0) + count
    return count


def expression(variables: np.ndarray, coefs: np.ndarray,
               constant: float = 0.0) -> pulp.LpAffineExpression:
    """One linear expression from parallel arrays (zero coefficients dropped)."""
    keep = coefs != 0
    expr = pulp.lpSum_vars_coefs(
        list(zip(variables[keep].tolist(), coefs[keep].astype(float).tolist(), strict=True)))
    if constant:
        expr = expr + float(constant)
    return expr


def binaries(model: Model, name: str, n: int) -> np.ndarray:
    return _vars(model, name, n, 0, 1, "Binary")


def continuous(model: Model, name: str, n: int, upper: float | None = None) -> np.ndarray:
    return _vars(model, name, n, 0, upper, "Continuous")


def _vars(model: Model, name: str, n: int, low: float, up: float | None,
          cat: Literal["Continuous", "Binary"]) -> np.ndarray:
    created = model.problem.add_variable_dict(name, range(n), low, up, cat=cat)
    array = np.empty(n, dtype=object)
    for i in range(n):
        array[i] = created[i]
    return array


# HiGHS warns of costs above this ("excessively large costs"); with priority tiers a due patient
# is priced near 1e9 against an idle minute at 1, and the hospital week's compact LP then spent
# 60 s in the primal clean-up after its dual simplex had found the optimum in 0.2 s (with the
# objective scaled down to this size: optimal in 15 s; flat [weights]: 5 s, unscaled).
LARGE_COST = 1e6


def objective_scale(largest_cost: float) -> int:
    """HiGHS's user_objective_scale (a power of two) that brings `largest_cost` down to about
    LARGE_COST; 0 when it is not larger (flat [weights]: the solves are as before). Solutions,
    objective values and duals are still reported unscaled."""
    top = abs(float(largest_cost))
    if not math.isfinite(top) or top <= LARGE_COST:
        return 0
    return -int(math.ceil(math.log2(top / LARGE_COST)))
