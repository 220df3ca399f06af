"""Plans from the compact LP (orplan.rounding): the greedy planner around fixed cases, list
timing, the timed repair of plans whose flip rooms were placed by the minutes rule, and the
restricted MILP; every plan they give is timed and keeps every rule."""

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings

from orplan.greedy import greedy_assignment, leave_out_price, priced_order
from orplan.model.bound import relaxation
from orplan.model.build import planning_data
from orplan.model.compact import solve_compact
from orplan.pipeline import extract_stage
from orplan.plan import list_timing
from orplan.rounding import compact_plans, restricted_milp, timed_repair
from orplan.verify import verify_plan

from conftest import examples, loaded, make_case, own_timing_is_valid
from strategies import small_cases, write_small_case


def _starts(data, chosen, times):
    ids = data.case.waitlist["patient_id"].to_numpy()[data.pairs["p"].to_numpy()[chosen]]
    return dict(zip(ids, times[chosen], strict=True))


def test_fixed_cases_stay_and_the_rest_fills_around_them(case_dir):
    # one 08:00-12:00 session; P1 is fixed at 09:00-10:00
    make_case(case_dir, [{"duration_min": 60, "urgency": "D"},
                         {"duration_min": 60, "urgency": "A"},
                         {"duration_min": 120, "urgency": "B"},
                         {"duration_min": 30, "urgency": "C"}], [{}])
    data = planning_data(loaded(case_dir))
    fixed = (data.pairs["p"] == 0).to_numpy()
    times = np.full(len(data.pairs), np.nan)
    times[fixed] = 540.0
    chosen = greedy_assignment(data, np.array([1, 2, 3, 0]), allow_overtime=True, times=times,
                               fixed=fixed)
    assert _starts(data, chosen, times) == {"P1": 540.0, "P2": 480.0, "P3": 600.0}
    assert own_timing_is_valid(data, chosen, times)


def test_list_timing_marks_late_sessions_and_the_repair_refills_them(case_dir):
    # DR1's two 200-minute cases are put in overlapping sessions (08:00-12:00, 09:00-13:00): list
    # scheduling makes S2 wait for DR1 until 11:20 and end past 13:00
    make_case(case_dir, [{"duration_min": 200, "surgeon_id": "DR1", "urgency": "A"},
                         {"duration_min": 200, "surgeon_id": "DR1", "urgency": "A"},
                         {"duration_min": 200, "urgency": "D"}],
              [{}, {"start": "09:00", "end": "13:00"}])
    data = planning_data(loaded(case_dir))
    p, s = data.pairs["p"].to_numpy(), data.pairs["s"].to_numpy()
    chosen = ((p == 0) & (s == 0)) | ((p == 1) & (s == 1))
    timed = list_timing(data.case, data.sessions, data.pairs.loc[chosen, ["p", "s"]],
                        leave_out_price(data.priority))
    assert dict(zip(timed["p"], timed["late"], strict=True)) == {0: False, 1: True}
    repaired, times = timed_repair(data, chosen, np.array([0, 1, 2]))
    # P1 keeps its start; P2 cannot be timed anywhere; P3 takes the room P2 left
    assert _starts(data, repaired, times) == {"P1": 480.0, "P3": 540.0}
    assert own_timing_is_valid(data, repaired, times)


def test_a_late_group_with_given_starts_keeps_them(case_dir):
    # three 08:00-12:00 rooms, DR1 and DR2 in all three: every list scheduling rule ends a room
    # late, the given starts (an exact timing) fit, and the repair keeps them
    cases = [(2, 30, "DR2"), (0, 90, "DR2"), (2, 120, ""), (2, 60, "DR1"), (1, 60, "DR1"),
             (0, 90, "DR1"), (1, 90, "DR2")]  # (session, minutes, surgeon) of P1..P7
    starts = [480.0, 630.0, 510.0, 630.0, 480.0, 540.0, 540.0]
    make_case(case_dir, [{"duration_min": m, "surgeon_id": dr} for _, m, dr in cases],
              [{}, {}, {}])
    data = planning_data(loaded(case_dir))
    p, s = data.pairs["p"].to_numpy(), data.pairs["s"].to_numpy()
    chosen = np.array([cases[k][0] for k in p]) == s
    given = np.where(chosen, np.array(starts)[p], np.nan)
    assignment = data.pairs.loc[chosen, ["p", "s"]]
    keep = leave_out_price(data.priority)
    assert list_timing(data.case, data.sessions, assignment, keep)["late"].any()
    timed = list_timing(data.case, data.sessions, assignment.assign(start=given[chosen]), keep)
    assert not timed["late"].any()
    assert dict(zip(timed["p"], timed["start"], strict=True)) == dict(enumerate(starts))
    repaired, times = timed_repair(data, chosen, np.arange(len(cases)), given)
    assert np.array_equal(repaired, chosen) and np.array_equal(times[chosen], given[chosen])
    assert own_timing_is_valid(data, repaired, times)
    half = given.copy()
    half[np.flatnonzero(chosen)[0]] = np.nan  # one case without a start: list scheduling
    assert list_timing(data.case, data.sessions, assignment.assign(start=half[chosen]),
                       keep)["late"].any()


def test_restricted_milp_plans_within_its_pairs(case_dir):
    make_case(case_dir, [{"duration_min": 120}, {"duration_min": 120}, {"duration_min": 240}],
              [{}, {}])
    data = planning_data(loaded(case_dir))
    keep = (data.pairs["s"] == 0).to_numpy()  # only the first session
    chosen = restricted_milp(data, keep, np.zeros(len(data.pairs), dtype=bool), 10.0, 1, 0)
    assert chosen is not None and not chosen[~keep].any()
    assert chosen.sum() == 2  # the two 120-minute cases fill the session


@settings(max_examples=examples(25), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_plans_from_the_compact_lp_are_timed_and_keep_every_rule(data):
    with tempfile.TemporaryDirectory() as tmp:
        planning = planning_data(loaded(write_small_case(Path(tmp) / "case", data)))
        rel = relaxation(planning)
        if not len(rel.p):
            return
        order = priced_order(planning.priority,
                             planning.case.waitlist["duration_min"].to_numpy(dtype=float))
        compact = solve_compact(rel, order, 10.0)
        assert compact.optimal
        plans = compact_plans(planning, order, compact.x, 10.0, 1, 0)
        assert set(plans) == {"compact LP", "compact LP MILP"}
        for chosen, times in plans.values():
            assert np.isfinite(times[chosen]).all() and np.isnan(times[~chosen]).all()
            assert own_timing_is_valid(planning, chosen, times)
            timed = extract_stage(planning, chosen, starts=times)
            assert timed.dropped == [] and verify_plan(planning.case, timed.plan) == []
