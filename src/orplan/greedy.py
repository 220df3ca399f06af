"""A careful planner's rule: the baseline orplan is measured against, and the MILP's first plan.

Patients are taken most pressing first: those whose deadline falls in the horizon or has already
passed, then by urgency class, then by days waited. Each goes into the first session (by date)
that fits every rule: specialty, site and dates (the eligible pairs); the case within the staffed
time, turnover included (a planner does not book overtime; it is kept for overruns); the
surgeon's daily limit, and never two sessions of one surgeon that overlap in time (a manual plan
does not use flip rooms); mobile equipment units; ward beds over the length of stay.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from orplan.model.common import PlanningData
from orplan.model.pairs import mobile_units

EPS = 1e-6


def greedy_order(priority: pd.DataFrame, mandatory: np.ndarray | None = None) -> np.ndarray:
    """Patient positions: confirmed bookings of the previous plan first (a planner keeps what was
    promised), then mandatory patients (`mandatory`, per patient), then the most pressing."""
    pressing = (priority["deadline_in_horizon"] | (priority["overdue_days"] > 0)).to_numpy()
    confirmed = priority["booked_weight"].to_numpy() >= 1.0
    must = np.zeros(len(priority), dtype=bool) if mandatory is None else mandatory
    return np.lexsort((np.arange(len(priority)), -priority["days_waited"].to_numpy(),
                       -priority["urgency_weight"].to_numpy(), ~pressing, ~must, ~confirmed))


def booked_pairs(data: PlanningData) -> np.ndarray:
    """Mask over data.pairs: each booked patient's booked session (previous plan)."""
    if not data.priority["booked_weight"].to_numpy().any():  # no previous plan
        return np.zeros(len(data.pairs), dtype=bool)
    p, s = data.pairs["p"].to_numpy(), data.pairs["s"].to_numpy()
    booked = data.priority["booked_session"].to_numpy()[p]
    return np.asarray((booked != "") & (data.sessions["session_id"].to_numpy()[s] == booked),
                      dtype=bool)


def leave_out_price(priority: pd.DataFrame) -> np.ndarray:
    """Per patient: what leaving them out of the plan costs in the objective."""
    return (priority["leave_out_cost"] + priority["breach_cost"]
            + priority["overdue_cost"] + priority["drop_cost"]
            + priority["mandatory_cost"]).to_numpy()


def priced_order(priority: pd.DataFrame, duration: np.ndarray) -> np.ndarray:
    """Patient positions by the objective's price of leaving them out per minute of theatre time:
    the classic knapsack rule, used for the MILP's starting plan."""
    price = leave_out_price(priority)
    return np.lexsort((np.arange(len(priority)), -price / np.maximum(duration, 1.0)))


