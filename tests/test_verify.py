"""The independent check: each hard rule, broken on purpose by a hand-made plan, is reported."""

import pandas as pd
import pytest

from orplan.verify import verify_plan

from conftest import loaded, make_case


def _plan(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    def minutes(clock: str) -> float:
        hours, mins = clock.split(":")
        return float(int(hours) * 60 + int(mins))

    return pd.DataFrame({"patient_id": [r[0] for r in rows], "session_id": [r[1] for r in rows],
                         "start": [minutes(r[2]) for r in rows],
                         "end": [minutes(r[3]) for r in rows]})


@pytest.fixture
def case(case_dir):
    make_case(case_dir, [
        {"specialty": "ORTH", "surgeon_id": "DR1", "duration_min": 60, "los_days": 1},
        {"specialty": "ORTH", "surgeon_id": "DR1", "duration_min": 60, "equipment": "robot"},
        {"specialty": "GYN", "duration_min": 60, "site": "B", "earliest_date": "2026-01-06",
         "equipment": "robot", "los_days": 1},
        {"specialty": "ORTH", "surgeon_id": "DR2", "duration_min": 60},
    ], [{"specialty": "ORTH"}, {"specialty": ""}, {"specialty": "", "date": "2026-01-06"}],
        config="[rules]\nturnover_min = 15\nmax_overtime_min = 10\n",
        surgeons=[{"surgeon_id": "DR1", "date": "2026-01-05", "max_minutes": 120},
                  {"surgeon_id": "DR2", "date": "2026-01-06", "max_minutes": ""}],
        equipment=[{"equipment": "robot", "site": "A", "date": "", "units": 1}],
        beds=[{"ward": "A", "date": "2026-01-05", "capacity": 1}])
    return loaded(case_dir)


def _codes(case, plan):
    return sorted(v.code for v in verify_plan(case, plan))


def test_a_good_plan_passes(case):
    plan = _plan(("P1", "S1", "08:00", "09:00"), ("P2", "S1", "09:15", "10:15"))
    assert _codes(case, plan) == []


@pytest.mark.parametrize(("rows", "codes"), [
    ([("P4", "S3", "08:00", "09:00"), ("P4", "S3", "10:00", "11:00")], ["patient-twice"]),
    ([("P9", "S1", "08:00", "09:00")], ["unknown-patient"]),
    ([("P1", "S9", "08:00", "09:00")], ["unknown-session"]),
    ([("P3", "S1", "08:00", "09:00")], ["earliest-date", "site", "specialty"]),
    ([("P1", "S1", "08:00", "09:30")], ["duration"]),
    ([("P1", "S1", "07:30", "08:30")], ["before-session"]),
    ([("P1", "S1", "11:20", "12:20")], ["past-overtime"]),
    ([("P1", "S1", "08:00", "09:00"), ("P2", "S1", "09:05", "10:05")], ["room-overlap"]),
    ([("P1", "S1", "08:00", "09:00"), ("P2", "S2", "08:30", "09:30")], ["surgeon-overlap"]),
    ([("P4", "S1", "08:00", "09:00")], ["surgeon-unavailable"]),
])
def test_each_rule(case, rows, codes):
    assert _codes(case, _plan(*rows)) == codes


def test_surgeon_daily_limit(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1"}, {"surgeon_id": "DR1"}], [{}],
              surgeons=[{"surgeon_id": "DR1", "date": "2026-01-05", "max_minutes": 100}])
    case = loaded(case_dir)
    violations = verify_plan(case, _plan(("P1", "S1", "08:00", "09:00"),
                                          ("P2", "S1", "09:00", "10:00")))
    assert [v.code for v in violations] == ["surgeon-limit"]
    assert violations[0].message == ("surgeon DR1 operates 120 min on 2026-01-05, over the daily "
                                     "limit of 100 min")


def test_equipment_units(case_dir):
    make_case(case_dir, [{"equipment": "robot"}, {"equipment": "robot"}], [{}, {}],
              equipment=[{"equipment": "robot", "site": "A", "date": "", "units": 1}])
    case = loaded(case_dir)
    one = _plan(("P1", "S1", "08:00", "09:00"), ("P2", "S1", "09:00", "10:00"))
    two = _plan(("P1", "S1", "08:00", "09:00"), ("P2", "S2", "08:00", "09:00"))
    assert _codes(case, one) == []
    assert _codes(case, two) == ["equipment"]


def test_beds(case_dir):
    make_case(case_dir, [{"los_days": 2}, {"los_days": 1}],
              [{"date": "2026-01-05"}, {"date": "2026-01-06"}],
              beds=[{"ward": "A", "date": "2026-01-06", "capacity": 1}])
    case = loaded(case_dir)
    plan = _plan(("P1", "S1", "08:00", "09:00"), ("P2", "S2", "08:00", "09:00"))
    violations = verify_plan(case, plan)
    assert [v.code for v in violations] == ["beds"]
    assert violations[0].message == ("ward A has 2 new patients in bed on 2026-01-06, over its 1 "
                                     "beds")
