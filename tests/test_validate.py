"""Validation: one small fixture per issue code; every problem is reported at once, with file,
row and column, and never as a traceback."""

from pathlib import Path

import pytest

from orplan.config import Config
from orplan.issues import Issue
from orplan.validate import validate_case

WAITLIST = "patient_id,specialty,duration_min,surgeon_id,urgency,ward\nP1,ORTH,90,DR1,A,W1\n"
SESSIONS = "session_id,site,room,date,start,end,specialty\nS1,A,1,2026-01-05,08:00,15:30,ORTH\n"


def _case(tmp_path: Path, **files: str) -> list[Issue]:
    folder = tmp_path / "case"
    folder.mkdir(exist_ok=True)
    contents = {"waitlist.csv": WAITLIST, "sessions.csv": SESSIONS, **files}
    for name, text in contents.items():
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    _, issues = validate_case(folder, Config())
    return issues


def _only(issues: list[Issue], code: str) -> Issue:
    found = [i for i in issues if i.code == code]
    assert len(found) == 1, issues
    return found[0]


def test_valid_case_has_no_issues(tmp_path):
    assert _case(tmp_path) == []


def test_missing_required_table(tmp_path):
    issue = _only(_case(tmp_path, **{"sessions.csv": None}), "missing-file")
    assert issue.file == "sessions.csv"
    assert issue.message.startswith("required table 'sessions' not found: put sessions.csv or "
                                    "sessions.parquet in ")


def test_missing_column(tmp_path):
    issue = _only(_case(tmp_path, **{"waitlist.csv": "patient_id,specialty\nP1,ORTH\n"}),
                  "missing-column")
    assert (issue.file, issue.row, issue.column) == ("waitlist.csv", 1, "duration_min")
    assert issue.message == ("required column 'duration_min' is missing; the header has: "
                             "patient_id, specialty")


@pytest.mark.parametrize(("column", "value", "code", "message"), [
    ("duration_min", "ninety", "bad-number", "'ninety' is not a number such as 90 or 90.5"),
    ("duration_min", "0", "not-positive", "'duration_min' must be greater than 0, got 0"),
    ("duration_min", "-5", "not-positive", "'duration_min' must be greater than 0, got -5"),
    ("los_days", "1.5", "bad-integer", "'1.5' is not a whole number such as 3"),
    ("los_days", "-1", "negative", "'los_days' must be at least 0, got -1"),
    ("deadline", "09.01.2026", "bad-date", "'09.01.2026' is not a date as YYYY-MM-DD"),
    ("mandatory", "maybe", "bad-bool", "'maybe' is not true/false (also yes/no, 1/0, ja/nei)"),
    ("weight", "-1", "negative", "'weight' must be at least 0, got -1"),
])
def test_bad_cell(tmp_path, column, value, code, message):
    text = f"patient_id,specialty,duration_min,{column}\nP1,ORTH,90,\nP2,ORTH,90,{value}\n"
    if column == "duration_min":
        text = f"patient_id,specialty,duration_min\nP1,ORTH,90\nP2,ORTH,{value}\n"
    issue = _only(_case(tmp_path, **{"waitlist.csv": text}), code)
    assert (issue.file, issue.row, issue.column, issue.message) == (
        "waitlist.csv", 3, column, message)


def test_bad_time(tmp_path):
    text = "site,room,date,start,end\nA,1,2026-01-05,8am,15:30\n"
    issue = _only(_case(tmp_path, **{"sessions.csv": text}), "bad-time")
    assert (issue.row, issue.column, issue.message) == (2, "start", "'8am' is not a time as HH:MM")


def test_missing_value_in_required_column(tmp_path):
    issue = _only(_case(tmp_path, **{"waitlist.csv": "patient_id,specialty,duration_min\n"
                                                     "P1,,90\n"}), "missing-value")
    assert (issue.row, issue.column) == (2, "specialty")


def test_duplicate_id(tmp_path):
    text = WAITLIST + "P1,ORTH,60,DR1,B,W1\n"
    issue = _only(_case(tmp_path, **{"waitlist.csv": text}), "duplicate-id")
    assert (issue.row, issue.column) == (3, "patient_id")
    assert issue.message == "this key already appears in row 2; keys must be unique"


def test_session_ends_before_it_starts(tmp_path):
    text = "site,room,date,start,end\nA,1,2026-01-05,15:00,08:00\n"
    issue = _only(_case(tmp_path, **{"sessions.csv": text}), "end-before-start")
    assert issue.message == ("session ends (08:00) at or before it starts (15:00); check start "
                             "and end")


