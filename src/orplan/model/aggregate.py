"""Aggregated sessions: the compact LP over groups of alike sessions, for horizons too large to
solve it session by session.

Sessions alike in everything the objective and the session rows see (date, staffed minutes,
allowed overtime, opening cost, specialty, installed equipment) form a group. The aggregated LP has
one variable X[p, g] per patient and group (the sum of the patient's x[p, s] over the group's
sessions), and per group the sums of its sessions' rows: booked minutes within n_g (cap + T) o +
ot, and so on, with o in [0, n_g]. Rows that tie sessions of different sites (a site's ward-bed
day, a site's units of mobile equipment on a day) are summed per day over the sites. A pair's
coefficient in a summed row is the least of its sessions' (0 when one of them has none), so every
LP solution of the session-by-session model maps to one of the aggregated model: it is a
relaxation, whatever the groups.

It is only used for its prices and its solution. Its prices go back to the rows they were summed
from (a price on a sum of rows is that price on each row), and `model.bound` turns them into a
bound valid for the full model, exactly as the compact LP's own prices.

It is expressed as a `Relaxation` whose sessions are the groups, with scaled minutes (n_g
sessions of cap minutes and turnover T hold n_g (cap + T) - T minutes as one session), so
`model.compact.solve_compact` solves it unchanged. Its knapsack fields are not meaningful: a
group is not a session, and `model.bound` must never evaluate it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from orplan import wall
from orplan.model.bound import Prices, Relaxation, rows_as_bits
from orplan.model.compact import CompactResult, solve_compact
from orplan.work import Work

GROUP_COLUMNS = ("date", "capacity", "max_ot", "open_cost", "specialty", "equipment")


@dataclass
class Aggregation:
    rel: Relaxation  # the aggregated model (sessions are groups); for the compact LP only
    pair_of: np.ndarray  # per pair of the full relaxation: its aggregated pair
    link_of: np.ndarray  # per linking row of the full relaxation: its aggregated row
    equipment_of: np.ndarray  # per equipment row of the full relaxation: its aggregated row

    def prices(self, prices: Prices) -> Prices:
        """Prices of the aggregated rows, given to the rows they sum."""
        return Prices(prices.patient, prices.link[self.link_of],
                      prices.equipment[self.equipment_of])

    def spread(self, x: np.ndarray) -> np.ndarray:
        """An aggregated LP value per pair of the full relaxation: X[p, g] shared evenly by the
        patient's sessions in g."""
        share = np.bincount(self.pair_of, minlength=len(x))
        return np.asarray(x[self.pair_of] / share[self.pair_of], dtype=float)


def session_groups(sessions: pd.DataFrame) -> np.ndarray:
    """Group code per session (see the module text)."""
    if sessions.empty:
        return np.empty(0, dtype=np.int64)
    keys = pd.DataFrame({c: sessions[c].map(str) if c == "equipment" else sessions[c]
                         for c in GROUP_COLUMNS})
    return np.asarray(keys.groupby(list(GROUP_COLUMNS), sort=False, dropna=False).ngroup(),
                      dtype=np.int64)


