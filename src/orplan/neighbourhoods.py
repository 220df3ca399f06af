"""Neighbourhood search: a plan improved a part at a time by the full MILP over that part.

Refilling (orplan.refill) changes one session at a time and stops when no session alone can do
better; the LP's plans leave gains that need several sessions to change together: a patient
moved to another room so that a longer, more urgent case fits, a surgeon's cases spread over a
site's rooms, a day's lists swapped between days. Here a neighbourhood (the sessions of one site
on one day, or of one specialty at one site over the horizon) is freed: its cases and the most
valuable patients the plan leaves out that fit there (of each case length, as refill's
candidates) may go to any of its sessions, every other case stays where it is, and the full MILP
(orplan.model.build, every rule) over those pairs, started from the plan, is solved for a few
counted seconds. Its plan is timed with the cases outside kept at their times (plan.sequence,
by list scheduling alone, so that the plan does not depend on the machine: the cases of a session
it leaves late are given up) and kept when its objective, evaluated term by term,
is lower. Neighbourhoods are tried in a seeded order until the time is spent or a whole round
of them gains nothing.

On the hospital week (12,000 patients, 650,000 pairs), seven site-days took the compact LP's
refilled plan from 89.25 G to 82.03 G in 60 s (prototype, benchmarks/README.md has the
pipeline's figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from orplan.dominance import clinical_counts, pressing
from orplan.greedy import leave_out_price
from orplan.model.bound import Relaxation
from orplan.model.common import PlanningData
from orplan.model.floors import CLASS, KEPT, define_soft_floors, floor_price
from orplan.plan import TimedPlan, sequence
from orplan.refill import _candidates
from orplan.reports.kpi import objective_terms, session_report
from orplan.work import Work, plan_units

# Counted seconds at most for one neighbourhood's MILP (the wall clock stops it at twice that and
# 2 s: the run is then not reproducible; hospital week: a site-day's root LP took up to 10 s), and
# its branch-and-bound nodes at most (HiGHS's heuristics run at its root; with no node, it stops
# before them and finds nothing).
NEIGHBOURHOOD_S = 8.0
NEIGHBOURHOOD_NODES = 10
# A neighbourhood is started only with this many counted seconds left (else the search stops).
MIN_NEIGHBOURHOOD_S = 3.0
# Free pairs at most in one neighbourhood's MILP: a specialty's sessions over a long horizon
# are cut to their first days that stay within it.
MAX_FREE_PAIRS = 6_000
# Patients at most, of those whose planning would bring the plan level, freed in one neighbourhood
MAX_LACKING = 50
# A plan is kept when it gains at least this share of the objective.
MIN_GAIN = 1e-9


@dataclass
class Search:
    """What the search did: per neighbourhood tried, its name, pairs freed and gain."""

    tried: list[dict[str, object]] = field(default_factory=list)
    gain: float = 0.0  # on the objective (it may rise where the plan is brought level)
    behind_before: int = 0  # units short of the floors, before and after
    behind_after: int = 0

    @property
    def kept(self) -> int:
        return sum(bool(t.get("kept")) for t in self.tried)

    def figures(self) -> dict[str, object]:
        return {"tried": len(self.tried), "kept": self.kept,
                "gain": round(self.gain, 3), "behind_before": self.behind_before,
                "behind_after": self.behind_after}


def neighbourhoods(data: PlanningData) -> list[tuple[str, np.ndarray]]:
    """Named sets of sessions (positions in data.sessions): each site's day, then each site's
    specialty over the horizon (moves between days), in one list."""
    sessions = data.sessions
    out: list[tuple[str, np.ndarray]] = []
    by_day: dict[Any, Any] = sessions.groupby(["site", "date"]).indices
    for key, rows in sorted(by_day.items()):
        site, date = key
        out.append((f"{site} {pd.Timestamp(date).date()}", np.asarray(rows)))
    if sessions["date"].nunique() > 1:
        by_specialty: dict[Any, Any] = sessions.groupby(["site", "specialty"]).indices
        for key, rows in sorted(by_specialty.items()):
            if len(rows) > 1:
                out.append((f"{key[0]} {key[1]}", np.asarray(rows)))
    return out


def listed_timing(data: PlanningData, mask: np.ndarray, given: np.ndarray | None) -> TimedPlan:
    """The plan of the pairs in `mask` timed by list scheduling alone (plan.sequence with no
    time for exact timing: the same plan on any machine), `given` starts kept where it must."""
    assignment = data.pairs.loc[mask, ["p", "s"]]
    if given is not None:
        assignment = assignment.assign(start=given[mask])
    return sequence(data.case, data.sessions, assignment, leave_out_price(data.priority), 0.0)


def plan_cost(data: PlanningData, timed: TimedPlan) -> float:
    stats = session_report(data.case, data.sessions, timed.plan)
    return float(sum(objective_terms(data.case, data.priority, data.sessions, stats,
                                     timed.plan).values()))


def behind_by(counts: dict[str, int], floors: dict[str, int] | None) -> int:
    """Units the counts (orplan.dominance.clinical_counts) are behind the floors."""
    return sum(max(0, n - counts.get(key, 0)) for key, n in (floors or {}).items())


def improve(data: PlanningData, rel: Relaxation, chosen: np.ndarray, starts: np.ndarray,
            seconds: float, work: Work, threads: int, seed: int,
            floors: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray, Search]:
    """The plan `chosen` (mask over data.pairs, timed by `starts`: minutes per pair) improved by
    neighbourhoods in `seconds` of `work`'s clock: the plan, its starts and what was done.
    `floors` (orplan.model.floors: the planner's rule's counts): a plan behind them is brought
    level first where a neighbourhood can (its MILP prices each unit short above any patient),
    and a plan is kept only if it is no further behind."""
    from orplan.model.build import build_model
    from orplan.solve import Status, chosen_pairs, set_start, solve_model

    search = Search()
    begun = work.now()
    keep_value = leave_out_price(data.priority)
    size = len(data.pairs), len(data.sessions)
    pair_index = pd.Series(np.arange(len(data.pairs)),
                           index=pd.MultiIndex.from_arrays([data.pairs["p"], data.pairs["s"]]))
    chosen, starts = chosen.copy(), starts.copy()

    def behind(timed: TimedPlan) -> int:
        return behind_by(clinical_counts(data, timed.plan), floors)

    due = data.priority["deadline_in_horizon"].to_numpy(dtype=bool)
    counted = pressing(data)
    urgency = data.case.waitlist["urgency"].to_numpy()

    def lacking(timed: TimedPlan) -> np.ndarray:
        """Per patient: left out, and planning them brings the plan closer to the floors."""
        counts = clinical_counts(data, timed.plan)
        out = np.zeros(rel.n_patients, dtype=bool)
        for key, n in (floors or {}).items():
            if counts.get(key, 0) >= n:
                continue
            if key == KEPT:
                out |= due
            elif key.startswith(CLASS):
                out |= counted & (urgency == key[len(CLASS):])
        out[timed.plan["_p"].to_numpy(dtype=int)] = False
        return out

    price = floor_price(data.priority)
    current = listed_timing(data, chosen, starts)
    cost, short = plan_cost(data, current), behind(current)
    lack = lacking(current) if short else np.zeros(rel.n_patients, dtype=bool)
    search.behind_before = short
    work.charge("neighbourhoods", *plan_units(*size))
    named = neighbourhoods(data)
    n_days = data.sessions.groupby(["site", "date"]).ngroups  # the site-days come first
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(named))
    sessions_day = data.sessions["date"].to_numpy()
    unchanged = 0  # neighbourhoods tried in a row without a gain
    position = 0
    tried: set[int] = set()  # since the last plan kept
    last_counted = 0.0  # counted seconds of the last neighbourhood tried
    while unchanged < len(named):
        left = seconds - (work.now() - begun)
        if left < MIN_NEIGHBOURHOOD_S or work.done("neighbourhoods", begun + seconds,
                                                   MIN_NEIGHBOURHOOD_S):
            break
        # on a machine slower than the reference, one that cannot end before the wall clock's
        # deadline is not started (as long as the last one, or MIN_NEIGHBOURHOOD_S)
        if not work.affords("neighbourhoods", max(MIN_NEIGHBOURHOOD_S, last_counted)):
            break
        counted_before = work.now()
        pick = int(order[position % len(named)])
        if lack.any():
            # behind the floors: the part where most of the patients lacking could go
            per_session = np.bincount(rel.s[lack[rel.p]], minlength=len(data.sessions))
            # (site-days only: a specialty over the horizon makes a MILP too large to bring
            # many patients in)
            scores = np.array([per_session[rows].sum() if k not in tried and k < n_days else -1
                               for k, (_, rows) in enumerate(named)])
            best = int(np.argmax(scores[order]))
            if scores[order[best]] > 0:
                pick = int(order[best])
            else:
                position += 1
        else:
            position += 1
        tried.add(pick)
        name, rows = named[pick]
        unchanged += 1
        inside = np.zeros(len(data.sessions), dtype=bool)
        inside[rows] = True
        planned = np.zeros(rel.n_patients, dtype=bool)
        planned[rel.p[chosen]] = True
        in_part = inside[rel.s]
        free_patients = np.zeros(rel.n_patients, dtype=bool)
        free_patients[rel.p[chosen & in_part]] = True
        free_patients[rel.p[_candidates(rel, in_part & ~planned[rel.p]
                                        & (rel.base_profit > 0))]] = True
        # and the most valuable of those lacking that could go there
        wanted = np.unique(rel.p[in_part & lack[rel.p]])
        free_patients[wanted[np.argsort(-keep_value[wanted], kind="stable")[:MAX_LACKING]]] = True
        free = in_part & free_patients[rel.p]
        if free.sum() > MAX_FREE_PAIRS:
            # the first days of the part that stay within the limit
            days = sessions_day[rel.s[free]]
            kept_days = np.unique(days)
            counts = np.array([(days == d).sum() for d in kept_days])
            last = kept_days[max(0, int(np.searchsorted(np.cumsum(counts), MAX_FREE_PAIRS)) - 1)]
            inside &= sessions_day <= last
            in_part = inside[rel.s]
            free &= in_part
            # cases of the part's later days stay where they are
        if free.sum() > MAX_FREE_PAIRS:
            # still too many (one large site-day): the part's own cases, then the patients left
            # out by their price, while the pairs stay within the limit
            own = np.zeros(rel.n_patients, dtype=bool)
            own[rel.p[chosen & in_part]] = True
            patients = np.flatnonzero(free_patients)
            patients = patients[np.lexsort((-keep_value[patients], ~own[patients]))]
            per_patient = np.bincount(rel.p[free], minlength=rel.n_patients)[patients]
            within = patients[np.cumsum(per_patient) <= max(MAX_FREE_PAIRS,
                                                            int(per_patient[own[patients]].sum()))]
            allowed = np.zeros(rel.n_patients, dtype=bool)
            allowed[within] = True
            allowed |= own
            free &= allowed[rel.p]
        if not free.any():
            continue
        fixed = chosen & ~in_part
        keep = free | chosen
        model = build_model(data.case, data, keep)
        positions = np.flatnonzero(keep)
        variables = model.pairs["x"].to_numpy()
        for j in np.flatnonzero(fixed[positions]):
            variables[j].lowBound = 1
        # a case of the plan in the part whose patient is free stays a candidate; one whose
        # pair is outside `free` (cut days) stays fixed
        for j in np.flatnonzero((chosen & in_part & ~free)[positions]):
            variables[j].lowBound = 1
        define_soft_floors(model, {k: v for k, v in (floors or {}).items()}, price)
        set_start(model, chosen[positions])
        work.charge("neighbourhoods", ("milp_build_pair", len(positions)))
        # its node limit ends it; the budget sets the wall clock's limit only (the search may
        # then run over its share by up to one neighbourhood's work)
        report = solve_model(model, NEIGHBOURHOOD_S, 0.0, threads, seed, warm_start=True, work=work,
                             stage="neighbourhoods", max_nodes=NEIGHBOURHOOD_NODES)
        # (with the timing after it, about one plan's)
        last_counted = work.now() - counted_before + work.estimate(*plan_units(*size))
        entry: dict[str, object] = {"name": name, "free_pairs": int(free.sum()), "gain": 0.0,
                                    "milp_s": round(report.seconds, 3)}
        search.tried.append(entry)
        if report.status is Status.NO_PLAN:
            continue
        new = np.zeros(len(data.pairs), dtype=bool)
        new[positions[chosen_pairs(model)]] = True
        if np.array_equal(new, chosen):
            continue
        given = np.where(chosen & new, starts, np.nan)
        # list scheduling only (no exact timing, whose time depends on the machine): cases of a
        # session it leaves late are given up, and the plan is kept only if it still gains
        timed = listed_timing(data, new, given)
        work.charge("neighbourhoods", *plan_units(*size))
        new_cost, new_short = plan_cost(data, timed), behind(timed)
        if new_short < short or (new_short == short
                                 and new_cost < cost - MIN_GAIN * max(1.0, abs(cost))):
            plan = timed.plan
            pairs = pair_index[list(zip(plan["_p"].to_numpy(), plan["_s"].to_numpy(),
                                        strict=True))]
            chosen = np.zeros(len(data.pairs), dtype=bool)
            chosen[pairs.to_numpy()] = True
            starts = np.full(len(data.pairs), np.nan)
            starts[pairs.to_numpy()] = plan["start"].to_numpy(dtype=float)
            entry["gain"] = round(cost - new_cost, 3)
            search.gain += cost - new_cost
            entry["behind"], entry["kept"] = new_short, True
            cost, short = new_cost, new_short
            lack = lacking(timed) if short else np.zeros(rel.n_patients, dtype=bool)
            tried = set()
            unchanged = 0
    search.behind_after = short
    return chosen, starts, search