def test_sessions_overlap_in_one_room(tmp_path):
    text = ("site,room,date,start,end\nA,1,2026-01-05,08:00,12:00\n"
            "A,1,2026-01-05,11:00,15:00\nA,2,2026-01-05,11:00,15:00\n")
    issue = _only(_case(tmp_path, **{"sessions.csv": text}), "session-overlap")
    assert issue.row == 3
    assert issue.message == ("room 1 at A on 2026-01-05 already has a session in row 2 that runs "
                             "past 11:00; merge or move one of them")


def test_patient_no_session_can_take_says_why(tmp_path):
    text = WAITLIST + "P2,GYN,60,,,\nP3,ORTH,600,,,\n"
    issues = [i for i in _case(tmp_path, **{"waitlist.csv": text}) if i.code ==
              "no-eligible-session"]
    assert [(i.row, i.severity) for i in issues] == [(3, "warning"), (4, "warning")]
    assert "(no-eligible-session)" in issues[0].message
    assert "(too-long)" in issues[1].message


def test_unknown_surgeon_and_ward(tmp_path):
    issues = _case(tmp_path, **{"surgeons.csv": "surgeon_id,date\nDR9,2026-01-05\n",
                                "beds.csv": "ward,date,capacity\nW9,2026-01-05,3\n"})
    surgeon = _only(issues, "unknown-surgeon")
    ward = _only(issues, "unknown-ward")
    assert (surgeon.row, surgeon.column, surgeon.severity) == (2, "surgeon_id", "warning")
    assert (ward.row, ward.column) == (2, "ward")


def test_unknown_urgency_class(tmp_path):
    text = "patient_id,specialty,duration_min,urgency\nP1,ORTH,90,Z\n"
    issue = _only(_case(tmp_path, **{"waitlist.csv": text}), "unknown-urgency")
    assert issue.message == ("urgency 'Z' is not a configured class (A, B, C, D); fix it or add "
                             "the class to orplan.toml")


def test_corrupt_parquet(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "sessions.csv").write_text(SESSIONS)
    (folder / "waitlist.parquet").write_bytes(b"PAR1 this is not really parquet")
    _, issues = validate_case(folder, Config())
    issue = _only(issues, "corrupt-file")
    assert issue.file == "waitlist.parquet"
    assert issue.message.startswith("cannot read Parquet file: ")


def test_empty_file(tmp_path):
    issue = _only(_case(tmp_path, **{"waitlist.csv": ""}), "empty-file")
    assert issue.message == "the file is empty; it needs at least a header row"


def test_both_csv_and_parquet_present(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "sessions.parquet").write_bytes(b"")
    issue = _only(_case(tmp_path), "ambiguous-table")
    assert issue.message.startswith("both sessions.csv and sessions.parquet exist")


def test_all_problems_reported_at_once(tmp_path):
    text = ("patient_id,specialty,duration_min,deadline\nP1,ORTH,x,2026-13-01\n"
            "P1,,5,\n")
    codes = sorted(i.code for i in _case(tmp_path, **{"waitlist.csv": text}))
    assert codes == ["bad-date", "bad-number", "duplicate-id", "missing-value"]


def test_session_outside_horizon_is_a_warning(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "waitlist.csv").write_text(WAITLIST)
    (folder / "sessions.csv").write_text(SESSIONS + "S2,A,1,2026-02-05,08:00,15:30,ORTH\n")
    import datetime as dt
    from dataclasses import replace
    _, issues = validate_case(folder, replace(Config(), horizon_start=dt.date(2026, 1, 5),
                                              horizon_days=5))
    issue = _only(issues, "outside-horizon")
    assert (issue.row, issue.severity) == (3, "warning")


def test_duplicate_column(tmp_path):
    issue = _only(_case(tmp_path, **{"waitlist.csv": "patient_id,specialty,duration_min,"
                                                     "specialty\nP1,ORTH,90,GYN\n"}),
                  "duplicate-column")
    assert issue.message == "column 'specialty' appears more than once in the header"


def test_sessions_with_only_a_header(tmp_path):
    issue = _only(_case(tmp_path, **{"sessions.csv": "site,room,date,start,end\n"}), "no-sessions")
    assert issue.message == "the sessions table has no rows; export the staffed sessions"


def test_waitlist_with_only_a_header_is_valid(tmp_path):
    assert _case(tmp_path, **{"waitlist.csv": "patient_id,specialty,duration_min\n"}) == []
