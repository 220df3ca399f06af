"""orplan diff: two plans compared booking by booking, with churn figures."""

import json

import pandas as pd
from typer.testing import CliRunner

from orplan.cli import app
from orplan.reports.diff import churn, plan_diff

runner = CliRunner()


def bookings(rows, status=True):
    frame = pd.DataFrame(rows, columns=["patient_id", "session_id", "date"])
    frame["date"] = pd.to_datetime(frame["date"].replace("", None))
    frame["status"] = "confirmed"
    return frame


OLD = [("P1", "S1", "2026-01-05"), ("P2", "S1", "2026-01-05"), ("P3", "S2", "2026-01-06"),
       ("P4", "S2", "2026-01-06"), ("P5", "", "2026-01-07")]
NEW = [("P1", "S1", "2026-01-05"), ("P2", "S3", "2026-01-05"), ("P3", "S1", "2026-01-05"),
       ("P5", "S9", "2026-01-07"), ("P6", "S2", "2026-01-06")]


def test_every_kind_of_change():
    diff = plan_diff(bookings(OLD), bookings(NEW)).set_index("patient_id")
    assert diff["change"].to_dict() == {"P1": "kept", "P2": "moved-room", "P3": "moved-date",
                                        "P4": "dropped", "P5": "kept", "P6": "added"}
    assert diff.loc["P3", "days_moved"] == -1
    figures = churn(diff.reset_index())
    assert figures["confirmed"] == 5 and figures["confirmed_changed"] == 3
    assert figures["confirmed_changed_share"] == 0.6
    assert figures["confirmed_days_moved"] == 1 and figures["added"] == 1


def test_tentative_bookings_do_not_count_as_confirmed_churn():
    old = bookings(OLD)
    old.loc[old["patient_id"] == "P4", "status"] = "tentative"
    figures = churn(plan_diff(old, bookings(NEW)))
    assert figures["confirmed"] == 4 and figures["confirmed_dropped"] == 0
    assert figures["dropped"] == 1


def write(path, rows, extra=None):
    frame = pd.DataFrame(rows, columns=["patient_id", "session_id", "date"])
    for key, value in (extra or {}).items():
        frame[key] = value
    frame.to_csv(path, index=False)
    return path


def test_diff_command_prints_counts_and_writes_files(tmp_path):
    old = write(tmp_path / "old.csv", OLD)
    (tmp_path / "new").mkdir()
    write(tmp_path / "new" / "plan.csv", NEW, {"start": "08:00", "end": "09:00"})
    result = runner.invoke(app, ["diff", str(old), str(tmp_path / "new"), "-o",
                                 str(tmp_path / "churn")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("5 bookings: kept 2, moved 2 (1 to another day), dropped 1, "
                                    "added 1; confirmed bookings changed 3 of 5 (60.0 %), 1 days "
                                    "moved")
    assert "P2" not in result.output  # identifiers only when asked
    changes = pd.read_csv(tmp_path / "churn" / "changes.csv")
    assert len(changes) == 6
    summary = json.loads((tmp_path / "churn" / "summary.json").read_text())
    assert summary["churn"]["moved-date"] == 1
    shown = runner.invoke(app, ["diff", str(old), str(tmp_path / "new"), "--show-ids"])
    assert "P2: moved-room (S1 -> S3)" in shown.output


def test_diff_of_bad_files_is_a_clear_error(tmp_path):
    old = write(tmp_path / "old.csv", OLD, {"status": "maybe"})
    new = write(tmp_path / "new.csv", NEW + [("P1", "S2", "2026-01-06")])
    result = runner.invoke(app, ["diff", str(old), str(new)])
    assert result.exit_code == 3
    assert "bad-status" in result.output and "old.csv" in result.output
    result = runner.invoke(app, ["diff", str(tmp_path / "new.csv"), str(old)])
    assert result.exit_code == 3
    assert "booked more than once" in result.output
    result = runner.invoke(app, ["diff", str(tmp_path / "missing.csv"), str(old)])
    assert result.exit_code == 3 and "does not exist" in result.output
