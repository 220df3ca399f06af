"""Plans from an LP solution per pair: the compact LP's (orplan.model.compact) or, where that is
too large, the root pattern LP's (orplan.colgen; the plans are then named "pattern LP" and
"pattern LP MILP").

At hospital scale the compact LP plans almost every patient it plans at all wholly (2,109 of the
2,121 patients it uses), but spread over several sessions, so it is not a plan. Two plans are made
from it:

- "compact LP": the patients it plans first (most certain first), each trying its likeliest
  session, then the rest in price order, placed by the greedy planner with the model's minutes
  rule for flip rooms;
- "compact LP MILP": the full MILP (orplan.model.build) over the pairs the compact LP uses plus
  those of the first plan, which also starts it. It is small (a few thousand pairs) and HiGHS
  solves it in seconds, where the full model (650,000 pairs) gives nothing in minutes. Its bound
  is not a bound of the full model and is not used as one.

Both place flip rooms by the minutes rule, which a day's timing cannot always honour. So each is
timed by list scheduling, the cases of sessions that would end past their allowed overtime are
taken out, and the greedy planner, timing cases as it places them, fills the room left around the
timed cases (those patients first, their session preferred). The result needs no search to time.

Given the relaxation, each plan is then refilled (orplan.refill) and timed again, a few times: the
plans named with " refilled".
"""

from __future__ import annotations

import numpy as np

from orplan import wall
from orplan.greedy import greedy_assignment, leave_out_price
from orplan.model.aggregate import session_groups
from orplan.model.bound import Relaxation
from orplan.model.common import PlanningData
from orplan.plan import list_timing
from orplan.refill import refill
from orplan.work import Work, plan_units

# Patients whose compact LP values sum to more than this are planned first.
ROUND_FROM = 0.2
# Relative gap at which the restricted MILP stops: its plan is then repaired and its bound is not
# a bound of the full model, so a tight gap buys little.
RESTRICTED_GAP = 1e-3
# Share of the time after the first plan kept for refilling the plans (orplan.refill).
REFILL_SHARE = 0.3
# Refilling gets at least this share of the time for the LP's plans, whatever the MILP took.
MIN_REFILL_SHARE = 0.15
# When deterministic (orplan.work), the restricted MILP stops after this many plans better than
# its start (hospital week: 2 stopped it at 10 s with 73.47 M; without, 73.49-73.53 M when the
# wall clock stopped it at 13-22 s).
RESTRICTED_IMPROVING = 2
# Refill and time again at most this often (hospital week, when refilling made no new flip rooms:
# 73.15 M, 73.08 M, 73.02 M, then no gain; refilling without timing between passes swung:
# 73.11 M, 73.36 M, 73.18 M).
REFILL_PASSES = 4