def _least_over_group(member: np.ndarray, row: np.ndarray, coef: np.ndarray, n_rows: int,
                      sessions_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(member, row, coefficient) triples summed per (member, row), kept where every one of the
    member's sessions has the row, with the least coefficient."""
    key = member.astype(np.int64) * n_rows + row
    unique, inverse = np.unique(key, return_inverse=True)
    count = np.bincount(inverse, minlength=len(unique))
    least = np.full(len(unique), np.inf)
    np.minimum.at(least, inverse, coef)
    members = unique // n_rows
    full = count == sessions_of[members]
    return members[full], unique[full] % n_rows, least[full]


def aggregate(rel: Relaxation, sessions: pd.DataFrame) -> Aggregation:
    """The aggregated relaxation of `rel` (a plain one, over `sessions`)."""
    group = session_groups(sessions)
    n_groups = int(group.max()) + 1 if len(group) else 0
    count = np.bincount(group, minlength=n_groups).astype(float)
    first = np.unique(group, return_index=True)[1]  # a representative session per group
    key = rel.p.astype(np.int64) * max(n_groups, 1) + group[rel.s]
    unique, pair_of = np.unique(key, return_inverse=True)
    agg_p, agg_s = unique // max(n_groups, 1), unique % max(n_groups, 1)
    sessions_of = np.bincount(pair_of, minlength=len(unique))
    a_pair = np.zeros(len(unique), dtype=np.int64)
    a_pair[pair_of] = np.arange(len(pair_of))  # any of its pairs: they agree on what is kept
    # linking rows, summed by merge code
    link_of = np.asarray(rel.link_merge, dtype=np.int64)
    n_link = int(link_of.max()) + 1 if len(link_of) else 0
    l_pair, l_row, l_coef = _least_over_group(pair_of[rel.link_pair], link_of[rel.link_row],
                                              rel.link_coef, n_link, sessions_of)
    link_rhs = np.bincount(link_of, weights=rel.link_rhs, minlength=n_link)
    # equipment rows, summed by (type, date)
    equipment_of = np.asarray(rel.equipment_merge, dtype=np.int64)
    n_eq = int(equipment_of.max()) + 1 if len(equipment_of) else 0
    units = np.bincount(equipment_of, weights=rel.equipment_units, minlength=n_eq)
    needs_pair, needs_row = _needs(rel)
    e_pair, e_row, _ = _least_over_group(pair_of[needs_pair], equipment_of[needs_row],
                                         np.ones(len(needs_pair)), n_eq, sessions_of)
    session_rows, pair_needs = rows_as_bits(agg_s[e_pair], e_row, e_pair, n_groups, n_eq,
                                            len(unique))
    turnover = rel.turnover
    capacity = count * rel.capacity[first] + (count - 1) * turnover
    limit = count * rel.session_limit[first] + (count - 1) * turnover
    open_cost = count * rel.open_cost[first]
    agg = Relaxation(
        constant=rel.constant, p=agg_p, s=agg_s, gain=rel.gain[a_pair],
        base_profit=rel.base_profit[a_pair], duration=rel.duration[a_pair],
        weight=rel.weight[a_pair], link_pair=l_pair, link_row=l_row, link_coef=l_coef,
        link_rhs=link_rhs, link_merge=np.arange(n_link),
        equipment_units=units, pair_needs=pair_needs, session_rows=session_rows,
        equipment_merge=np.arange(n_eq), session_cap=np.zeros(n_groups, dtype=np.int64),
        session_free=np.zeros(n_groups), session_fixed=np.zeros(n_groups),
        overtime_price=rel.overtime_price, n_patients=rel.n_patients, capacity=capacity,
        session_limit=limit, open_cost=open_cost, turnover=turnover,
        idle_weight=rel.idle_weight, overtime_weight=rel.overtime_weight, session_count=count)
    return Aggregation(agg, pair_of, link_of, equipment_of)


def _needs(rel: Relaxation) -> tuple[np.ndarray, np.ndarray]:
    """(pair, equipment row) for every row a pair's case needs."""
    n_bits = max((len(r) for r in rel.session_rows), default=0)
    table = np.full((len(rel.session_rows), max(n_bits, 1)), -1, dtype=np.int64)
    for s, session_rows in enumerate(rel.session_rows):
        table[s, :len(session_rows)] = session_rows
    pairs, rows = [], []
    for bit in range(n_bits):
        has = np.flatnonzero((rel.pair_needs >> bit) & 1)
        pairs.append(has)
        rows.append(table[rel.s[has], bit])
    if not pairs:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(pairs), np.concatenate(rows)


def solve_aggregated(rel: Relaxation, sessions: pd.DataFrame, order: np.ndarray, seconds: float,
                     threads: int = 1, seed: int = 0, work: Work | None = None,
                     wall_share: float = 1.0) -> CompactResult:
    """The compact LP over groups of alike sessions (see the module text), within `seconds` of
    `work`'s clock and `wall_share` of the wall clock's time left (see solve_compact). Its
    prices and solution are returned for the rows and pairs of `rel`: each pair gets the share of
    its group's value (see Aggregation.spread)."""
    work = work or Work.wall_clock(seconds)
    started = wall.perf_counter()
    begun = work.now()
    agg = aggregate(rel, sessions)
    work.charge("compact LP", ("relaxation", 1), ("relaxation_pair", len(rel.p)))
    aggregated = wall.perf_counter()
    result = solve_compact(agg.rel, order, seconds - (work.now() - begun), threads, seed, work,
                           wall_share=wall_share)
    return dataclasses.replace(
        result, prices=agg.prices(result.prices), x=agg.spread(result.x),
        seconds=wall.perf_counter() - started,
        build_seconds=result.build_seconds + aggregated - started)
