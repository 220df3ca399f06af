"""Property: any random small case solves, and the plan passes the independent check."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orplan import solve as solve_module
from orplan.durations import DurationPlan
from orplan.io.plan_file import read_plan
from orplan.pipeline import SolveOptions, run_solve
from orplan.risk import session_risk
from orplan.solve import COMPACT_MAX_PAIRS
from orplan.verify import verify_plan

from conftest import config_of, examples, solve
from strategies import small_cases, write_small_case


@settings(max_examples=examples(40), deadline=None, derandomize=True,
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


@settings(max_examples=examples(25), deadline=None, derandomize=True,
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
        starts = ("greedy start", "planner's rule", "planner's rule filled")
        sources = (*lp_plans, *(f"{name} refilled" for name in lp_plans), *starts)
        # or one of those levelled with the planner's rule (orplan.dominance), or improved by
        # the neighbourhood search (orplan.neighbourhoods)
        source = summary["plan_source"].replace(", neighbourhoods", "").replace(" levelled", "")
        assert source in sources
        assert summary["best_bound"] <= summary["objective"] * (1 + 1e-9) + 1e-6
        assert summary["status"] in ("feasible", "heuristic")
        assert summary["gap"] == pytest.approx(
            (summary["objective"] - summary["best_bound"]) / max(abs(summary["objective"]), 1e-9))


@settings(max_examples=examples(20), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_cases(), st.sampled_from([0.05, 0.15, 0.3]))
def test_risk_plans_always_check_and_keep_their_target(data, target):
    """Planned with a risk target (each case's duration_min its mean, [durations] sigma): the
    plan at the means keeps every rule and no session's Fenton-Wilkinson risk passes the
    target."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_small_case(Path(tmp) / "case", data)
        options = SolveOptions(time_limit=20.0, gap=0.0, threads=1, seed=0, isolate=False,
                               durations=DurationPlan(risk=target))
        outcome = run_solve(folder, Path(tmp) / "out", config_of(folder), options)
        assert outcome.violations == []
        plan, issues = read_plan(Path(tmp) / "out")
        assert plan is not None and issues == []
        assert verify_plan(outcome.case, plan) == []
        risks = session_risk(outcome.case, plan)["risk"]
        assert (risks <= target + 1e-9).all()
        assert outcome.summary["durations"]["session_risk"]["sessions_above_target"] == 0
