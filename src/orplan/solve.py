"""The solver edge: the only module that talks to HiGHS. Returns orplan's own status and report.

The time limit is a promise to cron jobs, and HiGHS does not always keep it (some of its setup
steps never look at the clock). So by default the model is built and solved in a child process
that is asked to stop GRACE_S before the deadline and killed at the deadline; the result then says
no plan, and the pipeline writes its greedy starting plan instead, in time.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import multiprocessing
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pulp

from orplan import wall
from orplan.case import Case
from orplan.model.common import Model, PlanningData
from orplan.work import COSTS, Work, plan_units

# Seconds before the hard deadline at which the solver is asked to stop; the process is killed at
# the hard deadline if it has not answered by then.
GRACE_S = 3.0


class Status(enum.StrEnum):
    OPTIMAL = "optimal"  # proven optimal within the gap asked for
    FEASIBLE = "feasible"  # a plan, stopped at the time limit; see gap
    HEURISTIC = "heuristic"  # a plan from the planner's rule (--method greedy): no bound
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


@dataclass(frozen=True)
class SolverSettings:
    gap: float
    threads: int
    seed: int
    log_path: str | None = None
    verbose: bool = False
    # Stages share `budget` counted seconds (orplan.work) instead of the wall clock's time to
    # the deadline: the same input and seed give the same plan.
    deterministic: bool = True
    budget: float | None = None
    # Hand HiGHS the priced greedy plan as a start. Off: on the demo week it made the 60 s plan
    # worse (gap 9.5 % against 7.1 % without); the pipeline keeps the better plan instead.
    warm_start: bool = False
    # never behind the planner's rule (orplan.model.floors): rows of the monolithic MILP
    floors: dict[str, int] | None = None
    # a plan that meets the floors (mask over the eligible pairs), the monolithic MILP's start
    floor_start: np.ndarray | None = None


@dataclass
class SolveResult:
    report: SolveReport
    chosen: np.ndarray | None  # mask over the eligible pairs; None when there is no plan
    build_s: float = 0.0
    solve_s: float = 0.0
    model_size: dict[str, Any] = field(default_factory=dict)
    # Other plans found on the way (name -> mask over the eligible pairs); the caller keeps the
    # best after timing them.
    alternatives: dict[str, np.ndarray] = field(default_factory=dict)
    # Starts found with a plan (name, or "chosen" for `chosen` -> minutes per pair), see
    # plan.sequence
    starts: dict[str, np.ndarray] = field(default_factory=dict)
    patterns: dict[str, Any] = field(default_factory=dict)  # column generation figures


class SolverProcessError(RuntimeError):
    pass


def pairs_signature(pairs: Any) -> str:
    """Fingerprint of the (p, s) pair order, to check that parent and child agree."""
    digest = hashlib.sha256(pairs["p"].to_numpy(dtype=np.int64).tobytes())
    digest.update(pairs["s"].to_numpy(dtype=np.int64).tobytes())
    return digest.hexdigest()


# Above this many eligible pairs the monolithic MILP is not built: HiGHS finds no plan for it in
# minutes (measured: 650,000 pairs, root LP alone 290 s), so the time goes to the patterns.
MONOLITHIC_MAX_PAIRS = 60_000
# The monolithic MILP's root node on the reference machine, per eligible pair (demo week, 5,920
# pairs: 14 s; a 1,000-patient week, 54,225 pairs: not done in 25 s). When deterministic, the MILP
# is built only if its root takes at most MONOLITHIC_ROOT_SHARE of the solver's counted seconds.
MONOLITHIC_ROOT_S_PER_PAIR = 2.4e-3
MONOLITHIC_ROOT_SHARE = 0.5
# Share of the solve time for session patterns when the monolithic MILP follows.
PATTERN_SHARE = 0.4


# The compact LP (its prices give a bound and start the column generation, its solution the plans
# of orplan.rounding) gets at most this share of the solve time. It runs for every model (demo
# week, 60 s: 2.6 % gap with it; 1,000-patient week: 31 % with it, 92 % without), session by
# session up to COMPACT_MAX_PAIRS pairs (hospital week: 270,000 pairs in 7.8 s by sifting; two
# weeks, 940,000 pairs: not solved in 100 s), and over groups of alike sessions above that
# (model.aggregate: two weeks 5.4 s, four weeks 27-30 s, region 38-42 s; on the hospital week its
# bound is 1.4 % below the session-by-session one).
COMPACT_SHARE = 0.45
# Without the monolithic MILP, the LP's plans and bound are all there is: it may take more (four
# weeks need 27-30 s of a 60 s run).
LARGE_COMPACT_SHARE = 0.6
COMPACT_MAX_PAIRS = 500_000
# What follows the LP (rounding and repair by the greedy rule, a few knapsack rounds) takes time
# that grows with the case, not with the budget: at least this many times what making the
# relaxation took is left after the LP (four weeks: 1.7 s for the relaxation, 16 s after the LP;
# without it the LP took its whole share and the solver overran its deadline by 6 s).
AFTER_LP_RELAXATIONS = 10.0
# Share of the time then left for the plans from the compact LP (the restricted MILP and
# refilling): half when the monolithic MILP is not built (the neighbourhood search has the rest),
# a little when it follows.
ROUNDING_SHARE = 0.5
MONOLITHIC_ROUNDING_SHARE = 0.2
# Without the monolithic MILP, the neighbourhood search (orplan.neighbourhoods) improves the best
# of the LP's plans in this share of the time they leave, less the patterns' evaluations.
NEIGHBOURHOOD_SHARE = 1.0
# Seconds kept for the patterns after the LP's plans, in rounds of session knapsacks (a bound at
# the LP's prices and at minute prices, and the first patterns).
PATTERN_EVALUATIONS = 5
# Without the monolithic MILP or the compact LP's plans: the root column generation's share;
# its pattern LP is then rounded in the rest.
ROOT_SHARE = 0.6


def build_and_solve(case: Case, deadline: float, settings: SolverSettings,
                    start: np.ndarray | None = None,
                    progress: Callable[[SolveResult], None] | None = None,
                    data: PlanningData | None = None) -> SolveResult:
    """Session patterns first (a bound valid for the full model and a plan, see orplan.colgen),
    then, for models small enough, the monolithic MILP with the time left. The bound reported is
    the better of the two valid bounds. The stages share `settings.budget` counted seconds when
    deterministic (orplan.work), else the time to `deadline`; `deadline` (wall.time()) stops
    every stage either way. `progress` is given the plans found so far (as a result without a
    solver plan) after each stage that finds some: the isolated process hands them on, so that a
    solve stopped at the deadline still has them. `data`: the case's planning data, when the
    caller has it (planning_data is deterministic for a case)."""
    from orplan.colgen import generate_patterns
    from orplan.greedy import (
        fill_previous,
        greedy_assignment,
        previous_candidate,
        priced_order,
        priced_plan,
    )
    from orplan.model.aggregate import solve_aggregated
    from orplan.model.bound import exact_view, knapsack_work, lagrangian_bound, relaxation
    from orplan.model.build import build_model, planning_data
    from orplan.model.compact import patients_to_cover, solve_compact
    from orplan.rounding import compact_plans, timed_repair

    budget = settings.budget if settings.deterministic else None
    work = Work(deadline - wall.time() if budget is None else budget, deadline,
                budget is not None)
    deterministic = work.deterministic
    started = wall.perf_counter()
    data = data if data is not None and data.case is case else planning_data(case)
    duration = case.waitlist["duration_min"].to_numpy(dtype=float)
    order = priced_order(data.priority, duration)
    # the caller's priced greedy plan if given (the same plan: it saves making it again)
    start_plan = start if start is not None and len(start) == len(data.pairs) else \
        priced_plan(data, first=order)[0]
    root_seconds = MONOLITHIC_ROOT_S_PER_PAIR * len(data.pairs)
    # when deterministic, only if its root fits its share: past it the wall clock would stop it
    monolithic = len(data.pairs) <= MONOLITHIC_MAX_PAIRS and (
        not deterministic or root_seconds <= MONOLITHIC_ROOT_SHARE * work.left())
    alternatives: dict[str, np.ndarray] = {}
    starts: dict[str, np.ndarray] = {}
    t = wall.perf_counter()
    rel = relaxation(data)
    work.charge("relaxation", ("relaxation", 1), ("relaxation_pair", len(data.pairs)))
    compact = None
    lp_seconds: dict[str, float] = {"relaxation": round(wall.perf_counter() - t, 3)}
    lp_figures: dict[str, Any] = {}  # the compact LP's and the restricted MILP's, other than time

    # With a previous plan: its bookings kept and the time they leave filled (as the pipeline's
    # candidate), refilled with the LP's plans (orplan.rounding.compact_plans)
    previous_plans: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    booked = previous_candidate(data)
    if booked is not None:
        filled, filled_starts = fill_previous(data, *booked)
        previous_plans["previous plan filled"] = timed_repair(data, filled, order, filled_starts)
        work.charge("previous plan", *plan_units(len(data.pairs), len(data.sessions), plans=2))

    def plans_from(x: np.ndarray, source: str, seconds: float, aggregated: bool = False) -> None:
        """The plans of orplan.rounding from an LP solution, as alternatives."""
        started_plans = wall.perf_counter()
        for name, (mask, times) in compact_plans(data, order, x, seconds, settings.threads,
                                                 settings.seed, source, lp_seconds,
                                                 aggregated, rel, work,
                                                 also=previous_plans,
                                                 floors=settings.floors,
                                                 floor_start=settings.floor_start).items():
            alternatives[name], starts[name] = mask, times
        lp_seconds[f"{source.split()[0]}_plans"] = round(
            wall.perf_counter() - started_plans, 3)
        if "milp_objective" in lp_seconds:
            lp_figures["restricted_milp_objective"] = lp_seconds.pop("milp_objective")

    if len(rel.p):
        left = work.left()
        relaxation_s = (work.counted["relaxation"] if deterministic
                        else lp_seconds["relaxation"])
        budget = min(left * (COMPACT_SHARE if monolithic else LARGE_COMPACT_SHARE),
                     left - AFTER_LP_RELAXATIONS * relaxation_s)
        # session by session where that is small enough, else over groups of alike sessions
        aggregated = patients_to_cover(rel, order)[rel.p].sum() > COMPACT_MAX_PAIRS
        # on a slower machine, the same share of the wall clock's time left
        wall_share = min(1.0, budget / max(left, 1e-9))
        if aggregated:
            compact = solve_aggregated(rel, data.sessions, order, budget, settings.threads,
                                       settings.seed, work, wall_share)
        else:
            compact = solve_compact(rel, order, budget, settings.threads, settings.seed, work,
                                    floor_patients(data, settings), wall_share)
        lp_seconds.update({"compact_lp": round(compact.seconds, 3),
                           "compact_lp_build": round(compact.build_seconds, 3)})
        lp_figures.update({"aggregated": bool(aggregated), "optimal": compact.optimal,
                           "sifting_rounds": compact.rounds, "pairs": compact.columns})
        if compact.solved:
            # Its plans take the time left but a little: at hospital scale, column generation
            # from its prices did not raise its bound (69,445,535 after 17 rounds) and the
            # dive's plans lost to these (77.6 M against 73.7 M).
            # The patterns then need a few rounds of session knapsacks: their time is kept,
            # measured on the bound at the LP's prices (reported on its own).
            # (on the minutes' own grid: the patterns' coarser one would weaken it)
            t = wall.perf_counter()
            fine = exact_view(rel)
            lp_figures["bound"] = lagrangian_bound(fine, compact.prices)
            spent = work.charge("bound", *knapsack_work(fine))
            evaluation = work.estimate(*knapsack_work(rel))
            if not deterministic:
                evaluation = (wall.perf_counter() - t) * evaluation / max(spent, 1e-9)
            left = work.left() - PATTERN_EVALUATIONS * evaluation
            plans_from(compact.x, "aggregated LP" if aggregated else "compact LP",
                       left * (MONOLITHIC_ROUNDING_SHARE if monolithic else ROUNDING_SHARE),
                       aggregated)
            if progress is not None and alternatives:
                progress(_found_so_far(data, alternatives, starts, lp_figures, work,
                                       wall.perf_counter() - started, deadline))
            if not monolithic:
                searched = improve_best(data, rel, alternatives, starts,
                                        NEIGHBOURHOOD_SHARE * (work.left() - PATTERN_EVALUATIONS
                                                               * evaluation),
                                        work, settings.threads, settings.seed,
                                        settings.floors)
                if searched is not None:
                    lp_figures["neighbourhoods"] = searched
            if progress is not None:
                progress(_found_so_far(data, alternatives, starts, lp_figures, work,
                                       wall.perf_counter() - started, deadline))
    share = PATTERN_SHARE if monolithic else 1.0
    pattern_seconds = max(0.5, work.left() * share)
    # Small models dive for a plan; large ones round the root's pattern LP unless the compact LP
    # gave plans (then the patterns only price them: the bound).
    patterns = generate_patterns(data, start_plan, pattern_seconds, settings.threads,
                                 settings.seed, root_share=0.5 if monolithic else ROOT_SHARE,
                                 rel=rel, compact=compact, dive=monolithic,
                                 compact_bound=lp_figures.get("bound"), work=work)
    if not monolithic and not alternatives and patterns.root_x is not None and len(rel.p):
        plans_from(patterns.root_x, "pattern LP", work.left())
    patterns.seconds.update(lp_seconds)
    preferred = patterns.preferred
    if preferred is not None and preferred.any():
        planned = np.zeros(len(data.priority), dtype=bool)
        planned[data.pairs["p"].to_numpy()[preferred]] = True
        first = np.concatenate([order[planned[order]], order[~planned[order]]])
        # Flip rooms by the model's minutes rule (a surgeon in parallel sessions) leave work to
        # the timing step, which at this size can time them exactly.
        alternatives["patterns"] = greedy_assignment(data, first, preferred=preferred,
                                                     allow_overtime=True, flip_rooms=True)
        work.charge("patterns", *plan_units(len(data.pairs), len(data.sessions)))
    pattern_figures = {"bound": _finite(patterns.bound), "rounds": patterns.rounds,
                       "compact_lp": lp_figures,
                       "columns": patterns.columns, "root_converged": patterns.root_converged,
                       "seconds": patterns.seconds, "work": work.figures()}
    pattern_s = wall.perf_counter() - started
    bound = _finite(patterns.bound)
    size: dict[str, Any] = {"eligible_pairs": len(data.pairs),
                            "pairs_signature": pairs_signature(data.pairs),
                            "monolithic": monolithic}
    if not monolithic:
        # no solver plan: every plan found goes to the caller as an alternative
        status = Status.FEASIBLE if alternatives else Status.NO_PLAN
        report = SolveReport(status, None, bound, None, pattern_s,
                             "compact LP, session patterns and restricted MILP",
                             solver_version(), deadline - wall.time() + pattern_s)
        return SolveResult(report, None, 0.0, pattern_s, size, alternatives, starts,
                           pattern_figures)
    if progress is not None and alternatives:
        progress(_found_so_far(data, alternatives, starts, lp_figures, work, pattern_s,
                               deadline, bound))
    built_at = wall.perf_counter()
    model = build_model(case, data, floors=settings.floors)
    work.charge("monolithic MILP", ("milp_build_pair", len(data.pairs)))
    warm_start = settings.warm_start
    if settings.floors and settings.floor_start is not None:
        # with floors the empty plan is no solution: start from one that meets them
        set_start(model, settings.floor_start)
        warm_start = True
    elif settings.warm_start:
        set_start(model, greedy_assignment(model, order))
    built = wall.perf_counter()
    report = solve_model(model, work.left(), settings.gap, settings.threads,
                         settings.seed, settings.log_path, settings.verbose,
                         warm_start=warm_start, work=work, stage="monolithic MILP",
                         root_seconds=root_seconds)
    pattern_figures["work"] = work.figures()
    chosen = None if report.status is Status.NO_PLAN else chosen_pairs(model)
    if bound is not None and (report.best_bound is None or bound > report.best_bound):
        report = dataclasses.replace(report, best_bound=bound)
    size.update({"variables": model.problem.numVariables(),
                 "constraints": model.problem.numConstraints(), "rows": model.family_rows})
    return SolveResult(report, chosen, built - built_at, wall.perf_counter() - built + pattern_s,
                       size, alternatives, starts, pattern_figures)


def floor_patients(data: Any, settings: SolverSettings) -> np.ndarray | None:
    """With floors: the patients of the plan that meets them (settings.floor_start), for the
    compact LP to hold."""
    if not settings.floors or settings.floor_start is None:
        return None
    patients = np.zeros(len(data.priority), dtype=bool)
    patients[data.pairs["p"].to_numpy()[settings.floor_start]] = True
    return patients


def _found_so_far(data: Any, alternatives: dict[str, np.ndarray],
                  starts: dict[str, np.ndarray], lp_figures: dict[str, Any], work: Work,
                  seconds: float, deadline: float, bound: float | None = None) -> SolveResult:
    """The plans found so far, as the result of a solve stopped here by the clock."""
    report = SolveReport(Status.FEASIBLE, None, bound, None, seconds,
                         "stopped by orplan at the time limit (the plans found before it kept)",
                         solver_version(), deadline - wall.time() + seconds)
    figures = {"bound": bound, "compact_lp": dict(lp_figures), "work": work.figures()}
    return SolveResult(report, None, 0.0, seconds,
                       {"eligible_pairs": len(data.pairs),
                        "pairs_signature": pairs_signature(data.pairs), "partial": True},
                       dict(alternatives), dict(starts), figures)


def _child(sender: Connection, target: Callable[..., SolveResult], args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> None:
    def progress(result: SolveResult) -> None:
        sender.send(("partial", result))

    try:
        sender.send(("ok", target(*args, **kwargs, progress=progress)))
    except BaseException:
        sender.send(("error", traceback.format_exc()))
    finally:
        sender.close()


def improve_best(data: Any, rel: Any, alternatives: dict[str, np.ndarray],
                 starts: dict[str, np.ndarray], seconds: float, work: Work, threads: int,
                 seed: int, floors: dict[str, int] | None = None) -> dict[str, Any] | None:
    """The best timed plan of `alternatives` (by the relaxation's measure, orplan.refill)
    improved by the neighbourhood search (orplan.neighbourhoods) in `seconds` of `work`'s clock,
    brought level with `floors` where it can, added as "NAME, neighbourhoods" when a
    neighbourhood was kept; its figures, or None when none was run."""
    from orplan.model.floors import shortfall
    from orplan.neighbourhoods import MIN_NEIGHBOURHOOD_S, improve
    from orplan.refill import plan_values

    begun = work.now()

    timed = [name for name in alternatives if name in starts]
    if seconds < MIN_NEIGHBOURHOOD_S or not timed:
        return None
    # the least behind the planner's rule, then the best
    best = max(timed, key=lambda name: (-shortfall(data, floors or {}, alternatives[name]),
                                        float(plan_values(rel, alternatives[name]).sum()), name))
    chosen, times = alternatives[best], starts[best]
    levelled = False
    planner = None
    if floors:
        # behind the planner's rule: levelled with its plan first (orplan.dominance.level_with,
        # as the pipeline would level it) if that leaves it less behind, so that the search
        # improves a plan as little behind as can be
        from orplan.dominance import clinical_counts, level_with
        from orplan.greedy import greedy_assignment
        from orplan.neighbourhoods import behind_by, listed_timing

        current = listed_timing(data, chosen, times)
        if behind_by(clinical_counts(data, current.plan), floors):
            planner = listed_timing(data, greedy_assignment(data), None)
            level_chosen, level_times = level_with(data, current, planner)
            level_timed = listed_timing(data, level_chosen, level_times)
            if behind_by(clinical_counts(data, level_timed.plan), floors) < behind_by(
                    clinical_counts(data, current.plan), floors):
                chosen, times = level_chosen, level_times
                levelled = True
        work.charge("neighbourhoods", *plan_units(len(data.pairs), len(data.sessions), 4))
    chosen, times, search = improve(data, rel, chosen, times, seconds - (work.now() - begun),
                                    work, threads, seed, floors)
    if search.kept or levelled:
        name = f"{best}{' levelled' if levelled else ''}, neighbourhoods"
        alternatives[name], starts[name] = chosen, times
        if search.behind_after > 0 and planner is not None:
            # still a little behind: levelled once more (the choice levels only the best plans)
            alternatives[f"{name} levelled"], starts[f"{name} levelled"] = level_with(
                data, listed_timing(data, chosen, times), planner)
            work.charge("neighbourhoods", *plan_units(len(data.pairs), len(data.sessions), 2))
    return {"start": best, "levelled": levelled, **search.figures()}


def solve_isolated(case: Case, deadline: float, settings: SolverSettings,
                   target: Callable[..., SolveResult] = build_and_solve,
                   start: np.ndarray | None = None) -> SolveResult:
    """Run `target(case, deadline - GRACE_S, settings, progress=...)` in a child process; kill
    it at `deadline` (a hard promise) and, if it has not answered by then, return the plans it
    reported so far through `progress` (its stage "solver" then cut by the clock), or no plan
    without any; no plan too if it died without answering (for instance out of memory). An
    error raised in it is raised here. `start` (the
    priced greedy plan, see build_and_solve) is passed on when given."""
    context = multiprocessing.get_context("spawn")  # fork is unsafe: BLAS threads already run
    receiver, sender = context.Pipe(duplex=False)
    soft_deadline = deadline - min(GRACE_S, max(0.0, deadline - wall.time()) / 4)
    process = context.Process(target=_child,
                              args=(sender, target, (case, soft_deadline, settings),
                                    {} if start is None else {"start": start}), daemon=True)
    started = wall.perf_counter()
    process.start()
    sender.close()
    partial: SolveResult | None = None  # the plans it found so far (see build_and_solve)
    try:
        while receiver.poll(max(0.0, deadline - wall.time())):
            try:
                kind, payload = receiver.recv()
            except EOFError:
                # died without a word (out of memory, killed): like a timeout, no solver plan;
                # the caller writes its greedy starting plan, which a cron job needs more
                process.join(5)
                seconds = wall.perf_counter() - started
                text = (f"the solver process ended unexpectedly (exit code {process.exitcode}; "
                        "it may have run out of memory)")
                if partial is not None:
                    return _cut_short(partial, seconds, deadline,
                                      f"{text}; the plans it found before were kept")
                report = SolveReport(Status.NO_PLAN, None, None, None, seconds, text,
                                     solver_version(), deadline - wall.time() + seconds)
                return SolveResult(report, None, 0.0, seconds)
            if kind == "partial":
                partial = payload
                continue
            process.join(5)
            if kind == "error":
                raise SolverProcessError(f"the solver process failed:\n{payload}")
            return payload  # type: ignore[no-any-return]
        process.kill()
        process.join()
        seconds = wall.perf_counter() - started
        if partial is not None:
            return _cut_short(partial, seconds, deadline, partial.report.solver_status)
        report = SolveReport(Status.NO_PLAN, None, None, None, seconds,
                             "stopped by orplan at the time limit", solver_version(),
                             deadline - wall.time() + seconds)
        return SolveResult(report, None, 0.0, seconds)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
            process.join()


def _cut_short(partial: SolveResult, seconds: float, deadline: float,
               text: str) -> SolveResult:
    """The plans a solver process found before it was stopped (or died): kept, its stage
    "solver" recorded as cut (the run is not reproducible)."""
    work = partial.patterns.setdefault("work", {})
    work["cut_by_clock"] = sorted({*work.get("cut_by_clock", []), "solver"})
    return dataclasses.replace(partial, report=dataclasses.replace(
        partial.report, seconds=seconds, time_limit=deadline - wall.time() + seconds,
        solver_status=text))


def solver_version() -> str:
    import highspy

    try:
        h = highspy.Highs()
        return f"HiGHS {h.version()}"
    except Exception:  # pragma: no cover - very old highspy
        return "HiGHS"


def set_start(model: Model, chosen: np.ndarray) -> None:
    """Give the solver a starting plan: the chosen pairs and the sessions they open. HiGHS
    completes the other variables itself."""
    for variable, value in zip(model.pairs["x"], chosen, strict=True):
        variable.setInitialValue(1.0 if value else 0.0)
    opened = np.zeros(len(model.sessions), dtype=bool)
    opened[model.pairs["s"].to_numpy()[chosen]] = True
    for variable, value in zip(model.sessions["y"], opened, strict=True):
        variable.setInitialValue(1.0 if value else 0.0)


def solve_model(model: Model, time_limit: float, gap: float, threads: int, seed: int,
                log_path: str | None = None, verbose: bool = False,
                warm_start: bool = False, work: Work | None = None,
                stage: str = "MILP", max_improving: int | None = None,
                root_seconds: float = 0.0, max_nodes: int | None = None) -> SolveReport:
    """Solve with HiGHS. `time_limit` is the solver's share of the run's budget (seconds of
    `work`'s clock, see orplan.work: when deterministic, a limit on branch-and-bound nodes that
    HiGHS keeps whatever the machine, and the wall clock's time left as HiGHS's time limit);
    `warm_start` passes the variables' initial values (see set_start); `max_improving`: stop
    after this many improving plans; `root_seconds`: an estimate of the root node's time
    (deterministic node limits count the nodes after it); `max_nodes`: a node limit of the
    caller's instead (a small MILP, whose nodes cost far less than mip_node_row says)."""
    options: dict[str, Any] = {"random_seed": int(seed)}
    if threads > 1:
        options["parallel"] = "on"
    seconds = float(time_limit)
    if work is not None and work.deterministic:
        node = COSTS["mip_node_row"] * max(1, model.problem.numConstraints())
        # at least one: with none, HiGHS stops before its root heuristics and finds no plan
        # better than its start
        options["mip_max_nodes"] = max(1, int((seconds - root_seconds) / node))
        if max_nodes is not None:
            options["mip_max_nodes"] = int(max_nodes)
        # past twice its share the wall clock stops it (the run then is not reproducible)
        seconds = min(work.wall_left(), 2.0 * seconds + 2.0)
    if max_improving is not None:
        options["mip_max_improving_sols"] = int(max_improving)
    gap_abs = None
    if model.case.config.priority.tiers:
        # per tier: the gap of the last tier, not of the whole objective (see
        # orplan.model.priority.lowest_tier_reference)
        from orplan.model.priority import lowest_tier_reference

        gap_abs = gap * lowest_tier_reference(model.case, model.priority, model.sessions)
        gap = 0.0
    from orplan.greedy import leave_out_price
    from orplan.model.common import objective_scale

    prices = leave_out_price(model.priority)
    scale = objective_scale(float(np.abs(prices).max()) if len(prices) else 0.0)
    if scale:
        options["user_objective_scale"] = scale
    solver = pulp.HiGHS(msg=verbose, gapRel=gap, gapAbs=gap_abs, threads=int(threads),
                        timeLimit=max(1.0, seconds), logPath=log_path,
                        warmStart=warm_start, **options)
    started = wall.perf_counter()
    stats = model.problem.solve(solver)
    seconds = wall.perf_counter() - started
    status_text = str(getattr(stats, "status_str", stats.status))
    solver_model = model.problem.solverModel
    if work is not None and solver_model is not None:
        info = solver_model.getInfo()
        iterations = max(0, int(info.simplex_iteration_count))
        # (the nodes' time is in their iterations)
        work.charge(stage, ("mip_iteration", iterations),
                    ("mip_row", model.problem.numConstraints() * iterations))
        # (PuLP 4.2 says "TimeLimit"; older texts "Time limit reached")
        if "timelimit" in status_text.lower().replace(" ", ""):
            work.stopped(stage)
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


def solve_small(problem: pulp.LpProblem, time_limit: float = 10.0) -> bool:
    """Solve a small auxiliary MILP (e.g. exact timing of a few sessions); True if it has a
    solution. Deterministic: one thread, fixed seed."""
    solver = pulp.HiGHS(msg=False, threads=1, timeLimit=time_limit, random_seed=0)
    return bool(problem.solve(solver).has_solution)


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
