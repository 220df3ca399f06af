"""The solver edge: statuses, and the hard wall-clock limit of the isolated solver process."""

import os
import time

import pytest

from orplan.greedy import priced_plan
from orplan.model.build import planning_data
from orplan.solve import (
    SolverProcessError,
    SolverSettings,
    Status,
    build_and_solve,
    solve_isolated,
)

from conftest import loaded, make_case

SETTINGS = SolverSettings(gap=0.0, threads=1, seed=0)


def never_answers(case, deadline, settings, **kwargs):
    time.sleep(3600)


def fails(case, deadline, settings, **kwargs):
    raise ValueError("broken model")


def test_isolated_solve_matches_in_process(case_dir):
    make_case(case_dir, [{"duration_min": 100}, {"duration_min": 150}, {"duration_min": 200}],
              [{}, {}])
    case = loaded(case_dir)
    deadline = time.time() + 30
    # the isolated solve is given the priced greedy plan the pipeline makes; the direct one
    # makes it itself: the same plan, so the same result
    start, _ = priced_plan(planning_data(case))
    isolated = solve_isolated(case, deadline, SETTINGS, start=start)
    direct = build_and_solve(case, deadline, SETTINGS)
    assert isolated.report.status == direct.report.status == Status.OPTIMAL
    assert isolated.report.objective == pytest.approx(direct.report.objective)
    assert isolated.chosen.tolist() == direct.chosen.tolist()
    assert isolated.model_size == direct.model_size


def test_solver_process_is_stopped_at_the_deadline(case_dir):
    make_case(case_dir, [{}], [{}])
    started = time.time()
    result = solve_isolated(loaded(case_dir), started + 1.0, SETTINGS, target=never_answers)
    elapsed = time.time() - started
    assert result.report.status is Status.NO_PLAN
    assert result.report.solver_status == "stopped by orplan at the time limit"
    assert result.chosen is None
    assert elapsed < 1.0 + 1.5  # killed at the deadline itself, not GRACE_S after it


def reports_then_dies(case, deadline, settings, progress=None, **kwargs):
    """A solve that finds a plan, hands it on, then dies without answering."""
    from orplan.solve import _found_so_far
    from orplan.work import Work

    data = planning_data(case)
    chosen, starts = priced_plan(data)
    progress(_found_so_far(data, {"compact LP": chosen}, {"compact LP": starts}, {},
                           Work(10.0, deadline), 0.1, deadline))
    os._exit(137)


def test_solver_process_that_dies_keeps_the_plans_it_reported(case_dir):
    """A solver process stopped (at the deadline) or dead before its answer still gives the
    plans it found before (the pipeline times and compares them); its stage "solver" is recorded
    as cut, so the run is not reproducible. (The deadline's kill takes the same path.)"""
    make_case(case_dir, [{"duration_min": 100}, {"duration_min": 150}], [{}])
    case = loaded(case_dir)
    result = solve_isolated(case, time.time() + 60, SETTINGS, target=reports_then_dies)
    assert result.report.status is Status.FEASIBLE
    assert result.chosen is None
    assert list(result.alternatives) == ["compact LP"]
    expected, _ = priced_plan(planning_data(case))
    assert expected.any()
    assert result.alternatives["compact LP"].tolist() == expected.tolist()
    assert "solver" in result.patterns["work"]["cut_by_clock"]
    assert "ended unexpectedly (exit code 137" in result.report.solver_status
    assert "the plans it found before were kept" in result.report.solver_status


def dies(case, deadline, settings, **kwargs):
    os._exit(137)  # as the kernel's out-of-memory killer leaves it


def test_solver_process_that_dies_gives_no_plan_not_an_error(case_dir):
    """A solver process that dies without answering is treated like one stopped at the time
    limit: no solver plan (the pipeline then writes its greedy starting plan)."""
    make_case(case_dir, [{}], [{}])
    result = solve_isolated(loaded(case_dir), time.time() + 30, SETTINGS, target=dies)
    assert result.report.status is Status.NO_PLAN
    assert "ended unexpectedly (exit code 137" in result.report.solver_status
    assert result.chosen is None and result.alternatives == {}


def test_solver_process_error_is_reported(case_dir):
    make_case(case_dir, [{}], [{}])
    with pytest.raises(SolverProcessError, match="ValueError: broken model"):
        solve_isolated(loaded(case_dir), time.time() + 30, SETTINGS, target=fails)


def test_warm_start_reaches_the_same_optimum(case_dir):
    make_case(case_dir, [{"duration_min": 100}, {"duration_min": 150}, {"duration_min": 200},
                         {"duration_min": 60, "urgency": "A"}], [{}, {}])
    case = loaded(case_dir)
    deadline = time.time() + 30
    started = build_and_solve(case, deadline, SolverSettings(0.0, 1, 0, warm_start=True))
    plain = build_and_solve(case, deadline, SETTINGS)
    assert started.report.status == plain.report.status == Status.OPTIMAL
    assert started.report.objective == pytest.approx(plain.report.objective)
