"""Eligible (patient, session) pairs, computed once and vectorised, and the reason for every patient
who has none.

A pair is eligible when the session is in the horizon and: its specialty is the patient's or it is
open; its site is the patient's (if given); its date is on or after the patient's earliest date;
the case fits in capacity plus allowed overtime; the named surgeon is available that day with a
daily limit of at least the case; and every equipment type needed is installed in the room or has
mobile units at the site that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orplan.case import Case

# The reason for a patient whose last candidate falls at each filter step.
REASONS = {
    "specialty": ("no-eligible-session", "no session of this specialty (or open session) in the "
                  "horizon"),
    "site": ("no-eligible-session", "no session of this specialty at the patient's site"),
    "date": ("not-ready", "earliest date is after every suitable session"),
    "length": ("too-long", "case is longer than any suitable session plus its allowed overtime"),
    "surgeon": ("surgeon-unavailable", "the named surgeon is not available (or the daily limit is "
                "below the case) on any suitable session date"),
    "equipment": ("equipment-unavailable", "needed equipment is neither installed nor available "
                  "as mobile units on any suitable session date"),
}


@dataclass
class Eligibility:
    sessions: pd.DataFrame  # sessions in the horizon, with capacity, max_ot, open_cost, day
    pairs: pd.DataFrame  # one row per eligible pair: p, s (int32 positions), sorted by p then s
    ineligible: dict[str, tuple[str, str]]  # patient_id -> (reason code, message)
    # patient_id -> why their booking in the previous plan cannot be kept as it was: the reason
    # code of the rule its session now breaks (e.g. surgeon-unavailable), or pin-released (a pin
    # no session allows any more; see keep_bookings)
    released: dict[str, str] = field(default_factory=dict)


def session_table(case: Case) -> pd.DataFrame:
    """Sessions in the horizon with capacity (min), max_ot (min), open_cost and day index."""
    start = pd.Timestamp(case.horizon_start)
    end = pd.Timestamp(case.horizon_end)
    sessions = case.sessions
    sessions = sessions[(sessions["date"] >= start) & (sessions["date"] <= end)
                        & (sessions["end"] > sessions["start"])].copy()
    sessions = sessions.sort_values(["date", "site", "room", "start"], kind="stable")
    sessions = sessions.reset_index(drop=True)
    sessions["capacity"] = sessions["end"] - sessions["start"]
    sessions["max_ot"] = sessions["max_overtime_min"].fillna(case.config.max_overtime_min)
    sessions["open_cost"] = sessions["open_cost"].fillna(case.config.weights.open_session)
    sessions["day"] = (sessions["date"] - start).dt.days.astype(int)
    return sessions


def mobile_units(case: Case, keys: pd.DataFrame) -> np.ndarray:
    """Units of mobile equipment for rows of keys (equipment, site, date); a row for the exact date
    overrides a row without date; no row means 0 units."""
    table = case.equipment
    if table is None or keys.empty:
        return np.zeros(len(keys))
    keys = keys.reset_index(drop=True)
    dated = table[table["date"].notna()][["equipment", "site", "date", "units"]]
    undated = table[table["date"].isna()][["equipment", "site", "units"]]
    exact = keys.merge(dated, on=["equipment", "site", "date"], how="left")["units"]
    every = keys.merge(undated, on=["equipment", "site"], how="left")["units"]
    return exact.fillna(every).fillna(0.0).to_numpy()


# Candidate pairs are filtered in chunks of about this many, so that open sessions (which accept
# every patient) never materialise patients x sessions at once.
CHUNK_PAIRS = 1_000_000


def eligibility(case: Case) -> Eligibility:
    """Eligible pairs and the reason for every patient without one. Patients and sessions are
    integer-coded; candidates (same specialty, or an open session) are generated per block of
    patients and filtered at once, keeping only survivors. A patient's reason is the filter step
    at which its last candidate fell."""
    sessions = session_table(case)
    waitlist = case.waitlist
    n_patients = len(waitlist)
    checks = _Checks(case, sessions)
    spec_codes, _ = pd.factorize(
        pd.concat([waitlist["specialty"], sessions["specialty"]], ignore_index=True))
    patient_spec = spec_codes[:n_patients]
    session_spec = np.where(sessions["specialty"].to_numpy() == "", -1, spec_codes[n_patients:])
    open_sessions = np.flatnonzero(session_spec == -1)
    by_spec = {int(k): np.flatnonzero(session_spec == k) for k in np.unique(session_spec)
               if k >= 0}
    reached = np.full(n_patients, -1, dtype=np.int8)  # furthest filter step a candidate passed
    kept_p: list[np.ndarray] = []
    kept_s: list[np.ndarray] = []
    order = np.argsort(patient_spec, kind="stable")
    bounds = np.flatnonzero(np.diff(patient_spec[order])) + 1
    for members in np.split(order, bounds) if n_patients else []:
        candidates = np.concatenate([by_spec.get(int(patient_spec[members[0]]),
                                                 np.empty(0, dtype=np.intp)), open_sessions])
        if len(candidates) == 0:
            continue
        block = max(1, CHUNK_PAIRS // len(candidates))
        for first in range(0, len(members), block):
            p = np.repeat(members[first:first + block], len(candidates))
            s = np.tile(candidates, min(block, len(members) - first))
            step = checks.first_failure(p, s)
            np.maximum.at(reached, p, step.astype(np.int8))
            alive = step == len(STEPS)
            kept_p.append(p[alive].astype(np.int32))
            kept_s.append(s[alive].astype(np.int32))
    ids = waitlist["patient_id"].to_numpy()
    ineligible: dict[str, tuple[str, str]] = {}
    for patient in np.flatnonzero(reached < len(STEPS)):
        name = "specialty" if reached[patient] < 0 else STEPS[reached[patient]]
        ineligible[str(ids[patient])] = REASONS[name]
    pair_p = np.concatenate(kept_p) if kept_p else np.empty(0, dtype=np.int32)
    pair_s = np.concatenate(kept_s) if kept_s else np.empty(0, dtype=np.int32)
    order = np.lexsort((pair_s, pair_p))
    pairs = pd.DataFrame({"p": pair_p[order], "s": pair_s[order]})
    lost = _lost_bookings(case, sessions, pairs, checks, patient_spec, session_spec)
    pairs, released = keep_bookings(case, sessions, pairs)
    return Eligibility(sessions, pairs, ineligible, {**released, **lost})


def _lost_bookings(case: Case, sessions: pd.DataFrame, pairs: pd.DataFrame, checks: _Checks,
                   patient_spec: np.ndarray, session_spec: np.ndarray) -> dict[str, str]:
    """Bookings of the previous plan whose session is still there but now breaks a rule for the
    patient (surgeon away, equipment gone, ...): patient_id -> the rule's reason code."""
    previous = case.previous_plan
    if previous is None or previous.empty:
        return {}
    ids = case.waitlist["patient_id"]
    position = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    session_of = pd.Series(np.arange(len(sessions)), index=sessions["session_id"].to_numpy())
    booked = previous[(previous["change"] == "") & previous["session_id"].isin(session_of.index)
                      & previous["patient_id"].isin(position.index)]
    p = position[booked["patient_id"]].to_numpy()
    s = session_of[booked["session_id"]].to_numpy()
    n_sessions = len(sessions)
    gone = ~np.isin(p * n_sessions + s, pairs["p"].to_numpy(np.int64) * n_sessions
                    + pairs["s"].to_numpy(np.int64))
    if not gone.any():
        return {}
    p, s = p[gone], s[gone]
    wrong_specialty = (session_spec[s] != -1) & (session_spec[s] != patient_spec[p])
    step = checks.first_failure(p, s)
    names = np.where(wrong_specialty, "specialty",
                     np.array([*STEPS, "specialty"], dtype=object)[np.minimum(step, len(STEPS))])
    return {str(ids.iat[int(a)]): REASONS[str(name)][0] for a, name in zip(p, names, strict=True)}


