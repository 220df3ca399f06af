"""Refilling sessions: a plan improved one session at a time by exact knapsacks.

A plan rounded from an LP leaves each session a little short or fills it with small cases of
little value (hospital week: 26 minutes of each session's allowed time unused on average, and
147 patients the LP plans left out for 139 cheaper ones), because the LP fills every session to
the minute with a patient split between sessions. Refilling takes each session in turn with the
rest of the plan fixed: its best set of cases, chosen among its own and the patients the plan
leaves out, is found exactly by the session knapsacks of `model.bound` (minutes with turnover,
allowed overtime and its price, mobile equipment), with every surgeon-day limit, ward-bed day
and equipment unit the rest of the plan leaves. All sessions are solved at once; the improving
ones are taken, best first, each checked against what the ones taken before it used. Rounds
repeat until none improves or time is up.

A session's new cases are taken only if the plan can still be timed: the group of sessions linked
to it that day by surgeons who work in several is list-scheduled as the plan will be
(`plan.on_time`) and must end within every session's allowed overtime. A session refused so is
then refilled without new flip rooms (no surgeon who operates in another session that day). On
the hospital week the plan written went from 73.02 M (no new flip rooms at all) to 72.48 M
(benchmarks/README.md). The caller times the plan again and
repairs it (`rounding.timed_repair`, keeping the starts of groups list scheduling cannot time),
and keeps it only if it is better.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan import wall
from orplan.greedy import leave_out_price
from orplan.model.bound import Relaxation, session_values, wide_knapsack_work
from orplan.model.common import PlanningData
from orplan.plan import on_time_cases, order_hints
from orplan.work import Work

# A session's new cases are taken when they gain at least this much on the objective.
MIN_GAIN = 1e-6
# The patients left out that each session's knapsack may take: of each case length (with
# turnover), the most valuable few.
CANDIDATES = 4


def surgeon_days(data: PlanningData) -> np.ndarray:
    """Per pair of data.pairs: a code of its surgeon and its session's day (-1: no surgeon)."""
    p, s = data.pairs["p"].to_numpy(), data.pairs["s"].to_numpy()
    surgeon = data.case.waitlist["surgeon_id"].to_numpy()
    codes = pd.factorize(surgeon)[0]
    days = data.sessions["day"].to_numpy(dtype=np.int64)
    n_days = int(days.max(initial=0)) + 1
    return np.where(surgeon[p] != "", codes[p].astype(np.int64) * n_days + days[s], -1)


