"""Room-days with several lists (a morning and an afternoon list in one room): a list runs over
only until the turnover before the next list starts, in validation, the model, the planner's
rule, timing and the check; and a candidate plan that breaks a rule is repaired, never written."""

import time

import numpy as np
import pandas as pd
import pytest

from orplan.generate import generate_case, write_case
from orplan.model.build import planning_data
from orplan.pipeline import choose_candidate
from orplan.plan import TimedPlan, _given_timing, _plan_frame
from orplan.repair import repair
from orplan.validate import load_case
from orplan.verify import verify_plan

from conftest import SESSION_DAY, config_of, loaded, make_case, planned, solve

CONFIG = "[rules]\nturnover_min = 30\nmax_overtime_min = 30\n"
MORNING = {"session_id": "AM", "room": "R1", "start": "08:00", "end": "11:45",
           "specialty": "ORTH"}
AFTERNOON = {"session_id": "PM", "room": "R1", "start": "12:15", "end": "15:30",
             "specialty": "GYN"}


def _allowed(case, session_id):
    sessions = case.sessions.set_index("session_id")
    # blank: the config's default (30)
    return sessions["max_overtime_min"].fillna(case.config.max_overtime_min).loc[session_id]


@pytest.mark.parametrize(("afternoon_start", "morning_allowed"),
                         [("12:15", 0.0), ("12:30", 15.0), ("12:45", 30.0), ("14:00", 30.0)])
def test_next_list_bounds_the_overtime(case_dir, afternoon_start, morning_allowed):
    make_case(case_dir, [{}], [MORNING, {**AFTERNOON, "start": afternoon_start}], config=CONFIG)
    case = loaded(case_dir)
    assert _allowed(case, "AM") == morning_allowed
    assert _allowed(case, "PM") == 30.0


def test_lists_in_other_rooms_or_days_do_not_limit_each_other(case_dir):
    make_case(case_dir, [{}], [MORNING, {**AFTERNOON, "room": "R2"},
                               {**AFTERNOON, "session_id": "PM2", "date": "2026-01-06"}],
              config=CONFIG)
    case = loaded(case_dir)
    assert _allowed(case, "AM") == 30.0


def test_back_to_back_lists_end_the_first_early_with_a_warning(case_dir):
    make_case(case_dir, [{}], [{**MORNING, "end": "12:00"}, {**AFTERNOON, "start": "12:00"}],
              config=CONFIG)
    case, issues = load_case(case_dir, config_of(case_dir))
    assert case is not None
    warning = [i for i in issues if i.code == "list-turnover"]
    assert len(warning) == 1 and warning[0].row == 2 and warning[0].column == "end"
    assert warning[0].severity == "warning"
    assert "must end by 11:30" in warning[0].message
    morning = case.sessions.set_index("session_id").loc["AM"]
    assert morning["end"] == 11 * 60 + 30 and morning["max_overtime_min"] == 0


def _timed(rows):
    def minutes(clock):
        hours, mins = clock.split(":")
        return float(int(hours) * 60 + int(mins))

    return pd.DataFrame({"patient_id": [r[0] for r in rows], "session_id": [r[1] for r in rows],
                         "start": [minutes(r[2]) for r in rows],
                         "end": [minutes(r[3]) for r in rows]})


def test_check_rejects_a_morning_list_running_into_the_afternoon(case_dir):
    make_case(case_dir, [{"duration_min": 60}, {"duration_min": 60, "specialty": "GYN"}],
              [MORNING, AFTERNOON], config=CONFIG)
    case = loaded(case_dir)
    late = _timed([("P1", "AM", "11:00", "12:00"), ("P2", "PM", "12:15", "13:15")])
    codes = sorted(v.code for v in verify_plan(case, late))
    assert codes == ["past-overtime", "room-overlap"]
    on_time = _timed([("P1", "AM", "10:45", "11:45"), ("P2", "PM", "12:15", "13:15")])
    assert verify_plan(case, on_time) == []


