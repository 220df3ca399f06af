"""Generate realistic planning cases, deterministic for a seed.

Shapes, and where they come from:
- Specialty shares of theatre time and the procedure catalogue follow a typical Norwegian
  university hospital's elective mix (orthopaedics and general surgery largest). Case durations
  are log-normal per procedure (the standard model in the OR literature), rounded to 5 minutes.
- Urgency mix A/B/C/D = 10/25/40/25 %; waiting times are drawn relative to each class's maximum
  wait, so that some patients are already past their deadline, as on real lists.
- Block schedule: each room-day belongs to one specialty in proportion to its share; about one
  session in ten is open to every specialty; a few sessions are half-days.
- Surgeons work 3-5 days of the week, most with a daily operating limit.
- Demand is 2-3 times the week's staffed time for `example`, about 6 times for `hospital`
  and `region`, as on real waitlists.
- `hospital`: 5 sites with 30/22/16/12/10 rooms (90 a day), 15 specialties with a university
  hospital's shares of theatre time, 20 surgeons per specialty (300), 12,000 patients; a robot
  per 12 rooms and a mobile C-arm per 3 rooms at each site; ward beds 3 per room per day.
  `region`: three such hospitals (15 sites), two weeks (10 working days), 900 surgeons, 42,000
  patients. orplan has no notion of a hospital, so in a region a named surgeon may be planned
  at any site; patients with a `site` are bound to it. `clinic`: one site with 4 rooms over four
  weeks, 300 patients of whom about a third are mandatory, an opening cost of 500 per session.
- Split lists (`split_lists`, a share of full room-days): a morning list 08:00-11:45 and an
  afternoon list 12:15-15:30 of another specialty in the same room, as many hospitals run them;
  the 30 minutes between them are the turnover, so the morning list may not run over.
- Overdue share (`overdue`): that share of patients is made already past the deadline (waited
  longer than the class's maximum, by up to a year), as on lists after a backlog.
Both are drawn from random streams of their own, so a case without them is the same as before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from orplan.schema import HISTORY


@dataclass(frozen=True)
class Procedure:
    code: str
    specialty: str
    median_min: float
    sigma: float
    share: float
    equipment: str = ""
    los_days: int = 0


CATALOGUE = (
    Procedure("ORTH-THA", "ORTH", 110, 0.25, 0.25, "", 3),
    Procedure("ORTH-TKA", "ORTH", 120, 0.25, 0.25, "", 3),
    Procedure("ORTH-ARTHRO", "ORTH", 45, 0.35, 0.30),
    Procedure("ORTH-FRACT", "ORTH", 90, 0.40, 0.20, "c-arm", 2),
    Procedure("GEN-CHOLE", "GEN", 75, 0.35, 0.35, "", 1),
    Procedure("GEN-HERNIA", "GEN", 60, 0.30, 0.40),
    Procedure("GEN-COLECT", "GEN", 210, 0.30, 0.25, "robot", 5),
    Procedure("GYN-HYST", "GYN", 130, 0.30, 0.35, "robot", 2),
    Procedure("GYN-LAPSC", "GYN", 60, 0.35, 0.45),
    Procedure("GYN-PROLAPSE", "GYN", 90, 0.30, 0.20, "", 1),
    Procedure("URO-RALP", "URO", 220, 0.25, 0.25, "robot", 2),
    Procedure("URO-TURP", "URO", 60, 0.30, 0.35, "", 1),
    Procedure("URO-CYSTO", "URO", 30, 0.40, 0.40),
    Procedure("ENT-TONS", "ENT", 40, 0.30, 0.50),
    Procedure("ENT-SEPTO", "ENT", 70, 0.30, 0.30),
    Procedure("ENT-SINUS", "ENT", 90, 0.35, 0.20),
    Procedure("PLAST-BREAST", "PLAST", 150, 0.30, 0.40, "", 1),
    Procedure("PLAST-HAND", "PLAST", 45, 0.40, 0.60),
    Procedure("SPINE-DECOMP", "SPINE", 120, 0.30, 0.60, "c-arm", 2),
    Procedure("SPINE-FUSION", "SPINE", 240, 0.30, 0.40, "c-arm", 4),
    # specialties used by the hospital and region profiles only
    Procedure("CARD-CABG", "CARD", 270, 0.20, 0.50, "", 6),
    Procedure("CARD-VALVE", "CARD", 300, 0.20, 0.50, "", 6),
    Procedure("THOR-LOBECT", "THOR", 180, 0.25, 0.60, "robot", 4),
    Procedure("THOR-VATS", "THOR", 90, 0.30, 0.40, "", 2),
    Procedure("VASC-EVAR", "VASC", 160, 0.30, 0.40, "c-arm", 3),
    Procedure("VASC-VARIC", "VASC", 50, 0.30, 0.60),
    Procedure("NEURO-CRANI", "NEURO", 240, 0.30, 0.60, "", 5),
    Procedure("NEURO-SHUNT", "NEURO", 75, 0.30, 0.40, "", 2),
    Procedure("PED-HERNIA", "PED", 35, 0.30, 0.60),
    Procedure("PED-ORCHIO", "PED", 45, 0.30, 0.40),
    Procedure("OPHT-CATAR", "OPHT", 30, 0.25, 0.70),
    Procedure("OPHT-VITR", "OPHT", 75, 0.30, 0.30),
    Procedure("MAX-JAW", "MAX", 150, 0.30, 0.40, "", 2),
    Procedure("MAX-TEETH", "MAX", 45, 0.35, 0.60),
    Procedure("BREAST-MAST", "BREAST", 90, 0.30, 0.50, "", 1),
    Procedure("BREAST-LUMP", "BREAST", 60, 0.30, 0.50),
)

SPECIALTY_SHARE = {"ORTH": 0.26, "GEN": 0.20, "GYN": 0.14, "URO": 0.13, "ENT": 0.09,
                   "PLAST": 0.08, "SPINE": 0.10}
# Shares of theatre time in a whole university hospital (15 specialties).
HOSPITAL_SHARE = {"ORTH": 0.17, "GEN": 0.13, "GYN": 0.08, "URO": 0.07, "ENT": 0.05,
                  "PLAST": 0.04, "SPINE": 0.05, "CARD": 0.07, "THOR": 0.04, "VASC": 0.05,
                  "NEURO": 0.06, "PED": 0.05, "OPHT": 0.05, "MAX": 0.03, "BREAST": 0.06}
URGENCY = (("A", 14, 0.10), ("B", 60, 0.25), ("C", 180, 0.40), ("D", 365, 0.25))


@dataclass(frozen=True)
class Profile:
    sites: tuple[tuple[str, int], ...]  # (site, rooms)
    days: int  # working days (Monday to Friday) from `start`
    patients: int
    surgeons_per_specialty: int
    shares: tuple[tuple[str, float], ...] = tuple(SPECIALTY_SHARE.items())
    start: dt.date = dt.date(2026, 11, 30)  # a Monday
    mandatory: float = 0.01  # share of patients that must be operated within the horizon
    open_cost: float | None = None  # each session's open_cost (blank: the config's default)

    def dates(self) -> list[dt.date]:
        days: list[dt.date] = []
        date = self.start
        while len(days) < self.days:
            if date.weekday() < 5:
                days.append(date)
            date += dt.timedelta(days=1)
        return days


HOSPITAL_SITES = (("MAIN", 30), ("EAST", 22), ("WEST", 16), ("NORTH", 12), ("SOUTH", 10))
PROFILES = {
    "tiny": Profile((("NORTH", 2),), 2, 20, 2),
    "small": Profile((("NORTH", 3), ("SOUTH", 2)), 3, 120, 3),
    "example": Profile((("NORTH", 6), ("SOUTH", 4)), 5, 600, 5),
    # one week of a whole hospital: 5 sites, 90 rooms a day, 15 specialties, 300 surgeons
    "hospital": Profile(HOSPITAL_SITES, 5, 12_000, 20, tuple(HOSPITAL_SHARE.items())),
    # one site, four rooms, four weeks: a third of the patients mandatory, a cost for every
    # session opened (consolidation matters), surgeons with daily limits
    "clinic": Profile((("CLINIC", 4),), 20, 300, 3, mandatory=0.3, open_cost=500.0),
    # three such hospitals, two weeks
    "region": Profile(tuple((f"H{h}-{site}", rooms) for h in (1, 2, 3)
                            for site, rooms in HOSPITAL_SITES), 10, 42_000, 60,
                      tuple(HOSPITAL_SHARE.items())),
}


def generate_case(profile_name: str, seed: int, patients: int | None = None,
                  weeks: int | None = None, split_lists: float = 0.0,
                  overdue: float | None = None) -> tuple[dict[str, pd.DataFrame], str]:
    """Tables (waitlist, sessions, surgeons, equipment, beds, and history: a year of past
    operations, not read by `orplan solve`) and the text of orplan.toml.
    `patients` and `weeks` override the profile's waitlist size and horizon (for scaling runs);
    `split_lists` is the share of full room-days split into a morning and an afternoon list of
    two specialties; `overdue` the share of patients already past their deadline (default: as
    drawn, about a quarter)."""
    profile = PROFILES[profile_name]
    if patients is not None:
        profile = dataclasses.replace(profile, patients=patients)
    if weeks is not None:
        profile = dataclasses.replace(profile, days=5 * weeks)
    rng = np.random.default_rng(seed)
    specialties = [name for name, _ in profile.shares]
    shares = np.array([share for _, share in profile.shares])
    shares = shares / shares.sum()
    dates = profile.dates()

    session_rows = []
    for site, rooms in profile.sites:
        for r in range(1, rooms + 1):
            room = f"OR{r}"
            installed = "c-arm" if (site == profile.sites[0][0] and r == rooms) else ""
            for date in dates:
                open_session = rng.random() < 0.1
                specialty = "" if open_session else str(rng.choice(specialties, p=shares))
                half_day = rng.random() < 0.1
                end = "12:00" if half_day else "15:30"
                session_rows.append({"site": site, "room": room, "date": date.isoformat(),
                                     "start": "08:00", "end": end, "specialty": specialty,
                                     "equipment": installed})
    sessions = pd.DataFrame(session_rows)
    if profile.open_cost is not None:
        sessions["open_cost"] = profile.open_cost
    if split_lists > 0:
        sessions = _split_lists(sessions, split_lists, specialties, shares,
                                np.random.default_rng([seed, 2]))

    surgeon_rows = []
    surgeons_of: dict[str, list[str]] = {}
    for specialty in specialties:
        names = [f"{specialty}-{i + 1:02d}" for i in range(profile.surgeons_per_specialty)]
        surgeons_of[specialty] = names
        for name in names:
            n_days = int(rng.integers(min(3, profile.days), profile.days + 1))
            days = sorted(rng.choice(profile.days, size=n_days, replace=False))
            limit = float(rng.choice([360, 420, 480, np.nan], p=[0.3, 0.3, 0.2, 0.2]))
            for d in days:
                surgeon_rows.append({"surgeon_id": name, "date": dates[d].isoformat(),
                                     "max_minutes": None if np.isnan(limit) else int(limit)})
    surgeons = pd.DataFrame(surgeon_rows)
    surgeons["max_minutes"] = surgeons["max_minutes"].astype("Int64")

    n = profile.patients
    start = pd.Timestamp(profile.start)
    patient_specialty = rng.choice(specialties, size=n, p=shares)
    urgency_idx = rng.choice(len(URGENCY), size=n, p=[u[2] for u in URGENCY])
    rows = []
    site_names = [s for s, _ in profile.sites]
    for i in range(n):
        specialty = str(patient_specialty[i])
        procedures = [p for p in CATALOGUE if p.specialty == specialty]
        weights = np.array([p.share for p in procedures])
        procedure = procedures[int(rng.choice(len(procedures), p=weights / weights.sum()))]
        duration = max(15, 5 * round(procedure.median_min * np.exp(rng.normal(0, procedure.sigma))
                                     / 5))
        urgency, max_days, _ = URGENCY[urgency_idx[i]]
        waited = int(rng.gamma(2.0, max_days / 2.6))
        referral = start - pd.Timedelta(days=waited)
        deadline = ""
        if rng.random() < 0.15:
            deadline = (start + pd.Timedelta(days=int(rng.integers(-10, profile.days + 10)))).date(
            ).isoformat()
        earliest = ""
        if rng.random() < 0.08:
            offset = pd.Timedelta(days=int(rng.integers(1, profile.days)))
            earliest = (start + offset).date().isoformat()
        surgeon = str(rng.choice(surgeons_of[specialty])) if rng.random() < 0.7 else ""
        site = str(rng.choice(site_names)) if rng.random() < 0.1 else ""
        los = procedure.los_days + (int(rng.integers(0, 2)) if procedure.los_days else 0)
        rows.append({
            "patient_id": f"P{seed:02d}{i + 1:05d}",
            "specialty": specialty,
            "duration_min": duration,
            "procedure": procedure.code,
            "surgeon_id": surgeon,
            "urgency": urgency,
            "referral_date": referral.date().isoformat(),
            "earliest_date": str(earliest),
            "deadline": str(deadline),
            "mandatory": "true" if rng.random() < profile.mandatory else "",
            "site": site,
            "equipment": procedure.equipment,
            "los_days": los,
            "ward": "",
            "first_case": "true" if rng.random() < 0.05 else "",
            "last_case": "true" if rng.random() < 0.03 else "",
        })
    waitlist = pd.DataFrame(rows)
    if overdue is not None:
        _make_overdue(waitlist, overdue, start, np.random.default_rng([seed, 3]))

    equipment_rows = []
    for site, rooms in profile.sites:  # a robot per 12 rooms, a mobile C-arm per 3
        equipment_rows.append({"equipment": "robot", "site": site, "date": "",
                               "units": max(1, rooms // 12)})
        equipment_rows.append({"equipment": "c-arm", "site": site, "date": "",
                               "units": max(1, rooms // 3)})
    equipment = pd.DataFrame(equipment_rows)

    bed_rows = []
    for site, rooms in profile.sites:
        for date in dates:
            bed_rows.append({"ward": site, "date": date.isoformat(), "capacity": 3 * rooms})
    beds = pd.DataFrame(bed_rows)

    config = (
        "# orplan configuration for a generated case; every key is optional.\n"
        f"[horizon]\nstart = \"{profile.start.isoformat()}\"\n"
        f"days = {(dates[-1] - profile.start).days + 1}\n\n"
        "[rules]\nturnover_min = 30\nmax_overtime_min = 30\ndefault_urgency = \"C\"\n\n"
        "[solver]\ntime_limit = 60\ngap = 0.01\nthreads = 1\nseed = 0\n"
    )
    history = _history(profile, seed, specialties, shares, surgeons_of)
    return {"waitlist": waitlist, "sessions": sessions, "surgeons": surgeons,
            "equipment": equipment, "beds": beds, "history": history}, config


MORNING = ("08:00", "11:45")
AFTERNOON = ("12:15", "15:30")


def _split_lists(sessions: pd.DataFrame, share: float, specialties: list[str],
                 shares: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Split `share` of the full-day sessions into a morning list (its specialty) and an
    afternoon list (another specialty, or open when the morning is open), same room."""
    full = sessions.index[sessions["end"] == "15:30"].to_numpy()
    chosen = set(rng.choice(full, size=round(share * len(full)), replace=False).tolist())
    rows = []
    for i, row in enumerate(sessions.to_dict("records")):
        if i not in chosen:
            rows.append(row)
            continue
        afternoon = row["specialty"]
        if afternoon:
            others = [k for k, name in enumerate(specialties) if name != afternoon]
            weights = shares[others] / shares[others].sum()
            afternoon = specialties[others[int(rng.choice(len(others), p=weights))]]
        rows.append({**row, "start": MORNING[0], "end": MORNING[1]})
        rows.append({**row, "start": AFTERNOON[0], "end": AFTERNOON[1], "specialty": afternoon})
    return pd.DataFrame(rows, columns=sessions.columns)


