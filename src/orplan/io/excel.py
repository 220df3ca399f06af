"""An Excel workbook of a plan, for planners: made from an output folder (orplan.reports.html's
reader), with dates and times as real Excel values, frozen header rows, filters and column
widths that fit the contents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from orplan.reports.html import Outputs, read_outputs

MAX_WIDTH = 60
DATE_COLUMNS = ("date", "deadline", "planned_date", "date_before", "date_after", "due_by")
TIME_COLUMNS = ("start", "end")  # minutes after midnight in the outputs


def write_workbook(folder: Path, target: Path | None = None) -> Path:
    """Write folder/plan.xlsx (or `target`) atomically; return its path."""
    outputs = read_outputs(folder)
    target = target or folder / "plan.xlsx"
    staging = target.with_name(f".{target.name}.part")
    sheets = _sheets(outputs)
    with pd.ExcelWriter(staging, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_numbers": False}}) as writer:
        book = writer.book
        formats = {"date": book.add_format({"num_format": "yyyy-mm-dd"}),
                   "time": book.add_format({"num_format": "hh:mm"}),
                   "percent": book.add_format({"num_format": "0.0%"}),
                   "number": book.add_format({"num_format": "#,##0"})}
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes(1, 0)
            if len(frame.columns):
                sheet.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
            for i, column in enumerate(frame.columns):
                kind = ("date" if column in DATE_COLUMNS else "time" if column in TIME_COLUMNS
                        else "percent" if column == "utilisation" else None)
                shown = frame[column].astype(str).str.len().fillna(0)
                width = min(MAX_WIDTH, max(len(str(column)), int(shown.max()) if len(shown)
                                           else 0, 10 if kind == "date" else 0) + 2)
                sheet.set_column(i, i, width, formats[kind] if kind else None)
    staging.replace(target)
    return target


def _sheets(outputs: Outputs) -> dict[str, pd.DataFrame]:
    plan = outputs.plan.copy()
    plan_columns = [c for c in ("date", "site", "room", "order", "start", "end", "patient_id",
                                "surgeon_id", "specialty", "procedure", "duration_min", "urgency",
                                "deadline", "days_waited", "session_id") if c in plan]
    plan = _typed(plan[plan_columns])
    plan = plan.sort_values([c for c in ("date", "site", "room", "order") if c in plan])
    sessions = _typed(outputs.sessions[["date", "site", "room", "start", "end", "specialty",
                                        "capacity_min", "booked_min", "turnover_min",
                                        "overtime_min", "idle_min", "utilisation", "cases",
                                        "status", "session_id"]])
    sessions = sessions.sort_values(["date", "site", "room", "start"])
    left = _typed(outputs.unscheduled.copy())
    sheets = {"Summary": _summary(outputs.summary), "Plan": plan.reset_index(drop=True),
              "Sessions": sessions.reset_index(drop=True), "Left out": left}
    if outputs.changes is not None:
        changes = outputs.changes.rename(columns={"date_old": "date_before",
                                                  "date_new": "date_after"})
        for column in ("date_before", "date_after"):
            changes[column] = pd.to_datetime(changes[column].replace("", None), errors="coerce")
        changes["days_moved"] = pd.to_numeric(changes["days_moved"], errors="coerce")
        sheets["Changes"] = changes
    return sheets


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if column in DATE_COLUMNS:
            frame[column] = pd.to_datetime(frame[column].replace("", None), errors="coerce")
        elif column in TIME_COLUMNS:
            frame[column] = pd.to_timedelta(pd.to_numeric(frame[column]), unit="min")
        elif column in ("order", "duration_min", "days_waited", "days_overdue", "priority",
                        "cases"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in TIME_COLUMNS:
        if column in frame:  # Excel times are fractions of a day
            frame[column] = frame[column].dt.total_seconds() / 86_400
    return frame


def _summary(summary: dict[str, Any]) -> pd.DataFrame:
    rows: list[tuple[str, object]] = [
        ("status", summary.get("status")), ("objective", summary.get("objective")),
        ("best bound", summary.get("best_bound")), ("gap", summary.get("gap")),
        ("plan from", summary.get("plan_source")),
        ("horizon start", summary.get("horizon", {}).get("start")),
        ("horizon days", summary.get("horizon", {}).get("days"))]
    for key, value in summary.get("kpis", {}).items():
        if isinstance(value, dict):
            for sub, figures in value.items():
                for what, n in figures.items():
                    rows.append((f"{key} {sub} {what}", n))
        else:
            rows.append((key, value))
    for name, term in summary.get("terms", {}).items():
        rows.append((f"objective term {name}", term["value"]))
    for key, value in summary.get("changes", {}).items():
        rows.append((f"changes to the previous plan: {key}", value))
    return pd.DataFrame(rows, columns=["figure", "value"])