@pytest.mark.parametrize("method", ["milp", "greedy"])
def test_solve_keeps_the_morning_list_within_its_room_time(case_dir, method):
    # 110 + 30 + 110 = 250 minutes fit the morning list only with 25 minutes of overtime, which
    # the afternoon list takes away: one of the two ORTH cases is planned
    make_case(case_dir, [{"duration_min": 110, "urgency": "A"}, {"duration_min": 110},
                         {"duration_min": 120, "specialty": "GYN"}],
              [MORNING, AFTERNOON], config=CONFIG)
    outcome = solve(case_dir, method=method)
    assert outcome.violations == []
    assert planned(outcome) == {"P1": "AM", "P3": "PM"}
    left = outcome.tables["unscheduled"]
    assert left.set_index("patient_id").loc["P2", "reason"] == "capacity"
    # alone in its room, the morning list takes both with its overtime
    make_case(case_dir, [{"duration_min": 110, "urgency": "A"}, {"duration_min": 110},
                         {"duration_min": 120, "specialty": "GYN"}],
              [MORNING, {**AFTERNOON, "room": "R2"}], config=CONFIG)
    if method == "milp":
        assert set(planned(solve(case_dir))) == {"P1", "P2", "P3"}


def _candidate(data, rows):
    """A timed plan from (patient, session, start) rows, as a stage would hand it over."""
    p = data.case.waitlist.reset_index().set_index("patient_id")["index"]
    s = pd.Series(np.arange(len(data.sessions)), index=data.sessions["session_id"])
    cases = pd.DataFrame({"p": [int(p[r[0]]) for r in rows], "s": [int(s[r[1]]) for r in rows],
                          "given": [float(r[2]) for r in rows]})
    cases["duration"] = data.case.waitlist["duration_min"].to_numpy()[cases["p"]]
    return TimedPlan(_plan_frame(data.case.waitlist, data.sessions, _given_timing(cases)), [])


def test_a_candidate_that_breaks_a_rule_is_repaired_or_passed_over(case_dir):
    make_case(case_dir, [{"duration_min": 120, "urgency": "A"}, {"duration_min": 90},
                         {"duration_min": 120, "specialty": "GYN"}],
              [MORNING, AFTERNOON], config=CONFIG)
    data = planning_data(loaded(case_dir))
    # both ORTH cases in the morning: the second ends at 12:00, into the afternoon's turnover
    broken = _candidate(data, [("P1", "AM", 480), ("P2", "AM", 630), ("P3", "PM", 735)])
    fixed, violations, taken = repair(data.case, broken, np.ones(3))
    assert violations == [] and taken == 1 and fixed is not None
    assert sorted(fixed.plan["patient_id"]) == ["P1", "P3"]
    assert fixed.dropped == [1] and verify_plan(data.case, fixed.plan) == []
    # the broken plan is worth most as it is; repaired, it ties with the valid one
    valid = _candidate(data, [("P1", "AM", 480), ("P3", "PM", 735)])
    source, timed, about = choose_candidate(data, [("solver", broken), ("greedy start", valid)])
    assert verify_plan(data.case, timed.plan) == []
    assert about[0]["checked"] and about[0]["repaired"] == 1 and not about[0]["valid"]
    assert about[0]["objective"] < about[0]["objective_repaired"]
    assert sorted(timed.plan["patient_id"]) == ["P1", "P3"]
    assert source in ("solver", "greedy start")


def test_the_reason_of_a_case_given_up_by_the_repair_is_sequencing(case_dir):
    make_case(case_dir, [{"duration_min": 120, "urgency": "A"}, {"duration_min": 90},
                         {"duration_min": 120, "specialty": "GYN"}],
              [MORNING, AFTERNOON], config=CONFIG)
    data = planning_data(loaded(case_dir))
    broken = _candidate(data, [("P1", "AM", 480), ("P2", "AM", 630), ("P3", "PM", 735)])
    _, timed, _ = choose_candidate(data, [("solver", broken)])
    from orplan.pipeline import report_stage

    tables, _ = report_stage(data, timed)
    left = tables["unscheduled"].set_index("patient_id")
    assert left.loc["P2", "reason"] == "sequencing"


def test_generated_split_lists(tmp_path):
    tables, _ = generate_case("small", 3, split_lists=0.5)
    sessions = tables["sessions"]
    afternoon = sessions[sessions["start"] == "12:15"]
    assert len(afternoon) > 0 and (afternoon["end"] == "15:30").all()
    merged = afternoon.merge(sessions[sessions["start"] == "08:00"], on=["site", "room", "date"],
                             suffixes=("", "_am"))
    assert len(merged) == len(afternoon) and (merged["end_am"] == "11:45").all()
    blocks = merged[merged["specialty_am"] != ""]
    assert (blocks["specialty"] != blocks["specialty_am"]).all()
    # without the option the case is the same as before, split rows aside
    plain, _ = generate_case("small", 3)
    assert plain["waitlist"].equals(tables["waitlist"])
    assert "12:15" not in set(plain["sessions"]["start"])


