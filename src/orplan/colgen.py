"""Session patterns by column generation: a bound valid for the full model, and a plan by diving.

A pattern is a set of cases for one session that fits its staffed time plus allowed overtime,
with the mobile equipment it needs. The master problem picks at most one pattern per session,
each patient at most once, within every binding surgeon day limit, ward-bed day and equipment
row, at least cost. Its LP relaxation is solved over the patterns found so far; its prices go to
`model.bound`, whose knapsacks return each session's best pattern at those prices (pricing).
Every pricing round gives a Lagrangian bound valid for the full model (see `model.bound`).

The plan comes from diving: fix the patterns the LP already (nearly) picks, price again for the
rest, repeat. The patterns fixed are then handed to the greedy planner as preferred sessions,
which re-checks every rule (surgeon overlap included) and fills what is left.

The master is solved with highspy directly: columns are added round by round to a warm model,
which PuLP cannot do without rebuilding it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import highspy
import numpy as np

from orplan import wall
from orplan.model.bound import (
    Prices,
    Relaxation,
    knapsack_work,
    lagrangian_bound,
    minute_price_bound,
    priced_profit,
    relaxation,
    session_values,
)
from orplan.model.common import PlanningData, objective_scale
from orplan.model.compact import CompactResult
from orplan.work import Work

INF = highspy.kHighsInf
# Masters of relaxations with more pairs than this are solved by the interior point method.
INTERIOR_FROM_PAIRS = 100_000
# Weight of the best-bound prices when smoothing (0: plain column generation).
SMOOTHING = 0.7


@dataclass
class PatternResult:
    bound: float  # best valid lower bound on the full model's objective (-inf if none)
    preferred: np.ndarray | None  # mask over data.pairs: the dive's plan (before repair)
    rounds: int
    columns: int
    root_converged: bool
    seconds: dict[str, float] = field(default_factory=dict)
    history: list[tuple[float, float, float]] = field(default_factory=list)  # (s, LP, bound)
    root_x: np.ndarray | None = None  # per pair: its value in the last optimal master LP


class _Master:
    """The restricted master LP over the patterns found so far (minimisation)."""

    def __init__(self, rel: Relaxation, n_sessions: int, threads: int, seed: int):
        self.rel = rel
        self.n_sessions = n_sessions
        self.n_patients = rel.n_patients
        self.link_offset = n_sessions + rel.n_patients
        self.equipment_offset = self.link_offset + len(rel.link_rhs)
        self.highs = highspy.Highs()
        for option, value in (("output_flag", False), ("threads", int(threads)),
                              ("random_seed", int(seed))):
            self.highs.setOptionValue(option, value)
        # a pattern costs about what its patients gain (orplan.model.common.objective_scale)
        scale = objective_scale(float(np.abs(rel.gain).max()) if len(rel.gain) else 0.0)
        if scale:
            self.highs.setOptionValue("user_objective_scale", scale)
        # small masters solve faster by warm dual simplex (demo week: root in 4 s against 8 s)
        self.interior(len(rel.p) > INTERIOR_FROM_PAIRS)
        self.rhs = np.concatenate([np.ones(n_sessions + rel.n_patients), rel.link_rhs,
                                   rel.equipment_units])
        n_rows = len(self.rhs)
        self.highs.addRows(n_rows, np.full(n_rows, -INF), self.rhs, 0, np.zeros(1, np.int32),
                           np.zeros(1, np.int32), np.zeros(1))
        order = np.argsort(rel.link_pair, kind="stable")
        self.link_sorted = order
        self.link_ptr = np.searchsorted(rel.link_pair[order], np.arange(len(rel.p) + 1))
        self.patterns: list[np.ndarray] = []  # pair positions of each column
        self.columns: list[tuple[np.ndarray, np.ndarray]] = []  # (rows, coefficients)
        self.session_of: list[int] = []
        self.seen: set[bytes] = set()
        self.optimal = False  # the last LP solve reached optimality (its prices are sound)

    def interior(self, on: bool) -> None:
        """Interior point without crossover (on) or dual simplex from the last basis (off).

        At hospital scale a warm dual simplex needs thousands of iterations per round once new
        columns arrive (5-20 s a round); the interior point method without crossover solves each
        round from scratch in a fraction of that and its prices are as good for pricing (every
        nonnegative price gives a valid bound). Diving changes bounds only, where the warm dual
        simplex is fast, and wants vertex solutions (values of 0 or 1)."""
        self.ipm = on
        self.highs.setOptionValue("solver", "ipm" if on else "simplex")
        self.highs.setOptionValue("run_crossover", "off" if on else "on")

    def add(self, session: int, pairs: np.ndarray) -> bool:
        """Add the pattern (pair positions, all in `session`) unless known; False if known or if
        it does not fit (rounded minutes can let a pattern over by a fraction of a minute)."""
        pairs = np.sort(pairs).astype(np.int64)
        key = np.int64(session).tobytes() + pairs.tobytes()
        if key in self.seen:
            return False
        self.seen.add(key)
        rel = self.rel
        booked = float(rel.duration[pairs].sum()) + rel.turnover * max(len(pairs) - 1, 0)
        if booked > rel.session_limit[session] + 1e-6:
            return False
        rows = [np.array([session]), self.n_sessions + rel.p[pairs]]
        values = [np.ones(1), np.ones(len(pairs))]
        entries = np.concatenate([self.link_sorted[self.link_ptr[k]:self.link_ptr[k + 1]]
                                  for k in pairs]) if len(pairs) else np.empty(0, np.int64)
        if len(entries):
            used = np.bincount(rel.link_row[entries], weights=rel.link_coef[entries])
            nonzero = np.flatnonzero(used)
            rows.append(self.link_offset + nonzero)
            values.append(used[nonzero])
        bits = int(np.bitwise_or.reduce(rel.pair_needs[pairs])) if len(pairs) else 0
        if bits:
            session_rows = rel.session_rows[session]
            picked = [row for j, row in enumerate(session_rows) if (bits >> j) & 1]
            rows.append(self.equipment_offset + np.array(picked, dtype=np.int64))
            values.append(np.ones(len(picked)))
        index = np.concatenate(rows).astype(np.int32)
        value = np.concatenate(values)
        cost = pattern_cost(rel, session, pairs)
        self.highs.addCols(1, np.array([cost]), np.zeros(1), np.array([INF]), len(index),
                           np.zeros(1, np.int32), index, value)
        self.patterns.append(pairs)
        self.columns.append((index.astype(np.int64), value))
        self.session_of.append(session)
        return True

    def solve(self, seconds: float, work: Work) -> tuple[float, Prices, np.ndarray, np.ndarray]:
        """LP optimum, prices (lambda, mu, nu >= 0), session prices sigma, column values, within
        `seconds` of `work`'s clock."""
        begun = work.now()
        self.optimal = work.run_lp(self.highs, "patterns", max(0.1, seconds), master=True)
        if not self.optimal and self.ipm:
            # the interior point method can stop short of optimal ("unknown"): simplex instead
            left = seconds - (work.now() - begun)
            if left > 0.1 and work.wall_left() > 0.1:
                self.interior(False)
                self.optimal = work.run_lp(self.highs, "patterns", left, master=True)
                self.interior(True)
        solution = self.highs.getSolution()
        dual = np.maximum(-np.asarray(solution.row_dual, dtype=float), 0.0)
        n_s, n_p = self.n_sessions, self.n_patients
        prices = Prices(dual[n_s:n_s + n_p], dual[self.link_offset:self.equipment_offset],
                        dual[self.equipment_offset:])
        objective = float(self.highs.getInfo().objective_function_value)
        return objective, prices, dual[:n_s], np.asarray(solution.col_value, dtype=float)

    def fix(self, column: int) -> None:
        self.highs.changeColBounds(int(column), 1.0, INF)