def refill(data: PlanningData, rel: Relaxation, chosen: np.ndarray, deadline: float,
           max_rounds: int = 50, timed: bool = True,
           work: Work | None = None,
           floors: dict[str, int] | None = None) -> tuple[np.ndarray, list[float]]:
    """The plan `chosen` (mask over rel's pairs; rel is data's relaxation) refilled, and the gain
    of each round (in objective units, by the relaxation's objective). Stops at `deadline` (on
    `work`'s clock, see orplan.work; without one, wall.perf_counter()). Not `timed`: no new flip
    rooms anywhere, and no timing checks. `floors` (the planner's rule's counts,
    orplan.model.floors): while the plan is behind one, its patients are worth FLOOR_PRICE x the
    highest leave-out price more to the knapsacks, and a session's new cases are taken if they
    bring the plan closer to the floors, or gain without doing so; never if they leave it
    further below a floor."""
    from orplan.model.floors import floor_price, pair_floor_members

    if work is None:
        work = Work.wall_clock(deadline - wall.perf_counter())
        deadline = work.budget
    chosen = chosen.copy()
    n_sessions = len(rel.session_cap)
    planned = np.zeros(rel.n_patients, dtype=bool)
    planned[rel.p[chosen]] = True
    by_pair = np.argsort(rel.link_pair, kind="stable")
    link_ptr = np.searchsorted(rel.link_pair[by_pair], np.arange(len(rel.p) + 1))
    n_eq = len(rel.equipment_units)
    timing = _Timing(data, rel, chosen)
    restricted = np.full(n_sessions, not timed)  # no new flip rooms (its timing failed)
    gains: list[float] = []
    members = pair_floor_members(data, floors) if floors else []
    counts_of = (np.array([member for _, member in members], dtype=np.int64)
                 if members else np.zeros((0, len(rel.p)), dtype=np.int64))
    need = np.array([floors[name] for name, _ in members] if floors else [], dtype=np.int64)
    counts = counts_of[:, chosen].sum(axis=1)
    price = floor_price(data.priority)
    # the last round's seconds: a round is not started unless as long a one fits
    round_units = (("refill_round", 1), ("refill_pair", len(rel.p)),
                   ("refill_session", n_sessions), *wide_knapsack_work(rel))
    last = work.estimate(*round_units)
    for _ in range(max_rounds):
        round_started = wall.perf_counter()
        if work.done("refill", deadline, last):
            break
        state = _State(rel, chosen)
        free = ~planned[rel.p] & (rel.base_profit > 0) & state.fits()
        free &= ~(restricted[rel.s] & timing.elsewhere())
        # behind a floor: its patients are worth more (a unit short outweighs any patient)
        lacking = need > counts
        bonus = (price * counts_of[lacking].any(axis=0) if lacking.any()
                 else np.zeros(len(rel.p)))
        valued = rel.base_profit + bonus
        profit = np.where(chosen | _candidates(rel, free, valued), valued, 0.0)
        values, picked = session_values(rel, profit, np.zeros(n_eq), want_choice=True)
        assert picked is not None
        current = plan_values(rel, chosen, valued)
        better = np.flatnonzero(values > current + MIN_GAIN * np.maximum(1.0, np.abs(current)))
        if len(better) == 0:
            work.charge("refill", *round_units)
            break
        picked_pairs = np.flatnonzero(picked)
        picked_pairs = picked_pairs[np.argsort(rel.s[picked_pairs], kind="stable")]
        starts = np.searchsorted(rel.s[picked_pairs], np.arange(n_sessions + 1))
        old_pairs = np.flatnonzero(chosen)
        old_pairs = old_pairs[np.argsort(rel.s[old_pairs], kind="stable")]
        old_starts = np.searchsorted(rel.s[old_pairs], np.arange(n_sessions + 1))
        gained, newly_restricted = 0.0, 0
        for s in better[np.argsort(-(values - current)[better], kind="stable")].tolist():
            if work.wall_left() <= 0.0:
                work.stopped("refill")
                break  # every session taken so far keeps the plan whole
            new = picked_pairs[starts[s]:starts[s + 1]]
            old = old_pairs[old_starts[s]:old_starts[s + 1]]
            if planned[rel.p[new[~np.isin(new, old)]]].any():
                continue  # a session taken before took one of them
            if timed and not timing.allows(s, new):
                newly_restricted += int(not restricted[s])
                restricted[s] = True
                continue
            delta = counts_of[:, new].sum(axis=1) - counts_of[:, old].sum(axis=1)
            if np.any((delta < 0) & (counts + delta < need)):
                continue  # it would leave the plan further behind the planner's rule
            closer = np.minimum(counts + delta, need).sum() > np.minimum(counts, need).sum()
            gain = (_session_value(rel, s, new) - _session_value(rel, s, old)
                    if bonus.any() else 1.0)
            if not closer and gain <= MIN_GAIN:
                continue  # what the bonus alone makes worth it, once the plan is level
            if not state.take(s, old, new, by_pair, link_ptr):
                continue
            counts += delta
            timing.move(s, new)
            chosen[old] = False
            chosen[new] = True
            planned[rel.p[old]] = False
            planned[rel.p[new]] = True
            gained += float(values[s] - current[s])
        gains.append(gained)
        work.charge("refill", *round_units)
        if not work.deterministic:
            last = wall.perf_counter() - round_started
        if gained <= 0.0 and newly_restricted == 0:
            break
    return chosen, gains


def _session_value(rel: Relaxation, s: int, pairs: np.ndarray) -> float:
    """What the cases `pairs` take off the objective in session s (as plan_values)."""
    if len(pairs) == 0:
        return 0.0
    over = max(0.0, float(rel.weight[pairs].sum()) - float(rel.session_free[s]))
    return float(rel.base_profit[pairs].sum() - rel.overtime_price * over - rel.session_fixed[s])


def plan_values(rel: Relaxation, chosen: np.ndarray,
                profit_of: np.ndarray | None = None) -> np.ndarray:
    """Per session: what the plan's cases in it take off the objective (the knapsacks' measure,
    as `bound.session_values`); `profit_of`: per pair, instead of rel.base_profit."""
    pairs = np.flatnonzero(chosen)
    n = len(rel.session_cap)
    units = np.bincount(rel.s[pairs], weights=rel.weight[pairs], minlength=n)
    profit = np.bincount(rel.s[pairs], weights=(rel.base_profit if profit_of is None
                                                 else profit_of)[pairs], minlength=n)
    over = np.maximum(0.0, units - rel.session_free)
    used = np.bincount(rel.s[pairs], minlength=n) > 0
    return np.where(used, profit - rel.overtime_price * over - rel.session_fixed, 0.0)


