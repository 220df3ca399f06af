"""The planner's baseline (--method greedy): its rules, and that its plans always keep every
rule; the MILP is never worse than it."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from conftest import make_case, planned, solve
from strategies import small_cases, write_small_case


def test_most_pressing_first_into_the_first_session_that_fits(case_dir):
    # one 200-minute slot a day; P2 is overdue, P3 is urgency A, P1 is D
    make_case(case_dir, [{"duration_min": 200, "urgency": "D"},
                         {"duration_min": 200, "urgency": "D", "deadline": "2025-12-01"},
                         {"duration_min": 200, "urgency": "A"}],
              [{"date": "2026-01-05"}, {"date": "2026-01-06"}])
    outcome = solve(case_dir, method="greedy")
    assert planned(outcome) == {"P2": "S1", "P3": "S2"}
    assert outcome.summary["status"] == "heuristic"
    assert outcome.summary["best_bound"] is None and outcome.summary["gap"] is None


def test_no_planned_overtime(case_dir):
    make_case(case_dir, [{"duration_min": 150}, {"duration_min": 100}], [{}],
              config="[rules]\nturnover_min = 0\nmax_overtime_min = 30\n")
    assert len(planned(solve(case_dir, method="greedy"))) == 1
    assert len(planned(solve(case_dir))) == 2  # the MILP uses the allowed overtime


def test_no_flip_rooms(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1"}, {"surgeon_id": "DR1", "duration_min": 200}],
              [{"end": "11:00"}, {"end": "11:00"}])
    # the two cases do not fit one 180-minute session; the greedy never puts DR1 in both rooms
    outcome = solve(case_dir, method="greedy")
    assert len(planned(outcome)) == 1


def test_equipment_and_beds(case_dir):
    make_case(case_dir, [{"equipment": "robot", "duration_min": 200},
                         {"equipment": "robot", "duration_min": 200},
                         {"los_days": 2}, {"los_days": 1}],
              [{}, {}, {}],
              equipment=[{"equipment": "robot", "site": "A", "date": "", "units": 1}],
              beds=[{"ward": "A", "date": "2026-01-05", "capacity": 1}])
    outcome = solve(case_dir, method="greedy")
    assert sorted(planned(outcome)) == ["P1", "P3"]
    assert outcome.violations == []


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_greedy_plans_keep_every_rule_and_the_milp_is_never_worse(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_small_case(Path(tmp) / "case", data)
        greedy = solve(folder, Path(tmp) / "greedy", method="greedy")
        assert greedy.violations == []
        assert greedy.summary["plan_repairs"] == 0
        milp = solve(folder, Path(tmp) / "milp", gap=0.0)
        assert milp.summary["objective"] <= greedy.summary["objective"] + 1e-6
        assert milp.summary["objective"] == pytest.approx(milp.summary["model_objective"],
                                                          rel=1e-6, abs=1e-4)
