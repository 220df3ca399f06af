"""Mobile equipment units per site and date: binding and not binding."""

from conftest import make_case, planned, solve


def _robot_case(case_dir, units, installed=""):
    make_case(case_dir, [{"equipment": "robot"}, {"equipment": "robot"}],
              [{"equipment": installed}, {}],
              equipment=[{"equipment": "robot", "site": "A", "date": "", "units": units}])
    return solve(case_dir)


def test_one_robot_serves_one_session_a_day(case_dir):
    # Both robot cases fit one session (2 x 60 <= 240): one unit is enough.
    outcome = _robot_case(case_dir, 1)
    assert len(planned(outcome)) == 2
    assert len(set(planned(outcome).values())) == 1


def test_robot_units_binding(case_dir):
    # Two 200-minute robot cases need two sessions, but there is one mobile robot.
    make_case(case_dir, [{"equipment": "robot", "duration_min": 200},
                         {"equipment": "robot", "duration_min": 200}], [{}, {}],
              equipment=[{"equipment": "robot", "site": "A", "date": "", "units": 1}])
    outcome = solve(case_dir)
    assert len(planned(outcome)) == 1
    assert outcome.tables["unscheduled"]["reason"].tolist() == ["capacity"]
    assert outcome.violations == []


def test_installed_equipment_needs_no_unit(case_dir):
    make_case(case_dir, [{"equipment": "robot", "duration_min": 200},
                         {"equipment": "robot", "duration_min": 200}],
              [{"equipment": "robot"}, {}],
              equipment=[{"equipment": "robot", "site": "A", "date": "", "units": 1}])
    assert len(planned(solve(case_dir))) == 2


def test_no_units_means_equipment_unavailable(case_dir):
    make_case(case_dir, [{"equipment": "robot;c-arm"}], [{}],
              equipment=[{"equipment": "robot", "site": "A", "date": "", "units": 1}])
    outcome = solve(case_dir)
    assert planned(outcome) == {}
    assert outcome.tables["unscheduled"]["reason"].tolist() == ["equipment-unavailable"]


def test_dated_units_override_every_day_units(case_dir):
    make_case(case_dir, [{"equipment": "robot"}], [{}],
              equipment=[{"equipment": "robot", "site": "A", "date": "", "units": 1},
                         {"equipment": "robot", "site": "A", "date": "2026-01-05", "units": 0}])
    assert planned(solve(case_dir)) == {}