def _candidates(rel: Relaxation, free: np.ndarray,
                profit: np.ndarray | None = None) -> np.ndarray:
    """Mask over pairs: of the pairs in `free`, the CANDIDATES most profitable of each session
    and case length (by `profit` per pair when given, else rel.base_profit)."""
    from orplan.model.compact import _first_of_each

    profit = rel.base_profit if profit is None else profit
    pairs = np.flatnonzero(free)
    key = rel.s[pairs].astype(np.int64) * (int(rel.weight.max(initial=0)) + 1) + rel.weight[pairs]
    order = np.lexsort((-profit[pairs], key))
    mask = np.zeros(len(rel.p), dtype=bool)
    mask[pairs[_first_of_each(key, order, CANDIDATES)]] = True
    return mask


class _Timing:
    """The plan's cases per session, and whether a session's new cases keep its day timable: the
    group of sessions linked to it by surgeons who work in several that day is list-scheduled
    (`plan.on_time`, as the plan is timed) and must keep every session within its allowed
    overtime. Answers are kept per group content: refilling asks the same ones round after
    round."""

    def __init__(self, data: PlanningData, rel: Relaxation, chosen: np.ndarray):
        waitlist = data.case.waitlist
        self.rel = rel
        self.sessions = data.sessions
        self.turnover = float(data.case.config.turnover_min)
        self.keep_value = leave_out_price(data.priority)
        self.limit = (data.sessions["end"] + data.sessions["max_ot"]).to_numpy(dtype=float)
        self.session_start = data.sessions["start"].to_numpy(dtype=float)
        self.code = surgeon_days(data)
        self.surgeon = waitlist["surgeon_id"].to_numpy()
        self.hint = order_hints(waitlist["first_case"].to_numpy(), waitlist["last_case"].to_numpy())
        self.held: dict[int, np.ndarray] = {}  # session -> its pairs
        self.where: dict[int, dict[int, int]] = {}  # surgeon-day -> session -> cases
        pairs = np.flatnonzero(chosen)
        pairs = pairs[np.argsort(rel.s[pairs], kind="stable")]
        sessions, first = np.unique(rel.s[pairs], return_index=True)
        for s, held in zip(sessions.tolist(), np.split(pairs, first[1:]) if len(pairs) else [],
                           strict=True):
            self.move(s, held)
        self.known: dict[tuple[int, ...], bool] = {}

    def _count(self, s: int, pairs: np.ndarray, step: int) -> None:
        for c in self.code[pairs].tolist():
            if c < 0:
                continue
            held = self.where.setdefault(c, {})
            held[s] = held.get(s, 0) + step
            if held[s] == 0:
                del held[s]

    def move(self, s: int, new: np.ndarray) -> None:
        """Session s now holds `new`."""
        self._count(s, self.held.get(s, np.empty(0, dtype=np.int64)), -1)
        self._count(s, new, 1)
        self.held[s] = new

    def elsewhere(self) -> np.ndarray:
        """Per pair: its surgeon-day has cases in a session other than the pair's (taking it would
        make a new flip room)."""
        n_codes = int(self.code.max(initial=-1)) + 2
        count = np.zeros(n_codes, dtype=np.int64)  # index code + 1: -1 (no surgeon) stays 0
        only = np.full(n_codes, -1, dtype=np.int64)
        for c, held in self.where.items():
            count[c + 1] = len(held)
            if len(held) == 1:
                only[c + 1] = next(iter(held))
        n = count[self.code + 1]
        return (n > 1) | ((n == 1) & (only[self.code + 1] != self.rel.s))

    def allows(self, s: int, new: np.ndarray) -> bool:
        """Whether session s holding `new` keeps its group of linked sessions on time."""
        own = set(self.code[new].tolist()) - {-1}
        group, frontier = {s}, [s]
        while frontier:
            t = frontier.pop()
            codes = own if t == s else set(self.code[self.held[t]].tolist()) - {-1}
            for c in codes:
                for u in self.where.get(c, {}):
                    if u != s and u not in group:
                        group.add(u)
                        frontier.append(u)
        if len(group) == 1:
            return True  # one room: the knapsack kept it within its allowed time
        pairs = np.sort(np.concatenate([new if t == s else self.held[t] for t in group]))
        key = tuple(pairs.tolist())
        if key not in self.known:
            p = self.rel.p[pairs]
            self.known[key] = on_time_cases(p, self.rel.s[pairs], self.rel.duration[pairs],
                                            self.surgeon[p], self.hint[p], self.session_start,
                                            self.turnover, self.keep_value, self.limit)
        return self.known[key]