def test_generated_overdue_share():
    tables, _ = generate_case("small", 3, overdue=0.3)
    waitlist = tables["waitlist"]
    start = pd.Timestamp("2026-11-30")
    max_days = waitlist["urgency"].map({"A": 14, "B": 60, "C": 180, "D": 365})
    implied = pd.to_datetime(waitlist["referral_date"]) + pd.to_timedelta(max_days, unit="D")
    deadline = pd.to_datetime(waitlist["deadline"].replace("", None)).fillna(implied)
    assert (deadline < start).mean() == pytest.approx(0.3, abs=0.01)


def test_random_split_list_cases_give_plans_that_keep_every_rule(tmp_path):
    for seed in (1, 2):
        tables, config = generate_case("small", seed, split_lists=0.6, overdue=0.2)
        folder = tmp_path / f"split-{seed}"
        write_case(folder, tables, config)
        for method in ("greedy", "milp"):
            outcome = solve(folder, tmp_path / f"out-{seed}-{method}", time_limit=8,
                            method=method)
            assert outcome.violations == [], (seed, method)
            assert outcome.summary["violations"] == 0
            # and no stage needed the repair: they all keep the room's lists apart
            checked = [c for c in outcome.summary["candidates"] if c["checked"]]
            assert all(c["valid"] for c in checked), (seed, method, checked)


def test_random_cases_are_never_behind_the_planners_rule(tmp_path):
    """Dominance: the written plan keeps at least the planner's rule's deadlines due in the
    horizon and plans at least as many patients of each urgency class among those due or
    overdue (the planner's plan is a candidate; a plan behind it is passed over)."""
    from orplan.model.build import planning_data
    from orplan.pipeline import clinical_counts, dominates

    for seed, split in ((3, 0.0), (4, 0.5), (5, 0.3)):
        tables, config = generate_case("small", seed, split_lists=split, overdue=0.25)
        folder = tmp_path / f"case-{seed}"
        write_case(folder, tables, config)
        greedy = solve(folder, tmp_path / f"g-{seed}", method="greedy")
        milp = solve(folder, tmp_path / f"m-{seed}", time_limit=8)
        data = planning_data(milp.case)

        def counts(outcome, data=data):
            plan = outcome.tables["plan"].assign(date=lambda f: pd.to_datetime(f["date"]))
            return clinical_counts(data, plan)

        assert dominates(counts(milp), counts(greedy)), (seed, counts(milp), counts(greedy))
        assert milp.summary["deadlines"]["kept"] <= milp.summary["deadlines"][
            "keepable_at_most"]


def test_levelling_is_shortened_then_skipped_when_the_time_is_short(case_dir):
    """A candidate better by tiers but behind the planner's rule is levelled with it both ways
    with time for two levellings, only on the planner's with time for one, and not at all with
    less (the estimate of one levelling is injected: no wall-clock headroom is relied on)."""
    from orplan.pipeline import PLANNER

    make_case(case_dir, [{"urgency": "A", "deadline": "2025-12-01"},
                         {"urgency": "B", "deadline": SESSION_DAY}],
              [{"start": "08:00", "end": "09:00"}])
    data = planning_data(loaded(case_dir))
    ahead = _candidate(data, [("P2", "S1", 480)])  # keeps the deadline, leaves the A out

    def choose(left_s):
        return choose_candidate(data, [("solver", ahead),
                                       (PLANNER, _candidate(data, [("P1", "S1", 480)]))],
                                PLANNER, deadline=None if left_s is None
                                else time.time() + left_s, level_s=1000.0)

    for left_s, names in [(None, {"solver levelled", "solver levelled on the planner's"}),
                          (1500.0, {"solver levelled on the planner's"}), (500.0, set())]:
        source, timed, about = choose(left_s)
        assert about[0]["behind_planners_rule"] is True
        assert {entry["name"] for entry in about} - {"solver", PLANNER} == names
        assert about[0].get("levelling_shortened", False) is (left_s is not None)
        assert about[0].get("levelling_skipped", False) is (left_s == 500.0)
        assert "P1" in set(timed.plan["patient_id"])  # never behind the planner's rule
