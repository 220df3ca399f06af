"""The solver edge: the only module that talks to HiGHS. Returns orplan's own status and report."""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pulp

from orplan.model.common import Model


class Status(enum.StrEnum):
    OPTIMAL = "optimal"  # proven optimal within the gap asked for
    FEASIBLE = "feasible"  # a plan, stopped at the time limit; see gap
    NO_PLAN = "no-plan"  # the solver found no plan in the time given


@dataclass(frozen=True)
class SolveReport:
    status: Status
    objective: float | None
    best_bound: float | None
    gap: float | None  # relative: (objective - bound) / max(|objective|, 1e-9)
    seconds: float
    solver_status: str
    solver: str
    time_limit: float


def solver_version() -> str:
    import highspy

    try:
        h = highspy.Highs()
        return f"HiGHS {h.version()}"
    except Exception:  # pragma: no cover - very old highspy
        return "HiGHS"


def solve_model(model: Model, time_limit: float, gap: float, threads: int, seed: int,
                log_path: str | None = None, verbose: bool = False) -> SolveReport:
    """Solve with HiGHS. `time_limit` is the solver's share of the run's budget (seconds)."""
    options: dict[str, Any] = {"random_seed": int(seed)}
    if threads > 1:
        options["parallel"] = "on"
    solver = pulp.HiGHS(msg=verbose, gapRel=gap, threads=int(threads),
                        timeLimit=max(1.0, float(time_limit)), logPath=log_path, **options)
    started = time.perf_counter()
    stats = model.problem.solve(solver)
    seconds = time.perf_counter() - started
    status_text = str(getattr(stats, "status_str", stats.status))
    objective = _finite(stats.objective) if stats.has_solution else None
    if objective is None:
        return SolveReport(Status.NO_PLAN, None, _finite(stats.best_bound), None, seconds,
                           status_text, solver_version(), time_limit)
    bound = _finite(stats.best_bound)
    if bound is None:
        bound = objective if status_text == "Optimal" else None
    relative = None
    if bound is not None:
        relative = max(0.0, (objective - bound) / max(abs(objective), 1e-9))
    status = Status.OPTIMAL if status_text == "Optimal" else Status.FEASIBLE
    return SolveReport(status, objective, bound, relative, seconds, status_text, solver_version(),
                       time_limit)


def chosen_pairs(model: Model) -> np.ndarray:
    """Boolean mask over model.pairs of the pairs the solution picks."""
    values = np.array([v.value() or 0.0 for v in model.pairs["x"]], dtype=float)
    return values > 0.5


def _finite(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