def lp_first(data: PlanningData, order: np.ndarray, x: np.ndarray,
             aggregated: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Patients in the order to place them (those the LP plans, most certain first, then the
    rest of `order`) and the preferred pairs (mask over data.pairs: each such patient's session,
    see `pack`; `aggregated`: x is an aggregated LP's, spread over groups of alike sessions)."""
    p = data.pairs["p"].to_numpy()
    total = np.bincount(p, weights=x, minlength=len(data.priority))
    planned = order[total[order] > ROUND_FROM]
    planned = planned[np.argsort(-total[planned], kind="stable")]
    group = session_groups(data.sessions) if aggregated else np.arange(len(data.sessions))
    preferred = pack(data, x, planned, group)
    return np.concatenate([planned, order[total[order] <= ROUND_FROM]]), preferred


def pack(data: PlanningData, x: np.ndarray, patients: np.ndarray,
         group: np.ndarray) -> np.ndarray:
    """A session for each of `patients`, in turn (mask over data.pairs): within the group of
    sessions (`group`: a code per session) where the LP plans most of them, the one where their
    surgeon already operates if the case fits, else the fullest it fits in (best fit), else the
    emptiest. An aggregated LP names only a group of alike sessions (model.aggregate); this
    keeps each session's cases within its minutes and a surgeon's in one room. With one session
    per group, it is the patient's likeliest session. (Packing the session-by-session compact
    LP's patients by groups was worse on a hospital week: 75.8 M against 75.4 M, and its
    restricted MILP, over more pairs, did not improve in 30 s.)"""
    pairs = data.pairs
    p, s = pairs["p"].to_numpy(), pairs["s"].to_numpy()
    n_groups = int(group.max()) + 1 if len(group) else 1
    # each patient's group of most LP value
    key = p.astype(np.int64) * n_groups + group[s]
    unique, inverse = np.unique(key, return_inverse=True)
    group_value = np.bincount(inverse, weights=x, minlength=len(unique))
    by_value = np.lexsort((-group_value, unique // n_groups))
    first = by_value[np.r_[True, (unique // n_groups)[by_value][1:]
                           != (unique // n_groups)[by_value][:-1]]]
    best = np.full(len(data.priority), -1, dtype=np.int64)
    best[unique[first] // n_groups] = unique[first] % n_groups
    # the pairs of each patient in that group, by patient
    in_best = np.flatnonzero(group[s] == best[p])
    in_best = in_best[np.argsort(p[in_best], kind="stable")]
    bounds = np.searchsorted(p[in_best], np.arange(len(data.priority) + 1))
    case = data.case
    turnover = float(case.config.turnover_min)
    sessions = data.sessions
    room = (sessions["capacity"] + sessions["max_ot"]).to_numpy(dtype=float) + turnover
    duration = case.waitlist["duration_min"].to_numpy(dtype=float) + turnover
    surgeon = case.waitlist["surgeon_id"].to_numpy()
    operates: set[tuple[str, int]] = set()
    preferred = np.zeros(len(p), dtype=bool)
    for patient in patients.tolist():
        candidates = in_best[bounds[patient]:bounds[patient + 1]]
        if len(candidates) == 0:
            continue
        options = s[candidates]
        left = room[options] - duration[patient]
        fits = left >= -1e-9
        own = np.array([(surgeon[patient], int(o)) in operates for o in options]) \
            if surgeon[patient] else np.zeros(len(options), dtype=bool)
        if (fits & own).any():
            pick = int(np.flatnonzero(fits & own)[np.argmin(left[fits & own])])
        elif fits.any():
            pick = int(np.flatnonzero(fits)[np.argmin(left[fits])])
        else:
            pick = int(np.argmax(left))
        session = int(options[pick])
        room[session] -= duration[patient]
        if surgeon[patient]:
            operates.add((surgeon[patient], session))
        preferred[candidates[pick]] = True
    return preferred


def timed_repair(data: PlanningData, chosen: np.ndarray, first: np.ndarray,
                 given: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Make a plan timed (see the module text): the chosen pairs and their starts. `given`: per
    pair, a start from an earlier timing of a plan (NaN for none); a group of sessions linked by
    surgeons that list scheduling leaves late keeps them if all its cases have one (it is then
    as that plan timed it)."""
    assignment = data.pairs.loc[chosen, ["p", "s"]]
    if given is not None:
        assignment = assignment.assign(start=given[chosen])
    timed = list_timing(data.case, data.sessions, assignment, leave_out_price(data.priority))
    pair_of = np.full(len(data.priority), -1, dtype=np.int64)
    pair_of[assignment["p"].to_numpy()] = np.flatnonzero(chosen)
    pairs = pair_of[timed["p"].to_numpy(dtype=np.int64)]
    times = np.full(len(data.pairs), np.nan)
    times[pairs] = timed["start"].to_numpy(dtype=float)
    fixed = np.zeros(len(data.pairs), dtype=bool)
    fixed[pairs[~timed["late"].to_numpy(dtype=bool)]] = True
    repaired = greedy_assignment(data, first, preferred=chosen, allow_overtime=True, times=times,
                                 fixed=fixed)
    return repaired, times


def restricted_milp(data: PlanningData, keep: np.ndarray, start: np.ndarray, seconds: float,
                    threads: int, seed: int,
                    figures: dict[str, float] | None = None,
                    work: Work | None = None,
                    floors: dict[str, int] | None = None) -> np.ndarray | None:
    """The full MILP over the pairs of `keep` (mask over data.pairs), started from `start` (a
    plan within `keep`): its plan as a mask over data.pairs, None if it has none in time
    (`seconds` of `work`'s clock, see orplan.work; when deterministic, it also stops after
    RESTRICTED_IMPROVING plans better than the start). `figures` gets the seconds to build it
    and to solve it, and its objective (before timing). `floors`: the planner's rule's counts,
    as soft rows (orplan.model.floors: a unit short costs more than any patient)."""
    from orplan.model.build import build_model
    from orplan.model.floors import define_soft_floors, floor_price
    from orplan.solve import Status, chosen_pairs, set_start, solve_model

    started = wall.perf_counter()
    model = build_model(data.case, data, keep)
    if floors:
        define_soft_floors(model, floors, floor_price(data.priority))
    positions = np.flatnonzero(keep)
    set_start(model, start[positions])
    built = wall.perf_counter() - started
    if work is not None:
        work.charge("restricted MILP", ("milp_build_pair", len(positions)))
        if work.deterministic:
            built = work.cost("milp_build_pair", len(positions))
    left = seconds - built
    if left < 1.0:
        return None
    deterministic = work is not None and work.deterministic
    report = solve_model(model, left, RESTRICTED_GAP, threads, seed, warm_start=True, work=work,
                         stage="restricted MILP",
                         max_improving=RESTRICTED_IMPROVING if deterministic else None)
    if figures is not None:
        figures.update({"milp_build": round(built, 3), "milp_solve": round(report.seconds, 3)})
        if report.objective is not None:  # before timing and repair
            figures["milp_objective"] = round(report.objective, 3)
    if report.status is Status.NO_PLAN:
        return None
    chosen = np.zeros(len(data.pairs), dtype=bool)
    chosen[positions[chosen_pairs(model)]] = True
    return chosen


def compact_plans(data: PlanningData, order: np.ndarray, x: np.ndarray, seconds: float,
                  threads: int, seed: int, source: str = "compact LP",
                  figures: dict[str, float] | None = None, aggregated: bool = False,
                  rel: Relaxation | None = None, work: Work | None = None,
                  also: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                  floors: dict[str, int] | None = None,
                  floor_start: np.ndarray | None = None
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The plans of the module text (name -> chosen pairs and their starts), within `seconds`
    (the restricted MILP is skipped when too little time is left). `x` is an LP solution per
    pair: the compact LP's, or the pattern LP's; `source` names the plans (`source`, and
    `source` + " MILP" for the restricted MILP's). `figures`: see restricted_milp. The
    restricted MILP has the pairs of the two plans and the preferred ones (see `pack`) and,
    unless `aggregated` (x is spread over groups of alike sessions: all their pairs would make it
    too large to solve in time), every pair the LP uses. With `rel` (data's relaxation), each
    plan is refilled (orplan.refill) in the time kept for it, best plan first, and timed again:
    those plans are named with " refilled" (`figures` gets the seconds refilling took). Plans
    from an `aggregated` LP (a region) are refilled without new flip rooms and timing checks:
    with them, the region's plan came out worse (236.6 M against 231.1 M, one run each).
    `also`: timed plans made elsewhere (the previous plan, filled) to refill first; only their
    refilled versions are returned. `floors`: the planner's rule's counts, soft rows of the
    restricted MILP, which also has the pairs of `floor_start` (a plan that meets them), and
    kept by refilling (orplan.refill)."""
    from orplan.model.floors import shortfall

    if data.pairs.empty:
        return {}
    work = work or Work.wall_clock(seconds)
    begun = work.now()
    first, preferred = lp_first(data, order, x, aggregated)
    rounded = greedy_assignment(data, first, preferred=preferred, allow_overtime=True,
                                flip_rooms=True)
    repairing = wall.perf_counter()
    plans = {source: timed_repair(data, rounded, first)}
    # the MILP's plan is repaired too: keep that time
    size = len(data.pairs), len(data.sessions)
    repair = work.estimate(*plan_units(*size))
    work.charge("LP plans", *plan_units(*size, plans=2))  # rounding, then timing
    if not work.deterministic:
        repair = wall.perf_counter() - repairing
    keep = rounded | plans[source][0] | preferred
    if not aggregated:
        keep |= x > 1e-6
    if floors and floor_start is not None:
        keep |= floor_start
    left = seconds - (work.now() - begun) - 1.5 * repair
    milp_share = 0.9 if rel is None else 0.9 * (1.0 - REFILL_SHARE)
    # behind the planner's rule, refilling brings the plan level and the MILP gets no time: with
    # soft floors it did not in its share (hospital week with split lists: 38 units behind
    # before and after it, its root over its share 3 times; refilling: 16 behind in one round)
    behind = bool(floors) and rel is not None and shortfall(data, floors or {}, rounded) > 0
    chosen = None if behind else restricted_milp(data, keep, rounded, left * milp_share, threads,
                                                 seed, figures, work, floors)
    if chosen is not None:
        plans[f"{source} MILP"] = timed_repair(data, chosen, first)
        work.charge("LP plans", *plan_units(*size))
    if rel is not None:
        refilling = wall.perf_counter()
        plans.update(also or {})  # last in, so refilled first
        # its share, or at least MIN_REFILL_SHARE of the time when the MILP ran over its own
        # (its root cannot be stopped by counted work: region, 183 s for a 110 s share)
        refill_by = max(begun + seconds - 1.5 * repair, work.now() + MIN_REFILL_SHARE * seconds)
        for name in reversed(list(plans)):  # the MILP's plan first: it is most often the best
            mask, times = plans[name]
            for _ in range(REFILL_PASSES):
                if work.done("refill", refill_by):
                    break
                refilled, gains = refill(data, rel, mask, refill_by, timed=not aggregated,
                                         work=work, floors=floors)
                if sum(gains) <= 0:
                    break
                mask, times = timed_repair(data, refilled, first, times)
                work.charge("refill", *plan_units(*size))
                plans[f"{name} refilled"] = mask, times
        if figures is not None:
            figures["refill"] = round(wall.perf_counter() - refilling, 3)
        for name in also or {}:
            del plans[name]
    return plans
