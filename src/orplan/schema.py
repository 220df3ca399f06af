"""The input tables as data: every column with its type, whether it is required, and its meaning.

Readers, validation and the README's data section all come from this one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["str", "number", "int", "bool", "date", "time", "list"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool
    description: str
    minimum: float | None = None  # inclusive lower bound for numbers
    positive: bool = False  # strictly greater than zero


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()  # columns that must be unique together

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


WAITLIST = Table(
    "waitlist",
    True,
    "one row per patient waiting for surgery",
    (
        Column("patient_id", "str", True, "unique key"),
        Column("specialty", "str", True,
               "must match a session's specialty unless the session is open"),
        Column("duration_min", "number", True,
               "planned case minutes in the room, turnover excluded", positive=True),
        Column("procedure", "str", False, "procedure code, for reporting"),
        Column("surgeon_id", "str", False, "the named surgeon who must operate"),
        Column("urgency", "str", False, "urgency class key from the config (default: the config's "
               "default_urgency)"),
        Column("referral_date", "date", False, "date the patient was put on the list"),
        Column("earliest_date", "date", False, "not operated before this date"),
        Column("deadline", "date", False, "latest clinically/legally acceptable date"),
        Column("mandatory", "bool", False, "must be operated within the horizon"),
        Column("site", "str", False, "only at this site"),
        Column("equipment", "list", False, "';'-separated mobile equipment types needed"),
        Column("los_days", "int", False, "post-operative bed days (0 = day surgery)", minimum=0),
        Column("ward", "str", False, "bed pool (default: the session's site)"),
        Column("weight", "number", False, "explicit priority weight, overrides the computed one",
               minimum=0),
        Column("first_case", "bool", False, "schedule first in its session"),
        Column("last_case", "bool", False, "schedule last in its session"),
    ),
    key=("patient_id",),
)

SESSIONS = Table(
    "sessions",
    True,
    "one row per staffed theatre session (a room on a date)",
    (
        Column("session_id", "str", False, "unique; derived from site/room/date/start if absent"),
        Column("site", "str", True, "hospital site"),
        Column("room", "str", True, "operating room"),
        Column("date", "date", True, "session date"),
        Column("start", "time", True, "staffed start HH:MM"),
        Column("end", "time", True, "staffed end HH:MM"),
        Column("specialty", "str", False, "block owner; empty = open to every specialty"),
        Column("max_overtime_min", "number", False, "overrides the config default", minimum=0),
        Column("equipment", "list", False, "';'-separated equipment installed in this room"),
        Column("open_cost", "number", False, "cost of running this session at all", minimum=0),
    ),
    key=("session_id",),
)

SURGEONS = Table(
    "surgeons",
    False,
    "surgeon availability: a surgeon with no row on a date cannot operate that day",
    (
        Column("surgeon_id", "str", True, "surgeon key used in the waitlist"),
        Column("date", "date", True, "a date the surgeon is available"),
        Column("max_minutes", "number", False, "daily operating limit in minutes", minimum=0),
    ),
    key=("surgeon_id", "date"),
)

EQUIPMENT = Table(
    "equipment",
    False,
    "shared mobile equipment units per site (and date)",
    (
        Column("equipment", "str", True, "equipment type, e.g. robot, c-arm"),
        Column("site", "str", True, "site the units belong to"),
        Column("date", "date", False, "date the count applies to (empty: every date)"),
        Column("units", "int", True, "units available", minimum=0),
    ),
    key=("equipment", "site", "date"),
)

BEDS = Table(
    "beds",
    False,
    "ward beds available for new admissions",
    (
        Column("ward", "str", True, "bed pool"),
        Column("date", "date", True, "date"),
        Column("capacity", "int", True, "beds available for patients operated in the horizon",
               minimum=0),
    ),
    key=("ward", "date"),
)

PREVIOUS_PLAN = Table(
    "previous_plan",
    False,
    "the plan already given to patients (e.g. last night's plan.csv): changing it costs",
    (
        Column("patient_id", "str", True, "patient booked"),
        Column("session_id", "str", False, "session booked (or give the date)"),
        Column("date", "date", False, "date booked (taken from the session when it is given)"),
        Column("status", "str", False, "confirmed (the patient was told; default) or tentative"),
        Column("pin", "str", False, "session (keep exactly), date (keep the day) or none "
               "(default): a pin that can no longer be kept is released and listed"),
    ),
    key=("patient_id",),
)

# Not read by `orplan solve`: the case history that durations are learnt from (issue: durations
# from history); kept out of TABLES so that planning never reads a year of history it does not use.
HISTORY = Table(
    "history",
    False,
    "one row per past operation: the case history durations are learnt from",
    (
        Column("procedure", "str", True, "procedure code (as in the waitlist)"),
        Column("specialty", "str", True, "specialty (as in the waitlist)"),
        Column("surgeon_id", "str", False, "the surgeon who operated"),
        Column("date", "date", True, "date of the operation"),
        Column("actual_min", "number", True, "minutes the case took in the room, turnover "
               "excluded", positive=True),
        Column("booked_min", "number", False, "minutes the case was booked for", positive=True),
    ),
)

# Written by `orplan durations fit`, read by `orplan solve --durations` and `orplan simulate`.
DURATIONS = Table(
    "durations",
    False,
    "case-duration distributions fitted to the history (log-normal: log minutes ~ N(mu, sigma))",
    (
        Column("level", "str", True, "surgeon (a surgeon's cases of a procedure), procedure, "
               "specialty, or all (every case: its sigma is used where nothing else is known)"),
        Column("specialty", "str", False, "specialty (level specialty; for the others, the "
               "procedure's)"),
        Column("procedure", "str", False, "procedure code (levels surgeon and procedure)"),
        Column("surgeon_id", "str", False, "surgeon (level surgeon)"),
        Column("cases", "int", True, "past cases behind the row", minimum=0),
        Column("mu", "number", True, "mean of log minutes, after shrinking"),
        Column("sigma", "number", True, "standard deviation of log minutes, after shrinking",
               positive=True),
        Column("mean_min", "number", False, "mean minutes, exp(mu + sigma^2/2)"),
        Column("median_min", "number", False, "median minutes, exp(mu)"),
        Column("p90_min", "number", False, "90th percentile minutes"),
    ),
    key=("level", "specialty", "procedure", "surgeon_id"),
)

STATUSES = ("confirmed", "tentative")
PINS = ("session", "date", "none")

TABLES: dict[str, Table] = {t.name: t for t in (WAITLIST, SESSIONS, SURGEONS, EQUIPMENT, BEDS,
                                                PREVIOUS_PLAN)}

PLAN = Table(
    "plan",
    True,
    "a plan: one row per scheduled patient (orplan's output, or a plan made elsewhere)",
    (
        Column("patient_id", "str", True, "patient"),
        Column("session_id", "str", True, "session"),
        Column("site", "str", False, "site of the session"),
        Column("room", "str", False, "room of the session"),
        Column("date", "date", False, "date of the session"),
        Column("order", "int", False, "position in the session, from 1", minimum=1),
        Column("start", "time", True, "case start HH:MM"),
        Column("end", "time", True, "case end HH:MM"),
        Column("surgeon_id", "str", False, "surgeon"),
        Column("specialty", "str", False, "specialty"),
        Column("procedure", "str", False, "procedure"),
        Column("duration_min", "number", False, "case minutes", positive=True),
    ),
    key=("patient_id",),
)
