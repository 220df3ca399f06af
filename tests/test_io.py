"""Reading: CSV and Parquet give identical typed tables; messy spreadsheet exports work."""

from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

from orplan.generate import generate_case, write_case
from orplan.io.write import write_outputs
from orplan.validate import load_case

from conftest import config_of, planned, solve

TABLES = ("waitlist", "sessions", "surgeons", "equipment", "beds")


def _typed(folder: Path):
    case, issues = load_case(folder, config_of(folder))
    assert case is not None and not [i for i in issues if i.severity == "error"], issues
    return case


@pytest.fixture(scope="module")
def small_case() -> tuple[dict[str, pd.DataFrame], str]:
    return generate_case("small", 3)


def test_csv_and_parquet_read_identically(tmp_path, small_case):
    tables, config = small_case
    write_case(tmp_path / "csv", tables, config, "csv")
    write_case(tmp_path / "parquet", tables, config, "parquet")
    from_csv, from_parquet = _typed(tmp_path / "csv"), _typed(tmp_path / "parquet")
    for name in TABLES:
        pdt.assert_frame_equal(getattr(from_csv, name), getattr(from_parquet, name),
                               check_dtype=False)


def test_parquet_with_native_types_reads_like_csv(tmp_path):
    # Parquet written by other tools carries real dates, times, numbers and booleans.
    import datetime as dt

    folder = tmp_path / "native"
    folder.mkdir()
    pd.DataFrame({"patient_id": ["P1"], "specialty": ["ORTH"], "duration_min": [90.0],
                  "deadline": [dt.date(2026, 1, 9)], "mandatory": [True],
                  "los_days": [2]}).to_parquet(folder / "waitlist.parquet")
    pd.DataFrame({"site": ["A"], "room": ["1"], "date": [pd.Timestamp("2026-01-05")],
                  "start": [dt.time(8, 0)], "end": [dt.time(15, 30)]}).to_parquet(
        folder / "sessions.parquet")
    case = _typed(folder)
    assert case.sessions["start"].tolist() == [480.0]
    assert case.sessions["end"].tolist() == [930.0]
    assert case.waitlist["deadline"].tolist() == [pd.Timestamp("2026-01-09")]
    assert case.waitlist["mandatory"].tolist() == [True]
    assert case.waitlist["los_days"].tolist() == [2.0]


def test_norwegian_excel_export(tmp_path):
    """Semicolons, decimal commas, a byte-order mark, CRLF, extra columns and blank cells."""
    folder = tmp_path / "excel"
    folder.mkdir()
    waitlist = ("patient_id;specialty;duration_min;urgency;deadline;notes;weight\r\n"
                "P1;ORTH;90,5;A;2026-01-09;første pasient;\r\n"
                "P2;ORTH;60;;;;1,5\r\n")
    (folder / "waitlist.csv").write_bytes("\ufeff".encode() + waitlist.encode("utf-8"))
    sessions = "site;room;date;start;end;max_overtime_min\r\nA;1;2026-01-05;08:00;15:30;15,5\r\n"
    (folder / "sessions.csv").write_bytes(sessions.encode("utf-8"))
    case = _typed(folder)
    assert case.waitlist["duration_min"].tolist() == [90.5, 60.0]
    assert case.waitlist["weight"].isna().tolist() == [True, False]
    assert case.waitlist["weight"].iloc[1] == 1.5
    assert case.waitlist["urgency"].tolist() == ["A", "C"]  # blank -> default class
    assert case.waitlist["notes"].tolist() == ["første pasient", ""]  # kept, ignored
    assert case.sessions["max_overtime_min"].tolist() == [15.5]
    assert case.sessions["session_id"].tolist() == ["A-1-2026-01-05-0800"]
    outcome = solve(folder)
    assert set(planned(outcome)) == {"P1", "P2"}


def test_windows_1252_export_is_read(tmp_path):
    folder = tmp_path / "cp1252"
    folder.mkdir()
    (folder / "waitlist.csv").write_bytes(
        "patient_id;specialty;duration_min;procedure\nP1;ORTH;60;hofte-protese æøå\n"
        .encode("cp1252"))
    (folder / "sessions.csv").write_text("site,room,date,start,end\nA,1,2026-01-05,08:00,12:00\n")
    case = _typed(folder)
    assert case.waitlist["procedure"].tolist() == ["hofte-protese æøå"]


def test_outputs_round_trip_csv_and_parquet(tmp_path, small_case):
    tables, config = small_case
    write_case(tmp_path / "case", tables, config)
    outcome = solve(tmp_path / "case", tmp_path / "out-csv", time_limit=20, gap=0.05)
    frames = outcome.tables
    write_outputs(tmp_path / "out-parquet", frames, lambda: outcome.summary, "parquet")
    for name, frame in frames.items():
        from_csv = pd.read_csv(tmp_path / "out-csv" / f"{name}.csv", dtype=str,
                               keep_default_na=False)
        from_parquet = pd.read_parquet(tmp_path / "out-parquet" / f"{name}.parquet")
        assert list(from_csv.columns) == list(frame.columns)
        assert list(from_parquet.columns) == list(frame.columns)
        assert len(from_csv) == len(from_parquet) == len(frame)


def test_failed_write_keeps_previous_outputs(tmp_path):
    out = tmp_path / "out"
    write_outputs(out, {"plan": pd.DataFrame({"a": [1]})}, lambda: {"run": 1}, "csv")

    def broken_summary() -> dict:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_outputs(out, {"plan": pd.DataFrame({"a": [2]})}, broken_summary, "csv")
    assert (out / "plan.csv").read_text() == "a\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left behind