def pattern_cost(rel: Relaxation, session: int, pairs: np.ndarray) -> float:
    """The pattern's share of the objective (less the constant): session costs minus the gains of
    its cases, in true minutes."""
    if len(pairs) == 0:
        return 0.0
    booked = float(np.sum(rel.duration[pairs])) + rel.turnover * len(pairs)
    capacity = rel.capacity[session]
    overtime = max(0.0, booked - rel.turnover - capacity)
    idle = capacity + rel.turnover + overtime - booked
    session_cost = (rel.idle_weight * idle + rel.overtime_weight * overtime
                    + rel.open_cost[session])
    return session_cost - float(np.sum(rel.gain[pairs]))


def _price(master: _Master, rel: Relaxation, prices: Prices, sigma: np.ndarray,
           blocked_sessions: np.ndarray, used_patients: np.ndarray,
           work: Work) -> tuple[float, int]:
    """One pricing round: add each session's best pattern if it beats the session's price.
    Returns the Lagrangian value at these prices and the number of columns added."""
    work.charge("patterns", *knapsack_work(rel))
    profit = priced_profit(rel, prices)
    profit[used_patients[rel.p]] = -np.inf
    values, chosen = session_values(rel, profit, prices.equipment, want_choice=True,
                                    blocked=blocked_sessions)
    assert chosen is not None
    relaxed = values
    if rel.weight_low is not None:  # chosen patterns fit; the bound needs the relaxed values
        work.charge("patterns", *knapsack_work(rel))
        relaxed, _ = session_values(rel, profit, prices.equipment, blocked=blocked_sessions,
                                    relaxed=True)
    bound = (rel.constant - float(prices.patient.sum()) - float(prices.link @ rel.link_rhs)
             - float(prices.equipment @ rel.equipment_units) - float(relaxed.sum()))
    improving = np.flatnonzero(values > sigma + 1e-6 * np.maximum(1.0, np.abs(sigma)))
    added = 0
    if len(improving):
        chosen_pairs = np.flatnonzero(chosen)
        owner = rel.s[chosen_pairs]
        for s in improving:
            added += master.add(int(s), chosen_pairs[owner == s])
        work.charge("patterns", ("pattern_column", len(improving)))
    return bound, added


