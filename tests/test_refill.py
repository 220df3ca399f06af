"""Refilling sessions (orplan.refill): each session's best cases among its own and the patients
left out, within every row shared with the rest of the plan, never worse, and a session's new
cases only where list scheduling still times its group of linked rooms; timed again
(rounding.timed_repair), the plan keeps every rule."""

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings

from orplan.greedy import greedy_assignment, leave_out_price, priced_order
from orplan.model.bound import relaxation
from orplan.model.build import planning_data
from orplan.pipeline import extract_stage
from orplan.plan import list_timing
from orplan.refill import plan_values, refill
from orplan.rounding import timed_repair
from orplan.verify import verify_plan

from conftest import examples, loaded, make_case, own_timing_is_valid
from strategies import small_cases, write_small_case

FOREVER = float("inf")


def _value(rel, chosen: np.ndarray) -> float:
    """What the plan takes off the objective, by the relaxation's measure."""
    return float(plan_values(rel, chosen).sum())


def test_a_long_urgent_case_replaces_a_short_one_and_fills_the_session(case_dir):
    # one 08:00-12:00 session, no turnover or overtime; the plan holds P1 (60 min, D) only
    make_case(case_dir, [{"duration_min": 60, "urgency": "D"},
                         {"duration_min": 180, "urgency": "A"},
                         {"duration_min": 120, "urgency": "B"},
                         {"duration_min": 60, "urgency": "C"}], [{}])
    data = planning_data(loaded(case_dir))
    rel = relaxation(data)
    start = (data.pairs["p"] == 0).to_numpy()
    chosen, gains = refill(data, rel, start, FOREVER)
    planned = sorted(data.pairs["p"].to_numpy()[chosen].tolist())
    assert planned == [1, 3]  # the urgent 180 minutes and the C case fill the 240 exactly
    assert sum(gains) > 0 and _value(rel, chosen) > _value(rel, start)
    again, more = refill(data, rel, chosen, FOREVER)
    assert np.array_equal(again, chosen) and sum(more) == 0  # a refilled plan stays


def _refilled_pairs(case_dir, waitlist, sessions, start_pairs, timed=True):
    make_case(case_dir, waitlist, sessions)
    data = planning_data(loaded(case_dir))
    p, s = data.pairs["p"].to_numpy(), data.pairs["s"].to_numpy()
    start = np.zeros(len(p), dtype=bool)
    for patient, session in start_pairs:
        start |= (p == patient) & (s == session)
    chosen, _ = refill(data, relaxation(data), start, FOREVER, timed=timed)
    return sorted(zip(p[chosen].tolist(), s[chosen].tolist(), strict=True))


# DR1's P1 (C) is in S1 (08:00-09:00); DR2's P3 in S2 (another room, 08:00-10:00, a free hour).
# S1 swaps P1 for DR1's urgent P2; P1 would fill S2's free hour, P4 (D, no surgeon) would too.
FLIP_WAITLIST = [{"duration_min": 60, "surgeon_id": "DR1", "urgency": "C"},
                 {"duration_min": 60, "surgeon_id": "DR1", "urgency": "A"},
                 {"duration_min": 60, "surgeon_id": "DR2", "urgency": "D"},
                 {"duration_min": 60, "urgency": "D"}]


def test_a_new_flip_room_the_timing_allows(case_dir):
    # DR1 works both rooms (one case at 08:00, the other at 09:00 after DR2's P3): the day times
    sessions = [{"session_id": "S1", "room": "R1", "start": "08:00", "end": "09:00"},
                {"session_id": "S2", "room": "R2", "start": "08:00", "end": "10:00"}]
    pairs = _refilled_pairs(case_dir, FLIP_WAITLIST, sessions, [(0, 0), (2, 1)])
    assert sorted(p for p, _ in pairs) == [0, 1, 2]
    assert {s for p, s in pairs if p <= 1} == {0, 1}


def test_untimed_refilling_makes_no_new_flip_room(case_dir):
    # as above, but without timing checks: DR1 stays in S1, the free hour goes to P4 (no surgeon)
    sessions = [{"session_id": "S1", "room": "R1", "start": "08:00", "end": "09:00"},
                {"session_id": "S2", "room": "R2", "start": "08:00", "end": "10:00"}]
    pairs = _refilled_pairs(case_dir, FLIP_WAITLIST, sessions, [(0, 0), (2, 1)], timed=False)
    assert pairs == [(1, 0), (2, 1), (3, 1)]


def test_no_new_flip_room_the_timing_refuses(case_dir):
    # S2 (08:00-09:00, empty) runs at the same time as S1: DR1 cannot be in both, so S2 takes
    # one of the D cases (P3 or P4) instead of DR1's urgent P2 or P1
    sessions = [{"session_id": "S1", "room": "R1", "start": "08:00", "end": "09:00"},
                {"session_id": "S2", "room": "R2", "start": "08:00", "end": "09:00"}]
    pairs = _refilled_pairs(case_dir, FLIP_WAITLIST, sessions, [(0, 0)])
    assert pairs[0] == (1, 0) and len(pairs) == 2 and pairs[1][0] in (2, 3)


