"""The solve pipeline: load -> validate -> build -> solve -> extract -> verify -> report -> write.

Each stage is a plain function; this module times them and keeps the run inside its time limit.
Nothing here prints or exits: the CLI does.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from orplan import __version__, wall
from orplan.case import Case
from orplan.clock import hhmm
from orplan.config import TIER_TERMS, Config
from orplan.dominance import clinical_counts, dominates, level_with, planner_fill
from orplan.durations import DurationPlan
from orplan.greedy import (
    fill_previous,
    greedy_assignment,
    leave_out_price,
    previous_candidate,
    priced_plan,
)
from orplan.io.write import Format, write_outputs
from orplan.issues import Issue, has_errors
from orplan.keepable import Keepable, keepable_deadlines
from orplan.model.build import planning_data
from orplan.model.common import PlanningData
from orplan.model.priority import tier_values
from orplan.plan import TimedPlan, empty_plan, sequence
from orplan.repair import repair
from orplan.reports.kpi import (
    breaches_table,
    kpis,
    objective_terms,
    session_report,
    unscheduled_table,
)
from orplan.solve import (
    GRACE_S,
    SolveReport,
    SolveResult,
    SolverProcessError,
    SolverSettings,
    Status,
    build_and_solve,
    pairs_signature,
    solve_isolated,
)
from orplan.verify import Violation

# Seconds kept back from the solver for timing, checking and writing the plans: at least this,
# or the share below of the time limit, or this many times what timing the greedy start took
# (the plans found are timed in turn, then checked; four weeks of a hospital: 1.1 s a plan, 4.9 s
# in all after the solver).
WRITE_RESERVE_S = 2.0
WRITE_RESERVE_SHARE = 0.06
WRITE_RESERVE_TIMINGS = 4.5
# ... or this share of what making and timing the three plans before the solver took (the
# greedy start, the planner's rule's and its filled plan): on a machine slower than the
# reference the plans after the solver take longer in step (hospital week with split lists at
# 60 s, a machine 1.5 times slower: 6.3 s for those three, 4.7 s after the solver, 3.6 s kept),
# and one levelling with the planner's plan (choose_candidate: about a third of those three) when
# the solver's plans are behind it (hospital week, a machine 2 times slower: 9.7 s for the three,
# 7.7 s after the solver, a levelling 3.2 s)
WRITE_RESERVE_START_PLANS = 1.15
# Seconds per 1,000 waitlist patients kept for report.html and plan.xlsx when asked (hospital
# week, 12,000 patients: 0.45 s and 2.3 s measured)
REPORT_S_PER_1000 = 0.05
WORKBOOK_S_PER_1000 = 0.25


class InvalidInput(Exception):
    """Input errors; `what`: the input at fault when it is not the case (a plan file)."""

    def __init__(self, issues: list[Issue], what: str | None = None):
        super().__init__(f"{sum(i.severity == 'error' for i in issues)} input error(s)")
        self.issues = issues
        self.what = what


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
    isolate: bool = True  # solve in a child process stopped at the deadline (see orplan.solve)
    method: Literal["milp", "greedy"] = "milp"
    report: bool = False  # also write report.html (orplan.reports.html)
    workbook: bool = False  # also write plan.xlsx (orplan.io.excel)
    deterministic: bool = True  # stages share the time by counted work (orplan.work)
    durations: DurationPlan | None = None  # planned minutes from a fit, a quantile, a risk
    # seconds of the time limit already spent before run_solve (the CLI: starting the process
    # and importing the libraries); the run ends that much sooner
    spent_before: float = 0.0


@dataclass
class SolveOutcome:
    case: Case
    report: SolveReport
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    issues: list[Issue]
    violations: list[Violation]
    times: dict[str, float] = field(default_factory=dict)


def checksums(case: Case, config_path: Path | None, *more: str) -> dict[str, str]:
    paths = (sorted(case.files.values()) + ([config_path] if config_path else [])
             + [Path(path) for path in more if path])
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def load_stage(folder: Path, config: Config,
               durations: DurationPlan | None = None) -> tuple[Case, list[Issue]]:
    from orplan.validate import validate_case

    case, issues = validate_case(folder, config, durations)
    if case is None or has_errors(issues):
        raise InvalidInput(issues)
    return case, issues


def extract_stage(data: PlanningData, chosen: np.ndarray | None,
                  deadline: float | None = None, starts: np.ndarray | None = None) -> TimedPlan:
    """The timed plan of the chosen pairs (an empty plan when there is none); see plan.sequence
    for `deadline` and for `starts` (per pair: a timing found with the plan)."""
    if chosen is None:
        return TimedPlan(empty_plan(), [])
    assignment = data.pairs.loc[chosen, ["p", "s"]]
    if starts is not None:
        assignment = assignment.assign(start=starts[chosen])
    return sequence(data.case, data.sessions, assignment, leave_out_price(data.priority),
                    deadline)


def greedy_stage(data: PlanningData, priced: bool = False,
                 solver_status: str = "planner's rule") -> SolveResult:
    """The planner's rule (orplan.greedy): a plan without a bound. `priced`: the optimiser's own
    greedy plan instead (orplan.greedy.priced_plan: the objective's price per minute, overtime
    and flip rooms used), the bar the solver must beat."""
    started = wall.perf_counter()
    starts: dict[str, np.ndarray] = {}
    if priced:
        chosen, starts["chosen"] = priced_plan(data)
    else:
        chosen = greedy_assignment(data)
    seconds = wall.perf_counter() - started
    report = SolveReport(Status.HEURISTIC, None, None, None, seconds, solver_status,
                         "orplan greedy", 0.0)
    return SolveResult(report, chosen, 0.0, seconds,
                       {"eligible_pairs": len(data.pairs),
                        "pairs_signature": pairs_signature(data.pairs)}, starts=starts)


def solve_stage(case: Case, deadline: float, options: SolveOptions,
                start: np.ndarray | None = None, budget: float | None = None,
                floors: dict[str, int] | None = None,
                floor_start: np.ndarray | None = None,
                data: PlanningData | None = None) -> SolveResult:
    settings = SolverSettings(options.gap, options.threads, options.seed,
                              str(options.solver_log) if options.solver_log else None,
                              options.verbose, deterministic=options.deterministic,
                              budget=budget, floors=floors, floor_start=floor_start)
    if options.isolate:
        return solve_isolated(case, deadline, settings, start=start)
    return build_and_solve(case, deadline, settings, start, data=data)


def report_stage(data: PlanningData,
                 timed: TimedPlan) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    case, priority = data.case, data.priority
    plan = timed.plan
    stats = session_report(case, data.sessions, plan)
    terms = objective_terms(case, priority, data.sessions, stats, plan)
    dropped = set(case.waitlist["patient_id"].to_numpy()[timed.dropped])
    counts = data.pairs.groupby("p").size()
    eligible_sessions = pd.Series(counts.to_numpy(),
                                  index=case.waitlist["patient_id"].to_numpy()[counts.index])
    unscheduled = unscheduled_table(case, priority, plan, data.ineligible, dropped,
                                    eligible_sessions)
    breaches = breaches_table(case, priority, plan)
    out_plan = plan.drop(columns=["_p", "_s"]).copy()
    # what the reports need of each planned patient (orplan report reads only the outputs)
    about = priority.set_index("patient_id").reindex(out_plan["patient_id"])
    out_plan["urgency"] = case.waitlist.set_index("patient_id")["urgency"].reindex(
        out_plan["patient_id"]).to_numpy()
    out_plan["deadline"] = about["deadline"].dt.strftime("%Y-%m-%d").fillna("").to_numpy()
    out_plan["days_waited"] = about["days_waited"].astype(int).to_numpy()
    out_plan["due_by"] = about["breach_date"].dt.strftime("%Y-%m-%d").fillna("").to_numpy()
    for column in ("start", "end"):
        out_plan[column] = out_plan[column].map(hhmm)
    out_sessions = stats.copy()
    for column in ("start", "end"):
        out_sessions[column] = out_sessions[column].map(hhmm)
    out_sessions["utilisation"] = out_sessions["utilisation"].round(4)
    tables = {"plan": out_plan, "unscheduled": unscheduled, "sessions": out_sessions,
              "breaches": breaches}
    changes = None
    if case.previous_plan is not None:
        changes = _changes(case.previous_plan, out_plan, unscheduled, data.released)
        tables["changes"] = changes
    weights = case.config.weights
    term_weights = {"unscheduled": weights.unscheduled, "deadline_breach": weights.deadline_breach,
                    "overdue": weights.overdue_per_day, "waiting": weights.waiting_day,
                    "mandatory": 0.0,
                    "idle": weights.idle_min, "overtime": weights.overtime_min,
                    "open_sessions": weights.open_session, "room_switches": weights.room_switch,
                    "dropped": weights.drop_booked, "moved_date": weights.move_date,
                    "moved_room": weights.move_room}
    summary: dict[str, Any] = {
        "objective": sum(terms.values()),
        "terms": {name: {"weight": term_weights[name], "value": round(value, 4)}
                  for name, value in terms.items()},
        "kpis": kpis(case, priority, stats, plan, breaches),
        "unscheduled_reasons": unscheduled["reason"].value_counts().sort_index().to_dict(),
    }
    if changes is not None:
        from orplan.reports.diff import churn

        summary["changes"] = churn(changes)
    return tables, summary


def _changes(previous: pd.DataFrame, plan: pd.DataFrame, unscheduled: pd.DataFrame,
             released: dict[str, str]) -> pd.DataFrame:
    """The plan against the previous plan (orplan.reports.diff), with the cause of each forced
    change: what changed overnight (validate._previous_plan), a pin the rules no longer allow
    (pin-released), or why a dropped patient is left out (their reason in unscheduled)."""
    from orplan.reports.diff import plan_diff

    cause = dict(zip(unscheduled["patient_id"], unscheduled["reason"], strict=True))
    cause.update(released)
    overnight = previous[previous["change"] != ""]
    cause.update(zip(overnight["patient_id"], overnight["change"], strict=True))
    new = plan.assign(date=pd.to_datetime(plan["date"]))
    # bookings outside the horizon are neither kept nor changed by this plan
    booked = previous.assign(session_id=previous["session_given"])
    diff = plan_diff(booked[booked["change"] != "outside-horizon"], new, cause)
    # a cause only where the booking was not kept
    diff.loc[diff["change"].isin(["kept", "added"]), "cause"] = ""
    return diff


# Seconds on the reference machine (orplan.work) of the steps around the solver, used when
# deterministic: reading, checking and preparing the case and the priced greedy plan before it
# (demo week: 0.5 s; hospital week, 649,938 pairs: 2.2-4.4 s; region, 13.7 million pairs: 33 s),
# starting the solver process and preparing the case again in it (fixed and per eligible pair),
# and timing a plan (fixed and per session: hospital week, 450 sessions, about 1 s).
SETUP_S = 0.5
SETUP_S_PER_PAIR = 2.5e-6
CHILD_S = 1.0
CHILD_S_PER_PAIR = 1e-6
TIMING_S = 0.3
TIMING_S_PER_SESSION = 2e-3
# Share of the time limit the counted budget leaves unused, so that a machine a little slower
# than the reference still keeps its plan reproducible (demo week at 60 s without it: 56 s wall,
# its monolithic MILP's nodes 20 % longer than counted).
SAFETY_SHARE = 0.05
# the planner's rule, its filled plan and the plans levelled with it (orplan.greedy,
# orplan.dominance), per eligible pair and plan (hospital week: 2.4 s for the first three)
PLANNER_S_PER_PAIR = 1.0e-6


# Seconds at most for the keepable deadlines' bound (orplan.keepable): this share of the limit,
# at most the cap (its node limit usually ends it sooner: hospital week ~N s)
KEEPABLE_SHARE = 0.03
KEEPABLE_CAP_S = 3.0


def keepable_seconds(time_limit: float) -> float:
    return min(KEEPABLE_CAP_S, KEEPABLE_SHARE * time_limit)


def tier_summary(data: PlanningData, terms: dict[str, dict[str, float]],
                 keepable: Keepable, due_bound: Keepable | None = None) -> list[dict[str, Any]]:
    """summary.json `tiers`: per priority tier, highest first, its terms, scale (the price of one
    unit of its weight, orplan.model.priority.tier_prices), cost in the written plan, and for
    the due tier a bound from the keepable deadlines and the gap to it: with `due_bound` (the
    most weight of deadlines any plan keeps) the due patients' whole price less that weight's,
    else the price of leaving out all but the most valuable `keepable_at_most` due patients."""
    config = data.case.config
    if not config.priority.tiers:
        return []
    scales = data.priority.attrs.get("tier_scales", {})
    out: list[dict[str, Any]] = []
    for tier in config.priority.tiers:
        names = [term for name in tier for term in TIER_TERMS[name]]
        cost = sum(terms.get(term, {}).get("value", 0.0) for term in names)
        entry: dict[str, Any] = {"name": "+".join(tier), "terms": names,
                                 "scale": scales.get(tier[0]), "cost": round(cost, 3),
                                 "bound": None, "gap": None}
        if "due" in tier:  # (a mandatory part costs at least 0)
            prices = np.sort(data.priority["breach_cost"].to_numpy(dtype=float))[::-1]
            bound = float(prices[int(keepable.at_most):].sum())
            if due_bound is not None:
                scale = float(scales.get("due") or 0.0)
                bound = max(bound, float(prices.sum()) - scale * due_bound.at_most)
            entry["bound"] = round(bound, 3)
            entry["gap"] = plan_gap(cost, bound)
        out.append(entry)
    return out


def solver_budget(time_limit: float, pairs: int, sessions: int, extras: float = 0.0) -> float:
    """The solver's counted seconds when deterministic (orplan.work): the time limit less
    estimates of what comes before and after it (as run_solve keeps), `extras` included (the
    report and the workbook when asked). A function of the case's size and the options alone."""
    timing = TIMING_S + TIMING_S_PER_SESSION * sessions
    reserve = max(WRITE_RESERVE_S, WRITE_RESERVE_SHARE * time_limit,
                  WRITE_RESERVE_TIMINGS * timing) + extras
    setup = SETUP_S + CHILD_S + (SETUP_S_PER_PAIR + CHILD_S_PER_PAIR) * pairs
    # the planner's rule and its filled plan, timed, before the solver (like the start plan),
    # and the plans levelled with it after
    # (only the planner's plan needs list scheduling: the others are timed as they are built)
    planner = (3 + MAX_LEVELLED) * PLANNER_S_PER_PAIR * pairs + timing
    return max(0.5, (1.0 - SAFETY_SHARE) * time_limit - setup - timing - reserve - GRACE_S
               - keepable_seconds(time_limit) - planner)


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory of this process and of the solver process (Linux reports KiB)."""
    import resource

    def mb(who: int) -> float:
        return round(resource.getrusage(who).ru_maxrss / 1024, 1)

    return {"main": mb(resource.RUSAGE_SELF), "solver": mb(resource.RUSAGE_CHILDREN)}


def plan_objective(data: PlanningData, timed: TimedPlan) -> float:
    """The objective of a timed plan, evaluated term by term (orplan.reports.kpi)."""
    stats = session_report(data.case, data.sessions, timed.plan)
    return sum(objective_terms(data.case, data.priority, data.sessions, stats,
                               timed.plan).values())


PLANNER = "planner's rule"
# plans behind the planner's rule that are levelled with it (best first), at most
MAX_LEVELLED = 3


def plan_terms(data: PlanningData, timed: TimedPlan) -> dict[str, float]:
    """Every objective term of a timed plan (orplan.reports.kpi)."""
    stats = session_report(data.case, data.sessions, timed.plan)
    return objective_terms(data.case, data.priority, data.sessions, stats, timed.plan)


def tier_costs(config: Config, terms: dict[str, float]) -> list[float]:
    """The objective split by the priority tiers, highest first ([priority] tiers); one figure,
    the whole objective, without tiers."""
    if not config.priority.tiers:
        return [sum(terms.values())]
    return [sum(terms.get(term, 0.0) for name in tier for term in TIER_TERMS[name])
            for tier in config.priority.tiers]


def choose_candidate(data: PlanningData, candidates: list[tuple[str, TimedPlan]],
                     reference: str | None = None, deadline: float | None = None,
                     level_s: float = 0.0) -> tuple[str, TimedPlan, list[dict[str, Any]]]:
    """The best candidate plan that keeps every rule and is never behind the planner's rule.

    Candidates are taken by their tier costs, highest tier first ([priority] tiers; without
    tiers, by objective), the solver's plan winning ties (its status then stands). Each is checked
    by orplan.verify before it is chosen; one that breaks a rule is repaired (orplan.repair: its
    cases at fault given up) and goes back in line at its new costs, or is dropped when no repair
    is found. With `reference` (the name of the planner's rule's candidate), a plan that keeps
    fewer deadlines due in the horizon, or plans fewer patients of some urgency class among
    those due or overdue, is passed over (the planner's plan itself never is), and the best
    MAX_LEVELLED such plans are levelled with the planner's (orplan.dominance.level_with) and go
    back in line, until `deadline` (wall.time()): a levelling is started only if `level_s`
    seconds (an estimate of one, or the longest one so far) end before it. With no candidate
    left, the empty plan (everyone left out) is written. Also returns, per candidate, its
    objective and tier costs, whether it was checked, kept every rule, how many cases its repair
    gave up, and whether it is behind the planner's rule (summary.json `candidates`)."""
    import heapq

    config = data.case.config
    keep_value = leave_out_price(data.priority)
    about: list[dict[str, Any]] = []
    line: list[tuple[tuple[float, ...], bool, int, bool]] = []
    plans: dict[int, TimedPlan] = {}
    floor: dict[str, int] | None = None
    if reference is not None:
        floor = clinical_counts(data, dict(candidates)[reference].plan)

    scored: dict[bytes, dict[str, float]] = {}  # plan_terms per plan content

    def score(timed: TimedPlan, into: dict[str, Any]) -> tuple[float, ...]:
        if timed.plan["patient_id"].duplicated().any():
            # a patient twice breaks a rule: checked (and repaired) last
            into.update(objective=math.inf, tiers=[math.inf])
            return (math.inf,)
        # candidates are often the same plan (small cases: the solver's, the patterns', the
        # LP's): its terms are found once
        cases = timed.plan.sort_values(["_p", "_s", "start"])
        key = np.concatenate([cases[["_p", "_s"]].to_numpy(dtype=np.float64).ravel(),
                              cases["start"].to_numpy(dtype=np.float64)]).tobytes()
        if key not in scored:
            scored[key] = plan_terms(data, timed)
        terms = scored[key]
        into["objective"] = round(sum(terms.values()), 6)
        into["tiers"] = [round(c, 3) for c in tier_costs(config, terms)]
        if floor is not None:
            into["behind_planners_rule"] = not dominates(clinical_counts(data, timed.plan), floor)
        return tuple(into["tiers"])

    for i, (name, timed) in enumerate(candidates):
        about.append({"name": name, "checked": False, "valid": None, "repaired": 0})
        plans[i] = timed
        line.append((score(timed, about[i]), name != "solver", i, False))
    heapq.heapify(line)
    candidates = list(candidates)
    levelled = 0
    chain = set(range(len(candidates)))  # which behind plans may be levelled next
    while line:
        _, _, i, checked = heapq.heappop(line)
        if about[i].get("behind_planners_rule") and candidates[i][0] != reference:
            # the best plans behind the planner's rule, levelled with it (orplan.dominance)
            # the best plan behind it, then its levelled plan while that is still behind
            ways = [False, True] if levelled == 0 else [False]
            may = reference is not None and levelled < MAX_LEVELLED and i in chain
            if may and deadline is not None and wall.time() + len(ways) * level_s >= deadline:
                # time for one levelling only: the planner's due and overdue patients first,
                # never behind it (hospital week, slow machine: 370 deadlines kept against 367;
                # the other way stayed behind)
                ways = [True]
                about[i]["levelling_shortened"] = True  # the clock's doing: not reproducible
                if wall.time() + level_s >= deadline:
                    about[i]["levelling_skipped"] = True
                    may = False
            if may and reference is not None:
                # the first time also the other way round: the planner's due and overdue
                # patients first, then the candidate's (never behind when they fit as before)
                levelled += 1
                for from_planner in ways:
                    levelling = wall.perf_counter()
                    chosen, starts = level_with(data, plans[i], dict(candidates)[reference],
                                                from_planner)
                    j = len(candidates)
                    suffix = " levelled on the planner's" if from_planner else " levelled"
                    candidates.append((candidates[i][0] + suffix,
                                       extract_stage(data, chosen, starts=starts)))
                    plans[j] = candidates[j][1]
                    about.append({"name": candidates[j][0], "checked": False, "valid": None,
                                  "repaired": 0})
                    heapq.heappush(line, (score(plans[j], about[j]), True, j, False))
                    if not from_planner:
                        chain = {j}
                    level_s = max(level_s, wall.perf_counter() - levelling)
            chain.discard(i)
            continue
        if checked:
            return candidates[i][0], plans[i], about
        fixed, violations, taken = repair(data.case, plans[i], keep_value)
        about[i].update(checked=True, valid=fixed is not None and taken == 0, repaired=taken)
        if fixed is None:
            about[i]["violations"] = len(violations)
            continue
        if taken == 0:
            return candidates[i][0], fixed, about
        plans[i] = fixed
        repaired: dict[str, Any] = {}
        heapq.heappush(line, (score(fixed, repaired), candidates[i][0] != "solver", i, True))
        about[i].update({f"{key}_repaired": value for key, value in repaired.items()})
        if "behind_planners_rule_repaired" in about[i]:
            about[i]["behind_planners_rule"] = about[i].pop("behind_planners_rule_repaired")
    return "empty", TimedPlan(empty_plan(), []), about


def plan_gap(objective: float, bound: float | None) -> float | None:
    """Relative gap of the written plan (after timing) against the solver's bound."""
    if bound is None:
        return None
    return max(0.0, (objective - bound) / max(abs(objective), 1e-9))


def run_solve(folder: Path, out_dir: Path, config: Config, options: SolveOptions) -> SolveOutcome:
    started = wall.perf_counter() - max(0.0, options.spent_before)
    times: dict[str, float] = {"startup": round(max(0.0, options.spent_before), 3)}

    def lap(stage: str, since: float) -> float:
        now = wall.perf_counter()
        times[stage] = round(now - since, 3)
        return now

    case, issues = load_stage(folder, config, options.durations)
    t = lap("load", started + max(0.0, options.spent_before))
    real_case, risk = case, None
    if options.durations is not None and options.durations.risk is not None:
        # the solver plans a case with the risk's reserves (orplan.risk); the plan written is
        # timed with the cases' mean minutes
        from orplan.risk import planning_case, risk_reserve

        risk = risk_reserve(case, options.durations.risk)
        case = planning_case(case, risk)
    data = planning_data(case)
    t = lap("prepare", t)
    keepable = keepable_deadlines(data, keepable_seconds(options.time_limit), options.seed)
    # the due tier's own bound: the weights of the deadlines kept, when the count was quick
    due_bound = None
    if case.config.priority.tiers and keepable.seconds < keepable_seconds(options.time_limit) / 2:
        due_weights = tier_values(case, data.priority)["due"]
        due_bound = keepable_deadlines(data, keepable_seconds(options.time_limit) / 2,
                                       options.seed, due_weights)
    t = lap("keepable", t)
    # the planner's rule has no time-limited step: always reproducible
    reproducible, work = True, {}
    tried: list[dict[str, Any]] = []
    if options.method == "greedy":
        result = greedy_stage(data)
        t = lap("solve", t)
        timed, source = extract_stage(data, result.chosen), "greedy"
    else:
        # The priced greedy plan: the bar the solver must beat, and the plan to write if the
        # solver has none in time (a cron job is better served by it than by none).
        start_plan = greedy_stage(data, priced=True)
        timing = wall.perf_counter()
        start_timed = extract_stage(data, start_plan.chosen, starts=start_plan.starts.get("chosen"))
        timing = wall.perf_counter() - timing
        # The planner's rule: the plan never written if it is behind it (choose_candidate), and
        # that plan's due and overdue patients kept where it put them, the rest of the time
        # filled by the optimiser's greedy rule (a plan that is never behind it, by construction)
        planner_timed = extract_stage(data, greedy_stage(data).chosen)
        filled, filled_starts = planner_fill(data, planner_timed)
        planner_filled = extract_stage(data, filled, starts=filled_starts)
        t = lap("start_plan", t)
        extras = len(case.waitlist) / 1000 * (
            REPORT_S_PER_1000 * options.report + WORKBOOK_S_PER_1000 * options.workbook)
        reserve = max(WRITE_RESERVE_S, WRITE_RESERVE_SHARE * options.time_limit,
                      WRITE_RESERVE_TIMINGS * timing,
                      WRITE_RESERVE_START_PLANS * times["start_plan"]) + extras
        deadline = wall.time() + options.time_limit - (t - started) - reserve
        # when deterministic, the solver's counted seconds (orplan.work): the same share of the
        # time limit, from estimates of the steps around it instead of their measured times
        budget = solver_budget(options.time_limit, len(data.pairs), len(data.sessions), extras)
        # with the default policy (priority tiers), never behind the planner's rule
        tiered = bool(case.config.priority.tiers)
        floors = clinical_counts(data, planner_timed.plan) if tiered else None
        result = solve_stage(case, deadline, options, start_plan.chosen, budget, floors,
                             filled if tiered else None, data)
        t = lap("solve", t)
        # the child's build time is part of the solve stage's wall time; report it on its own
        solve_wall = times.pop("solve")
        times["build"] = round(result.build_s, 3)
        times["solve"] = round(solve_wall - result.build_s, 3)
        if (result.chosen is not None or result.alternatives) and result.model_size.get(
                "pairs_signature") != pairs_signature(data.pairs):
            raise SolverProcessError("the solver process saw different eligible pairs")
        # Time every plan found and keep the best: the solver's, the session patterns', and the
        # greedy start (a cron job is better served by the greedy plan than by none).
        finish_by = wall.time() + max(1.0, started + options.time_limit - reserve / 2
                                      - wall.perf_counter())
        # Plans timed as they were built first: they need no search. Past finish_by, a plan
        # that would need one is skipped (timing it could take long: cases would be given up
        # one at a time).
        found = [("solver", result.chosen, result.starts.get("chosen"))] if (
            result.chosen is not None) else []
        found += [(name, mask, result.starts.get(name))
                  for name, mask in result.alternatives.items()]
        found.sort(key=lambda item: item[2] is None)
        candidates: list[tuple[str, TimedPlan]] = []
        cut = list(result.patterns.get("work", {}).get("cut_by_clock", []))
        timed_of: dict[bytes, TimedPlan] = {}  # the same plan from several stages: timed once
        for name, mask, starts in found:
            if starts is None and wall.time() >= finish_by:
                cut.append("timing")
                continue
            key = np.packbits(mask).tobytes() + (b"" if starts is None else b"starts"
                                                 + np.asarray(starts)[mask].tobytes())
            if key not in timed_of:
                timed_of[key] = extract_stage(data, mask, finish_by, starts)
            candidates.append((name, timed_of[key]))
        candidates.append(("greedy start", start_timed))
        candidates.append((PLANNER, planner_timed))
        candidates.append(("planner's rule filled", planner_filled))
        previous = previous_candidate(data)
        if previous is not None:  # keeping last night's plan is always a candidate
            candidates.append(("previous plan", extract_stage(data, previous[0], finish_by,
                                                              previous[1])))
            # and keeping it with the time it leaves filled by the optimiser's greedy rule (new
            # urgent referrals, sessions freed by cancellations)
            filled, starts = fill_previous(data, *previous)
            candidates.append(("previous plan filled", extract_stage(data, filled, finish_by,
                                                                     starts)))
        if any(timed.cut for _, timed in candidates):
            cut.append("timing")
        # a levelling takes about as long as one of the three plans made before the solver; it
        # may use the reserve's second half but for what checking and writing take after it
        level_by = wall.time() + max(0.0, started + options.time_limit
                                     - max(WRITE_RESERVE_S, reserve / 4) - wall.perf_counter())
        source, timed, tried = choose_candidate(data, candidates,
                                                PLANNER if tiered else None, level_by,
                                                times["start_plan"] / 3)
        if source != "solver":
            bounded = result.report.best_bound is not None
            result.report = dataclasses.replace(
                result.report, status=Status.FEASIBLE if bounded else Status.HEURISTIC,
                solver_status=f"{result.report.solver_status}; the "
                f"{_LABEL.get(source, source + ' plan')} was "
                f"{'better and was ' if len(candidates) > 1 else ''}written")
        if any(entry.get("levelling_skipped") or entry.get("levelling_shortened")
               for entry in tried):
            cut.append("levelling")
        if result.model_size.get("pairs_signature") is None:
            cut.append("solver")  # stopped at the deadline, or it ended without a result
        reproducible = options.deterministic and not cut
        work = {**result.patterns.get("work", {}), "cut_by_clock": sorted(set(cut))}
    report = result.report
    planning_objective = None
    if risk is not None:
        from orplan.risk import left_shift

        planning_objective = plan_objective(data, timed)
        planned_with = data
        case, data = real_case, planning_data(real_case)
        # a patient no session can take once the reserve is added is listed as such
        reserved = {patient: (code, f"{message}, once its risk reserve (--risk) is added")
                    for patient, (code, message) in planned_with.ineligible.items()
                    if patient not in data.ineligible}
        data.ineligible.update(reserved)
        shifted = left_shift(timed.plan, real_case)
        positions = pd.Series(np.arange(len(data.sessions)), index=data.sessions["session_id"])
        shifted["_s"] = positions.reindex(shifted["session_id"]).to_numpy(dtype=int)
        timed = TimedPlan(shifted, timed.dropped, timed.cut)
    t = lap("extract", t)
    # the last check: a plan that breaks a rule is repaired (its cases at fault given up) before
    # it is written; one still breaking a rule after that is written with its violations, exit 1
    fixed, violations, _ = repair(case, timed, leave_out_price(data.priority))
    if fixed is not None:
        timed = fixed
    t = lap("verify", t)
    tables, summary = report_stage(data, timed)
    t = lap("report", t)
    summary = {
        "status": report.status.value,
        "solver_status": report.solver_status,
        "model_objective": report.objective,
        **summary,
        "best_bound": report.best_bound,
        "gap": plan_gap(planning_objective if planning_objective is not None
                        else summary["objective"], report.best_bound),
        "model_gap": report.gap,
        "plan_source": source,
        "candidates": tried,
        "deadlines": {**keepable.summary(), "kept": summary["kpis"]["deadline_kept"]},
        "tiers": tier_summary(data, summary["terms"], keepable, due_bound),
        "reproducible": reproducible,
        "work": work,
        "plan_repairs": len(timed.dropped),
        "violations": len(violations),
        "times_s": times,
        "time_limit_s": options.time_limit,
        "model": {k: v for k, v in result.model_size.items() if k != "pairs_signature"},
        "patterns": result.patterns,
        "settings": {"method": options.method, "gap": options.gap, "threads": options.threads,
                     "seed": options.seed},
        "horizon": {"start": case.horizon_start.isoformat(), "days": case.horizon_days},
        "versions": {"orplan": __version__, "solver": report.solver,
                     "pulp": _version("pulp"), "highspy": _version("highspy")},
        "inputs": checksums(case, options.config_path,
                            options.durations.source if options.durations else ""),
        "warnings": sum(i.severity == "warning" for i in issues),
    }
    if options.durations is not None:
        summary["durations"] = durations_summary(case, options.durations, risk, timed,
                                                 planning_objective)

    def final_summary() -> dict[str, Any]:
        now = lap("write", t)
        times["total"] = round(now - started, 3)
        summary["peak_memory_mb"] = peak_memory_mb()
        return summary

    if report.status is not Status.NO_PLAN:
        write_outputs(out_dir, tables, final_summary, options.fmt,
                      functools.partial(_finish, options.report, options.workbook,
                                        out_dir.resolve().name))
    else:
        final_summary()
    return SolveOutcome(case, report, summary, tables, issues, violations, times)


def durations_summary(case: Case, plan: DurationPlan, risk: Any, timed: TimedPlan,
                      planning_objective: float | None) -> dict[str, Any]:
    """summary.json's `durations`: where the planned minutes came from and, with a risk target,
    the reserve and what the written plan's sessions risk (Fenton-Wilkinson, orplan.risk)."""
    from orplan.risk import session_risk

    out: dict[str, Any] = {
        "fit": plan.source or None, "quantile": plan.quantile, "risk_target": plan.risk,
        "keep_waitlist_minutes": plan.keep,
        "source": case.waitlist["_dur_source"].value_counts().sort_index().to_dict()}
    if risk is not None:
        risks = session_risk(case, timed.plan)["risk"]
        out["reserve"] = risk.summary()
        out["planning_objective"] = planning_objective
        out["session_risk"] = {
            "mean": round(float(risks.mean()), 4) if len(risks) else 0.0,
            "max": round(float(risks.max()), 4) if len(risks) else 0.0,
            "sessions_above_target": int((risks > (plan.risk or 0.0) + 1e-9).sum())}
    return out


_LABEL = {"greedy start": "greedy starting plan", "previous plan": "previous plan",
          "previous plan filled": "previous plan, filled,",
          "previous plan filled refilled": "previous plan, filled and refilled,"}


def _finish(report: bool, workbook: bool, name: str, folder: Path) -> None:
    """The files made from the written tables, inside the folder before it lands (as `name`)."""
    if report:
        from orplan.reports.html import write_report

        write_report(folder, name=name)
    if workbook:
        from orplan.io.excel import write_workbook

        write_workbook(folder)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def read_durations(path: Path) -> Any:
    """The duration fit at `path` (orplan.durations.read_fit); InvalidInput naming it when bad."""
    from orplan.durations import read_fit

    fitted, issues = read_fit(path)
    if fitted is None or has_errors(issues):
        raise InvalidInput(issues, f"the durations {path}")
    return fitted


def simulate_plan(folder: Path, config: Config, plan_path: Path, runs: int,
                  durations: Path | None, seed: int, write: bool) -> Any:
    """`orplan simulate`: read the case (blank duration_min filled by the fit, if any) and the
    plan, check one against the other, replay the plan (orplan.simulate) and, when `write`, add
    simulation.csv and summary.json's `simulation` to the plan's folder (each file replaced
    atomically; report.html refreshed when there is one)."""
    from orplan.io.plan_file import read_plan
    from orplan.simulate import simulate

    fitted = read_durations(durations) if durations is not None else None
    case, _ = load_stage(folder, config, DurationPlan(fitted, keep=True) if fitted else None)
    frame, issues = read_plan(plan_path)
    if frame is not None:
        file = plan_path.name if not plan_path.is_dir() else "plan"
        known = frame["session_id"].isin(case.sessions["session_id"])
        for row in frame.loc[~known, "_row"]:
            issues.append(Issue("unknown-session", file, int(row), "session_id",
                                f"the session is not in {case.file('sessions')}; simulate the "
                                "plan with the case it was made for"))
        on_list = frame["patient_id"].isin(case.waitlist["patient_id"])
        for row in frame.loc[~on_list, "_row"]:
            issues.append(Issue("unknown-patient", file, int(row), "patient_id",
                                f"the patient is not in {case.file('waitlist')}; simulate the "
                                "plan with the case it was made for"))
    if frame is None or has_errors(issues):
        raise InvalidInput(issues, f"the plan {plan_path}")
    result = simulate(case, frame, runs, fitted, seed)
    if write:
        _write_simulation(plan_path, result, durations)
    return result


def _write_simulation(folder: Path, result: Any, durations: Path | None) -> None:
    import json

    from orplan.io.write import replace_files

    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else {}
    summary["simulation"] = {**result.totals, "durations": str(durations) if durations else None}
    table = result.sessions.copy()
    for column in ("planned_end", "end"):
        table[column] = table[column].map(hhmm)
    for column in ("p_overtime", "p_over_allowed"):
        table[column] = table[column].round(4)
    for column in ("expected_overtime_min", "expected_cancelled"):
        table[column] = table[column].round(2)
    replace_files({
        folder / "simulation.csv": lambda path: table.to_csv(path, index=False),
        summary_path: lambda path: path.write_text(
            json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")})
    if (folder / "report.html").exists():
        from orplan.reports.html import write_report

        write_report(folder)