def generate_patterns(data: PlanningData, start: np.ndarray | None, seconds: float,
                      threads: int = 1, seed: int = 0, root_share: float = 0.5,
                      dive_rounds: int = 8, rel: Relaxation | None = None,
                      compact: CompactResult | None = None,
                      minute_prices: bool = True, dive: bool = True,
                      compact_bound: float | None = None,
                      work: Work | None = None) -> PatternResult:
    """Root column generation (the bound) for at most `root_share` of `seconds`, then diving (the
    plan) for the rest. `start` (a mask over data.pairs: a feasible plan) gives the first
    patterns. `rel` is data's relaxation if already made. A solved compact LP
    (orplan.model.compact) gives the first bound, the first patterns and the centre of the
    smoothing; without one, `minute_prices` (model.bound.minute_price_bound) give them. Without
    `dive`, the root's LP solution (per pair) is returned instead of a plan, in `root_x`.
    `compact_bound`: the bound at the compact LP's prices, if the caller has it. `seconds` are
    of `work`'s clock (orplan.work; the wall clock's without one)."""
    work = work or Work.wall_clock(seconds)
    started = wall.perf_counter()
    begun = work.now()
    deadline = begun + seconds
    if rel is None:
        rel = relaxation(data)
        work.charge("patterns", ("relaxation", 1), ("relaxation_pair", len(data.pairs)))
    n_sessions = len(data.sessions)
    master = _Master(rel, n_sessions, threads, seed)
    times = {"relaxation": round(wall.perf_counter() - started, 3)}
    best_bound = -math.inf
    best_prices: Prices | None = None
    if compact is not None and compact.solved:
        best_prices = compact.prices
    if minute_prices and (compact is None or not compact.optimal):
        # an LP cut short has the prices of an LP over fewer pairs, which may be poor (four
        # weeks, 3 of 8 sifting rounds: a bound of -21 M where minute prices give 21 M)
        t = wall.perf_counter()
        bound, prices = minute_price_bound(rel, deadline=begun + seconds / 2, work=work)
        if best_prices is None or bound > (lagrangian_bound(rel, best_prices)
                                           if compact_bound is None else compact_bound):
            best_prices = prices
        times["minute_prices"] = round(wall.perf_counter() - t, 3)
    if best_prices is not None:  # the first bound and the first patterns
        best_bound, _ = _price(master, rel, best_prices, np.zeros(n_sessions),
                               np.zeros(n_sessions, dtype=bool),
                               np.zeros(rel.n_patients, dtype=bool), work)
    if compact_bound is not None:  # on the minutes' own grid it may be tighter (bound.exact_view)
        best_bound = max(best_bound, compact_bound)
    if start is not None and start.any():
        start_pairs = np.flatnonzero(start)
        for s in np.unique(rel.s[start_pairs]):
            master.add(int(s), start_pairs[rel.s[start_pairs] == s])
    for s in range(n_sessions):  # the empty pattern keeps the master feasible
        master.add(s, np.empty(0, dtype=np.int64))
    work.charge("patterns", ("pattern_column", len(master.patterns)))
    no_sessions = np.zeros(n_sessions, dtype=bool)
    no_patients = np.zeros(rel.n_patients, dtype=bool)
    history: list[tuple[float, float, float]] = []
    rounds, converged = 0, False
    values = np.zeros(0)
    root_deadline = begun + seconds * root_share
    lp_seconds = pricing_seconds = 0.0
    while not work.done("patterns", root_deadline):
        rounds += 1
        t = wall.perf_counter()
        lp_value, prices, sigma, solved = master.solve(root_deadline - work.now(), work)
        lp_seconds += wall.perf_counter() - t
        if not master.optimal:
            break
        values = solved
        lp_total = rel.constant + lp_value
        t = wall.perf_counter()
        # Wentges smoothing: price at a point between the best-bound prices and the LP's, which
        # steadies the prices and speeds up convergence; price at the LP's when that adds nothing.
        added = 0
        if best_prices is not None and SMOOTHING > 0:
            smooth = best_prices.blend(prices, SMOOTHING)
            bound, added = _price(master, rel, smooth, sigma, no_sessions, no_patients, work)
            if bound > best_bound:
                best_bound, best_prices = bound, smooth
        if added == 0:
            bound, added = _price(master, rel, prices, sigma, no_sessions, no_patients, work)
            if bound > best_bound:
                best_bound, best_prices = bound, prices
        pricing_seconds += wall.perf_counter() - t
        history.append((round(wall.perf_counter() - started, 3), lp_total, best_bound))
        if added == 0 or lp_total - best_bound <= 1e-7 * max(1.0, abs(lp_total)):
            converged = True
            break
    times["master_lp"] = round(lp_seconds, 3)
    times["pricing"] = round(pricing_seconds, 3)
    times["root"] = round(wall.perf_counter() - started, 3)
    root_x = None  # from the last optimal master LP
    if len(values):
        root_x = np.zeros(len(rel.p))
        for column, value in enumerate(values[:len(master.patterns)]):
            if value > 1e-9:
                root_x[master.patterns[column]] += value
    preferred = _dive(master, rel, deadline, dive_rounds, work) if dive else None
    times["dive"] = round(wall.perf_counter() - started - times["root"], 3)
    return PatternResult(best_bound, preferred, rounds, len(master.patterns), converged, times,
                         history, root_x)