class _State:
    """What the plan uses of the rows shared between sessions, and each session's part in it."""

    def __init__(self, rel: Relaxation, chosen: np.ndarray):
        self.rel = rel
        n_sessions, n_links = len(rel.session_cap), len(rel.link_rhs)
        on = chosen[rel.link_pair]
        self.usage = np.bincount(rel.link_row[on], weights=rel.link_coef[on],
                                 minlength=n_links).astype(float)
        # each session's own usage of each row, as sorted keys (session * rows + row)
        keys = rel.s[rel.link_pair[on]].astype(np.int64) * max(n_links, 1) + rel.link_row[on]
        self.own_keys, inverse = np.unique(keys, return_inverse=True)
        self.own = np.bincount(inverse, weights=rel.link_coef[on], minlength=len(self.own_keys))
        self.n_links = max(n_links, 1)
        self.holds = np.zeros(n_sessions, dtype=np.int64)  # equipment bits held per session
        np.bitwise_or.at(self.holds, rel.s[chosen], rel.pair_needs[chosen])
        self.eq_usage = np.zeros(len(rel.equipment_units))
        for s in np.flatnonzero(self.holds).tolist():
            self.eq_usage[self._rows(s, int(self.holds[s]))] += 1

    def _rows(self, s: int, bits: int) -> np.ndarray:
        """Session s's equipment rows of these bits."""
        rows = self.rel.session_rows[s]
        return rows[[(bits >> j) & 1 == 1 for j in range(len(rows))]]

    def _own(self, sessions: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """What each session's cases use of each row (0 where they use none)."""
        if len(self.own_keys) == 0:
            return np.zeros(len(rows))
        keys = sessions.astype(np.int64) * self.n_links + rows
        at = np.minimum(np.searchsorted(self.own_keys, keys), len(self.own_keys) - 1)
        return np.where(self.own_keys[at] == keys, self.own[at], 0.0)

    def fits(self) -> np.ndarray:
        """Per pair: whether it alone fits what the rest of the plan (its own session's cases
        out) leaves of every linking row and equipment unit."""
        rel = self.rel
        ok = np.ones(len(rel.p), dtype=bool)
        if len(rel.link_pair):
            sessions = rel.s[rel.link_pair]
            left = (rel.link_rhs[rel.link_row] - self.usage[rel.link_row]
                    + self._own(sessions, rel.link_row))
            ok[rel.link_pair[rel.link_coef > left + 1e-6]] = False
        if len(rel.equipment_units):
            full = self.eq_usage >= rel.equipment_units - 1e-9
            blocked = np.zeros(len(rel.session_cap), dtype=np.int64)
            for s, rows in enumerate(rel.session_rows):
                for j, row in enumerate(rows):
                    if full[row] and not (self.holds[s] >> j) & 1:
                        blocked[s] |= 1 << j
            ok &= (rel.pair_needs & blocked[rel.s]) == 0
        return ok

    def take(self, s: int, old: np.ndarray, new: np.ndarray, by_pair: np.ndarray,
             link_ptr: np.ndarray) -> bool:
        """Book session s's new cases in place of its old ones if every shared row still holds."""
        rel = self.rel
        def entries(pairs: np.ndarray) -> np.ndarray:
            if len(pairs) == 0:
                return np.empty(0, dtype=np.int64)
            return np.concatenate([by_pair[link_ptr[k]:link_ptr[k + 1]] for k in pairs])

        removed, added = entries(old), entries(new)
        delta = (np.bincount(rel.link_row[added], weights=rel.link_coef[added],
                             minlength=len(self.usage))
                 - np.bincount(rel.link_row[removed], weights=rel.link_coef[removed],
                               minlength=len(self.usage))) if len(self.usage) else np.zeros(0)
        touched = np.flatnonzero(delta > 0)
        if np.any(self.usage[touched] + delta[touched] > rel.link_rhs[touched] + 1e-6):
            return False
        bits = int(np.bitwise_or.reduce(rel.pair_needs[new])) if len(new) else 0
        held = int(self.holds[s])
        gaining = self._rows(s, bits & ~held)
        if np.any(self.eq_usage[gaining] + 1 > rel.equipment_units[gaining] + 1e-9):
            return False
        self.usage += delta
        self.eq_usage[gaining] += 1
        self.eq_usage[self._rows(s, held & ~bits)] -= 1
        self.holds[s] = bits
        return True
