"""Eligible (patient, session) pairs, computed once and vectorised, and the reason for every patient
who has none.

A pair is eligible when the session is in the horizon and: its specialty is the patient's or it is
open; its site is the patient's (if given); its date is on or after the patient's earliest date;
the case fits in capacity plus allowed overtime; the named surgeon is available that day with a
daily limit of at least the case; and every equipment type needed is installed in the room or has
mobile units at the site that day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from orplan.case import Case

# Filter steps in order; a patient whose candidates all fall at a step gets that step's reason.
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
    pairs: pd.DataFrame  # one row per eligible pair: p, s (positional indices) and pair data
    ineligible: dict[str, tuple[str, str]]  # patient_id -> (reason code, message)


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


def eligibility(case: Case) -> Eligibility:
    sessions = session_table(case)
    waitlist = case.waitlist
    patients = pd.DataFrame({
        "p": np.arange(len(waitlist)),
        "patient_id": waitlist["patient_id"].to_numpy(),
        "specialty": waitlist["specialty"].to_numpy(),
        "p_site": waitlist["site"].to_numpy(),
        "earliest": waitlist["earliest_date"].to_numpy(),
        "duration": waitlist["duration_min"].to_numpy(),
        "surgeon_id": waitlist["surgeon_id"].to_numpy(),
        "needs": waitlist["equipment"].to_numpy(),
    })
    sess = pd.DataFrame({
        "s": np.arange(len(sessions)),
        "specialty": sessions["specialty"].to_numpy(),
        "site": sessions["site"].to_numpy(),
        "date": sessions["date"].to_numpy(),
        "day": sessions["day"].to_numpy(),
        "limit": (sessions["capacity"] + sessions["max_ot"]).to_numpy(),
        "installed": sessions["equipment"].to_numpy(),
    })
    blocked = patients.merge(sess[sess["specialty"] != ""], on="specialty")
    open_ = patients.merge(sess[sess["specialty"] == ""].drop(columns="specialty"), how="cross")
    pairs = pd.concat([blocked, open_], ignore_index=True)
    steps: list[tuple[str, pd.Series]] = []
    steps.append(("site", (pairs["p_site"] == "") | (pairs["p_site"] == pairs["site"])))
    steps.append(("date", pairs["earliest"].isna() | (pairs["date"] >= pairs["earliest"])))
    steps.append(("length", pairs["duration"] <= pairs["limit"]))
    if case.surgeons is not None:
        availability = case.surgeons[["surgeon_id", "date", "max_minutes"]].drop_duplicates(
            ["surgeon_id", "date"])
        looked = pairs[["surgeon_id", "date"]].merge(availability, on=["surgeon_id", "date"],
                                                     how="left", indicator=True)
        available = (looked["_merge"] == "both").to_numpy()
        within = looked["max_minutes"].isna().to_numpy() | (
            looked["max_minutes"].to_numpy() >= pairs["duration"].to_numpy())
        named = (pairs["surgeon_id"] != "").to_numpy()
        steps.append(("surgeon", pd.Series(~named | (available & within), index=pairs.index)))
    steps.append(("equipment", _equipment_ok(case, pairs)))

    alive = np.ones(len(pairs), dtype=bool)
    ineligible: dict[str, tuple[str, str]] = {}
    ids = patients["patient_id"].to_numpy()
    had = _patients_with(pairs, alive, len(patients))
    for p in np.flatnonzero(~had):
        ineligible[str(ids[p])] = REASONS["specialty"]
    for name, ok in steps:
        alive &= ok.to_numpy()
        has = _patients_with(pairs, alive, len(patients))
        for p in np.flatnonzero(had & ~has):
            ineligible[str(ids[p])] = REASONS[name]
        had = has
    pairs = pairs[alive]
    columns = ["p", "s", "duration", "surgeon_id", "needs", "site", "date", "day"]
    pairs = pairs[columns].sort_values(["p", "s"]).reset_index(drop=True)
    return Eligibility(sessions, pairs, ineligible)


def _patients_with(pairs: pd.DataFrame, alive: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(pairs["p"].to_numpy()[alive], minlength=n) > 0


def _equipment_ok(case: Case, pairs: pd.DataFrame) -> pd.Series:
    """True where every needed type is installed in the room or has mobile units that day.
    Without an equipment table, mobile equipment is not limited."""
    needs = pairs["needs"].map(len) > 0
    ok = pd.Series(True, index=pairs.index)
    if case.equipment is None or not needs.any():
        return ok
    exploded = pairs.loc[needs, ["needs", "installed", "site", "date"]].explode("needs")
    exploded = exploded.rename(columns={"needs": "equipment"})
    installed = np.array([e in inst for e, inst in zip(exploded["equipment"],
                                                       exploded["installed"], strict=True)])
    units = mobile_units(case, exploded[["equipment", "site", "date"]])
    type_ok = pd.Series(installed | (units > 0), index=exploded.index)
    ok.loc[needs] = type_ok.groupby(level=0).all()
    return ok
