"""The aggregated compact LP (model.aggregate): groups of alike sessions, a relaxation whose prices
give a bound valid for the full model, and the packing of its solution (rounding.pack)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orplan.model.aggregate import aggregate, session_groups, solve_aggregated
from orplan.model.bound import lagrangian_bound, relaxation
from orplan.model.build import planning_data
from orplan.model.compact import solve_compact
from orplan.rounding import lp_first

from conftest import examples, loaded, make_case, solve

DATES = ["2026-01-05", "2026-01-06"]


@st.composite
def alike_cases(draw: st.DrawFn) -> dict:
    """Sessions of one or two kinds repeated over rooms of two sites (so groups form), patients
    bound to a site now and then, surgeons with day limits, robots and beds per site."""
    kinds = [{"start": draw(st.sampled_from(["08:00", "09:00"])),
              "end": draw(st.sampled_from(["10:00", "11:00", "12:00"])),
              "specialty": draw(st.sampled_from(["ORTH", "GYN", ""])),
              "equipment": draw(st.sampled_from(["", "", "robot"]))}
             for _ in range(draw(st.integers(1, 2)))]
    sessions = []
    for date in DATES[:draw(st.integers(1, 2))]:
        for site in ("A", "B"):
            for room in range(draw(st.integers(1, 2))):
                kind = kinds[draw(st.integers(0, len(kinds) - 1))]
                sessions.append({"session_id": f"S{len(sessions) + 1}", "site": site,
                                 "room": f"R{room + 1}", "date": date, **kind})
    waitlist = [{"patient_id": f"P{i + 1}",
                 "specialty": draw(st.sampled_from(["ORTH", "GYN"])),
                 "duration_min": draw(st.integers(6, 30)) * 5,
                 "surgeon_id": draw(st.sampled_from(["", "DR1", "DR2"])),
                 "urgency": draw(st.sampled_from(["A", "B", "C"])),
                 "referral_date": draw(st.sampled_from(["", "2025-06-01"])),
                 "deadline": draw(st.sampled_from(["", "", "2026-01-05"])),
                 "site": draw(st.sampled_from(["", "", "B"])),
                 "equipment": draw(st.sampled_from(["", "", "robot"])),
                 "los_days": draw(st.sampled_from([0, 1, 2]))}
                for i in range(draw(st.integers(1, 7)))]
    surgeons = [{"surgeon_id": s, "date": d, "max_minutes": draw(st.sampled_from(["", 90, 150]))}
                for s in ("DR1", "DR2") for d in DATES]
    equipment = [{"equipment": "robot", "site": site, "date": "",
                  "units": draw(st.integers(0, 1))} for site in ("A", "B")]
    beds = [{"ward": site, "date": d, "capacity": draw(st.integers(0, 2))}
            for site in ("A", "B") for d in DATES]
    return {"waitlist": waitlist, "sessions": sessions, "surgeons": surgeons,
            "equipment": equipment, "beds": beds,
            "config": f"[rules]\nturnover_min = {draw(st.sampled_from([0, 20]))}\n"
                      "max_overtime_min = 15\n"}


def write(folder: Path, data: dict) -> Path:
    return make_case(folder, data["waitlist"], data["sessions"], config=data["config"],
                     surgeons=data["surgeons"], equipment=data["equipment"], beds=data["beds"])


def test_alike_sessions_form_one_group_of_scaled_minutes(tmp_path: Path) -> None:
    sessions = [{"session_id": f"S{i}", "site": site, "room": room, "date": DATES[0],
                 "start": "08:00", "end": "12:00", "specialty": "ORTH"}
                for i, (site, room) in enumerate([("A", "R1"), ("A", "R2"), ("B", "R1")])]
    sessions.append({"session_id": "S9", "site": "B", "room": "R2", "date": DATES[0],
                     "start": "08:00", "end": "11:00", "specialty": "ORTH"})
    waitlist = [{"patient_id": f"P{i}", "specialty": "ORTH", "duration_min": 60,
                 "site": "B" if i == 0 else ""} for i in range(3)]
    folder = make_case(tmp_path / "case", waitlist, sessions,
                       config="[rules]\nturnover_min = 30\nmax_overtime_min = 15\n")
    data = planning_data(loaded(folder))
    group = session_groups(data.sessions)
    assert len(set(group[:3].tolist())) == 1 and group[3] != group[0]
    agg = aggregate(relaxation(data), data.sessions)
    first = int(group[0])
    assert agg.rel.session_count[first] == 3
    # three sessions of 240 staffed minutes and turnover 30 hold 3 * 270 - 30 minutes as one
    assert agg.rel.capacity[first] == pytest.approx(3 * 240 + 2 * 30)
    assert agg.rel.session_limit[first] == pytest.approx(3 * 255 + 2 * 30)
    # the patient bound to site B has one session in the big group, the others three
    pairs = np.bincount(agg.pair_of)
    assert sorted(pairs.tolist()) == [1, 1, 1, 1, 3, 3]


@settings(max_examples=examples(30), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(alike_cases())
def test_aggregated_prices_bound_the_optimum(data: dict) -> None:
    """The bound from the aggregated LP's prices never exceeds the MILP's proven optimum, and the
    aggregated LP (every patient in it) is never above the session-by-session compact LP."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(Path(tmp) / "case", data)
        outcome = solve(folder, Path(tmp) / "out", gap=0.0)
        assert outcome.summary["status"] == "optimal"
        optimum = outcome.summary["model_objective"]
        planning = planning_data(outcome.case)
        rel = relaxation(planning)
        if len(rel.p) == 0:
            return
        everyone = np.arange(rel.n_patients)
        aggregated = solve_aggregated(rel, planning.sessions, everyone, 10.0)
        assert aggregated.optimal
        tolerance = 1e-6 * max(1.0, abs(optimum))
        assert lagrangian_bound(rel, aggregated.prices) <= optimum + tolerance
        compact = solve_compact(rel, everyone, 10.0)
        if compact.optimal and compact.patients == aggregated.patients == rel.n_patients:
            assert aggregated.value <= compact.value + tolerance
        # spread back over the pairs, a patient's values still sum to its aggregated total
        assert np.all(np.bincount(rel.p, weights=aggregated.x, minlength=rel.n_patients)
                      <= 1 + 1e-9)


def test_packing_keeps_each_session_within_its_minutes(tmp_path: Path) -> None:
    """Four alike sessions, eight one-hour patients the LP plans in their group: packed, each
    session gets two (150 staffed minutes, turnover 30: two cases and a turnover fit, three do
    not), where the likeliest-session rule would send all eight to
    the first session."""
    sessions = [{"session_id": f"S{i}", "site": "A", "room": f"R{i}", "date": DATES[0],
                 "start": "08:00", "end": "10:30", "specialty": "ORTH"} for i in range(4)]
    waitlist = [{"patient_id": f"P{i}", "specialty": "ORTH", "duration_min": 60}
                for i in range(8)]
    folder = make_case(tmp_path / "case", waitlist, sessions,
                       config="[rules]\nturnover_min = 30\nmax_overtime_min = 0\n")
    data = planning_data(loaded(folder))
    x = np.full(len(data.pairs), 0.25)  # each patient spread over the four sessions
    order = np.arange(8)
    _, packed = lp_first(data, order, x, aggregated=True)
    per_session = np.bincount(data.pairs["s"].to_numpy()[packed], minlength=4)
    assert per_session.tolist() == [2, 2, 2, 2]
    _, likeliest = lp_first(data, order, x)
    assert np.bincount(data.pairs["s"].to_numpy()[likeliest], minlength=4).max() == 8