def _dive(master: _Master, rel: Relaxation, deadline: float, dive_rounds: int,
          work: Work) -> np.ndarray:
    """Fix patterns the LP (nearly) picks, re-price the rest, until every session is decided or
    time is up; then round what is left. Returns the chosen pairs (may break rules the master
    does not model, such as surgeon overlap; the caller repairs)."""
    n_sessions = master.n_sessions
    fixed_sessions = np.zeros(n_sessions, dtype=bool)
    used_patients = np.zeros(rel.n_patients, dtype=bool)
    usage = np.zeros(len(master.rhs))
    fixed_columns: list[int] = []

    def try_fix(column: int) -> bool:
        rows, coefs = master.columns[column]
        if np.any(usage[rows] + coefs > master.rhs[rows] + 1e-9):
            return False
        usage[rows] += coefs
        fixed_sessions[master.session_of[column]] = True
        used_patients[rel.p[master.patterns[column]]] = True
        fixed_columns.append(column)
        master.fix(column)
        return True

    values = np.zeros(0)
    master.interior(False)
    while not work.done("dive", deadline) and not fixed_sessions.all():
        for _ in range(dive_rounds):
            if work.done("dive", deadline):
                break
            _, prices, sigma, values = master.solve(deadline - work.now(), work)
            _, added = _price(master, rel, prices, sigma, fixed_sessions, used_patients, work)
            if added == 0:
                break
        else:
            _, prices, sigma, values = master.solve(max(0.1, deadline - work.now()), work)
        session_of = np.asarray(master.session_of)
        values = np.pad(values, (0, len(session_of) - len(values)))  # columns added since
        open_ = ~fixed_sessions[session_of] & (values > 1e-6)
        if not open_.any():
            break
        candidates = np.flatnonzero(open_)
        firm = candidates[values[candidates] >= 0.9]
        progress = sum(try_fix(int(c)) for c in firm[np.argsort(-values[firm])]
                       if not fixed_sessions[session_of[c]])
        if progress == 0:
            for c in candidates[np.argsort(-values[candidates])]:
                if not fixed_sessions[session_of[c]] and try_fix(int(c)):
                    progress = 1
                    break
        if progress == 0:
            break
    # Out of time: round the last LP, most certain patterns first.
    if len(values):
        session_of = np.asarray(master.session_of)
        for c in np.argsort(-values):
            if values[c] <= 1e-6:
                break
            if c < len(session_of) and not fixed_sessions[session_of[c]]:
                try_fix(int(c))
    chosen = np.zeros(len(rel.p), dtype=bool)
    for column in fixed_columns:
        chosen[master.patterns[column]] = True
    return chosen
