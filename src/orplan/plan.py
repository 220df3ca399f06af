"""From chosen (patient, session) pairs to a timed plan: the order and start time of every case.

Sequencing runs one day at a time over all rooms together, because a surgeon can work two rooms
in one day ("flip rooms") and must never be in two cases at once. It is list scheduling: within a
room, first_case patients come first and last_case patients last; between those, longer cases go
earlier (the usual rule: long, complex cases in the morning, short ones fill the end of the day).
Whenever a room is free, it takes the case that can start soonest given its surgeon; the earliest
possible start across all rooms is scheduled next. Each group of rooms linked by surgeons who
work in several is timed on its own: if that leaves a session past its allowed overtime (a
surgeon's waits piled up), the group is timed again with the cases of surgeons who work several
rooms first, then with shortest first. If no rule fits, the late sessions and every
session linked to them by a shared surgeon are timed exactly (a small disjunctive MILP: order
binaries for cases sharing a room or a surgeon, least overtime); a plan that was timed as it was
built (orplan.greedy with `times`) keeps its own starts there instead, as exact timing does not
scale to a hospital day where hundreds of surgeons work two rooms. Only if no timing exists at all
is the lowest-priority case of those sessions given up, reported with reason `sequencing`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from orplan import wall
from orplan.case import Case

PLAN_COLUMNS = ["patient_id", "session_id", "site", "room", "date", "order", "start", "end",
                "surgeon_id", "specialty", "procedure", "duration_min"]


def empty_plan() -> pd.DataFrame:
    plan = pd.DataFrame({c: pd.Series([], dtype=object) for c in PLAN_COLUMNS})
    for column in ("start", "end", "duration_min"):
        plan[column] = plan[column].astype(float)
    plan["date"] = plan["date"].astype("datetime64[ns]")
    plan["_p"] = pd.Series([], dtype=int)
    plan["_s"] = pd.Series([], dtype=int)
    return plan


@dataclass
class TimedPlan:
    plan: pd.DataFrame  # PLAN_COLUMNS, start/end as minutes after midnight, date as Timestamp
    dropped: list[int]  # patient positions removed because they could not be timed
    cut: bool = False  # timing went past its deadline (the plan may then depend on the clock)


def order_hints(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per case: 0 for first_case, 2 for last_case, 1 for the rest (the order within a room)."""
    return np.where(first, 0, np.where(last, 2, 1))


# Per case placed by list scheduling, in the order placed: its position among the day's cases,
# its session, its order in the session, its start and its end.
Placements = list[tuple[int, int, int, float, float]]


def _schedule(part: np.ndarray, s: np.ndarray, hint: np.ndarray, rank: np.ndarray,
              hints: list[int], surgeons: list[str], minutes: list[float],
              session_start: np.ndarray, turnover: float) -> Placements:
    """List-schedule the cases at positions `part` (of the day's arrays; `hints`, `surgeons` and
    `minutes`: the day's hints, surgeons and durations as lists): each session's cases in order
    of hint, then rank; the next case is the one that can start soonest (its room and its
    surgeon free), ties to the lower session."""
    keys = np.lexsort((rank[part], hint[part], s[part]))
    queues: dict[int, list[int]] = {}
    for i in part[keys].tolist():
        queues.setdefault(int(s[i]), []).append(i)
    room_free = {k: float(session_start[k]) for k in queues}
    surgeon_free: dict[str, float] = {}
    count = dict.fromkeys(queues, 0)
    picks: Placements = []
    free_at = surgeon_free.get
    while queues:
        # the soonest start, ties to the lower session, then the earlier in its list: sessions
        # are visited in ascending order and each list in order, so a later one wins only when
        # it starts strictly sooner
        start, k, j = math.inf, -1, -1
        for room, queue in queues.items():
            first_hint, free = hints[queue[0]], room_free[room]
            for position, i in enumerate(queue):
                if hints[i] != first_hint:
                    break
                who = surgeons[i]
                at = max(free, free_at(who, 0.0) if who else 0.0)
                if at < start:
                    start, k, j = at, room, position
                if at == free:
                    break  # no case in this room can start sooner; keep the rule's order
        assert k >= 0
        i = queues[k].pop(j)
        end = start + minutes[i]
        room_free[k] = end + turnover
        if surgeons[i]:
            surgeon_free[str(surgeons[i])] = end
        count[k] += 1
        picks.append((i, k, count[k], start, end))
        if not queues[k]:
            del queues[k]
    return picks