def keep_bookings(case: Case, sessions: pd.DataFrame,
                  pairs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The eligible pairs the previous plan still allows. A patient pinned to a session (pin
    `session`, or a confirmed booking in the frozen days) keeps only that session's pair, one
    pinned to a date only that date's pairs; a frozen session takes only the patients confirmed
    in it and those of the freeze_admit classes. A pin the rules no longer allow (session
    closed, surgeon away, ...) is released: the patient keeps every eligible pair, and the
    returned dict says so (pin-released)."""
    previous = case.previous_plan
    if previous is None or previous.empty or pairs.empty:
        return pairs, {}
    config = case.config
    ids = case.waitlist["patient_id"]
    position = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    booked = previous[previous["change"].isin(["", "session-closed"])].drop_duplicates(
        "patient_id")
    booked = booked[booked["patient_id"].isin(position.index)]
    frozen_until = pd.Timestamp(case.horizon_start) + pd.Timedelta(days=config.freeze_days)
    confirmed = booked["status"] == "confirmed"
    in_frozen = confirmed & booked["date"].notna() & (booked["date"] < frozen_until)
    by_session = (booked["pin"] == "session") | in_frozen
    by_date = (booked["pin"] == "date") & ~by_session
    n = len(ids)
    pin_session = np.full(n, "", dtype=object)
    pin_session[position[booked["patient_id"]].to_numpy()] = np.where(
        by_session, booked["session_given"], "")
    pin_date = np.full(n, np.datetime64("NaT", "ns"))
    pin_date[position[booked.loc[by_date, "patient_id"]].to_numpy()] = booked.loc[
        by_date, "date"].to_numpy()
    p, s = pairs["p"].to_numpy(), pairs["s"].to_numpy()
    session_id = sessions["session_id"].to_numpy()[s]
    date = sessions["date"].to_numpy()[s]
    pinned = (pin_session[p] != "") | ~np.isnat(pin_date[p])
    fits_pin = np.where(pin_session[p] != "", session_id == pin_session[p], date == pin_date[p])
    # patients with a pin and no pair that keeps it: released
    has_fit = np.zeros(n, dtype=bool)
    has_fit[p[pinned & fits_pin]] = True
    wanted = (pin_session != "") | ~np.isnat(pin_date)
    released_p = np.flatnonzero(wanted & ~has_fit)
    keep = ~pinned | fits_pin | ~has_fit[p]
    # frozen sessions: their confirmed patients and the admitted classes only
    if config.freeze_days > 0:
        frozen_session = (sessions["date"] < frozen_until).to_numpy()[s]
        confirmed_here = np.zeros(n, dtype=object)
        confirmed_here[:] = ""
        confirmed_here[position[booked.loc[confirmed, "patient_id"]].to_numpy()] = booked.loc[
            confirmed, "session_given"].to_numpy()
        admitted = case.waitlist["urgency"].isin(list(config.freeze_admit)).to_numpy()
        keep &= ~frozen_session | (confirmed_here[p] == session_id) | admitted[p]
    released = {str(ids.iat[int(i)]): "pin-released" for i in released_p}
    return pairs[keep].reset_index(drop=True), released


def pair_details(case: Case, sessions: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs with what the model's rows need: duration, surgeon_id, needs, site, date, day.
    Kept apart from `eligibility` because a region has millions of eligible pairs and the model
    is built on a subset of them."""
    p, s = pairs["p"].to_numpy(), pairs["s"].to_numpy()
    waitlist = case.waitlist
    return pairs.assign(
        duration=waitlist["duration_min"].to_numpy()[p],
        surgeon_id=waitlist["surgeon_id"].to_numpy()[p],
        needs=waitlist["equipment"].to_numpy()[p],
        site=sessions["site"].to_numpy()[s],
        date=sessions["date"].to_numpy()[s],
        day=sessions["day"].to_numpy()[s],
    )


# Filter steps in order (REASONS names the reason of each).
STEPS = ("site", "date", "length", "surgeon", "equipment")


class _Checks:
    """The filter steps as array lookups on integer codes."""

    def __init__(self, case: Case, sessions: pd.DataFrame):
        waitlist = case.waitlist
        start = pd.Timestamp(case.horizon_start)
        site_codes, _ = pd.factorize(
            pd.concat([sessions["site"], waitlist["site"]], ignore_index=True))
        n_sessions = len(sessions)
        self.session_site = site_codes[:n_sessions]
        self.patient_site = np.where(waitlist["site"].to_numpy() == "", -1,
                                     site_codes[n_sessions:])
        self.session_day = sessions["day"].to_numpy(dtype=np.int64)
        earliest = (waitlist["earliest_date"] - start).dt.days
        self.earliest_day = earliest.fillna(-10**9).to_numpy(dtype=np.int64)
        self.duration = waitlist["duration_min"].to_numpy(dtype=float)
        self.limit = (sessions["capacity"] + sessions["max_ot"]).to_numpy(dtype=float)
        codes, names = pd.factorize(waitlist["surgeon_id"])
        named = waitlist["surgeon_id"].to_numpy() != ""
        self.patient_surgeon = np.where(named, codes, len(names))
        self.surgeon_minutes = _surgeon_minutes(case, list(names))
        self.needs_code, needs_sets = pd.factorize(
            waitlist["equipment"].map(lambda needs: tuple(sorted(needs))))
        self.equipment_ok = _equipment_table(case, sessions, list(needs_sets))

    def first_failure(self, p: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Index into STEPS of the first check each pair fails; len(STEPS) when it passes all."""
        step = np.full(len(p), len(STEPS), dtype=np.int64)
        site = self.patient_site[p]
        fails = [(site != -1) & (site != self.session_site[s]),
                 self.earliest_day[p] > self.session_day[s],
                 self.duration[p] > self.limit[s]]
        if self.surgeon_minutes is None:
            fails.append(np.zeros(len(p), dtype=bool))
        else:
            fails.append(self.surgeon_minutes[self.patient_surgeon[p], self.session_day[s]]
                         < self.duration[p])
        fails.append(~self.equipment_ok[self.needs_code[p], s])
        for index in range(len(fails) - 1, -1, -1):
            step[fails[index]] = index
        return step


def _surgeon_minutes(case: Case, names: list[str]) -> np.ndarray | None:
    """minutes[surgeon code, day]: operating minutes open to the surgeon that day (+inf without a
    limit, -1 when absent); an extra last row (+inf) for patients without a named surgeon. None
    without a surgeons table (surgeons are then not limited)."""
    table = case.surgeons
    if table is None:
        return None
    days = int(case.horizon_days)
    minutes = np.full((len(names) + 1, max(days, 1)), -1.0)
    minutes[len(names), :] = np.inf  # row for patients without a named surgeon
    table = table.drop_duplicates(["surgeon_id", "date"])
    day = (table["date"] - pd.Timestamp(case.horizon_start)).dt.days.to_numpy()
    row = pd.Index(names).get_indexer(pd.Index(table["surgeon_id"]))
    inside = (row >= 0) & (day >= 0) & (day < days)
    limit = table["max_minutes"].fillna(np.inf).to_numpy(dtype=float)
    minutes[row[inside], day[inside]] = limit[inside]
    return minutes


def _equipment_table(case: Case, sessions: pd.DataFrame,
                     needs_sets: list[tuple[str, ...]]) -> np.ndarray:
    """ok[needs code, s]: every needed type is installed in the session's room or has mobile units
    at its site that day (not limited without an equipment table)."""
    ok = np.ones((max(len(needs_sets), 1), len(sessions)), dtype=bool)
    if case.equipment is None or sessions.empty:
        return ok
    types = sorted({k for needs in needs_sets for k in needs})
    installed = sessions["equipment"].to_numpy()
    type_ok = {}
    for kind in types:
        keys = pd.DataFrame({"equipment": kind, "site": sessions["site"].to_numpy(),
                             "date": sessions["date"].to_numpy()})
        has = np.array([kind in inst for inst in installed], dtype=bool)
        type_ok[kind] = has | (mobile_units(case, keys) > 0)
    for code, needs in enumerate(needs_sets):
        for kind in needs:
            ok[code] &= type_ok[kind]
    return ok
