"""On tiny cases, the MILP optimum equals exhaustive enumeration of every assignment.

The enumeration evaluates the rules and objective from the spec directly (its own code, not the
model's). Sessions are a morning and an afternoon per day, so a surgeon's sessions on one day
never overlap in time and capacity alone decides whether a session's cases can be timed.
"""

import itertools
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orplan.config import load_config
from orplan.model.bound import lagrangian_bound, minute_price_bound, relaxation
from orplan.model.build import planning_data
from orplan.model.compact import solve_compact

from conftest import examples, make_case, solve

HORIZON = [pd.Timestamp("2026-01-05"), pd.Timestamp("2026-01-06")]
SLOTS = [("R1", "08:00", "12:00", 480, 720), ("R2", "12:30", "16:00", 750, 960)]


@st.composite
def tiny_cases(draw, off_grid: bool = False):
    """`off_grid`: case minutes not all on one grid (as exported to the minute), so the session
    knapsacks round them (model.bound.KNAPSACK_GRID_MIN)."""
    sessions = []
    for d, date in enumerate(HORIZON):
        for room, start, end, _, _ in SLOTS:
            if draw(st.booleans()) or (d == 0 and room == "R1"):
                sessions.append({"session_id": f"S{len(sessions) + 1}", "room": room,
                                 "date": date.date().isoformat(), "start": start, "end": end,
                                 "specialty": draw(st.sampled_from(["ORTH", "GYN", ""])),
                                 "max_overtime_min": draw(st.sampled_from([0, 15])),
                                 "open_cost": draw(st.sampled_from([0, 40])),
                                 "equipment": draw(st.sampled_from(["", "robot"]))})
    waitlist = [{"patient_id": f"P{i + 1}",
                 "specialty": draw(st.sampled_from(["ORTH", "GYN"])),
                 "duration_min": draw(st.integers(4, 30)) * 5 + (
                     draw(st.integers(0, 4)) if off_grid else 0),
                 "surgeon_id": draw(st.sampled_from(["", "DR1", "DR2"])),
                 "urgency": draw(st.sampled_from(["A", "B", "C", "D"])),
                 "referral_date": draw(st.sampled_from(["", "2025-12-01", "2025-06-01"])),
                 "earliest_date": draw(st.sampled_from(["", "2026-01-06"])),
                 "deadline": draw(st.sampled_from(["", "2026-01-05", "2025-12-20"])),
                 "equipment": draw(st.sampled_from(["", "", "robot"])),
                 "los_days": draw(st.sampled_from([0, 1, 2]))}
                for i in range(draw(st.integers(1, 5)))]
    surgeons = [{"surgeon_id": s, "date": d.date().isoformat(),
                 "max_minutes": draw(st.sampled_from(["", 100, 200]))}
                for s in ("DR1", "DR2") for d in HORIZON if draw(st.booleans())]
    return {"waitlist": waitlist, "sessions": sessions, "surgeons": surgeons,
            "equipment": [{"equipment": "robot", "site": "A", "date": "",
                           "units": draw(st.integers(0, 1))}],
            "beds": [{"ward": "A", "date": d.date().isoformat(),
                      "capacity": draw(st.integers(0, 2))} for d in HORIZON],
            "turnover": draw(st.sampled_from([0, 20]))}