def _make_overdue(waitlist: pd.DataFrame, share: float, start: pd.Timestamp,
                  rng: np.random.Generator) -> None:
    """Make `share` of the patients past their deadline at the horizon start and the others not
    (explicit deadlines are kept where they already agree)."""
    maximum = {name: days for name, days, _ in URGENCY}
    max_days = waitlist["urgency"].map(maximum).to_numpy()
    n = len(waitlist)
    late = np.zeros(n, dtype=bool)
    late[rng.choice(n, size=round(share * n), replace=False)] = True
    referral = pd.to_datetime(waitlist["referral_date"])
    waited = (start - referral).dt.days.to_numpy()
    over = rng.integers(1, 366, size=n)
    within = (rng.random(n) * max_days).astype(int)
    new_waited = np.where(late, np.where(waited > max_days, waited, max_days + over),
                          np.where(waited <= max_days, waited, within))
    waitlist["referral_date"] = (start - pd.to_timedelta(new_waited, unit="D")).strftime(
        "%Y-%m-%d")
    deadline = pd.to_datetime(waitlist["deadline"].replace("", None))
    wrong = deadline.notna() & ((deadline < start) != late)
    waitlist.loc[wrong.to_numpy(), "deadline"] = ""


# History: past cases per waitlist patient, over the year before the horizon; each surgeon is
# a factor faster or slower than the procedure's median (log-normal, this sigma); a case is
# booked at the procedure's median rounded to 5 minutes, as a hospital's standard times are.
HISTORY_PER_PATIENT = 2
SURGEON_SIGMA = 0.12


