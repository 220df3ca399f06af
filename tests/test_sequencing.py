"""Timing the plan: hints, surgeon flow between rooms, exact timing when the rules fail."""

import numpy as np
import pandas as pd

from orplan.model.pairs import session_table
from orplan.plan import sequence
from orplan.verify import verify_plan

from conftest import loaded, make_case

FLIP_DAY = [("C", 20, 2), ("A", 80, 1), ("B", 50, 1), ("C", 40, 1), ("A", 60, 2), ("A", 100, 2)]


def _timed(case_dir, patients, assignment, config="[rules]\nturnover_min = 15\n"
           "max_overtime_min = 0\n"):
    make_case(case_dir, patients, [{}, {}], config=config)
    case = loaded(case_dir)
    sessions = session_table(case)
    frame = pd.DataFrame({"p": np.arange(len(assignment)), "s": np.array(assignment)})
    return case, sequence(case, sessions, frame, np.ones(len(assignment)))


def test_exact_timing_when_every_rule_fails(case_dir):
    # Surgeon A has 240 minutes in two parallel 4-hour rooms: only an interleaving that moves A
    # straight from room to room fits; the list-scheduling rules all leave a room late.
    patients = [{"surgeon_id": g, "duration_min": d} for g, d, _ in FLIP_DAY]
    case, timed = _timed(case_dir, patients, [room - 1 for _, _, room in FLIP_DAY])
    assert timed.dropped == []
    assert verify_plan(case, timed.plan) == []
    surgeon_a = timed.plan[timed.plan["surgeon_id"] == "A"].sort_values("start")
    assert surgeon_a["start"].tolist() == [480.0, 540.0, 620.0]


def test_first_and_last_case_hints(case_dir):
    patients = [{"duration_min": 30}, {"duration_min": 60, "last_case": "true"},
                {"duration_min": 50, "first_case": "true"}, {"duration_min": 45}]
    case, timed = _timed(case_dir, patients, [0, 0, 0, 0])
    order = timed.plan.sort_values("order")["patient_id"].tolist()
    assert order[0] == "P3" and order[-1] == "P2"
    assert order[1:3] == ["P4", "P1"]  # longer first in between
    assert verify_plan(case, timed.plan) == []


def test_case_is_given_up_only_when_no_timing_exists(case_dir):
    # Surgeon A has 2 x 150 minutes in two parallel rooms of 240: impossible however timed.
    patients = [{"surgeon_id": "A", "duration_min": 150, "urgency": "D"},
                {"surgeon_id": "A", "duration_min": 150, "urgency": "A"}]
    make_case(case_dir, patients, [{}, {}])
    case = loaded(case_dir)
    frame = pd.DataFrame({"p": [0, 1], "s": [0, 1]})
    timed = sequence(case, session_table(case), frame, np.array([1.0, 8.0]))
    assert timed.dropped == [0]  # the lower keep value goes
    assert timed.plan["patient_id"].tolist() == ["P2"]
