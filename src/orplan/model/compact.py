"""The compact LP relaxation: prices for the Lagrangian bound, and an LP solution to round.

Variables: x[p,s] in [0, 1] per eligible pair, o[s] in [0, 1] (session used), ot[s] >= 0
(overtime minutes), y[s,e] in [0, 1] (session s holds a unit of mobile equipment row e). Rows:
each patient at most once; per session, booked minutes (case + turnover) within
(limit + T) o[s] and within (capacity + T) o[s] + ot[s]; the binding surgeon-day and ward-bed
rows of `model.bound`; equipment units per (type, site, date), and the minutes of cases in s
that need e within (limit + T) y[s,e]. The objective is the full model's, less the room-switch
cost (>= 0) and with surgeon overlap dropped: its optimum is below the full model's, and its row
prices are good Lagrangian prices (`model.bound` turns them into a bound valid for the full
model, whatever their quality).

At hospital scale the LP over all pairs is slow (650,000 pairs: 536 s with the interior point
method), and most patients cannot compete for a week's theatre time. So it is solved over the
patients who come first by price per minute, as many as fill the sessions `COVER` times over;
the prices then go to every pair (patients left out have price 0, which only loosens the bound;
the bound stays valid).

Over more than SIFT_FROM_PAIRS pairs, it is solved by sifting: first over each patient's
INITIAL_PAIRS pairs of most gain per minute, then, round by round, each patient's ENTERING_PAIRS
pairs of most negative reduced cost at the LP's prices join, until none has a negative one (the
LP is then optimal over all its pairs). Cut short by the time limit, the last LP solved gives its
prices and solution: they are an LP's over fewer pairs, so the bound from them is weaker but
still valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np

from orplan import wall
from orplan.model.bound import Prices, Relaxation
from orplan.model.common import objective_scale
from orplan.work import Work

INF = highspy.kHighsInf
# The patients in the LP fill the sessions' minutes (with allowed overtime) this many times over.
COVER = 2.5
# Sifting: pairs per patient in the first LP, and the reduced cost below which a pair joins.
# (hospital week: 7.8 s against 17.7 s for the whole LP at once; 4 and 3, 8 and 5, 4 and 10 were
# slower, and adding every pair of negative reduced cost at once too)
INITIAL_PAIRS = 4
ENTERING_PAIRS = 5
# LPs over fewer pairs are solved over all at once (a demo week's in 0.06 s, the 1,000-patient
# week's 54,000 pairs in 2.9 s; sifting it gave another vertex and a worse plan, 39.6 % against
# 31.3 %).
SIFT_FROM_PAIRS = 100_000
PRICE_TOLERANCE = 1e-6


@dataclass
class CompactResult:
    prices: Prices
    x: np.ndarray  # per pair of the relaxation: the LP's value (0 for patients left out)
    value: float  # the restricted LP's objective (a heuristic figure: not a bound)
    optimal: bool  # solved to optimality over all its pairs
    solved: bool  # an LP over some of its pairs was solved: prices and x are usable (if not
    # optimal, they are the last such LP's; the bound from its prices stays valid)
    patients: int  # patients in the LP
    seconds: float
    build_seconds: float = 0.0  # of which making the LP and handing it to HiGHS
    rounds: int = 0  # LPs solved (sifting)
    columns: int = 0  # pairs in the last LP


def patients_to_cover(rel: Relaxation, order: np.ndarray) -> np.ndarray:
    """Mask over patients: the first of `order` whose minutes (with turnover) fill all sessions
    COVER times, and, per session, its eligible patients (in `order`) until they fill that
    session COVER times (so small specialties are not left without candidates)."""
    minutes = np.zeros(rel.n_patients)
    np.maximum.at(minutes, rel.p, rel.duration + rel.turnover)
    need = COVER * float(np.sum(rel.session_limit + rel.turnover))
    filled = np.cumsum(minutes[order])
    cut = int(np.searchsorted(filled, need)) + 1
    keep = np.zeros(rel.n_patients, dtype=bool)
    keep[order[:cut]] = True
    # per session: the first patients (in order) until COVER times its own minutes
    rank = np.empty(rel.n_patients, dtype=np.int64)
    rank[order] = np.arange(len(order))
    by_session = np.lexsort((rank[rel.p], rel.s))
    s_sorted = rel.s[by_session]
    w_sorted = (rel.duration + rel.turnover)[by_session]
    starts = np.searchsorted(s_sorted, np.arange(len(rel.capacity)))
    running = np.cumsum(w_sorted)
    before = np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0.0)
    within = running - before[s_sorted] - w_sorted < COVER * (rel.session_limit + rel.turnover)[
        s_sorted]
    keep[rel.p[by_session[within]]] = True
    return keep


def solve_compact(rel: Relaxation, order: np.ndarray, seconds: float, threads: int = 1,
                  seed: int = 0, work: Work | None = None,
                  patients: np.ndarray | None = None,
                  wall_share: float = 1.0) -> CompactResult:
    """Solve the compact LP over the patients of `patients_to_cover` and `patients` (a mask over
    patients: the planner's rule's plan's, whose counts the plans must not fall behind) by dual
    simplex and sifting within `seconds` of `work`'s clock (orplan.work; the wall clock's
    without one), and when deterministic within `wall_share` of the wall clock's time left: on a
    machine slower than the reference it stops there (cut, see orplan.work), leaving the stages
    after it their time (hospital week with split lists, 60 s: it took 39 of the solver's 42 wall
    seconds for 19 counted). (The planner's counts as rows of this LP made it twice as slow,
    hospital week with split lists: 42 s against 26 s, and its plans no less behind.)"""
    work = work or Work.wall_clock(seconds)
    started = wall.perf_counter()
    begun = work.now()
    keep_patient = patients_to_cover(rel, order)
    if patients is not None:
        keep_patient |= patients
    idx = np.flatnonzero(keep_patient[rel.p])
    n_pairs, n_s, n_p = len(idx), len(rel.capacity), rel.n_patients
    position = np.full(len(rel.p), -1, dtype=np.int64)
    position[idx] = np.arange(n_pairs)
    link = keep_patient[rel.p[rel.link_pair]]
    n_link, n_eq = len(rel.link_rhs), len(rel.equipment_units)
    y_count = np.array([len(rows) for rows in rel.session_rows], dtype=np.int64)
    y_start = np.concatenate([[0], np.cumsum(y_count)])
    y_row = (np.concatenate(rel.session_rows).astype(np.int64) if y_start[-1]
             else np.empty(0, np.int64))
    n_y = len(y_row)
    # minutes of cases needing e <= (limit + T) y[s, e]: one row per y (aggregated, so the LP
    # stays small; the bound's knapsacks treat equipment exactly)
    needs = rel.pair_needs[idx].astype(np.int64)
    bits = int(needs.max()).bit_length() if n_pairs and needs.max() > 0 else 0
    xy_pair = [np.flatnonzero((needs >> j) & 1) for j in range(bits)]
    xy_x = np.concatenate(xy_pair) if bits else np.empty(0, np.int64)
    xy_y = (np.concatenate([y_start[rel.s[idx[k]]] + j for j, k in enumerate(xy_pair)])
            if bits else np.empty(0, np.int64))
    r_cap, r_ot = n_p, n_p + n_s
    r_link = n_p + 2 * n_s
    r_eq = r_link + n_link
    r_xy = r_eq + n_eq
    c_o, c_ot = n_pairs, n_pairs + n_s
    c_y = c_ot + n_s
    n_rows, n_cols = r_xy + n_y, c_y + n_y
    w = rel.duration[idx] + rel.turnover
    sessions = np.arange(n_s)
    y_sessions = np.repeat(sessions, y_count)
    # an aggregated session (model.aggregate) may hold as many units as it has sessions
    count = rel.session_count if rel.session_count is not None else np.ones(n_s)
    # booked <= (capacity + T) o + ot, ot <= (limit - capacity) o: booked <= (limit + T) o
    rows = np.concatenate([
        rel.p[idx], r_cap + rel.s[idx], r_link + rel.link_row[link],
        r_xy + xy_y, r_cap + sessions, r_ot + sessions, r_cap + sessions, r_ot + sessions,
        r_eq + y_row, r_xy + np.arange(n_y)])
    cols = np.concatenate([
        np.arange(n_pairs), np.arange(n_pairs), position[rel.link_pair[link]], xy_x,
        c_o + sessions, c_o + sessions, c_ot + sessions, c_ot + sessions,
        c_y + np.arange(n_y), c_y + np.arange(n_y)])
    values = np.concatenate([
        np.ones(n_pairs), w, rel.link_coef[link], w[xy_x],
        -(rel.capacity + rel.turnover), -(rel.session_limit - rel.capacity), -np.ones(n_s),
        np.ones(n_s), count[y_sessions], -(rel.session_limit + rel.turnover)[y_sessions]])
    by_col = np.argsort(cols, kind="stable")
    col_start = np.searchsorted(cols[by_col], np.arange(n_cols + 1))
    entry_row, entry_value = rows[by_col].astype(np.int32), values[by_col]
    cost = np.concatenate([
        -(rel.gain[idx] + rel.idle_weight * w),
        rel.idle_weight * (rel.capacity + rel.turnover) + rel.open_cost,
        np.full(n_s, rel.idle_weight + rel.overtime_weight), np.zeros(n_y)])
    upper = np.concatenate([np.ones(n_pairs + n_s), np.full(n_s, INF), np.ones(n_y)])
    # Sifting: the LP starts over each patient's most valuable pairs and the session columns;
    # pairs whose reduced cost at the LP's prices is negative join it, until none is.
    active = np.zeros(n_cols, dtype=bool)
    active[n_pairs:] = True
    active[:n_pairs] = (_initial_pairs(rel.p[idx], rel.gain[idx] / w, seed)
                        if n_pairs > SIFT_FROM_PAIRS else True)
    lp = highspy.HighsLp()
    lp.num_row_ = n_rows
    lp.row_lower_ = np.full(n_rows, -INF)
    lp.row_upper_ = np.concatenate([np.ones(n_p), np.zeros(2 * n_s), rel.link_rhs,
                                    rel.equipment_units, np.zeros(n_y)])
    lp.offset_ = rel.constant
    columns = np.flatnonzero(active)  # HiGHS column k is columns[k]
    lp.num_col_ = len(columns)
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost[columns], np.zeros(len(columns)), \
        upper[columns]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = _slice(
        col_start, entry_row, entry_value, columns)
    highs = highspy.Highs()
    for option, value in (("output_flag", False), ("threads", int(threads)),
                          ("random_seed", int(seed)), ("solver", "simplex")):
        highs.setOptionValue(option, value)
    highs.passModel(lp)
    scale = objective_scale(float(np.abs(cost).max()) if len(cost) else 0.0)
    if scale:
        highs.setOptionValue("user_objective_scale", scale)
    built = wall.perf_counter() - started
    entry_col = np.repeat(np.arange(n_pairs), np.diff(col_start[:n_pairs + 1]))
    optimal, rounds = False, 0
    # the last LP solved to optimality (over the pairs it had): its duals and values
    row_dual, col_value, solved_columns = np.zeros(n_rows), None, columns
    lp_value = math.inf
    work.charge("compact LP", ("lp_build_pair", n_pairs))  # making the LP
    wall_by = wall.time() + (wall_share if work.deterministic else 1.0) * work.wall_left()
    while True:
        left = seconds - (work.now() - begun)
        if left <= 0.05 or work.wall_left() <= 0.05:
            break
        if wall_by - wall.time() <= 0.05:
            work.stopped("compact LP")
            break
        rounds += 1
        if not work.run_lp(highs, "compact LP", left, wall_by=wall_by):
            break
        solution = highs.getSolution()
        row_dual = np.asarray(solution.row_dual, dtype=float)
        col_value, solved_columns = np.asarray(solution.col_value, dtype=float), columns
        lp_value = float(highs.getInfo().objective_function_value)
        reduced = _reduced(cost, entry_col, entry_row, entry_value, row_dual, n_pairs)
        work.charge("compact LP", ("reduced_cost_pair", n_pairs))
        entering = np.flatnonzero(~active[:n_pairs] & (reduced < -PRICE_TOLERANCE))
        if len(entering) == 0:
            optimal = True
            break
        entering = _most_negative(rel.p[idx][entering], reduced[entering], entering)
        active[entering] = True
        columns = np.concatenate([columns, entering])
        starts, index, values_ = _slice(col_start, entry_row, entry_value, entering)
        highs.addCols(len(entering), cost[entering], np.zeros(len(entering)), upper[entering],
                      len(index), starts, index, values_)
    dual = np.maximum(-row_dual, 0.0)
    prices = Prices(dual[:n_p], dual[r_link:r_eq], dual[r_eq:r_xy])
    x = np.zeros(len(rel.p))
    if col_value is not None:
        in_lp = solved_columns < n_pairs
        x[idx[solved_columns[in_lp]]] = np.clip(col_value[in_lp], 0.0, 1.0)
    return CompactResult(prices, x, lp_value, optimal, col_value is not None,
                         int(keep_patient.sum()), wall.perf_counter() - started, built, rounds,
                         int((solved_columns < n_pairs).sum()))


def _initial_pairs(p: np.ndarray, value: np.ndarray, seed: int) -> np.ndarray:
    """Mask over pairs: each patient's INITIAL_PAIRS most valuable (ties broken at random, so the
    sessions of a day share the patients)."""
    noise = np.random.default_rng(seed).random(len(p))
    mask = np.zeros(len(p), dtype=bool)
    mask[_first_of_each(p, np.lexsort((noise, -value, p)), INITIAL_PAIRS)] = True
    return mask


def _reduced(cost: np.ndarray, entry_col: np.ndarray, entry_row: np.ndarray,
             entry_value: np.ndarray, row_dual: np.ndarray, n_pairs: int) -> np.ndarray:
    """Reduced cost of every pair column at these row duals."""
    n = len(entry_col)
    return np.asarray(cost[:n_pairs] - np.bincount(
        entry_col, weights=entry_value[:n] * row_dual[entry_row[:n]], minlength=n_pairs),
        dtype=float)


def _most_negative(p: np.ndarray, reduced: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Of `pairs`, each patient's ENTERING_PAIRS with the most negative reduced cost."""
    return np.sort(pairs[_first_of_each(p, np.lexsort((reduced, p)), ENTERING_PAIRS)])


def _first_of_each(p: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """The positions of `order` (sorted by patient p first) that are among their patient's first
    k."""
    starts = np.r_[0, np.flatnonzero(p[order][1:] != p[order][:-1]) + 1]
    rank = np.arange(len(p)) - np.repeat(starts, np.diff(np.r_[starts, len(p)]))
    return np.asarray(order[rank < k])


def _slice(start: np.ndarray, index: np.ndarray, value: np.ndarray,
           columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The column-wise matrix of `columns` (start, index, value)."""
    lengths = start[columns + 1] - start[columns]
    offsets = np.repeat(start[columns] - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    entries = np.arange(int(lengths.sum())) + offsets
    return (np.r_[0, np.cumsum(lengths)].astype(np.int32), index[entries], value[entries])
