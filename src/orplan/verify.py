"""Re-check a timed plan against every hard rule, straight from the input tables.

This module deliberately shares no code with orplan.model: it is the independent check of what
the solver and the sequencer produced, and of plans made elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from orplan.case import Case
from orplan.clock import hhmm

EPS = 1e-6


@dataclass(frozen=True)
class Violation:
    code: str
    patient_id: str  # "" when the violation concerns a session, surgeon or resource
    where: str  # session, surgeon-day or resource-day
    message: str
    # for a rule of a surgeon-day or resource-day (patient_id ""): the patients planned in it
    involved: tuple[str, ...] = ()


def verify_plan(case: Case, plan: pd.DataFrame) -> list[Violation]:
    """Every broken hard rule in `plan` (columns patient_id, session_id, start, end in minutes)."""
    out: list[Violation] = []
    waitlist = case.waitlist.drop_duplicates("patient_id").set_index("patient_id")
    sessions = case.sessions.drop_duplicates("session_id").set_index("session_id")
    plan = plan[["patient_id", "session_id", "start", "end"]].copy()

    for pid in plan.loc[plan["patient_id"].duplicated(), "patient_id"].unique():
        out.append(Violation("patient-twice", pid, "", "patient is planned more than once"))
    unknown_p = ~plan["patient_id"].isin(waitlist.index)
    unknown_s = ~plan["session_id"].isin(sessions.index)
    for _, row in plan[unknown_p].iterrows():
        out.append(Violation("unknown-patient", row["patient_id"], row["session_id"],
                             "patient is not on the waitlist"))
    for _, row in plan[unknown_s].iterrows():
        out.append(Violation("unknown-session", row["patient_id"], row["session_id"],
                             f"session '{row['session_id']}' is not in the sessions table"))
    rows = plan[~unknown_p & ~unknown_s].merge(waitlist, how="left", left_on="patient_id",
                                               right_index=True, suffixes=("", "_patient"))
    rows = rows.merge(sessions, how="left", left_on="session_id", right_index=True,
                      suffixes=("", "_session"))
    if rows.empty:
        return out
    max_ot = _allowed_overtime(sessions, case.config.max_overtime_min,
                               case.config.turnover_min).reindex(rows["session_id"]).set_axis(
                                   rows.index)
    horizon_start = pd.Timestamp(case.horizon_start)
    horizon_end = horizon_start + pd.Timedelta(days=case.horizon_days - 1)

    def each(mask: pd.Series, code: str, text: object) -> None:
        for _, r in rows[mask].iterrows():
            message = text(r) if callable(text) else str(text)
            out.append(Violation(code, r["patient_id"], r["session_id"], message))

    each((rows["specialty_session"] != "") & (rows["specialty_session"] != rows["specialty"]),
         "specialty", lambda r: f"session is a {r['specialty_session']} block, patient is "
         f"{r['specialty']}")
    each((rows["site"] != "") & (rows["site"] != rows["site_session"]), "site",
         lambda r: f"patient must be operated at {r['site']}, session is at {r['site_session']}")
    each(rows["earliest_date"].notna() & (rows["date"] < rows["earliest_date"]), "earliest-date",
         lambda r: f"session date {r['date'].date()} is before earliest date "
         f"{r['earliest_date'].date()}")
    each((rows["date"] < horizon_start) | (rows["date"] > horizon_end), "outside-horizon",
         lambda r: f"session date {r['date'].date()} is outside the horizon")
    each(((rows["end"] - rows["start"]) - rows["duration_min"]).abs() > EPS, "duration",
         lambda r: f"case runs {hhmm(r['start'])}-{hhmm(r['end'])} "
         f"({r['end'] - r['start']:g} min) but its planned duration is {r['duration_min']:g} min")
    each(rows["start"] < rows["start_session"] - EPS, "before-session",
         lambda r: f"case starts {hhmm(r['start'])}, before the session opens at "
         f"{hhmm(r['start_session'])}")
    each(rows["end"] > rows["end_session"] + max_ot + EPS, "past-overtime",
         lambda r: f"case ends {hhmm(r['end'])}, past the session end "
         f"{hhmm(r['end_session'])} plus {max_ot[r.name]:g} min allowed overtime")
    _check_rooms(rows, case.config.turnover_min, out)
    _check_surgeons(case, rows, out)
    _check_equipment(case, rows, out)
    _check_beds(case, rows, out)
    return out


def _allowed_overtime(sessions: pd.DataFrame, default: float, turnover: float) -> pd.Series:
    """Per session: the minutes a case may end past the staffed end, which in a room shared by
    several lists on a date stop a turnover before the next list starts (negative when the next
    list starts less than a turnover after this one's end)."""
    own = sessions["max_overtime_min"].fillna(default)
    ordered = sessions.reset_index().sort_values(["site", "room", "date", "start"])
    key = ordered[["site", "room", "date"]]
    followed = (key.shift(-1) == key).all(axis=1)
    room_left = ordered["start"].shift(-1) - turnover - ordered["end"]
    limit = pd.Series(np.where(followed, room_left, np.inf), index=ordered["session_id"])
    room = limit.reindex(own.index)
    return own.where(own <= room, room)


def _check_rooms(rows: pd.DataFrame, turnover: float, out: list[Violation]) -> None:
    """Cases in one room on one day do not overlap and leave the turnover between them (sessions
    in one room are checked together, so back-to-back sessions are covered too)."""
    ordered = rows.sort_values(["site_session", "room", "date", "start"])
    same = (ordered[["site_session", "room", "date"]] ==
            ordered[["site_session", "room", "date"]].shift()).all(axis=1)
    previous_end = ordered["end"].shift()
    gap = ordered["start"] - previous_end
    for idx in ordered.index[(same & (gap < turnover - EPS)).to_numpy()]:
        r = ordered.loc[idx]
        when = (f"overlaps the previous case in room {r['room']}, which ends "
                f"{hhmm(previous_end[idx])}" if gap[idx] < 0 else
                f"only {gap[idx]:g} min after the previous case in room {r['room']} ends")
        out.append(Violation("room-overlap", r["patient_id"], r["session_id"],
                             f"case starts {hhmm(r['start'])}, {when}; {turnover:g} min "
                             "turnover is needed"))


def _check_surgeons(case: Case, rows: pd.DataFrame, out: list[Violation]) -> None:
    named = rows[rows["surgeon_id"] != ""]
    if named.empty:
        return
    ordered = named.sort_values(["surgeon_id", "date", "start"])
    same = (ordered[["surgeon_id", "date"]] == ordered[["surgeon_id", "date"]].shift()).all(axis=1)
    overlap = same & (ordered["start"] < ordered["end"].shift() - EPS)
    for idx in ordered.index[overlap.to_numpy()]:
        r = ordered.loc[idx]
        out.append(Violation("surgeon-overlap", r["patient_id"], f"{r['surgeon_id']} "
                             f"{r['date'].date()}", f"surgeon {r['surgeon_id']} is in another case"
                             f" when this one starts at {hhmm(r['start'])}"))
    if case.surgeons is None:
        return
    table = case.surgeons.drop_duplicates(["surgeon_id", "date"]).set_index(["surgeon_id", "date"])
    keys = pd.MultiIndex.from_arrays([named["surgeon_id"], named["date"]])
    present = keys.isin(table.index)
    for (_, r) in named[~present].iterrows():
        out.append(Violation("surgeon-unavailable", r["patient_id"], r["session_id"],
                             f"surgeon {r['surgeon_id']} is not available on {r['date'].date()}"))
    minutes = named[present].groupby(["surgeon_id", "date"])["duration_min"].sum()
    limits = table["max_minutes"].reindex(minutes.index)
    over = minutes[limits.notna() & (minutes > limits + EPS)]
    for (surgeon, date), total, limit in zip(over.index, over.to_numpy(),
                                             limits[over.index].to_numpy(), strict=True):
        involved = named.loc[(named["surgeon_id"] == surgeon) & (named["date"] == date),
                             "patient_id"]
        out.append(Violation("surgeon-limit", "", f"{surgeon} {date.date()}",
                             f"surgeon {surgeon} operates {total:g} min on {date.date()}, over the "
                             f"daily limit of {limit:g} min", tuple(involved)))


def _units(case: Case, kind: str, site: str, date: pd.Timestamp) -> float:
    table = case.equipment
    assert table is not None
    match = table[(table["equipment"] == kind) & (table["site"] == site)]
    exact = match[match["date"] == date]
    if len(exact):
        return float(exact["units"].iloc[0])
    every = match[match["date"].isna()]
    return float(every["units"].iloc[0]) if len(every) else 0.0


def _check_equipment(case: Case, rows: pd.DataFrame, out: list[Violation]) -> None:
    """Sessions at a site on a date that use a mobile unit of a type stay within its units."""
    if case.equipment is None:
        return
    uses: dict[tuple[str, str, pd.Timestamp], set[str]] = {}
    patients: dict[tuple[str, str, pd.Timestamp], list[str]] = {}
    for _, r in rows.iterrows():
        for kind in r["equipment"]:
            if kind not in r["equipment_session"]:
                uses.setdefault((kind, r["site_session"], r["date"]), set()).add(r["session_id"])
                patients.setdefault((kind, r["site_session"], r["date"]), []).append(
                    r["patient_id"])
    for (kind, site, date), used in sorted(uses.items()):
        units = _units(case, kind, site, date)
        if len(used) > units:
            out.append(Violation("equipment", "", f"{kind} {site} {date.date()}",
                                 f"{len(used)} sessions at {site} on {date.date()} need a mobile "
                                 f"{kind}, but {units:g} unit(s) exist",
                                 tuple(patients[(kind, site, date)])))


def _check_beds(case: Case, rows: pd.DataFrame, out: list[Violation]) -> None:
    """Admissions occupy a bed of their ward on each day of their stay; occupancy <= capacity."""
    if case.beds is None:
        return
    capacity = case.beds.drop_duplicates(["ward", "date"]).set_index(["ward", "date"])["capacity"]
    occupancy: dict[tuple[str, pd.Timestamp], list[str]] = {}
    for _, r in rows.iterrows():
        los = 0 if pd.isna(r["los_days"]) else int(r["los_days"])
        ward = r["ward"] if r["ward"] else r["site_session"]
        for offset in range(los):
            key = (ward, r["date"] + pd.Timedelta(days=offset))
            occupancy.setdefault(key, []).append(r["patient_id"])
    for (ward, date), in_bed in sorted(occupancy.items()):
        cap = capacity.get((ward, date), np.inf)
        if len(in_bed) > cap:
            out.append(Violation("beds", "", f"{ward} {date.date()}",
                                 f"ward {ward} has {len(in_bed)} new patients in bed on "
                                 f"{date.date()}, over its {cap:g} beds", tuple(in_bed)))