@settings(max_examples=examples(40), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_cases())
def test_refilled_plans_keep_every_shared_row_and_never_lose(data_: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_small_case(Path(tmp) / "case", data_)
        data = planning_data(loaded(folder))
        if data.pairs.empty:
            return
        rel = relaxation(data)
        order = priced_order(data.priority, data.case.waitlist["duration_min"].to_numpy(float))
        start = greedy_assignment(data, order, allow_overtime=True)
        chosen, gains = refill(data, rel, start, FOREVER)
        assert np.bincount(rel.p[chosen], minlength=rel.n_patients).max(initial=0) <= 1
        assert _value(rel, chosen) >= _value(rel, start) - 1e-6
        assert all(g > 0 for g in gains[:-1])
        booked = np.bincount(rel.s[chosen], weights=rel.duration[chosen] + rel.turnover,
                             minlength=len(rel.capacity)) - rel.turnover
        assert np.all(booked <= rel.session_limit + 1e-6)
        on = chosen[rel.link_pair]
        used = np.bincount(rel.link_row[on], weights=rel.link_coef[on],
                           minlength=len(rel.link_rhs))
        assert np.all(used <= rel.link_rhs + 1e-6)
        held = np.zeros(len(rel.equipment_units))
        for session, rows in enumerate(rel.session_rows):
            bits = int(np.bitwise_or.reduce(rel.pair_needs[chosen & (rel.s == session)],
                                            initial=0))
            held[[row for j, row in enumerate(rows) if (bits >> j) & 1]] += 1
        assert np.all(held <= rel.equipment_units + 1e-9)

        # a session late by list scheduling after refilling was late before, with the same cases
        def late(mask: np.ndarray) -> dict[int, set[int]]:
            timed = list_timing(data.case, data.sessions, data.pairs.loc[mask, ["p", "s"]],
                                leave_out_price(data.priority))
            if timed.empty:  # nothing planned (list timing then has no columns)
                return {}
            held = timed[timed["late"]]
            return {int(k): set(v) for k, v in held.groupby("s")["p"]}

        before, after = late(start), late(chosen)
        assert all(before.get(k) == cases for k, cases in after.items())
        first = np.argsort(-np.bincount(rel.p[chosen], minlength=rel.n_patients), kind="stable")
        repaired, times = timed_repair(data, chosen, first)
        assert own_timing_is_valid(data, repaired, times)
        timed = extract_stage(data, repaired, None, times)
        assert verify_plan(data.case, timed.plan) == []


def test_plans_made_elsewhere_are_refilled_first_and_returned_refilled(tmp_path):
    """compact_plans(also=...): the previous plan, filled, is refilled with the LP's plans; only
    its refilled version comes back, and it keeps every rule and is worth at least as much."""
    from orplan.generate import generate_case, write_case
    from orplan.model.compact import solve_compact
    from orplan.rounding import compact_plans

    tables, config = generate_case("small", 7)
    write_case(tmp_path / "case", tables, config)
    data = planning_data(loaded(tmp_path / "case"))
    rel = relaxation(data)
    order = priced_order(data.priority, data.case.waitlist["duration_min"].to_numpy(float))
    start = greedy_assignment(data, order, allow_overtime=True)
    poor = start.copy()
    poor[np.flatnonzero(start)[::2]] = False  # half the cases gone: room to refill
    also = {"elsewhere": timed_repair(data, poor, order)}
    x = solve_compact(rel, np.arange(rel.n_patients), 10.0).x
    plans = compact_plans(data, order, x, 20.0, 1, 0, rel=rel, also=also)
    assert "elsewhere" not in plans and "elsewhere refilled" in plans
    mask, times = plans["elsewhere refilled"]
    assert plan_values(rel, mask).sum() >= plan_values(rel, also["elsewhere"][0]).sum()
    timed = extract_stage(data, mask, None, times)
    assert verify_plan(data.case, timed.plan) == []


# One 4-hour session: two class-D patients due this week and a class-A patient three weeks
# overdue, two hours each. The priority tiers put the due ones first.
BEHIND = [{"urgency": "D", "referral_date": "2025-01-05", "duration_min": 120},
          {"urgency": "D", "referral_date": "2025-01-05", "duration_min": 120},
          {"urgency": "A", "referral_date": "2025-12-01", "duration_min": 120}]


def test_refilling_brings_a_plan_level_with_the_planners_counts(case_dir):
    """Behind a floor (orplan.model.floors: the planner's rule's counts), refilling values its
    patients above any other and takes them in; it never leaves the plan further below another
    floor to do so."""
    make_case(case_dir, BEHIND, [{}])
    data = planning_data(loaded(case_dir))
    rel = relaxation(data)
    p = data.pairs["p"].to_numpy()
    nothing = np.zeros(len(p), dtype=bool)
    plain, _ = refill(data, rel, nothing, FOREVER)
    assert sorted(p[plain].tolist()) == [0, 1]  # the due patients, by the tiers
    level, gains = refill(data, rel, plain, FOREVER,
                          floors={"deadlines_kept": 1, "due_or_overdue_planned_A": 1})
    assert sum(gains) > 0
    assert 2 in p[level].tolist() and len(p[level]) == 2  # the class-A patient and one due
    # level with one floor only by falling behind another: refilling leaves the plan as it is
    kept, _ = refill(data, rel, plain, FOREVER,
                     floors={"deadlines_kept": 2, "due_or_overdue_planned_A": 1})
    assert np.array_equal(kept, plain)
