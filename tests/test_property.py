"""Property: any random small case solves, and the plan passes the independent check."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from orplan.io.plan_file import read_plan
from orplan.verify import verify_plan

from conftest import solve
from strategies import small_cases, write_small_case


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_solve_then_check_always_passes(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_small_case(Path(tmp) / "case", data)
        outcome = solve(folder, Path(tmp) / "out", gap=0.0)
        assert outcome.summary["status"] == "optimal"
        assert outcome.violations == []
        assert outcome.summary["plan_repairs"] == 0
        # the written file, read back, passes too
        plan, issues = read_plan(Path(tmp) / "out")
        assert plan is not None and issues == []
        assert verify_plan(outcome.case, plan) == []
        planned = set(outcome.tables["plan"]["patient_id"])
        left = set(outcome.tables["unscheduled"]["patient_id"])
        assert planned.isdisjoint(left)
        assert planned | left == {p["patient_id"] for p in data["waitlist"]}
