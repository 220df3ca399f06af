"""A lower bound on the objective that is valid for the full model, by Lagrangian relaxation.

The monolithic MILP's own bound is out of reach at hospital scale (its root LP alone takes minutes),
and a bound of a reduced model says nothing about the full one. This bound does: relax
"each patient at most once" (price lambda_p >= 0), each binding surgeon day limit and ward-bed
day (linking rows, prices mu_r >= 0) and each binding mobile-equipment row (price nu_e >= 0 per
session that uses the type); drop surgeon overlap (it only forbids plans) and the room-switch cost
(>= 0). What is left falls apart into one knapsack per session and equipment choice, solved
exactly by dynamic programming over theatre minutes:

    LB = const - sum_p lambda_p - sum_r mu_r rhs_r - sum_e nu_e units_e - sum_s V_s
    V_s = max(0, max over equipment sets E and cases fitting cap + max_ot that need only E of
                 sum (gain_ps - lambda_p - sum_r mu_r a_rps + w_idle (d_p + T))
                 - w_idle (cap + T) - (w_idle + w_ot) max(0, U - T - cap) - open_cost
                 - sum_{e in E} nu_e)

where U is the booked minutes with turnover. For all prices >= 0 and every plan x,
objective(x) >= LB, so any LB computed is a valid bound. Case minutes are rounded down and the
overtime charged on the rounded minutes, which only loosens the bound.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from orplan import wall
from orplan.model.common import PlanningData
from orplan.model.pairs import mobile_units
from orplan.model.priority import pair_gain
from orplan.work import Units, Work, knapsack_units, wide_knapsack_units

# The coarsest grid the session knapsacks may use when case minutes share none (a knapsack's
# table is as wide as a session in grid units: on 1-minute units a round of session knapsacks of
# the hospital week took 3.4-4.3 s against 0.6 s on 5). Rounding to it costs a plan at most 4
# minutes a case, and a bound a little strength.
KNAPSACK_GRID_MIN = 5

@dataclass
class Relaxation:
    """The data of the relaxed problem: fixed while the prices change."""

    constant: float  # the objective when nobody is planned
    p: np.ndarray  # per pair
    s: np.ndarray
    gain: np.ndarray  # what planning the pair takes off the objective (pair_gain)
    base_profit: np.ndarray  # gain + w_idle (d + T): knapsack profit before prices
    duration: np.ndarray
    weight: np.ndarray  # (d + T) in grid units: rounded up (patterns chosen with it fit)
    link_pair: np.ndarray  # linking rows as (pair, row, coefficient) triples
    link_row: np.ndarray
    link_coef: np.ndarray
    link_rhs: np.ndarray  # per linking row
    # per linking row: rows with equal codes may be summed when sessions are aggregated
    # (model.aggregate): a ward-bed day of a session's site merges with the other sites' of that
    # day; surgeon days and named wards stay apart
    link_merge: np.ndarray
    equipment_units: np.ndarray  # per binding equipment row (type, site, date)
    pair_needs: np.ndarray  # per pair: bit j set when it needs the j-th row of session_rows[s]
    session_rows: list[np.ndarray]  # per session: binding equipment rows its cases may need
    equipment_merge: np.ndarray  # per equipment row: a code of (type, date), see link_merge
    session_cap: np.ndarray  # per session: cap + T + max_ot in grid units
    session_free: np.ndarray  # per session: grid units bookable before overtime (cap + T)
    session_fixed: np.ndarray  # per session: w_idle (cap + T) + open_cost
    overtime_price: float  # (w_idle + w_ot) per grid unit
    n_patients: int
    capacity: np.ndarray  # per session, exact minutes
    session_limit: np.ndarray  # per session: capacity + max_ot, exact minutes
    open_cost: np.ndarray
    turnover: float
    idle_weight: float
    overtime_weight: float
    # per session: how many real sessions it stands for (model.aggregate; 1 in a plain relaxation)
    session_count: np.ndarray | None = None
    # (d + T) rounded down, in grid units, where the grid is coarser than the minutes: knapsacks
    # with it over-estimate a session's value, as a valid bound needs (None: `weight` is exact)
    weight_low: np.ndarray | None = None

    @property
    def relaxed_weight(self) -> np.ndarray:
        return self.weight if self.weight_low is None else self.weight_low


def relaxation(data: PlanningData) -> Relaxation:
    case, sessions, priority = data.case, data.sessions, data.priority
    weights = case.config.weights
    turnover = float(case.config.turnover_min)
    p = data.pairs["p"].to_numpy()
    s = data.pairs["s"].to_numpy()
    duration = case.waitlist["duration_min"].to_numpy(dtype=float)[p]
    dates = sessions["date"].to_numpy()[s]
    gain = pair_gain(priority, p, dates, weights, sessions["session_id"].to_numpy()[s])
    minutes = np.floor(duration + turnover + 1e-9).astype(np.int64)
    capacity = sessions["capacity"].to_numpy(dtype=float)
    max_ot = sessions["max_ot"].to_numpy(dtype=float)
    limit = np.floor(capacity + turnover + max_ot + 1e-9).astype(np.int64)
    grid = _common_grid(minutes, limit) if len(p) else 1
    weight_low = None
    if grid < KNAPSACK_GRID_MIN:
        # minutes off a common grid (a hospital export to the minute): knapsacks on a coarser
        # grid, up for plans and patterns (they fit), down for bounds (still valid)
        grid = KNAPSACK_GRID_MIN
        exact = duration + turnover
        weight_low = np.floor(exact / grid + 1e-9).astype(np.int64)
        minutes = np.ceil(exact / grid - 1e-9).astype(np.int64) * grid
    constant = float((priority["leave_out_cost"] + priority["breach_cost"]
                      + priority["overdue_cost"] + priority["drop_cost"]
                      + priority["mandatory_cost"]).sum())
    links = [_surgeon_limits(data, p, s, duration), _bed_days(data, p, s)]
    offset, pairs_, rows_, coefs_, rhs_, merge = 0, [], [], [], [], []
    for name, (pair, row, coef, rhs, keys) in zip(("surgeon_day_limit", "beds"), links,
                                                  strict=True):
        pairs_.append(pair.astype(np.int32))
        rows_.append((row + offset).astype(np.int32))
        coefs_.append(coef.astype(np.float32))
        rhs_.append(rhs)
        merge += [(name, *key) for key in keys]
        offset += len(rhs)
    link_merge = (pd.factorize(pd.Series(merge, dtype=object))[0] if merge
                  else np.empty(0, dtype=np.int64))
    units, pair_needs, session_rows, equipment_merge = _equipment_rows(data, p, s)
    return Relaxation(
        constant=constant, p=p, s=s, gain=gain,
        base_profit=gain + weights.idle_min * (duration + turnover), duration=duration,
        weight=minutes // grid, weight_low=weight_low,
        link_pair=np.concatenate(pairs_), link_row=np.concatenate(rows_),
        link_coef=np.concatenate(coefs_), link_rhs=np.concatenate(rhs_), link_merge=link_merge,
        equipment_units=units, pair_needs=pair_needs,
        session_rows=session_rows, equipment_merge=equipment_merge,
        session_cap=limit // grid, session_free=(capacity + turnover) / grid,
        session_fixed=(weights.idle_min * (capacity + turnover)
                       + sessions["open_cost"].to_numpy(dtype=float)),
        overtime_price=(weights.idle_min + weights.overtime_min) * grid,
        n_patients=len(priority), capacity=capacity, session_limit=capacity + max_ot,
        open_cost=sessions["open_cost"].to_numpy(dtype=float), turnover=turnover,
        idle_weight=float(weights.idle_min), overtime_weight=float(weights.overtime_min))


# pair, row, coefficient (triples), rhs and merge key (per row, see Relaxation.link_merge)
Link = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[object, ...]]]


def _no_link() -> Link:
    return (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0),
            np.empty(0), [])


def _binding(pair: np.ndarray, codes: np.ndarray, coef: np.ndarray, rhs: np.ndarray,
             keys: list[tuple[object, ...]]) -> Link:
    """Keep only rows whose candidates could exceed the right-hand side, renumbered."""
    total = np.bincount(codes, weights=coef, minlength=len(rhs))
    binding = total > rhs + 1e-9
    renumber = np.cumsum(binding) - 1
    keep = binding[codes]
    return (pair[keep], renumber[codes[keep]], coef[keep], rhs[binding].astype(float),
            [key for key, kept in zip(keys, binding, strict=True) if kept])


def _day_table(codes: np.ndarray, days: np.ndarray, values: np.ndarray, n_codes: int,
               n_days: int) -> np.ndarray:
    """A flat (code, day) -> value table, NaN where there is none (days outside [0, n_days)
    are left out)."""
    table = np.full(n_codes * n_days, np.nan)
    inside = (days >= 0) & (days < n_days)
    table[codes[inside] * n_days + days[inside]] = values[inside]
    return table


def _rows_of(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows numbered in the order their codes first appear: each entry's row and each row's
    code."""
    rows, present = pd.factorize(code)
    return rows, np.asarray(present)


