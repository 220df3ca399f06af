"""Surgeon rules: availability, daily limit, one case at a time, room switches."""

from conftest import make_case, planned, solve


def test_surgeon_unavailable_day_excludes_patient(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1"}], [{}],
              surgeons=[{"surgeon_id": "DR1", "date": "2026-01-06", "max_minutes": ""}])
    outcome = solve(case_dir)
    assert planned(outcome) == {}
    assert outcome.tables["unscheduled"]["reason"].tolist() == ["surgeon-unavailable"]


def test_daily_limit_binding(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 100},
                         {"surgeon_id": "DR1", "duration_min": 100}], [{}],
              surgeons=[{"surgeon_id": "DR1", "date": "2026-01-05", "max_minutes": 150}])
    outcome = solve(case_dir)
    assert len(planned(outcome)) == 1
    assert outcome.violations == []


def test_daily_limit_not_binding(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 100},
                         {"surgeon_id": "DR1", "duration_min": 100}], [{}],
              surgeons=[{"surgeon_id": "DR1", "date": "2026-01-05", "max_minutes": 200}])
    assert len(planned(solve(case_dir))) == 2


def test_surgeon_never_in_two_rooms_at_once(case_dir):
    # Two parallel 08:00-12:00 rooms; one surgeon with three 100-minute cases: 300 minutes of
    # surgeon time fit in the 240-minute window only partly, so at most two are planned, and
    # the timed plan never overlaps.
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 100}] * 3, [{}, {}])
    outcome = solve(case_dir)
    plan = outcome.tables["plan"].sort_values("start")
    assert len(plan) == 2
    assert plan["start"].tolist() == ["08:00", "09:40"]
    assert outcome.violations == []


def test_flip_rooms_are_timed_without_overlap(case_dir):
    # Surgeon DR1 has one case in each of two parallel rooms; other surgeons fill the rooms.
    make_case(case_dir, [
        {"surgeon_id": "DR1", "duration_min": 90},
        {"surgeon_id": "DR1", "duration_min": 90},
        {"surgeon_id": "DR2", "duration_min": 120},
        {"surgeon_id": "DR3", "duration_min": 120},
    ], [{}, {}], config="[rules]\nturnover_min = 15\nmax_overtime_min = 0\n")
    outcome = solve(case_dir)
    assert len(planned(outcome)) == 4
    assert outcome.violations == []
    plan = outcome.tables["plan"]
    dr1 = plan[plan["surgeon_id"] == "DR1"].sort_values("start")
    assert dr1["start"].iloc[1] >= dr1["end"].iloc[0]


def test_room_switch_is_priced(case_dir):
    # Two 60-minute cases of DR1 fit in either room; with the switch cost they share a room.
    make_case(case_dir, [{"surgeon_id": "DR1"}, {"surgeon_id": "DR1"}], [{}, {}])
    outcome = solve(case_dir)
    assert len(set(planned(outcome).values())) == 1
    assert outcome.summary["kpis"]["room_switches"] == 0
    assert outcome.summary["terms"]["room_switches"]["value"] == 0.0


def test_room_switch_taken_when_worth_it(case_dir):
    # Two 110-minute cases of DR1 need 250 minutes with turnover in one room (> 240), so planning
    # both takes two rooms: one switch (cheaper than leaving a patient out), timed in sequence.
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 110},
                         {"surgeon_id": "DR1", "duration_min": 110}], [{}, {}],
              config="[rules]\nturnover_min = 30\nmax_overtime_min = 0\n")
    outcome = solve(case_dir)
    assert len(set(planned(outcome).values())) == 2
    assert outcome.summary["kpis"]["room_switches"] == 1
    assert outcome.summary["terms"]["room_switches"]["value"] == 150.0
    assert outcome.violations == []
    plan = outcome.tables["plan"].sort_values("start")
    assert plan["start"].tolist() == ["08:00", "09:50"]