def _lateness(picks: Placements, limit: np.ndarray) -> float:
    """Minutes the placed cases' sessions end past their limits, summed over the late ones."""
    last: dict[int, float] = {}
    for _, k, _, _, end in picks:
        last[k] = max(last.get(k, end), end)
    return sum(end - float(limit[k]) for k, end in last.items() if end > limit[k] + 1e-6)


def _ranks(day_cases: pd.DataFrame, keep_value: np.ndarray) -> list[np.ndarray]:
    """Candidate orders of a day's cases, tried in turn (see `_rank_orders`)."""
    return _rank_orders(day_cases["p"].to_numpy(), day_cases["s"].to_numpy(),
                        day_cases["duration"].to_numpy(), day_cases["surgeon_id"].to_numpy(),
                        keep_value)


def _rank_orders(p: np.ndarray, s: np.ndarray, duration: np.ndarray, surgeon: np.ndarray,
                 keep_value: np.ndarray) -> list[np.ndarray]:
    """Candidate orders of a day's cases (per case: its rank), tried in turn: longest first (the
    usual rule); cases of surgeons working several rooms first (so their rooms can interleave);
    shortest first."""
    value = keep_value[p]
    code, _ = pd.factorize(surgeon)
    width = int(s.max(initial=0)) + 1
    distinct = np.unique(code.astype(np.int64) * width + s)
    rooms = np.bincount(distinct // width, minlength=int(code.max(initial=-1)) + 1)
    multi = ((rooms[code] > 1) & (surgeon != "")).astype(int)
    orders = [np.lexsort((p, -value, -duration)),
              np.lexsort((p, -value, -duration, -multi)),
              np.lexsort((p, -value, duration))]
    return [np.argsort(order) for order in orders]


def _late_sessions(timed: pd.DataFrame, limit: np.ndarray) -> pd.Series:
    last_end = timed.groupby("s")["end"].max()
    return last_end[last_end > limit[last_end.index] + 1e-6]


def _components(day_cases: pd.DataFrame) -> np.ndarray:
    """Per case: a code of its group of sessions, linked by surgeons who work in several. Groups
    share nobody, so each can be timed on its own."""
    return _component_codes(day_cases["s"].to_numpy(), day_cases["surgeon_id"].to_numpy())


def _component_codes(sessions: np.ndarray, surgeons: np.ndarray) -> np.ndarray:
    """_components over the cases' sessions and surgeons."""
    parent = {int(s): int(s) for s in np.unique(sessions)}

    def root(s: int) -> int:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    first_of: dict[str, int] = {}
    for s, surgeon in zip(sessions.tolist(), surgeons.tolist(), strict=True):
        if surgeon:
            other = first_of.setdefault(surgeon, s)
            parent[root(s)] = root(other)
    return np.array([root(s) for s in sessions.tolist()], dtype=np.int64)


def _day_arrays(day_cases: pd.DataFrame, sessions: pd.DataFrame
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A day's cases as the arrays `_timings` takes: p, s, duration, surgeon_id, hint, and the
    sessions' starts."""
    return (day_cases["p"].to_numpy(), day_cases["s"].to_numpy(),
            day_cases["duration"].to_numpy(dtype=float), day_cases["surgeon_id"].to_numpy(),
            day_cases["hint"].to_numpy(), sessions["start"].to_numpy(dtype=float))


def _timings(p: np.ndarray, s: np.ndarray, duration: np.ndarray, surgeon: np.ndarray,
             hint: np.ndarray, session_start: np.ndarray, turnover: float,
             keep_value: np.ndarray, limit: np.ndarray, stop_late: bool
             ) -> list[tuple[float, Placements]]:
    """Per group of sessions linked by surgeons (`_components`) among a day's cases (their
    arrays; `session_start`, `limit`: per session): the first rule's timing (`_ranks`) that keeps
    every session within its allowed overtime, or else the one with the least total lateness,
    with its lateness. `stop_late`: stop after the first group no rule times in time."""
    ranks = _rank_orders(p, s, duration, surgeon, keep_value)
    group = _component_codes(s, surgeon)
    hints, surgeons, minutes = hint.tolist(), surgeon.tolist(), duration.astype(float).tolist()
    out = []
    for code in np.unique(group):
        part = np.flatnonzero(group == code)
        best: tuple[float, Placements] | None = None
        for rank in ranks:
            picks = _schedule(part, s, hint, rank, hints, surgeons, minutes, session_start,
                              turnover)
            lateness = _lateness(picks, limit)
            if lateness == 0.0:
                best = (0.0, picks)
                break
            if best is None or lateness < best[0]:
                best = (lateness, picks)
        assert best is not None
        out.append(best)
        if stop_late and best[0] > 0.0:
            break
    return out


def on_time_cases(p: np.ndarray, s: np.ndarray, duration: np.ndarray, surgeon: np.ndarray,
                  hint: np.ndarray, session_start: np.ndarray, turnover: float,
                  keep_value: np.ndarray, limit: np.ndarray) -> bool:
    """`on_time` over the cases' arrays (`session_start`, `limit`: per session)."""
    return all(late == 0.0 for late, _ in _timings(p, s, duration.astype(float), surgeon, hint,
                                                    session_start, turnover, keep_value, limit,
                                                    stop_late=True))


def _best_timing(day_cases: pd.DataFrame, sessions: pd.DataFrame, turnover: float,
                 keep_value: np.ndarray, limit: np.ndarray) -> pd.DataFrame:
    """Per group of sessions linked by surgeons (`_components`): the first rule's timing that
    keeps every session within its allowed overtime, or else the one with the least total
    lateness (columns p, s, order, start, end, in the order the cases are placed). (Choosing one
    rule for the whole day lost plans: a day whose groups each fit by some rule, but not all by
    the same one.)"""
    timings = _timings(*_day_arrays(day_cases, sessions), turnover, keep_value, limit,
                       stop_late=False)
    picks = [pick for _, group in timings for pick in group]
    if not picks:
        return pd.DataFrame()
    position, s, order, start, end = (list(column) for column in zip(*picks, strict=True))
    p = day_cases["p"].to_numpy()[np.asarray(position, dtype=np.int64)]
    return pd.DataFrame({"p": p.astype(np.int64), "s": np.asarray(s, dtype=np.int64),
                         "order": np.asarray(order, dtype=np.int64),
                         "start": np.asarray(start, dtype=float),
                         "end": np.asarray(end, dtype=float)})


def _keep_given(day_cases: pd.DataFrame, timed: pd.DataFrame, late: set[int]) -> pd.DataFrame:
    """`timed` with each group of sessions linked to a `late` one (`_components`) timed at its
    given starts instead, where all its cases have one."""
    group = _components(day_cases)
    sessions = day_cases["s"].to_numpy()
    given = day_cases["given"].notna().to_numpy()
    keep = np.zeros(len(day_cases), dtype=bool)
    for code in np.unique(group[np.isin(sessions, list(late))]).tolist():
        part = group == code
        if given[part].all():
            keep |= part
    if not keep.any():
        return timed
    kept = _given_timing(day_cases[keep])
    return pd.concat([timed[~timed["s"].isin(kept["s"])], kept], ignore_index=True)


def on_time(day_cases: pd.DataFrame, sessions: pd.DataFrame, turnover: float,
            keep_value: np.ndarray, limit: np.ndarray) -> bool:
    """Whether list scheduling times one day's cases (columns p, s, duration, surgeon_id, hint)
    with every session within its allowed overtime (`limit`: end plus allowed overtime)."""
    return on_time_cases(*_day_arrays(day_cases, sessions), turnover, keep_value, limit)


def _linked_sessions(day_cases: pd.DataFrame, seeds: set[int]) -> set[int]:
    """Sessions connected to `seeds` through surgeons who work in several of them."""
    sessions = day_cases["s"].to_numpy()
    group = _components(day_cases)
    linked = np.isin(group, group[np.isin(sessions, list(seeds))])
    return set(seeds) | {int(s) for s in np.unique(sessions[linked])}


def _exact_timing(cases: pd.DataFrame, sessions: pd.DataFrame,
                  turnover: float, seconds: float = 10.0) -> pd.DataFrame | None:
    """Start times for `cases` (whole sessions) that respect session windows with allowed
    overtime, turnover in a room, one case at a time per surgeon and first/last hints, with the
    least overtime; None when no such timing exists."""
    import pulp

    from orplan.solve import solve_small

    cases = cases.reset_index(drop=True)
    n = len(cases)
    s = cases["s"].to_numpy()
    opens = sessions["start"].to_numpy(dtype=float)[s]
    ends = sessions["end"].to_numpy(dtype=float)[s]
    limits = ends + sessions["max_ot"].to_numpy(dtype=float)[s]
    duration = cases["duration"].to_numpy(dtype=float)
    surgeon = cases["surgeon_id"].to_numpy()
    hint = cases["hint"].to_numpy()
    big = float(limits.max() - opens.min() + turnover + duration.max())
    problem = pulp.LpProblem("timing", pulp.LpMinimize)
    start = [problem.add_variable(f"start_{i}", float(opens[i]), float(limits[i] - duration[i]))
             for i in range(n)]
    late = [problem.add_variable(f"late_{i}", 0.0) for i in range(n)]
    for i in range(n):
        problem += start[i] + float(duration[i]) - late[i] <= float(ends[i])
    for i in range(n):
        for j in range(i + 1, n):
            same_room, same_surgeon = s[i] == s[j], surgeon[i] != "" and surgeon[i] == surgeon[j]
            if not (same_room or same_surgeon):
                continue
            gap = turnover if same_room else 0.0
            if same_room and hint[i] != hint[j]:  # hints fix the order
                first, second = (i, j) if hint[i] < hint[j] else (j, i)
                problem += start[second] >= start[first] + float(duration[first] + gap)
                continue
            before = problem.add_variable(f"order_{i}_{j}", 0, 1, cat="Binary")
            problem += start[j] >= start[i] + float(duration[i] + gap) - big * (1 - before)
            problem += start[i] >= start[j] + float(duration[j] + gap) - big * before
    # least overtime, then as early as possible (compact sessions)
    problem += pulp.lpSum(late) * 100.0 + pulp.lpSum(start) * 0.001
    if not solve_small(problem, seconds):
        return None
    begin = np.array([round(v.value() or 0.0, 6) for v in start])
    timed = pd.DataFrame({"p": cases["p"].to_numpy(), "s": s, "start": begin,
                          "end": begin + duration})
    timed = timed.sort_values(["s", "start"], kind="stable")
    timed["order"] = timed.groupby("s").cumcount() + 1
    return timed[["p", "s", "order", "start", "end"]]


def _given_timing(cases: pd.DataFrame) -> pd.DataFrame:
    """The starts the cases came with (column `given`), ordered within each session."""
    timed = pd.DataFrame({"p": cases["p"].to_numpy(), "s": cases["s"].to_numpy(),
                          "start": cases["given"].to_numpy(dtype=float)})
    timed["end"] = timed["start"] + cases["duration"].to_numpy(dtype=float)
    timed = timed.sort_values(["s", "start"], kind="stable")
    timed["order"] = timed.groupby("s").cumcount() + 1
    return timed[["p", "s", "order", "start", "end"]]


def _time_or_none(day_cases: pd.DataFrame, sessions: pd.DataFrame, turnover: float,
                  keep_value: np.ndarray, limit: np.ndarray,
                  deadline: float | None = None) -> pd.DataFrame | None:
    """A timing of the day that keeps every session within its allowed overtime, or None. Past
    `deadline` (wall.time()), only list scheduling is tried. Cases that came with starts (column
    `given`, from a plan timed as it was built) keep them where list scheduling fails."""
    timed = _best_timing(day_cases, sessions, turnover, keep_value, limit)
    late = _late_sessions(timed, limit)
    if late.empty:
        return timed
    linked = _linked_sessions(day_cases, {int(k) for k in late.index})
    if "given" in day_cases and day_cases["given"].notna().all():
        given = _given_timing(day_cases[day_cases["s"].isin(linked)])
        return pd.concat([timed[~timed["s"].isin(linked)], given], ignore_index=True)
    if deadline is not None and wall.time() >= deadline:
        return None
    seconds = 10.0 if deadline is None else max(0.5, min(10.0, deadline - wall.time()))
    exact = _exact_timing(day_cases[day_cases["s"].isin(linked)], sessions, turnover, seconds)
    if exact is None:
        return None
    return pd.concat([timed[~timed["s"].isin(linked)], exact], ignore_index=True)


def _cases(case: Case, sessions: pd.DataFrame, assignment: pd.DataFrame) -> pd.DataFrame:
    waitlist = case.waitlist
    p = assignment["p"].to_numpy()
    return pd.DataFrame({
        "p": p,
        "s": assignment["s"].to_numpy(),
        "duration": waitlist["duration_min"].to_numpy()[p],
        "surgeon_id": waitlist["surgeon_id"].to_numpy()[p],
        "hint": order_hints(waitlist["first_case"].to_numpy()[p],
                            waitlist["last_case"].to_numpy()[p]),
        "date": sessions["date"].to_numpy()[assignment["s"].to_numpy()],
    })


def list_timing(case: Case, sessions: pd.DataFrame, assignment: pd.DataFrame,
                keep_value: np.ndarray) -> pd.DataFrame:
    """List scheduling alone, day by day (no exact timing, nothing given up): the cases of
    `assignment` (columns p, s) with their start and whether their session ends past its allowed
    overtime (column `late`). Dropping the late sessions' cases leaves a timed plan. With column
    `start` (a valid timing of some cases, NaN for the others), a group of linked sessions that
    list scheduling leaves late keeps those starts if all its cases have one."""
    if assignment.empty:
        return pd.DataFrame({"p": [], "s": [], "start": [], "late": []})
    cases = _cases(case, sessions, assignment)
    if "start" in assignment:
        cases["given"] = assignment["start"].to_numpy(dtype=float)
    limit = (sessions["end"] + sessions["max_ot"]).to_numpy()
    days = []
    for _, day_cases in cases.groupby("date", sort=True):
        timed = _best_timing(day_cases, sessions, case.config.turnover_min, keep_value, limit)
        late = _late_sessions(timed, limit)
        if not late.empty and "given" in day_cases:
            timed = _keep_given(day_cases, timed, set(late.index.tolist()))
            late = _late_sessions(timed, limit)
        days.append(timed.assign(late=timed["s"].isin(late.index)))
    return pd.concat(days, ignore_index=True)[["p", "s", "start", "late"]]


# Exact timings tried per day before cases are given up by list scheduling alone.
EXACT_TRIES = 1


def sequence(case: Case, sessions: pd.DataFrame, assignment: pd.DataFrame,
             keep_value: np.ndarray, deadline: float | None = None) -> TimedPlan:
    """Time the cases of `assignment` (columns p, s; s indexes `sessions`; optional `start`: a
    feasible timing to fall back on, see _time_or_none). `keep_value[p]` ranks patients when a
    case must be given up (the lowest value goes). Past `deadline` (wall.time()), no more exact
    timing MILPs are tried: cases in conflict are given up."""
    waitlist = case.waitlist
    turnover = case.config.turnover_min
    if assignment.empty:
        return TimedPlan(empty_plan(), [])
    cases = _cases(case, sessions, assignment)
    if "start" in assignment:
        cases["given"] = assignment["start"].to_numpy(dtype=float)
    limit = (sessions["end"] + sessions["max_ot"]).to_numpy()
    dropped: list[int] = []
    days: list[pd.DataFrame] = []
    for _, day_cases in cases.groupby("date", sort=True):
        tries = 0
        while True:
            # after EXACT_TRIES exact timing of the day failed, list scheduling alone (a case
            # given up each time): on the demo week one plan's timing searched 37 s, giving
            # up 10 cases one exact search at a time
            exact = _time_or_none(day_cases, sessions, turnover, keep_value, limit,
                                  deadline if tries < EXACT_TRIES else 0.0)
            tries += 1
            if exact is not None:
                days.append(exact)
                break
            # no timing exists (or no time is left to search for one)
            late = _late_sessions(_best_timing(day_cases, sessions, turnover, keep_value, limit),
                                  limit)
            # the least valuable case of a late session or of a session sharing a surgeon with
            # one (not the whole linked group: at hospital scale it spans dozens of sessions)
            named = day_cases["surgeon_id"] != ""
            surgeons = set(day_cases.loc[named & day_cases["s"].isin(late.index), "surgeon_id"])
            near = set(late.index) | set(day_cases.loc[day_cases["surgeon_id"].isin(surgeons)
                                                       & named, "s"])
            in_conflict = day_cases[day_cases["s"].isin(near)]
            victims = [int(in_conflict["p"].to_numpy()[np.argmin(keep_value[in_conflict["p"]])])]
            if deadline is not None and wall.time() >= deadline:
                # out of time: also the least valuable case of every late session, at once
                in_late = day_cases[day_cases["s"].isin(late.index)]
                lowest = in_late.assign(v=keep_value[in_late["p"]]).sort_values("v")
                victims += lowest.drop_duplicates("s")["p"].astype(int).tolist()
            victims = sorted(set(victims))
            dropped.extend(victims)
            day_cases = day_cases[~day_cases["p"].isin(victims)]
            if day_cases.empty:
                break
    cut = deadline is not None and wall.time() >= deadline
    if not days:
        return TimedPlan(empty_plan(), sorted(dropped), cut)
    timed = pd.concat(days, ignore_index=True)
    return TimedPlan(_plan_frame(waitlist, sessions, timed), sorted(dropped), cut)


def _plan_frame(waitlist: pd.DataFrame, sessions: pd.DataFrame,
                timed: pd.DataFrame) -> pd.DataFrame:
    p = timed["p"].to_numpy(dtype=int)
    s = timed["s"].to_numpy(dtype=int)
    plan = pd.DataFrame({
        "patient_id": waitlist["patient_id"].to_numpy()[p],
        "session_id": sessions["session_id"].to_numpy()[s],
        "site": sessions["site"].to_numpy()[s],
        "room": sessions["room"].to_numpy()[s],
        "date": sessions["date"].to_numpy()[s],
        "order": timed["order"].to_numpy(dtype=int),
        "start": timed["start"].to_numpy(dtype=float),
        "end": timed["end"].to_numpy(dtype=float),
        "surgeon_id": waitlist["surgeon_id"].to_numpy()[p],
        "specialty": waitlist["specialty"].to_numpy()[p],
        "procedure": waitlist["procedure"].to_numpy()[p],
        "duration_min": waitlist["duration_min"].to_numpy()[p],
    })
    plan["_p"], plan["_s"] = p, s
    return plan.sort_values(["date", "site", "room", "order"], kind="stable").reset_index(drop=True)
