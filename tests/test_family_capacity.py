"""Session capacity with turnover and bounded overtime; idle time; released sessions."""

from conftest import make_case, planned, solve


def test_capacity_not_binding_plans_everyone(case_dir):
    make_case(case_dir, [{"duration_min": 100}, {"duration_min": 100}], [{}])
    assert set(planned(solve(case_dir))) == {"P1", "P2"}


def test_capacity_binding_leaves_lower_priority_out(case_dir):
    # 240 staffed minutes, no overtime: only one of two 150-minute cases fits; urgency A wins.
    make_case(case_dir, [{"duration_min": 150, "urgency": "D"},
                         {"duration_min": 150, "urgency": "A"}], [{}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P2": "S1"}
    left = outcome.tables["unscheduled"]
    assert left["patient_id"].tolist() == ["P1"]
    assert left["reason"].tolist() == ["capacity"]


def test_turnover_counts_between_cases(case_dir):
    # 2 x 110 + 30 turnover = 250 > 240: the two cases cannot share the session.
    config = "[rules]\nturnover_min = 30\nmax_overtime_min = 0\n"
    make_case(case_dir, [{"duration_min": 110}, {"duration_min": 110}], [{}], config=config)
    assert len(planned(solve(case_dir))) == 1
    # with 10 minutes of allowed overtime they fit, and the overtime is reported
    config = "[rules]\nturnover_min = 30\nmax_overtime_min = 10\n"
    make_case(case_dir, [{"duration_min": 110}, {"duration_min": 110}], [{}], config=config)
    outcome = solve(case_dir)
    assert len(planned(outcome)) == 2
    sessions = outcome.tables["sessions"]
    assert sessions["overtime_min"].tolist() == [10.0]
    assert sessions["turnover_min"].tolist() == [30.0]


def test_session_max_overtime_overrides_default(case_dir):
    make_case(case_dir, [{"duration_min": 250}], [{"max_overtime_min": 10}])
    assert planned(solve(case_dir)) == {"P1": "S1"}
    make_case(case_dir, [{"duration_min": 260}], [{"max_overtime_min": 10}])
    outcome = solve(case_dir)
    assert planned(outcome) == {}
    assert outcome.tables["unscheduled"]["reason"].tolist() == ["too-long"]


def test_unused_session_is_released(case_dir):
    make_case(case_dir, [{"duration_min": 60}], [{}, {}])
    sessions = solve(case_dir).tables["sessions"]
    assert sorted(sessions["status"]) == ["open", "released"]
    released = sessions[sessions["status"] == "released"]
    assert released["idle_min"].tolist() == [0.0]


def test_open_cost_consolidates_sessions(case_dir):
    # Without open cost idle minutes already favour one session; with a high open cost of the
    # first session, the cases move to the second.
    make_case(case_dir, [{"duration_min": 60}, {"duration_min": 60}],
              [{"open_cost": 5000}, {"open_cost": 0}])
    assert set(planned(solve(case_dir)).values()) == {"S2"}