def _surgeon_limits(data: PlanningData, p: np.ndarray, s: np.ndarray,
                    duration: np.ndarray) -> Link:
    """sum of the surgeon's case minutes that day <= max_minutes."""
    case = data.case
    if case.surgeons is None or case.surgeons["max_minutes"].isna().all() or len(p) == 0:
        return _no_link()
    limits = case.surgeons.dropna(subset=["max_minutes"]).drop_duplicates(["surgeon_id", "date"])
    waitlist = case.waitlist
    codes, names = pd.factorize(pd.concat([waitlist["surgeon_id"], limits["surgeon_id"]],
                                          ignore_index=True))
    patient = np.where(waitlist["surgeon_id"].to_numpy() != "", codes[:len(waitlist)], -1)
    start = pd.Timestamp(case.horizon_start)
    n_days = int(case.horizon_days)
    table = _day_table(codes[len(waitlist):], (limits["date"] - start).dt.days.to_numpy(),
                       limits["max_minutes"].to_numpy(dtype=float), len(names), n_days)
    surgeon = patient[p]
    code = np.maximum(surgeon, 0) * n_days + data.sessions["day"].to_numpy()[s]
    applies = np.flatnonzero((surgeon >= 0) & ~np.isnan(table[code]))
    if len(applies) == 0:
        return _no_link()
    rows, row_code = _rows_of(code[applies])
    keys: list[tuple[object, ...]] = [
        (names[c // n_days], start + pd.Timedelta(days=int(c % n_days))) for c in row_code]
    return _binding(applies, rows, duration[applies], table[row_code], keys)


def _bed_days(data: PlanningData, p: np.ndarray, s: np.ndarray) -> Link:
    """Patients operated on day d hold a bed of their ward on d .. d + los - 1 (<= capacity)."""
    case = data.case
    if case.beds is None or case.beds.empty or len(p) == 0:
        return _no_link()
    waitlist, sessions = case.waitlist, data.sessions
    los_of = waitlist["los_days"].fillna(0).to_numpy(dtype=np.int64)
    staying = np.flatnonzero(los_of[p] >= 1)
    if len(staying) == 0:
        return _no_link()
    beds = case.beds.drop_duplicates(["ward", "date"])
    codes, names = pd.factorize(pd.concat([waitlist["ward"], sessions["site"], beds["ward"]],
                                          ignore_index=True))
    n_w, n_s = len(waitlist), len(sessions)
    patient = np.where(waitlist["ward"].to_numpy() != "", codes[:n_w], -1)
    start = pd.Timestamp(case.horizon_start)
    session_day = sessions["day"].to_numpy(dtype=np.int64)
    n_days = int(max(session_day.max(initial=0) + los_of.max(initial=0), 1))
    table = _day_table(codes[n_w + n_s:], (beds["date"] - start).dt.days.to_numpy(),
                       beds["capacity"].to_numpy(dtype=float), len(names), n_days)
    ward = patient[p[staying]]
    ward = np.where(ward >= 0, ward, codes[n_w:n_w + n_s][s[staying]])
    los = los_of[p[staying]]
    pair = np.repeat(staying, los)
    first = np.repeat(ward * n_days + session_day[s[staying]], los)
    code = first + (np.arange(len(pair)) - np.repeat(np.cumsum(los) - los, los))
    known = ~np.isnan(table[code])
    if not known.any():
        return _no_link()
    pair, code = pair[known], code[known]
    rows, row_code = _rows_of(code)
    # the wards of sessions' sites (patients without a named ward) merge per day
    sites = set(sessions["site"])
    keys: list[tuple[object, ...]] = []
    for c in row_code:
        name, day = names[c // n_days], start + pd.Timedelta(days=int(c % n_days))
        keys.append(("site", day) if name in sites else (name, day))
    return _binding(pair, rows, np.ones(len(pair)), table[row_code], keys)


def _equipment_rows(data: PlanningData, p: np.ndarray, s: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Binding mobile-equipment rows (type, site, date): their units, each pair's needs as bits
    over its session's rows, each session's rows, and each row's merge code (type, date)."""
    case, sessions = data.case, data.sessions
    n_sessions = len(sessions)
    none = (np.empty(0), np.zeros(len(p), dtype=np.int64),
            [np.empty(0, dtype=np.int64) for _ in range(n_sessions)],
            np.empty(0, dtype=np.int64))
    if case.equipment is None or len(p) == 0:
        return none
    needs = case.waitlist["equipment"].to_numpy()[p]
    has = np.flatnonzero([len(n) > 0 for n in needs])
    if len(has) == 0:
        return none
    exploded = pd.DataFrame({"pair": has, "needs": needs[has]}).explode("needs")
    pair = exploded["pair"].to_numpy(dtype=np.int64)
    kind = exploded["needs"].to_numpy()
    installed = sessions["equipment"].to_numpy()[s[pair]]
    mobile = np.array([k not in inst for k, inst in zip(kind, installed, strict=True)], dtype=bool)
    pair, kind = pair[mobile], kind[mobile]
    if len(pair) == 0:
        return none
    keys = pd.DataFrame({"equipment": kind, "site": sessions["site"].to_numpy()[s[pair]],
                         "date": sessions["date"].to_numpy()[s[pair]]})
    codes = keys.groupby(["equipment", "site", "date"], sort=False).ngroup().to_numpy()
    rows = keys.drop_duplicates()  # first appearance: the order of codes
    units = mobile_units(case, rows)
    merge = rows.groupby(["equipment", "date"], sort=False).ngroup().to_numpy()
    sessions_per_row = pd.Series(s[pair]).groupby(codes).nunique().to_numpy()
    binding = sessions_per_row > units
    keep = binding[codes]
    pair, codes = pair[keep], (np.cumsum(binding) - 1)[codes[keep]]
    units = units[binding]
    merge = pd.factorize(merge[binding])[0]
    session_rows, pair_needs = rows_as_bits(s[pair], codes, pair, n_sessions, len(units), len(p))
    return units.astype(float), pair_needs, session_rows, merge


def rows_as_bits(owner: np.ndarray, row: np.ndarray, item: np.ndarray, n_owners: int,
                 n_rows: int, n_items: int) -> tuple[list[np.ndarray], np.ndarray]:
    """From (owner, row, item) triples (a session, an equipment row its cases may need, a pair in
    it that needs the row): each owner's rows, sorted, and each item's needs as bits over its
    owner's rows (bit j: the j-th)."""
    n_rows = max(n_rows, 1)
    key = owner.astype(np.int64) * n_rows + row
    used = np.unique(key)
    start = np.searchsorted(used // n_rows, np.arange(n_owners + 1))
    owner_rows = [used[start[k]:start[k + 1]] % n_rows for k in range(n_owners)]
    needs = np.zeros(n_items, dtype=np.int64)
    np.bitwise_or.at(needs, item, np.left_shift(1, np.searchsorted(used, key) - start[owner]))
    return owner_rows, needs


@dataclass
class Prices:
    """Prices of the relaxed rows (all >= 0)."""

    patient: np.ndarray  # lambda, per patient
    link: np.ndarray  # mu, per linking row
    equipment: np.ndarray  # nu, per equipment row

    def blend(self, other: Prices, weight: float) -> Prices:
        """weight * self + (1 - weight) * other."""
        return Prices(weight * self.patient + (1 - weight) * other.patient,
                      weight * self.link + (1 - weight) * other.link,
                      weight * self.equipment + (1 - weight) * other.equipment)


def priced_profit(rel: Relaxation, prices: Prices) -> np.ndarray:
    """Knapsack profit of every pair at these prices (before equipment)."""
    profit = rel.base_profit - prices.patient[rel.p]
    if len(rel.link_pair):
        profit -= np.bincount(rel.link_pair, weights=rel.link_coef * prices.link[rel.link_row],
                              minlength=len(profit))
    return profit


def lagrangian_bound(rel: Relaxation, prices: Prices) -> float:
    """LB at these prices: valid for the full model."""
    values, _ = session_values(rel, priced_profit(rel, prices), prices.equipment, relaxed=True)
    return (rel.constant - float(prices.patient.sum()) - float(prices.link @ rel.link_rhs)
            - float(prices.equipment @ rel.equipment_units) - float(values.sum()))


def minute_price_bound(rel: Relaxation, evaluations: int = 14,
                       deadline: float = math.inf,
                       work: Work | None = None) -> tuple[float, Prices]:
    """The best bound over prices of one simple kind: a patient's price is what planning them
    gains beyond pi per theatre minute (turnover included), at their most valuable session; the
    classic dual of a knapsack. pi is searched on a geometric grid, then by golden section around
    the best grid point. Cheap (each evaluation is one round of session knapsacks) and close to
    the compact LP's bound on a hospital week (67.6 M against 69.4 M), it gives a bound and a
    start for the column generation where the compact LP is not solved in time. Past `deadline`
    (on `work`'s clock, see orplan.work; without one, wall.perf_counter()), no more evaluations
    are made after the first."""
    if work is None:
        work = Work.wall_clock(deadline - wall.perf_counter())
        deadline = work.budget
    evaluation = work.estimate(*knapsack_work(rel))
    no_link, no_equipment = np.zeros(len(rel.link_rhs)), np.zeros(len(rel.equipment_units))
    if len(rel.p) == 0:
        return lagrangian_bound(rel, Prices(np.zeros(rel.n_patients), no_link, no_equipment)), \
            Prices(np.zeros(rel.n_patients), no_link, no_equipment)
    value = np.zeros(rel.n_patients)
    np.maximum.at(value, rel.p, rel.gain)
    minutes = np.ones(rel.n_patients)
    np.maximum.at(minutes, rel.p, rel.duration + rel.turnover)
    tried: dict[float, float] = {}

    def bound_at(pi: float) -> float:
        if tried and work.done("patterns", deadline, evaluation):
            return -math.inf
        if pi not in tried:
            prices = Prices(np.maximum(0.0, value - pi * minutes), no_link, no_equipment)
            tried[pi] = lagrangian_bound(rel, prices)
            work.charge("patterns", *knapsack_work(rel))
        return tried[pi]

    top = max(float((value / minutes).max()), 1e-6)
    grid = top * np.geomspace(1e-3, 1.0, max(3, evaluations // 2))
    values = [bound_at(float(pi)) for pi in grid]
    best = int(np.argmax(values))
    lo, hi = float(grid[max(best - 1, 0)]), float(grid[min(best + 1, len(grid) - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    for _ in range(evaluations - len(grid)):
        if bound_at(a) >= bound_at(b):
            hi, b = b, a
            a = hi - ratio * (hi - lo)
        else:
            lo, a = a, b
            b = lo + ratio * (hi - lo)
    pi = max(tried, key=lambda k: tried[k])
    return tried[pi], Prices(np.maximum(0.0, value - pi * minutes), no_link, no_equipment)


def _common_grid(minutes: np.ndarray, limit: np.ndarray) -> int:
    """The largest unit all case minutes (turnover included) and session limits share."""
    return max(1, math.gcd(*np.unique(minutes).tolist(), *np.unique(limit).tolist()))


def exact_view(rel: Relaxation) -> Relaxation:
    """The relaxation on its minutes' own grid (1 minute when they share none): knapsacks on it
    give the tightest bound, at the cost of tables KNAPSACK_GRID_MIN times wider; `rel` itself
    when it is already exact."""
    if rel.weight_low is None:
        return rel
    minutes = np.floor(rel.duration + rel.turnover + 1e-9).astype(np.int64)
    limit = np.floor(rel.session_limit + rel.turnover + 1e-9).astype(np.int64)
    grid = _common_grid(minutes, limit)
    return dataclasses.replace(
        rel, weight=minutes // grid, weight_low=None, session_cap=limit // grid,
        session_free=(rel.capacity + rel.turnover) / grid,
        overtime_price=(rel.idle_weight + rel.overtime_weight) * grid)


def cap_units(rel: Relaxation) -> int:
    """The width of the session knapsacks' tables: the widest session in grid units, plus one."""
    return int(rel.session_cap.max(initial=0)) + 1


def knapsack_work(rel: Relaxation) -> Units:
    """One round of session knapsacks (session_values) on orplan.work's clock."""
    return knapsack_units(len(rel.p), len(rel.session_cap), cap_units(rel))


def wide_knapsack_work(rel: Relaxation) -> Units:
    """What this relaxation's knapsack tables add to a refilling round (orplan.work)."""
    return wide_knapsack_units(len(rel.p), len(rel.session_cap), cap_units(rel))


def session_values(rel: Relaxation, profit: np.ndarray, equipment_price: np.ndarray,
                   want_choice: bool = False, blocked: np.ndarray | None = None,
                   relaxed: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """V_s for every session (the best knapsack over its equipment choices, solved exactly) and,
    if asked, the chosen pairs. `blocked` sessions get value 0 and choose nothing. `relaxed`:
    with the weights rounded down (Relaxation.weight_low), values a bound may use; otherwise
    chosen pairs always fit their session."""
    n_sessions = len(rel.session_cap)
    values = np.zeros(n_sessions)
    chosen = np.zeros(len(profit), dtype=bool) if want_choice else None
    usable = profit > 1e-9
    if blocked is not None:
        usable &= ~blocked[rel.s]
    positive = np.flatnonzero(usable)
    if len(positive) == 0 or n_sessions == 0:
        return values, chosen
    # Virtual sessions: one per session and subset of its equipment rows.
    n_rows = np.array([len(r) for r in rel.session_rows], dtype=np.int64)
    n_virtual = np.left_shift(1, n_rows)
    v_start = np.cumsum(n_virtual) - n_virtual
    v_session = np.repeat(np.arange(n_sessions), n_virtual)
    v_fixed = rel.session_fixed[v_session].copy()
    for session in np.flatnonzero(n_rows):
        for bit, row in enumerate(rel.session_rows[session]):
            masks = np.arange(n_virtual[session])
            v_fixed[v_start[session] + masks[(masks >> bit) & 1 == 1]] += equipment_price[row]
    # Items: each positive pair in every virtual session of its session that allows its needs.
    copies = n_virtual[rel.s[positive]]
    item_pair = np.repeat(positive, copies)
    item_mask = np.arange(len(item_pair)) - np.repeat(np.cumsum(copies) - copies, copies)
    allowed = (rel.pair_needs[item_pair] & ~item_mask) == 0
    item_pair, item_mask = item_pair[allowed], item_mask[allowed]
    item_v_session = v_start[rel.s[item_pair]] + item_mask
    w, v = (rel.relaxed_weight if relaxed else rel.weight)[item_pair], profit[item_pair]
    cap_of = rel.session_cap[v_session]
    # Exact reduction: among cases of one weight in one session, only the most profitable
    # cap // weight can be in an optimal knapsack.
    order = np.lexsort((-v, w, item_v_session))
    item_v_session, w, v, item_pair = item_v_session[order], w[order], v[order], item_pair[order]
    group_start = np.r_[True, (item_v_session[1:] != item_v_session[:-1]) | (w[1:] != w[:-1])]
    start_index = np.maximum.accumulate(np.where(group_start, np.arange(len(w)), 0))
    rank = np.arange(len(w)) - start_index
    cap_item = cap_of[item_v_session]
    fits = (w <= cap_item) & (rank < cap_item // np.maximum(w, 1))
    item_v_session, w, v, item_pair = item_v_session[fits], w[fits], v[fits], item_pair[fits]
    n_v = len(v_session)
    table, take, column_pair, column_w = _knapsacks(n_v, int(cap_of.max()), item_v_session, w, v,
                                                    item_pair, want_choice)
    units = np.arange(table.shape[1])
    over = np.maximum(0.0, units[None, :] - rel.session_free[v_session][:, None])
    net = table - rel.overtime_price * over - v_fixed[:, None]
    net[units[None, :] > cap_of[:, None]] = -np.inf
    at = np.argmax(net, axis=1)
    v_value = net[np.arange(n_v), at]
    np.maximum.at(values, v_session, v_value)  # values start at 0: the session stays closed
    if chosen is None or take is None:
        return values, None
    # The winning virtual session of each session with a positive value.
    winner = np.full(n_sessions, -1, dtype=np.int64)
    order = np.lexsort((-v_value, v_session))
    first = np.r_[True, v_session[order][1:] != v_session[order][:-1]]
    best_virtual = order[first]
    open_ = values[v_session[best_virtual]] > 0
    winner[v_session[best_virtual[open_]]] = best_virtual[open_]
    u = np.zeros(n_v, dtype=np.int64)
    picked = winner[winner >= 0]
    u[picked] = at[picked]
    rows = np.arange(n_v)
    for j in range(take.shape[0] - 1, -1, -1):
        took = take[j][rows, u] & (u > 0)
        chosen[column_pair[took, j]] = True
        u = np.where(took, u - column_w[:, j], u)
    return values, chosen


Tables = tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]


def _knapsacks(n: int, cap: int, owner: np.ndarray, weight: np.ndarray, value: np.ndarray,
               pair: np.ndarray, want_choice: bool) -> Tables:
    """Exact-fill 0-1 knapsacks, all at once: table[k, u] = best value of owner k's items with
    total weight exactly u (-inf if none). Items are laid out in columns, one row per owner."""
    counts = np.bincount(owner, minlength=n)
    column = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    width = int(counts.max()) if len(owner) else 0
    column_w = np.zeros((n, width), dtype=np.int64)
    column_v = np.full((n, width), -np.inf)
    column_pair = np.full((n, width), -1, dtype=np.int64)
    column_w[owner, column] = weight
    column_v[owner, column] = value
    column_pair[owner, column] = pair
    table = np.full((n, cap + 1), -np.inf)
    table[:, 0] = 0.0
    units = np.arange(cap + 1)
    rows = np.arange(n)[:, None]
    take = np.zeros((width, n, cap + 1), dtype=bool) if want_choice else None
    for j in range(width):
        source = units[None, :] - column_w[:, j:j + 1]
        candidate = table[rows, np.maximum(source, 0)] + column_v[:, j:j + 1]
        candidate[source < 0] = -np.inf
        better = candidate > table
        table = np.where(better, candidate, table)
        if take is not None:
            take[j] = better
    return table, take, column_pair, column_w