def enumerate_optimum(data, config) -> float:
    w = config.weights
    turnover = data["turnover"]
    sessions = data["sessions"]
    start = HORIZON[0]
    cap = {s["session_id"]: next(c[4] - c[3] for c in SLOTS if c[0] == s["room"])
           for s in sessions}
    available = {(r["surgeon_id"], r["date"]): (math.inf if r["max_minutes"] == "" else
                                                  r["max_minutes"]) for r in data["surgeons"]}
    units = data["equipment"][0]["units"]
    beds = {r["date"]: r["capacity"] for r in data["beds"]}

    def ok(p, s) -> bool:
        date = pd.Timestamp(s["date"])
        return ((s["specialty"] in ("", p["specialty"]))
                and (not p["earliest_date"] or date >= pd.Timestamp(p["earliest_date"]))
                and p["duration_min"] <= cap[s["session_id"]] + s["max_overtime_min"]
                and (not p["surgeon_id"] or available.get((p["surgeon_id"], s["date"]), -1)
                     >= p["duration_min"])
                and (not p["equipment"] or "robot" in s["equipment"] or units > 0))

    patients = data["waitlist"]
    cost_out, cost_breach, breach_date, urgency_weight, ready = [], [], [], [], []
    for p in patients:
        cls = config.urgency[p["urgency"]]
        waited = max(0, (start - pd.Timestamp(p["referral_date"])).days) if p[
            "referral_date"] else 0
        priority = cls.weight * (1 + waited / max(cls.max_days, 1))
        deadline = (pd.Timestamp(p["deadline"]) if p["deadline"] else
                    pd.Timestamp(p["referral_date"]) + pd.Timedelta(days=cls.max_days)
                    if p["referral_date"] else None)
        due = deadline is not None and HORIZON[0] <= deadline <= HORIZON[-1]
        overdue = max(0, (start - deadline).days) if deadline is not None else 0
        cost_out.append(w.unscheduled * priority + w.overdue_per_day * overdue)
        cost_breach.append(w.deadline_breach if due else 0.0)
        breach_date.append(deadline if due else None)
        urgency_weight.append(cls.weight)
        ready.append(max(start, pd.Timestamp(p["earliest_date"])) if p["earliest_date"]
                     else start)
    choices = [[None] + [s for s in sessions if ok(p, s)] for p in patients]
    best = math.inf
    for combo in itertools.product(*choices):
        total = 0.0
        by_session: dict[str, list] = {}
        for i, s in enumerate(combo):
            if s is None:
                total += cost_out[i] + cost_breach[i]
                continue
            by_session.setdefault(s["session_id"], []).append(i)
            date = pd.Timestamp(s["date"])
            if breach_date[i] is None or date > breach_date[i]:
                total += cost_breach[i]
            total += w.waiting_day * urgency_weight[i] * max(0, (date - ready[i]).days)
        feasible = True
        robot_sessions: dict[str, int] = {}
        surgeon_minutes: dict[tuple, float] = {}
        surgeon_rooms: dict[tuple, set] = {}
        occupancy: dict[str, int] = {}
        for s in sessions:
            cases = by_session.get(s["session_id"], [])
            if not cases:
                continue
            used = sum(patients[i]["duration_min"] for i in cases) + turnover * (len(cases) - 1)
            c = cap[s["session_id"]]
            if used > c + s["max_overtime_min"]:
                feasible = False
                break
            total += w.idle_min * max(0, c - used) + w.overtime_min * max(0, used - c)
            total += s["open_cost"]
            if any(patients[i]["equipment"] for i in cases) and "robot" not in s["equipment"]:
                robot_sessions[s["date"]] = robot_sessions.get(s["date"], 0) + 1
            for i in cases:
                p = patients[i]
                if p["surgeon_id"]:
                    key = (p["surgeon_id"], s["date"])
                    surgeon_minutes[key] = surgeon_minutes.get(key, 0) + p["duration_min"]
                    surgeon_rooms.setdefault(key, set()).add(s["room"])
                for offset in range(p["los_days"]):
                    day = (pd.Timestamp(s["date"]) + pd.Timedelta(days=offset)).date().isoformat()
                    occupancy[day] = occupancy.get(day, 0) + 1
        if not feasible or any(n > units for n in robot_sessions.values()):
            continue
        if any(m > available[k] for k, m in surgeon_minutes.items()):
            continue
        if any(n > beds.get(day, math.inf) for day, n in occupancy.items()):
            continue
        total += w.room_switch * sum(len(r) - 1 for r in surgeon_rooms.values())
        best = min(best, total)
    return best


@settings(max_examples=examples(40), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(tiny_cases(), tiny_cases(off_grid=True)))
def test_milp_optimum_equals_enumeration(data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_case(Path(tmp) / "case", data["waitlist"], data["sessions"],
                           config=f"[rules]\nturnover_min = {data['turnover']}\n"
                           # the enumeration prices the [weights] as they are (no tiers)
                           "[priority]\ntiers = []\n",
                           surgeons=data["surgeons"] or None, equipment=data["equipment"],
                           beds=data["beds"])
        if not data["surgeons"]:
            (folder / "surgeons.csv").write_text("surgeon_id,date,max_minutes\n")
        outcome = solve(folder, Path(tmp) / "out", gap=0.0)
        expected = enumerate_optimum(data, load_config(folder / "orplan.toml"))
        assert outcome.summary["status"] == "optimal"
        assert outcome.summary["model_objective"] == pytest.approx(expected, rel=1e-7, abs=1e-4)
        assert outcome.summary["objective"] == pytest.approx(expected, rel=1e-7, abs=1e-4)
        # the session-pattern bound is valid for the full model: never above the optimum
        assert outcome.summary["patterns"]["bound"] <= expected + 1e-6 * max(1.0, abs(expected))
        # so is the bound at minute prices, and the compact LP's
        rel = relaxation(planning_data(outcome.case))
        assert minute_price_bound(rel)[0] <= expected + 1e-6 * max(1.0, abs(expected))
        if len(rel.p):
            compact = solve_compact(rel, np.arange(rel.n_patients), 10.0)
            assert compact.optimal
            assert lagrangian_bound(rel, compact.prices) <= expected + 1e-6 * max(1.0,
                                                                                  abs(expected))
