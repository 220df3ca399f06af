"""Property: any random small case solves, and the plan passes the independent check."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orplan import solve as solve_module
from orplan.io.plan_file import read_plan
from orplan.solve import COMPACT_MAX_PAIRS
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


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(small_cases(), st.booleans())
def test_session_patterns_alone_give_checked_plans_within_their_bound(monkeypatch, data,
                                                                       compact):
    """With the monolithic MILP switched off (as at hospital scale), and with the compact LP
    session by session or over groups of alike sessions (as for several weeks), the written plan
    still passes the check, never loses to the greedy start, and the bound stays below it."""
    monkeypatch.setattr(solve_module, "MONOLITHIC_MAX_PAIRS", -1)
    # (the fixture is not reset between examples: set the value every time)
    monkeypatch.setattr(solve_module, "COMPACT_MAX_PAIRS", COMPACT_MAX_PAIRS if compact else -1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_small_case(Path(tmp) / "case", data)
        outcome = solve(folder, Path(tmp) / "out", time_limit=10.0)
        summary = outcome.summary
        assert summary["model"]["monolithic"] is False
        some = summary["model"]["eligible_pairs"] > 0
        seconds = summary["patterns"]["seconds"]
        assert ("compact_lp" in seconds) == some
        assert ("compact_plans" in seconds) == (compact and some)
        assert ("aggregated_plans" in seconds) == (not compact and some)
        if some:
            lp = summary["patterns"]["compact_lp"]
            assert lp["aggregated"] is (not compact)
            # the bound at the LP's own prices is valid too
            assert lp["bound"] <= summary["objective"] * (1 + 1e-9) + 1e-6
        assert outcome.violations == []
        lp_plans = ("compact LP", "compact LP MILP", "aggregated LP", "aggregated LP MILP")
        assert summary["plan_source"] in (*lp_plans, *(f"{name} refilled" for name in lp_plans),
                                          "greedy start")
        assert summary["best_bound"] <= summary["objective"] * (1 + 1e-9) + 1e-6
        assert summary["status"] in ("feasible", "heuristic")
        assert summary["gap"] == pytest.approx(
            (summary["objective"] - summary["best_bound"]) / max(abs(summary["objective"]), 1e-9))
