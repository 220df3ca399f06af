"""What changed between two plans, patient by patient, and the churn a hospital counts: bookings
kept, moved (to another session that day, or another day), dropped, and patients added.

Plans are read as bookings (patient_id, session_id and/or date, status): an orplan plan, a
previous_plan table, or any file with those columns. Without a status, bookings are confirmed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orplan.io.read import RawTable, find_table, read_raw_table
from orplan.issues import Issue
from orplan.schema import PREVIOUS_PLAN

CHANGES = ("kept", "moved-room", "moved-date", "dropped", "added")


def read_bookings(path: Path) -> tuple[pd.DataFrame | None, list[Issue]]:
    """Bookings from a plan or previous_plan file, or a folder holding plan.* (else
    previous_plan.*); every problem as an Issue."""
    from orplan.validate import check_bookings, parse_table

    issues: list[Issue] = []
    raw: RawTable | None = None
    if path.is_dir():
        for name in ("plan", "previous_plan"):
            if find_table(path, name):
                raw = read_raw_table(path, name, issues)
                break
        else:
            issues.append(Issue("missing-file", str(path), None, None,
                                f"no plan.csv, plan.parquet or previous_plan.csv in {path}"))
    elif path.exists() and path.suffix in (".csv", ".parquet"):
        raw = read_raw_table(path.parent, path.stem, issues)
    else:
        issues.append(Issue("missing-file", path.name, None, None,
                            f"{path} does not exist (give a .csv or .parquet file or a folder "
                            "holding plan.csv)"))
    if raw is None:
        return None, issues
    frame = parse_table(raw, PREVIOUS_PLAN, issues)
    if frame is None:
        return None, issues
    check_bookings(frame, raw.file, issues)
    for _, row in frame[frame["patient_id"].duplicated(keep=False)].iterrows():
        issues.append(Issue("duplicate-key", raw.file, int(row["_row"]), "patient_id",
                            f"patient '{row['patient_id']}' is booked more than once"))
    return frame[["patient_id", "session_id", "date", "status"]], issues


def plan_diff(old: pd.DataFrame, new: pd.DataFrame,
              cause: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per patient in either: change (kept, moved-room, moved-date, dropped, added), the
    old booking's status, from and to, days moved, and `cause` (per patient, e.g. why a booking
    could not be kept) where given. Kept: the same session, or the same date when a booking has
    no session."""
    both = old[["patient_id", "session_id", "date", "status"]].merge(
        new[["patient_id", "session_id", "date"]], on="patient_id", how="outer",
        suffixes=("_old", "_new"), indicator=True)
    date_old = pd.to_datetime(both["date_old"])
    date_new = pd.to_datetime(both["date_new"])
    s_old, s_new = both["session_id_old"].fillna(""), both["session_id_new"].fillna("")
    same_date = (date_old == date_new).to_numpy()
    same_session = ((s_old == s_new) & (s_old != "")).to_numpy()
    no_session = ((s_old == "") | (s_new == "")).to_numpy()
    change = np.select(
        [both["_merge"].to_numpy() == "left_only", both["_merge"].to_numpy() == "right_only",
         same_session | (same_date & no_session), same_date],
        ["dropped", "added", "kept", "moved-room"], "moved-date")
    days = (date_new - date_old).dt.days
    out = pd.DataFrame({
        "patient_id": both["patient_id"],
        "change": change,
        "status": both["status"].fillna(""),
        "session_old": s_old, "date_old": date_old.dt.strftime("%Y-%m-%d").fillna(""),
        "session_new": s_new, "date_new": date_new.dt.strftime("%Y-%m-%d").fillna(""),
        "days_moved": days.where(change == "moved-date").astype("Int64"),
        "cause": [(cause or {}).get(patient, "") for patient in both["patient_id"]],
    })
    rank = {name: i for i, name in enumerate(("dropped", "moved-date", "moved-room", "added",
                                              "kept"))}
    order = np.lexsort((out["patient_id"].to_numpy(), out["change"].map(rank).to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def churn(diff: pd.DataFrame) -> dict[str, Any]:
    """Churn KPIs of a plan_diff: counts per change, and for confirmed bookings the share
    changed (moved or dropped) and the days moved."""
    counts = {name: int((diff["change"] == name).sum()) for name in CHANGES}
    confirmed = diff[diff["status"] == "confirmed"]
    changed = confirmed["change"].isin(["moved-room", "moved-date", "dropped"])
    days = confirmed["days_moved"].dropna().abs()
    return {
        **counts,
        "bookings": int((diff["change"] != "added").sum()),
        "confirmed": int(len(confirmed)),
        "confirmed_changed": int(changed.sum()),
        "confirmed_changed_share": float(changed.mean()) if len(confirmed) else 0.0,
        "confirmed_dropped": int((confirmed["change"] == "dropped").sum()),
        "confirmed_days_moved": int(days.sum()),
    }


def render_churn(figures: dict[str, Any]) -> str:
    """One line for the terminal."""
    return (f"{figures['bookings']} bookings: kept {figures['kept']}, moved "
            f"{figures['moved-room'] + figures['moved-date']} ({figures['moved-date']} to another "
            f"day), dropped {figures['dropped']}, added {figures['added']}; confirmed bookings "
            f"changed {figures['confirmed_changed']} of {figures['confirmed']} "
            f"({100 * figures['confirmed_changed_share']:.1f} %), "
            f"{figures['confirmed_days_moved']} days moved")


def write_diff(folder: Path, diff: pd.DataFrame, figures: dict[str, Any]) -> None:
    from orplan.io.write import write_outputs

    write_outputs(folder, {"changes": diff}, lambda: {"churn": figures}, "csv")

