"""Load and validate a planning case: parse every table into typed frames and collect every problem.

Nothing here raises on bad data: each check appends an Issue with a stable code, the file, the
spreadsheet row (header = row 1), the column and a message that says how to fix it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from orplan.case import Case
from orplan.clock import hhmm
from orplan.config import Config
from orplan.io.read import RawTable, read_raw_table
from orplan.issues import Issue
from orplan.schema import PINS, STATUSES, TABLES, WAITLIST, Column, Table

if TYPE_CHECKING:
    from orplan.durations import DurationPlan

_TRUE = {"true", "yes", "y", "1", "ja", "j", "x", "sant"}
_FALSE = {"false", "no", "n", "0", "nei", "usant"}

# What each type accepts, said the same way in every message.
_EXPECT = {
    "number": "a number such as 90 or 90.5",
    "int": "a whole number such as 3",
    "bool": "true/false (also yes/no, 1/0, ja/nei)",
    "date": "a date as YYYY-MM-DD",
    "time": "a time as HH:MM",
}
_CODE = {"number": "bad-number", "int": "bad-integer", "bool": "bad-bool", "date": "bad-date",
         "time": "bad-time"}


def _parse_number(text: str, decimal_comma: bool) -> float:
    cleaned = text.replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        cleaned = cleaned.replace(",", ".")
    value = float(cleaned)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _parse_int(text: str, decimal_comma: bool) -> float:
    value = _parse_number(text, decimal_comma)
    if not value.is_integer():
        raise ValueError(text)
    return value


def _parse_bool(text: str, decimal_comma: bool) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _parse_date(text: str, decimal_comma: bool) -> pd.Timestamp:
    if len(text) != 10:
        raise ValueError(text)
    return pd.Timestamp(dt.date.fromisoformat(text))


def _parse_time(text: str, decimal_comma: bool) -> float:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    hours, minutes = int(parts[0]), int(parts[1])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes > 0):
        raise ValueError(text)
    return float(hours * 60 + minutes)


_PARSERS: dict[str, Callable[[str, bool], Any]] = {
    "number": _parse_number, "int": _parse_int, "bool": _parse_bool, "date": _parse_date,
    "time": _parse_time,
}


def _parse_column(raw: RawTable, column: Column, issues: list[Issue]) -> pd.Series:
    cells = raw.frame[column.name] if column.name in raw.frame else pd.Series(
        [""] * len(raw.frame), index=raw.frame.index, dtype=object)
    cells = cells.fillna("").astype(str).str.strip()
    if column.required:
        for i in np.flatnonzero((cells == "").to_numpy()):
            issues.append(Issue("missing-value", raw.file, int(i) + 2, column.name,
                                f"'{column.name}' is required; fill in {column.description}"))
    if column.type == "str":
        return cells
    if column.type == "list":
        return cells.map(lambda s: tuple(p.strip() for p in s.split(";") if p.strip()))
    parse = _PARSERS[column.type]
    values: list[Any] = []
    for position, text in enumerate(cells):
        row = position + 2
        if text == "":
            values.append(False if column.type == "bool" else None)
            continue
        try:
            value = parse(text, raw.decimal_comma)
        except ValueError:
            issues.append(Issue(_CODE[column.type], raw.file, row, column.name,
                                f"'{text}' is not {_EXPECT[column.type]}"))
            values.append(False if column.type == "bool" else None)
            continue
        if column.type in ("number", "int"):
            if column.positive and value <= 0:
                issues.append(Issue("not-positive", raw.file, row, column.name,
                                    f"'{column.name}' must be greater than 0, got {text}"))
                value = None
            elif column.minimum is not None and value < column.minimum:
                issues.append(Issue("negative", raw.file, row, column.name,
                                    f"'{column.name}' must be at least {column.minimum:g}, got "
                                    f"{text}"))
                value = None
        values.append(value)
    if column.type == "date":
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), index=cells.index)
    if column.type == "bool":
        return pd.Series(values, index=cells.index, dtype=bool)
    return pd.Series(values, index=cells.index, dtype=float)


def parse_table(raw: RawTable, table: Table, issues: list[Issue]) -> pd.DataFrame | None:
    """Typed frame of a raw table, or None when a required column is missing."""
    missing = [c.name for c in table.columns if c.required and c.name not in raw.frame.columns]
    for name in missing:
        issues.append(Issue("missing-column", raw.file, 1, name,
                            f"required column '{name}' is missing; the header has: "
                            f"{', '.join(map(str, raw.frame.columns)) or '(nothing)'}"))
    if missing:
        return None
    typed = pd.DataFrame(index=raw.frame.index)
    for column in table.columns:
        typed[column.name] = _parse_column(raw, column, issues)
    for extra in raw.frame.columns:
        if extra not in typed.columns:
            typed[extra] = raw.frame[extra]  # unknown columns are kept and ignored
    typed["_row"] = np.arange(len(typed)) + 2
    return typed.reset_index(drop=True)


def read_typed(path: Path, table: Table, issues: list[Issue]) -> tuple[str, pd.DataFrame | None]:
    """Table `table` from a .csv or .parquet file or a folder holding one (io.read.read_table_at),
    parsed; its file name and typed frame (None when unreadable or a required column is
    missing). Problems are appended to `issues`."""
    from orplan.io.read import read_table_at

    raw = read_table_at(path, table.name, issues)
    if raw is None:
        return path.name, None
    return raw.file, parse_table(raw, table, issues)


def _duplicates(frame: pd.DataFrame, key: list[str], file: str, issues: list[Issue]) -> None:
    present = frame[key].notna().all(axis=1) & (frame[key].astype(str) != "").all(axis=1)
    dup = frame[present & frame.duplicated(key, keep="first")]
    for _, row in dup.iterrows():
        first = frame[(frame[key] == row[key]).all(axis=1)]["_row"].iloc[0]
        # The key's value is not repeated in the message: it may be a patient identifier.
        issues.append(Issue("duplicate-id", file, int(row["_row"]), key[0],
                            f"this key already appears in row {first}; keys must be unique"))


def _check_sessions(sessions: pd.DataFrame, file: str, issues: list[Issue]) -> None:
    bad = sessions["end"] <= sessions["start"]
    for _, row in sessions[bad].iterrows():
        issues.append(Issue("end-before-start", file, int(row["_row"]), "end",
                            f"session ends ({hhmm(row['end'])}) at or before it starts "
                            f"({hhmm(row['start'])}); check start and end"))
    ok = sessions[~bad & sessions[["start", "end", "date"]].notna().all(axis=1)]
    ordered = ok.sort_values(["site", "room", "date", "start"])
    slot = ordered[["site", "room", "date"]]
    same_room = (slot.shift() == slot).all(axis=1)
    overlap = same_room & (ordered["start"] < ordered["end"].shift())
    previous_rows = ordered["_row"].shift()
    for idx in ordered.index[overlap.to_numpy()]:
        row = ordered.loc[idx]
        issues.append(Issue("session-overlap", file, int(row["_row"]), "start",
                            f"room {row['room']} at {row['site']} on {row['date'].date()} already"
                            f" has a session in row {int(previous_rows.loc[idx])} that runs past "
                            f"{hhmm(row['start'])}; merge or move one of them"))


def _shared_rooms(sessions: pd.DataFrame, config: Config, file: str,
                  issues: list[Issue]) -> None:
    """Lists that share a room on a date (a morning and an afternoon list): a list may run over
    only until the turnover before the room's next list starts, so its allowed overtime is
    bounded by that; when the next list starts less than a turnover after this one's staffed end,
    this list must end early: its end is moved to the next start less the turnover (a warning).
    Every stage reads the sessions from here, so the model, the planner's rule, the patterns,
    refilling, timing, the risk reserves and the simulation all see the same limit."""
    valid = sessions[["start", "end", "date"]].notna().all(axis=1) & (
        sessions["end"] > sessions["start"])
    ordered = sessions[valid].sort_values(["site", "room", "date", "start"])
    if ordered.empty:
        return
    slot = ordered[["site", "room", "date"]]
    followed = (slot.shift(-1) == slot).all(axis=1)
    next_start = ordered["start"].shift(-1)
    next_row = ordered["_row"].shift(-1)
    # minutes after this list's end until the room must be free for the next list
    room_left = next_start - config.turnover_min - ordered["end"]
    allowed = ordered["max_overtime_min"].fillna(config.max_overtime_min)
    # an overlap of the next list is the error session-overlap (reported above)
    limited = followed & (room_left < allowed) & (next_start >= ordered["end"])
    for idx in ordered.index[limited.to_numpy()]:
        left = float(room_left.loc[idx])
        if left >= 0:
            sessions.loc[idx, "max_overtime_min"] = left
            continue
        row = ordered.loc[idx]
        new_end = max(float(row["end"]) + left, float(row["start"]) + 1.0)
        issues.append(Issue(
            "list-turnover", file, int(row["_row"]), "end",
            f"room {row['room']} at {row['site']} on {row['date'].date()} has its next list at "
            f"{hhmm(next_start.loc[idx])} (row {int(next_row.loc[idx])}), less than the "
            f"{config.turnover_min:g} min turnover after this list's end {hhmm(row['end'])}: "
            f"its cases must end by {hhmm(new_end)}, and it is planned so; move one list to "
            "keep the full time", "warning"))
        sessions.loc[idx, "end"] = new_end
        sessions.loc[idx, "max_overtime_min"] = 0.0


def _derive_session_ids(sessions: pd.DataFrame) -> None:
    if sessions.empty:
        return  # reported as no-sessions
    derived = (sessions["site"] + "-" + sessions["room"] + "-"
               + sessions["date"].dt.strftime("%Y-%m-%d") + "-"
               + sessions["start"].map(lambda m: hhmm(m).replace(":", "") if pd.notna(m) else ""))
    sessions["session_id"] = sessions["session_id"].where(sessions["session_id"] != "", derived)


def _horizon(config: Config, sessions: pd.DataFrame) -> tuple[dt.date, int]:
    dates = sessions["date"].dropna()
    first = dates.min().date() if len(dates) else dt.date(1970, 1, 1)
    last = dates.max().date() if len(dates) else first
    start = config.horizon_start or first
    days = config.horizon_days or max(1, (last - start).days + 1)
    return start, days


def _check_references(case: Case, issues: list[Issue]) -> None:
    waitlist = case.waitlist
    file = case.file("waitlist")
    unknown_urgency = (waitlist["urgency"] != "") & ~waitlist["urgency"].isin(list(
        case.config.urgency))
    for _, row in waitlist[unknown_urgency].iterrows():
        issues.append(Issue("unknown-urgency", file, int(row["_row"]), "urgency",
                            f"urgency '{row['urgency']}' is not a configured class "
                            f"({', '.join(case.config.urgency)}); fix it or add the class to "
                            "orplan.toml"))
    if case.surgeons is not None:
        known = set(case.surgeons["surgeon_id"])
        unknown = (waitlist["surgeon_id"] != "") & ~waitlist["surgeon_id"].isin(known)
        for _, row in waitlist[unknown].iterrows():
            issues.append(Issue("unknown-surgeon", file, int(row["_row"]), "surgeon_id",
                                f"surgeon '{row['surgeon_id']}' has no row in "
                                f"{case.file('surgeons')}, so this patient cannot be planned; add "
                                "the surgeon's available dates", "warning"))
    if case.beds is not None:
        wards = set(case.beds["ward"])
        unknown = (waitlist["ward"] != "") & ~waitlist["ward"].isin(wards)
        for _, row in waitlist[unknown].iterrows():
            issues.append(Issue("unknown-ward", file, int(row["_row"]), "ward",
                                f"ward '{row['ward']}' has no row in {case.file('beds')}; its beds"
                                " are not limited. Add the ward's capacity or fix the name",
                                "warning"))
    late = waitlist["earliest_date"].notna() & waitlist["deadline"].notna() & (
        waitlist["earliest_date"] > waitlist["deadline"])
    for _, row in waitlist[late].iterrows():
        issues.append(Issue("deadline-before-earliest", file, int(row["_row"]), "deadline",
                            f"deadline {row['deadline'].date()} is before earliest_date "
                            f"{row['earliest_date'].date()}; the deadline cannot be kept",
                            "warning"))
    start = pd.Timestamp(case.horizon_start)
    end = pd.Timestamp(case.horizon_end)
    outside = (case.sessions["date"] < start) | (case.sessions["date"] > end)
    for _, row in case.sessions[outside].iterrows():
        issues.append(Issue("outside-horizon", case.file("sessions"), int(row["_row"]), "date",
                            f"session date {row['date'].date()} is outside the horizon "
                            f"{case.horizon_start}..{case.horizon_end}; it is ignored", "warning"))


def load_case(folder: Path, config: Config,
              durations: DurationPlan | None = None) -> tuple[Case | None, list[Issue]]:
    """Read and parse every table in folder. Returns the case (None when it cannot be built) and
    every issue found. `durations`: set the planned minutes (orplan.durations.DurationPlan; with
    a fit, duration_min may be blank)."""
    issues: list[Issue] = []
    tables = dict(TABLES)
    if durations is not None and durations.fit is not None:
        columns = tuple(dataclasses.replace(c, required=False) if c.name == "duration_min" else c
                        for c in WAITLIST.columns)
        tables["waitlist"] = dataclasses.replace(WAITLIST, columns=columns)
    if not folder.is_dir():
        issues.append(Issue("missing-file", str(folder), None, None,
                            f"case folder {folder} does not exist or is not a folder"))
        return None, issues
    typed: dict[str, pd.DataFrame | None] = {}
    files: dict[str, Path] = {}
    for name, table in tables.items():
        raw = read_raw_table(folder, name, issues)
        if raw is None:
            if table.required and not any(i.file.startswith(name + ".") for i in issues):
                issues.append(Issue("missing-file", f"{name}.csv", None, None,
                                    f"required table '{name}' not found: put {name}.csv or "
                                    f"{name}.parquet in {folder}"))
            typed[name] = None
            continue
        files[name] = raw.path
        typed[name] = parse_table(raw, table, issues)
    waitlist, sessions = typed["waitlist"], typed["sessions"]
    if waitlist is None or sessions is None:
        return None, issues
    _derive_session_ids(sessions)
    for name, table in TABLES.items():
        frame = typed[name]
        if frame is not None and table.key:
            _duplicates(frame, list(table.key), files[name].name, issues)
    _check_sessions(sessions, files["sessions"].name, issues)
    _shared_rooms(sessions, config, files["sessions"].name, issues)
    if sessions.empty:
        issues.append(Issue("no-sessions", files["sessions"].name, None, None,
                            "the sessions table has no rows; export the staffed sessions"))
    start, days = _horizon(config, sessions)
    waitlist["urgency"] = waitlist["urgency"].where(waitlist["urgency"] != "",
                                                    config.default_urgency)
    case = Case(folder, config, waitlist, sessions, typed["surgeons"], typed["equipment"],
                typed["beds"], None, start, days, files)
    if durations is not None:
        durations.apply(case, issues)
    _check_references(case, issues)
    if typed["previous_plan"] is not None:
        case.previous_plan = _previous_plan(case, typed["previous_plan"],
                                            files["previous_plan"].name, issues)
    return case, issues


def check_bookings(frame: pd.DataFrame, file: str, issues: list[Issue]) -> pd.Series:
    """Checks of a table of bookings (schema.PREVIOUS_PLAN), in place: status and pin spelled
    right (blank: confirmed, none; a wrong value is an error and gets the default), a session or
    a date on every row. Returns the mask of rows with neither."""
    for column, allowed, default in (("status", STATUSES, "confirmed"), ("pin", PINS, "none")):
        values = frame[column].str.lower().replace("", default)
        for _, row in frame[~values.isin(allowed)].iterrows():
            issues.append(Issue(f"bad-{column}", file, int(row["_row"]), column,
                                f"'{row[column]}' is not one of {', '.join(allowed)}"))
        frame[column] = values.where(values.isin(allowed), default)
    neither = (frame["session_id"] == "") & frame["date"].isna()
    for _, row in frame[neither].iterrows():
        issues.append(Issue("missing-value", file, int(row["_row"]), "session_id",
                            "give the booked session_id or the booked date"))
    return neither


def _previous_plan(case: Case, frame: pd.DataFrame, file: str,
                   issues: list[Issue]) -> pd.DataFrame:
    """The bookings of the previous plan, checked: status and pin spelled right, a session or a
    date on every row. What changed overnight is a warning, not an error (the plan adapts): a
    patient no longer on the waitlist, a session no longer in the sessions table (its date is
    kept when given), a booking outside the horizon. Returns every row with `session_id` ("" when
    unknown; `session_given` as booked), `date` (the session's when it is known), `status`,
    `pin`, and `change`: "" for a
    booking the plan can keep, else why it cannot (left-waitlist, session-closed,
    outside-horizon)."""
    frame = frame.copy()
    neither = check_bookings(frame, file, issues)
    sessions = case.sessions.drop_duplicates("session_id").set_index("session_id")["date"]
    known = frame["session_id"].isin(sessions.index)
    session_date = frame["session_id"].map(sessions)
    differs = known & frame["date"].notna() & (frame["date"] != session_date)
    for _, row in frame[differs].iterrows():
        issues.append(Issue("previous-date-mismatch", file, int(row["_row"]), "date",
                            f"session '{row['session_id']}' is on "
                            f"{sessions[row['session_id']].date()}, not {row['date'].date()}; "
                            "the session's date is used", "warning"))
    frame["date"] = session_date.where(known, frame["date"])
    on_list = frame["patient_id"].isin(case.waitlist["patient_id"])
    gone_session = (frame["session_id"] != "") & ~known
    start, end = pd.Timestamp(case.horizon_start), pd.Timestamp(case.horizon_end)
    outside = frame["date"].notna() & ((frame["date"] < start) | (frame["date"] > end))
    frame["change"] = np.select([~on_list, gone_session, outside],
                                ["left-waitlist", "session-closed", "outside-horizon"], "")
    messages = {"left-waitlist": "the patient is no longer on the waitlist; the booking is dropped",
                "session-closed": "the booked session is no longer in the sessions table; the "
                                  "patient is planned again (the day is kept if possible)",
                "outside-horizon": "the booking is outside the planning horizon; it is ignored"}
    for _, row in frame[(frame["change"] != "") & ~neither].iterrows():
        issues.append(Issue(f"previous-{row['change']}", file, int(row["_row"]),
                            "patient_id" if row["change"] == "left-waitlist" else "session_id",
                            messages[row["change"]], "warning"))
    frame["session_given"] = frame["session_id"]  # as booked, for the list of changes
    frame["session_id"] = frame["session_id"].where(known, "")
    return frame[~neither].reset_index(drop=True)


def validate_case(folder: Path, config: Config,
                  durations: DurationPlan | None = None) -> tuple[Case | None, list[Issue]]:
    """load_case plus the checks that need the eligibility rules (patients no session can take)."""
    case, issues = load_case(folder, config, durations)
    if case is None or any(i.severity == "error" for i in issues):
        return case, issues
    from orplan.model.pairs import eligibility

    result = eligibility(case)
    file = case.file("waitlist")
    rows = case.waitlist.set_index("patient_id")["_row"]
    for patient, (code, message) in result.ineligible.items():
        issues.append(Issue("no-eligible-session", file, int(rows[patient]), None,
                            f"no session can take this patient ({code}): {message}", "warning"))
    if result.released and case.previous_plan is not None:
        booked = case.previous_plan.drop_duplicates("patient_id").set_index("patient_id")["_row"]
        for patient, code in result.released.items():
            message = (f"the booked session no longer allows this patient ({code}); the patient "
                       "is planned again" if code != "pin-released" else "no session allowed by "
                       "the pin can take the patient any more; the pin is released and the "
                       "patient planned again")
            issues.append(Issue("booking-lost" if code != "pin-released" else code,
                                case.file("previous_plan"), int(booked[patient]),
                                "session_id" if code != "pin-released" else "pin", message,
                                "warning"))
    return case, issues
