"""Refilling sessions (orplan.refill): each session's best cases among its own and the patients
left out, within every row shared with the rest of the plan, never worse and never a new flip
room; timed again (rounding.timed_repair), the plan keeps every rule."""

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings

from orplan.greedy import greedy_assignment, priced_order
from orplan.model.bound import relaxation
from orplan.model.build import planning_data
from orplan.pipeline import extract_stage
from orplan.refill import plan_values, refill, surgeon_days
from orplan.rounding import timed_repair
from orplan.verify import verify_plan

from conftest import loaded, make_case, own_timing_is_valid
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
    chosen, gains = refill(rel, start, FOREVER, surgeon_days(data))
    planned = sorted(data.pairs["p"].to_numpy()[chosen].tolist())
    assert planned == [1, 3]  # the urgent 180 minutes and the C case fill the 240 exactly
    assert sum(gains) > 0 and _value(rel, chosen) > _value(rel, start)
    again, more = refill(rel, chosen, FOREVER, surgeon_days(data))
    assert np.array_equal(again, chosen) and sum(more) == 0  # a refilled plan stays


def test_no_new_flip_room(case_dir):
    # S1 (08:00-09:00) holds DR1's P1; S2 (08:00-10:00, another room) holds DR2's P3 and has a free
    # hour. S1 swaps P1 for DR1's urgent P2 (DR1 operates there already); P1 may then not go into
    # S2 (a new flip room for DR1): the less urgent P4, with no named surgeon, takes the hour.
    sessions = [{"session_id": "S1", "room": "R1", "start": "08:00", "end": "09:00"},
                {"session_id": "S2", "room": "R2", "start": "08:00", "end": "10:00"}]
    make_case(case_dir, [{"duration_min": 60, "surgeon_id": "DR1", "urgency": "C"},
                         {"duration_min": 60, "surgeon_id": "DR1", "urgency": "A"},
                         {"duration_min": 60, "surgeon_id": "DR2", "urgency": "D"},
                         {"duration_min": 60, "urgency": "D"}], sessions)
    data = planning_data(loaded(case_dir))
    p, s = data.pairs["p"].to_numpy(), data.pairs["s"].to_numpy()
    start = ((p == 0) & (s == 0)) | ((p == 2) & (s == 1))
    chosen, _ = refill(relaxation(data), start, FOREVER, surgeon_days(data))
    assert sorted(zip(p[chosen].tolist(), s[chosen].tolist(), strict=True)) == [
        (1, 0), (2, 1), (3, 1)]
    free, _ = refill(relaxation(data), start, FOREVER)  # without the rule DR1 works both rooms
    assert set(s[free & (p <= 1)].tolist()) == {0, 1}


@settings(max_examples=40, deadline=None, derandomize=True,
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
        surgeon_day = surgeon_days(data)
        chosen, gains = refill(rel, start, FOREVER, surgeon_day)
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

        def rooms(mask: np.ndarray) -> dict[int, set[int]]:
            out: dict[int, set[int]] = {}
            for c, s in zip(surgeon_day[mask].tolist(), rel.s[mask].tolist(), strict=True):
                if c >= 0:
                    out.setdefault(c, set()).add(s)
            return out

        before = rooms(start)
        for code, sessions in rooms(chosen).items():
            assert len(sessions) <= 1 or sessions <= before.get(code, set())
        first = np.argsort(-np.bincount(rel.p[chosen], minlength=rel.n_patients), kind="stable")
        repaired, times = timed_repair(data, chosen, first)
        assert own_timing_is_valid(data, repaired, times)
        timed = extract_stage(data, repaired, None, times)
        assert verify_plan(data.case, timed.plan) == []