def _history(profile: Profile, seed: int, specialties: list[str], shares: np.ndarray,
             surgeons_of: dict[str, list[str]]) -> pd.DataFrame:
    """A year of past operations (schema.HISTORY) drawn from the catalogue's log-normal
    durations, with its own random stream (the other tables do not change with it)."""
    rng = np.random.default_rng([seed, 1])
    factor = {name: float(np.exp(rng.normal(0.0, SURGEON_SIGMA)))
              for names in surgeons_of.values() for name in names}
    n = HISTORY_PER_PATIENT * profile.patients
    days = [profile.start - dt.timedelta(days=int(d)) for d in range(1, 366)]
    workdays = [d for d in days if d.weekday() < 5]
    specialty = rng.choice(specialties, size=n, p=shares)
    rows = []
    for i in range(n):
        procedures = [p for p in CATALOGUE if p.specialty == specialty[i]]
        weights = np.array([p.share for p in procedures])
        procedure = procedures[int(rng.choice(len(procedures), p=weights / weights.sum()))]
        surgeon = str(rng.choice(surgeons_of[procedure.specialty])) if rng.random() < 0.9 else ""
        median = procedure.median_min * factor.get(surgeon, 1.0)
        rows.append({
            "procedure": procedure.code,
            "specialty": procedure.specialty,
            "surgeon_id": surgeon,
            "date": workdays[int(rng.integers(len(workdays)))].isoformat(),
            "actual_min": max(5, round(median * np.exp(rng.normal(0.0, procedure.sigma)))),
            "booked_min": max(15, 5 * round(procedure.median_min / 5)),
        })
    return pd.DataFrame(rows, columns=[c.name for c in HISTORY.columns])


def write_case(folder: Path, tables: dict[str, pd.DataFrame], config: str,
               fmt: str = "csv") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "orplan.toml").write_text(config, encoding="utf-8")