def greedy_assignment(data: PlanningData, order: np.ndarray | None = None,
                      preferred: np.ndarray | None = None,
                      allow_overtime: bool = False, flip_rooms: bool = False,
                      times: np.ndarray | None = None,
                      fixed: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask over data.pairs: the pairs the planner's rule picks, taking patients in
    `order` (default: greedy_order, most pressing first). A patient with a `preferred` pair (mask
    over data.pairs; default: the previous plan's bookings) tries that session first.
    `allow_overtime` lets cases use the session's
    allowed overtime (the optimiser's plans do; a planner's rule keeps it for overruns).
    `flip_rooms` applies the model's surgeon rule instead of the planner's: a surgeon may have
    cases in sessions whose times overlap as long as their minutes fit in the union of those
    sessions' windows (the timing step then orders them).

    `times` (a float array over data.pairs, filled in) asks for flip rooms timed as the cases are
    placed: each case takes the earliest start at which its room is free (turnover kept), its
    surgeon is in no other case, and its session's first/last hints hold; no start, no place.
    Its start goes into `times` (NaN for the pairs not chosen). Such a plan needs no search to
    time, which the minutes rule of `flip_rooms` can need when many surgeons work two rooms.

    `fixed` (mask over data.pairs, with `times`) holds cases already placed at the starts given
    in `times`, e.g. the part of a plan that list scheduling timed; they are booked first, as
    they are, and the planner's rule fills the room left around them."""
    case, pairs, sessions = data.case, data.pairs, data.sessions
    waitlist = case.waitlist
    turnover = case.config.turnover_min
    chosen = np.zeros(len(pairs), dtype=bool)
    if pairs.empty:
        return chosen
    pair_p = pairs["p"].to_numpy()
    pair_s = pairs["s"].to_numpy()
    first = np.searchsorted(pair_p, np.arange(len(waitlist)), side="left")
    last = np.searchsorted(pair_p, np.arange(len(waitlist)), side="right")

    capacity = sessions["capacity"].to_numpy(dtype=float)
    if allow_overtime:
        capacity = capacity + sessions["max_ot"].to_numpy(dtype=float)
    first_choice = np.full(len(waitlist), -1, dtype=np.int64)
    if preferred is None:
        preferred = booked_pairs(data)
    if preferred.any():
        first_choice[pair_p[preferred]] = np.flatnonzero(preferred)
    window_start = sessions["start"].to_numpy(dtype=float)
    window_end = (sessions["end"] + sessions["max_ot"]).to_numpy(dtype=float)
    start = pd.Timestamp(case.horizon_start)
    session_day = sessions["day"].to_numpy(dtype=int)  # dates as day numbers: safe dict keys
    session_date = sessions["date"]
    session_site = sessions["site"].to_numpy()
    installed = sessions["equipment"].to_numpy()
    used = np.zeros(len(sessions))
    count = np.zeros(len(sessions), dtype=int)

    duration = waitlist["duration_min"].to_numpy(dtype=float)
    surgeon = waitlist["surgeon_id"].to_numpy()
    needs = waitlist["equipment"].to_numpy()
    los = waitlist["los_days"].fillna(0).to_numpy(dtype=int)
    ward = waitlist["ward"].to_numpy()

    limits: dict[tuple[str, int], float] = {}
    if case.surgeons is not None:
        table = case.surgeons.drop_duplicates(["surgeon_id", "date"])
        days = (table["date"] - start).dt.days
        for g, day, limit in zip(table["surgeon_id"], days, table["max_minutes"], strict=True):
            limits[(g, int(day))] = math.inf if pd.isna(limit) else float(limit)
    surgeon_minutes: dict[tuple[str, int], float] = {}
    surgeon_sessions: dict[tuple[str, int], set[int]] = {}
    units: dict[tuple[str, str, int], float] = {}
    using: dict[tuple[str, str, int], set[int]] = {}
    beds: dict[tuple[str, int], float] = {}
    if case.beds is not None:
        table = case.beds.drop_duplicates(["ward", "date"])
        days = (table["date"] - start).dt.days
        beds = {(w, int(day)): float(c)
                for w, day, c in zip(table["ward"], days, table["capacity"], strict=True)}
    occupied: dict[tuple[str, int], int] = {}

    def units_of(kind: str, site: str, s: int) -> float:
        key = (kind, site, int(session_day[s]))
        if key not in units:
            if case.equipment is None:
                units[key] = math.inf
            else:
                keys = pd.DataFrame({"equipment": [kind], "site": [site],
                                     "date": [session_date.iat[s]]})
                units[key] = float(mobile_units(case, keys)[0])
        return units[key]

    in_session: dict[tuple[str, int, int], float] = {}

    hint = np.where(waitlist["first_case"].to_numpy(dtype=bool), 0,
                    np.where(waitlist["last_case"].to_numpy(dtype=bool), 2, 1))
    latest_end = window_end if allow_overtime else sessions["end"].to_numpy(dtype=float)
    room_of = pd.Series(list(zip(sessions["site"], sessions["room"], session_day,
                                 strict=True))).factorize()[0]
    room_cases: dict[int, list[tuple[float, float, int, int]]] = {}  # room-day: (a, b, hint, s)
    surgeon_busy: dict[tuple[str, int], list[tuple[float, float]]] = {}
    if times is not None:
        keep = fixed if fixed is not None else np.zeros(len(pairs), dtype=bool)
        times[~keep] = np.nan

    def earliest_start(s: int, d: float, h: int, key: tuple[str, int] | None) -> float | None:
        """The earliest start of a case of d minutes and hint h in session s (see `times`)."""
        booked = room_cases.get(int(room_of[s]), [])
        lo, hi = window_start[s], latest_end[s] - d
        for a, b, other_hint, other in booked:
            if other == s and other_hint < h:
                lo = max(lo, b + turnover)
            elif other == s and other_hint > h:
                hi = min(hi, a - turnover - d)
        busy = surgeon_busy.get(key, []) if key else []
        tries = sorted({lo, *(b + turnover for _, b, _, _ in booked), *(b for _, b in busy)})
        for t in tries:
            if t < lo - EPS:
                continue
            if t > hi + EPS:
                return None
            if any(t < b + turnover - EPS and a < t + d + turnover - EPS
                   for a, b, _, _ in booked):
                continue
            if any(t < b - EPS and a < t + d - EPS for a, b in busy):
                continue
            return t
        return None

    def fits_windows(key: tuple[str, int], s: int, d: float) -> bool:
        """The surgeon's minutes in the sessions whose windows overlap s's (transitively), with
        the new case, fit in the union of those windows."""
        group = sorted(surgeon_sessions.get(key, set()) | {s}, key=lambda t: window_start[t])
        cluster: list[int] = []
        reach = -math.inf
        for t in group:
            if cluster and window_start[t] >= reach:
                if s in cluster:
                    break
                cluster, reach = [], -math.inf
            cluster.append(t)
            reach = max(reach, window_end[t])
        if len(cluster) == 1:
            return True
        minutes = d + sum(in_session.get((key[0], key[1], t), 0.0) for t in cluster)
        span = max(window_end[t] for t in cluster) - min(window_start[t] for t in cluster)
        return minutes <= span + EPS

    def place(p: int, k: int, found: float | None) -> None:
        """Book pair k (patient p), starting at `found` when timed."""
        s, d, g = int(pair_s[k]), duration[p], surgeon[p]
        date, site = int(session_day[s]), session_site[s]
        if found is not None:
            assert times is not None
            times[k] = found
            room_cases.setdefault(int(room_of[s]), []).append((found, found + d, int(hint[p]), s))
            if g:
                surgeon_busy.setdefault((g, date), []).append((found, found + d))
        chosen[k] = True
        used[s] += d + (turnover if count[s] else 0.0)
        count[s] += 1
        if g:
            surgeon_minutes[(g, date)] = surgeon_minutes.get((g, date), 0.0) + d
            surgeon_sessions.setdefault((g, date), set()).add(s)
            in_session[(g, date, s)] = in_session.get((g, date, s), 0.0) + d
        for kind in needs[p]:
            if kind not in installed[s]:
                using.setdefault((kind, site, date), set()).add(s)
        for i in range(los[p]):
            bed_day = (ward[p] or site, date + i)
            occupied[bed_day] = occupied.get(bed_day, 0) + 1

    placed = np.zeros(len(waitlist), dtype=bool)
    if fixed is not None:
        for pair in np.flatnonzero(fixed).tolist():
            place(int(pair_p[pair]), pair, None if times is None else float(times[pair]))
        placed[pair_p[fixed]] = True
    if order is None:
        order = greedy_order(data.priority, waitlist["mandatory"].to_numpy(dtype=bool))
    for p in order:
        if placed[p]:
            continue
        d = duration[p]
        g = surgeon[p]
        candidates: range | list[int] = range(first[p], last[p])
        if first_choice[p] >= 0:
            candidates = [int(first_choice[p]), *candidates]
        for k in candidates:
            s = int(pair_s[k])
            add = d + (turnover if count[s] else 0.0)
            if used[s] + add > capacity[s] + EPS:
                continue
            date = int(session_day[s])
            if g:
                key = (g, date)
                if surgeon_minutes.get(key, 0.0) + d > limits.get(key, math.inf) + EPS:
                    continue
                # with `times`, the surgeon's other cases are checked when the case is timed
                if times is None and flip_rooms:
                    if not fits_windows(key, s, d):
                        continue
                elif times is None and any(t != s and window_start[t] < window_end[s]
                         and window_start[s] < window_end[t]
                         for t in surgeon_sessions.get(key, ())):
                    continue
            mobile = [kind for kind in needs[p] if kind not in installed[s]]
            site = session_site[s]
            if any(s not in using.get((kind, site, date), set())
                   and len(using.get((kind, site, date), set())) >= units_of(kind, site, s)
                   for kind in mobile):
                continue
            pool = ward[p] or site
            stay = [(pool, date + i) for i in range(los[p])]
            if any(occupied.get(bed_day, 0) + 1 > beds.get(bed_day, math.inf) for bed_day in stay):
                continue
            found = None
            if times is not None:
                found = earliest_start(s, d, int(hint[p]), (g, date) if g else None)
                if found is None:
                    continue
            place(p, k, found)
            break
    return chosen


def priced_plan(data: PlanningData, preferred: np.ndarray | None = None,
                first: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The optimiser's own greedy plan: patients in priced order (or `first`), allowed overtime
    used, flip rooms timed as placed. Returns the chosen pairs and their starts (see
    greedy_assignment's `times`)."""
    if first is None:
        duration = data.case.waitlist["duration_min"].to_numpy(dtype=float)
        first = priced_order(data.priority, duration)
    times = np.empty(len(data.pairs))
    chosen = greedy_assignment(data, first, preferred=preferred, allow_overtime=True,
                               times=times)
    return chosen, times


def previous_candidate(data: PlanningData) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The previous plan's bookings the rules still allow, as chosen pairs, with their starts
    when the previous plan has a `start` column (then they are timed as booked when they still
    fit); None without a previous plan."""
    previous = data.case.previous_plan
    if previous is None or previous.empty:
        return None
    chosen = booked_pairs(data)
    if not chosen.any():
        return None
    starts = None
    if "start" in previous:
        clock = previous.drop_duplicates("patient_id").set_index("patient_id")["start"]
        parts = clock.astype(str).str.extract(r"^(\d{1,2}):(\d{2})")
        minutes = (parts[0].astype(float) * 60 + parts[1].astype(float))
        ids = data.case.waitlist["patient_id"].to_numpy()[data.pairs["p"].to_numpy()]
        starts = np.where(chosen, minutes.reindex(ids).to_numpy(), np.nan)
    return chosen, starts


def fill_previous(data: PlanningData, booked: np.ndarray,
            starts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The previous plan's bookings (`booked`, with their `starts` where known) kept first, the
    rest of the time filled by the optimiser's greedy rule (orplan.greedy.priced_plan's order,
    allowed overtime, flip rooms timed as placed); its chosen pairs and starts."""
    order = priced_order(data.priority, data.case.waitlist["duration_min"].to_numpy(dtype=float))
    is_booked = np.zeros(len(data.priority), dtype=bool)
    is_booked[data.pairs["p"].to_numpy()[booked]] = True
    order = np.concatenate([order[is_booked[order]], order[~is_booked[order]]])
    times = np.full(len(data.pairs), np.nan) if starts is None else starts.copy()
    fixed = booked & ~np.isnan(times)
    chosen = greedy_assignment(data, order, preferred=booked, allow_overtime=True, times=times,
                               fixed=fixed)
    return chosen, times
