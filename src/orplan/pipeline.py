"""The solve pipeline: load -> validate -> build -> solve -> extract -> verify -> report -> write.

Each stage is a plain function; this module times them and keeps the run inside its time limit.
Nothing here prints or exits: the CLI does.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from orplan import __version__
from orplan.case import Case
from orplan.config import Config
from orplan.io.write import Format, write_outputs
from orplan.issues import Issue, has_errors
from orplan.model.build import build_model
from orplan.model.common import Model
from orplan.plan import TimedPlan, empty_plan, sequence
from orplan.reports.kpi import (
    breaches_table,
    kpis,
    objective_terms,
    session_report,
    unscheduled_table,
)
from orplan.solve import SolveReport, Status, chosen_pairs, solve_model
from orplan.verify import Violation, verify_plan

# Seconds kept back from the solver for extracting, checking and writing the plan.
WRITE_RESERVE_S = 2.0


class InvalidInput(Exception):
    def __init__(self, issues: list[Issue]):
        super().__init__(f"{sum(i.severity == 'error' for i in issues)} input error(s)")
        self.issues = issues


@dataclass
class SolveOptions:
    time_limit: float
    gap: float
    threads: int
    seed: int
    fmt: Format = "csv"
    solver_log: Path | None = None
    verbose: bool = False
    config_path: Path | None = None  # recorded with the input checksums


@dataclass
class SolveOutcome:
    case: Case
    report: SolveReport
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    issues: list[Issue]
    violations: list[Violation]
    times: dict[str, float] = field(default_factory=dict)


def checksums(case: Case, config_path: Path | None) -> dict[str, str]:
    paths = sorted(case.files.values()) + ([config_path] if config_path else [])
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def load_stage(folder: Path, config: Config) -> tuple[Case, list[Issue]]:
    from orplan.validate import validate_case

    case, issues = validate_case(folder, config)
    if case is None or has_errors(issues):
        raise InvalidInput(issues)
    return case, issues


def extract_stage(model: Model) -> TimedPlan:
    chosen = model.pairs[chosen_pairs(model)][["p", "s"]]
    keep_value = (model.priority["leave_out_cost"] + model.priority["breach_cost"]
                  + model.priority["overdue_cost"]).to_numpy()
    return sequence(model.case, model.sessions, chosen, keep_value)


def report_stage(model: Model, timed: TimedPlan) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    case, priority = model.case, model.priority
    plan = timed.plan
    stats = session_report(case, model.sessions, plan)
    terms = objective_terms(case, priority, model.sessions, stats, plan)
    dropped = set(case.waitlist["patient_id"].to_numpy()[timed.dropped])
    counts = model.pairs.groupby("p").size()
    eligible_sessions = pd.Series(counts.to_numpy(),
                                  index=case.waitlist["patient_id"].to_numpy()[counts.index])
    unscheduled = unscheduled_table(case, priority, plan, model.ineligible, dropped,
                                    eligible_sessions)
    breaches = breaches_table(case, priority, plan)
    out_plan = plan.drop(columns=["_p", "_s"]).copy()
    for column in ("start", "end"):
        out_plan[column] = out_plan[column].map(_clock)
    out_sessions = stats.copy()
    for column in ("start", "end"):
        out_sessions[column] = out_sessions[column].map(_clock)
    out_sessions["utilisation"] = out_sessions["utilisation"].round(4)
    tables = {"plan": out_plan, "unscheduled": unscheduled, "sessions": out_sessions,
              "breaches": breaches}
    weights = case.config.weights
    term_weights = {"unscheduled": weights.unscheduled, "deadline_breach": weights.deadline_breach,
                    "overdue": weights.overdue_per_day, "waiting": weights.waiting_day,
                    "idle": weights.idle_min, "overtime": weights.overtime_min,
                    "open_sessions": weights.open_session, "room_switches": weights.room_switch}
    summary: dict[str, Any] = {
        "objective": sum(terms.values()),
        "terms": {name: {"weight": term_weights[name], "value": round(value, 4)}
                  for name, value in terms.items()},
        "kpis": kpis(case, priority, stats, plan, breaches),
        "unscheduled_reasons": unscheduled["reason"].value_counts().sort_index().to_dict(),
    }
    return tables, summary


def plan_gap(objective: float, bound: float | None) -> float | None:
    """Relative gap of the written plan (after timing) against the solver's bound."""
    if bound is None:
        return None
    return max(0.0, (objective - bound) / max(abs(objective), 1e-9))


def _clock(minutes: float) -> str:
    m = int(round(minutes))
    return f"{m // 60:02d}:{m % 60:02d}"


def run_solve(folder: Path, out_dir: Path, config: Config, options: SolveOptions) -> SolveOutcome:
    started = time.perf_counter()
    times: dict[str, float] = {}

    def lap(stage: str, since: float) -> float:
        now = time.perf_counter()
        times[stage] = round(now - since, 3)
        return now

    case, issues = load_stage(folder, config)
    t = lap("load", started)
    model = build_model(case)
    t = lap("build", t)
    budget = options.time_limit - (t - started) - WRITE_RESERVE_S
    report = solve_model(model, budget, options.gap, options.threads, options.seed,
                         str(options.solver_log) if options.solver_log else None, options.verbose)
    t = lap("solve", t)
    no_plan = report.status is Status.NO_PLAN
    timed = TimedPlan(empty_plan(), []) if no_plan else extract_stage(model)
    t = lap("extract", t)
    violations = verify_plan(case, timed.plan)
    t = lap("verify", t)
    tables, summary = report_stage(model, timed)
    t = lap("report", t)
    summary = {
        "status": report.status.value,
        "solver_status": report.solver_status,
        "model_objective": report.objective,
        **summary,
        "best_bound": report.best_bound,
        "gap": plan_gap(summary["objective"], report.best_bound),
        "model_gap": report.gap,
        "plan_repairs": len(timed.dropped),
        "violations": len(violations),
        "times_s": times,
        "time_limit_s": options.time_limit,
        "model": {"eligible_pairs": len(model.pairs), "variables": model.problem.numVariables(),
                  "constraints": model.problem.numConstraints(), "rows": model.family_rows},
        "settings": {"gap": options.gap, "threads": options.threads, "seed": options.seed},
        "horizon": {"start": case.horizon_start.isoformat(), "days": case.horizon_days},
        "versions": {"orplan": __version__, "solver": report.solver,
                     "pulp": _version("pulp"), "highspy": _version("highspy")},
        "inputs": checksums(case, options.config_path),
        "warnings": sum(i.severity == "warning" for i in issues),
    }

    def final_summary() -> dict[str, Any]:
        now = lap("write", t)
        times["total"] = round(now - started, 3)
        return summary

    if report.status is not Status.NO_PLAN:
        write_outputs(out_dir, tables, final_summary, options.fmt)
    else:
        final_summary()
    return SolveOutcome(case, report, summary, tables, issues, violations, times)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
