"""Ward beds over the length of stay: binding and not binding."""

from conftest import make_case, planned, solve


def test_beds_binding_over_length_of_stay(case_dir):
    # Ward W has 1 bed on Jan 5 and on Jan 6. P1 (2 days, deadline Jan 5) is admitted Jan 5 and
    # still holds the bed on Jan 6, so P2 (1 day) fits on neither day.
    make_case(case_dir, [{"los_days": 2, "ward": "W", "deadline": "2026-01-05"},
                         {"los_days": 1, "ward": "W"}],
              [{"date": "2026-01-05"}, {"date": "2026-01-06"}],
              beds=[{"ward": "W", "date": "2026-01-05", "capacity": 1},
                    {"ward": "W", "date": "2026-01-06", "capacity": 1}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S1"}
    assert outcome.violations == []


def test_beds_not_binding_and_day_surgery_needs_none(case_dir):
    make_case(case_dir, [{"los_days": 1, "ward": "W"}, {"los_days": 0, "ward": "W"}],
              [{"date": "2026-01-05"}],
              beds=[{"ward": "W", "date": "2026-01-05", "capacity": 1}])
    assert len(planned(solve(case_dir))) == 2


def test_ward_defaults_to_session_site(case_dir):
    make_case(case_dir, [{"los_days": 1}, {"los_days": 1}], [{}],
              beds=[{"ward": "A", "date": "2026-01-05", "capacity": 1}])
    assert len(planned(solve(case_dir))) == 1
