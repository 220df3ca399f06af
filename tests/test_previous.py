"""The previous plan (nightly re-planning): its table is checked, changing it is priced, and what
changed overnight is a warning the plan adapts to."""

import pandas as pd
import pytest

from orplan.validate import validate_case

from conftest import config_of, make_case, planned, solve, write_table

DAY1, DAY2 = "2026-01-05", "2026-01-06"


def issues_of(folder):
    _, issues = validate_case(folder, config_of(folder))
    return {(i.code, i.row, i.column, i.severity) for i in issues}


def test_previous_plan_table_is_checked(case_dir):
    make_case(case_dir, [{}, {}, {}], [{"date": DAY1}, {"date": DAY2}],
              previous_plan=[
                  {"patient_id": "P1", "session_id": "S1", "date": "", "status": "done",
                   "pin": ""},
                  {"patient_id": "P2", "session_id": "", "date": "", "status": "", "pin": "room"},
                  {"patient_id": "P3", "session_id": "S2", "date": DAY1, "status": "Tentative",
                   "pin": "date"},
                  {"patient_id": "P9", "session_id": "S1", "date": "", "status": "", "pin": ""},
                  {"patient_id": "P1x", "session_id": "S7", "date": "", "status": "", "pin": ""}])
    found = issues_of(case_dir)
    assert ("bad-status", 2, "status", "error") in found
    assert ("bad-pin", 3, "pin", "error") in found
    assert ("missing-value", 3, "session_id", "error") in found  # neither session nor date
    assert ("previous-date-mismatch", 4, "date", "warning") in found
    assert ("previous-left-waitlist", 5, "patient_id", "warning") in found
    assert ("previous-left-waitlist", 6, "patient_id", "warning") in found


def test_closed_session_is_a_warning_and_the_day_is_kept(case_dir):
    make_case(case_dir, [{}], [{"date": DAY1}, {"date": DAY2}],
              previous_plan=[{"patient_id": "P1", "session_id": "S9", "date": DAY2}])
    assert ("previous-session-closed", 2, "session_id", "warning") in issues_of(case_dir)
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S2"}  # the booked day, in the session still open
    assert outcome.summary["terms"]["moved_date"]["value"] == 0


def two_patients_one_slot(case_dir, previous=None, config=""):
    """Two sessions of 60 minutes; P1 (more urgent) and P2 both fit either, one per session; on
    its own the optimiser puts the more urgent P1 on the first day (less waiting)."""
    make_case(case_dir, [{"urgency": "A"}, {"urgency": "C"}],
              [{"date": DAY1, "end": "09:00"}, {"date": DAY2, "end": "09:00"}],
              config="[rules]\nturnover_min = 0\nmax_overtime_min = 0\n" + config,
              **({"previous_plan": previous} if previous else {}))


def test_without_a_previous_plan_urgent_goes_first(case_dir):
    two_patients_one_slot(case_dir)
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S1", "P2": "S2"}
    terms = outcome.summary["terms"]
    assert terms["moved_date"]["value"] == 0 == terms["dropped"]["value"]


def test_confirmed_bookings_are_kept_when_moving_costs_more(case_dir):
    booked = [{"patient_id": "P1", "session_id": "S2"}, {"patient_id": "P2", "session_id": "S1"}]
    two_patients_one_slot(case_dir, booked)
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S2", "P2": "S1"}
    assert outcome.summary["terms"]["moved_date"]["value"] == 0


def test_tentative_bookings_are_cheap_to_move(case_dir):
    booked = [{"patient_id": "P1", "session_id": "S2", "status": "tentative"},
              {"patient_id": "P2", "session_id": "S1", "status": "tentative"}]
    # moving a tentative booking costs 10 % of 300; one day's less waiting for P1 gains 160
    two_patients_one_slot(case_dir, booked, "[weights]\nmove_date = 300\n")
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S1", "P2": "S2"}
    assert outcome.summary["terms"]["moved_date"]["value"] == pytest.approx(2 * 0.1 * 300)


def test_dropping_a_booking_is_priced_on_its_own(case_dir):
    # one 60-minute session; P2 was booked in a session that closed overnight
    make_case(case_dir, [{"urgency": "A"}, {"urgency": "D"}], [{"date": DAY1, "end": "09:00"}],
              previous_plan=[{"patient_id": "P2", "session_id": "S5"}],
              config="[rules]\nturnover_min = 0\nmax_overtime_min = 0\n"
                     "[weights]\ndrop_booked = 50000\n")
    outcome = solve(case_dir)
    # the booking cannot be kept where it was; dropping it costs more than leaving P1 out
    assert planned(outcome) == {"P2": "S1"}
    assert outcome.summary["terms"]["dropped"]["value"] == 0
    write_table(case_dir, "previous_plan", [{"patient_id": "P2", "session_id": "S5",
                                             "status": "tentative"}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S1"}
    assert outcome.summary["terms"]["dropped"]["value"] == pytest.approx(0.1 * 50000)


def test_solving_again_on_its_own_plan_changes_nothing(tmp_path):
    from orplan.generate import generate_case, write_case

    tables, config = generate_case("tiny", 4)
    write_case(tmp_path / "case", tables, config)
    first = solve(tmp_path / "case", tmp_path / "first", time_limit=20, gap=0.0)
    plan = pd.read_csv(tmp_path / "first" / "plan.csv", dtype=str)
    plan.to_csv(tmp_path / "case" / "previous_plan.csv", index=False)
    again = solve(tmp_path / "case", tmp_path / "again", time_limit=20, gap=0.0)
    assert planned(again) == planned(first)
    terms = again.summary["terms"]
    assert [terms[name]["value"] for name in ("dropped", "moved_date", "moved_room")] == [0, 0, 0]


def test_overnight_changes_are_listed_with_their_cause(tmp_path):
    from orplan.generate import generate_case, write_case

    tables, config = generate_case("small", 2)
    write_case(tmp_path / "case", tables, config)
    solve(tmp_path / "case", tmp_path / "first", time_limit=15, gap=0.0)
    first = pd.read_csv(tmp_path / "first" / "plan.csv", dtype=str)
    first.to_csv(tmp_path / "case" / "previous_plan.csv", index=False)
    # overnight: a booked session closes and a booked patient leaves the waitlist
    closed, gone = first["session_id"].iloc[0], first["patient_id"].iloc[-1]
    sessions = tables["sessions"]
    ids = (sessions["site"] + "-" + sessions["room"] + "-" + sessions["date"].astype(str) + "-"
           + sessions["start"].str.replace(":", ""))
    assert closed in set(ids)
    tables["sessions"] = sessions[ids != closed]
    tables["waitlist"] = tables["waitlist"][tables["waitlist"]["patient_id"] != gone]
    write_case(tmp_path / "case", tables, config)
    night = solve(tmp_path / "case", tmp_path / "night", time_limit=15, gap=0.0)
    changes = pd.read_csv(tmp_path / "night" / "changes.csv", dtype=str, keep_default_na=False)
    row = changes.set_index("patient_id").loc[gone]
    assert (row["change"], row["cause"]) == ("dropped", "left-waitlist")
    from_closed = changes[changes["session_old"] == closed]
    assert len(from_closed) == (first["session_id"] == closed).sum()
    assert set(from_closed["change"]) <= {"moved-room", "moved-date", "dropped"}
    assert set(from_closed["cause"]) == {"session-closed"}
    figures = night.summary["changes"]
    assert figures["bookings"] == len(first)
    assert figures["kept"] + figures["moved-room"] + figures["moved-date"] + figures[
        "dropped"] == len(first)
    assert figures["confirmed_changed"] == len(first) - figures["kept"]


FREE_MOVES = "[weights]\nmove_date = 0\nmove_room = 0\n"


def test_a_pinned_session_is_kept_even_when_moving_is_free(case_dir):
    booked = [{"patient_id": "P1", "session_id": "S2", "pin": "session"},
              {"patient_id": "P2", "session_id": "S1"}]
    two_patients_one_slot(case_dir, booked, FREE_MOVES)
    assert planned(solve(case_dir)) == {"P1": "S2", "P2": "S1"}
    booked[0]["pin"] = "none"  # unpinned and free to move: the urgent patient goes first
    two_patients_one_slot(case_dir, booked, FREE_MOVES)
    assert planned(solve(case_dir)) == {"P1": "S1", "P2": "S2"}


def test_a_pinned_date_keeps_the_day_not_the_room(case_dir):
    make_case(case_dir, [{"urgency": "A"}, {"urgency": "C"}, {"urgency": "C"}],
              [{"date": DAY1, "end": "09:00"}, {"date": DAY2, "end": "09:00"},
               {"date": DAY2, "end": "09:00"}],
              previous_plan=[{"patient_id": "P1", "session_id": "S2", "pin": "date"},
                             {"patient_id": "P2", "session_id": "S1"}],
              config="[rules]\nturnover_min = 0\nmax_overtime_min = 0\n" + FREE_MOVES)
    plan = planned(solve(case_dir))
    assert plan["P1"] in {"S2", "S3"} and plan["P2"] == "S1"


def test_a_pin_that_cannot_be_kept_is_released_and_listed(case_dir):
    make_case(case_dir, [{}], [{"date": DAY1}, {"date": DAY2}],
              previous_plan=[{"patient_id": "P1", "session_id": "S7", "pin": "session"}])
    assert ("pin-released", 2, "pin", "warning") in issues_of(case_dir)
    outcome = solve(case_dir)
    assert set(planned(outcome)) == {"P1"}
    changes = outcome.tables["changes"].set_index("patient_id")
    assert changes.loc["P1", "cause"] == "session-closed"


def frozen_case(case_dir, config=""):
    """Day 1 is frozen: S1 holds P1's confirmed booking and has room for one more case; P2 is
    new and urgent."""
    make_case(case_dir, [{"urgency": "C"}, {"urgency": "B"}],
              [{"date": DAY1, "end": "10:00"}, {"date": DAY2, "end": "09:00"}],
              previous_plan=[{"patient_id": "P1", "session_id": "S1"}],
              config="[rules]\nturnover_min = 0\nmax_overtime_min = 0\nfreeze_days = 1\n"
                     + config + FREE_MOVES)


def test_frozen_days_take_no_new_patient(case_dir):
    frozen_case(case_dir)
    assert planned(solve(case_dir)) == {"P1": "S1", "P2": "S2"}


def test_frozen_days_admit_the_classes_allowed(case_dir):
    frozen_case(case_dir, 'freeze_admit = ["B"]\n')
    assert planned(solve(case_dir)) == {"P1": "S1", "P2": "S1"}


def test_a_surgeon_off_sick_moves_the_booking_with_its_cause(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1"}], [{"date": DAY1}, {"date": DAY2}],
              surgeons=[{"surgeon_id": "DR1", "date": DAY2, "max_minutes": ""}],
              previous_plan=[{"patient_id": "P1", "session_id": "S1", "pin": "session"}])
    assert ("booking-lost", 2, "session_id", "warning") in issues_of(case_dir)
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S2"}
    row = outcome.tables["changes"].set_index("patient_id").loc["P1"]
    assert (row["change"], row["cause"]) == ("moved-date", "surgeon-unavailable")


def test_nightly_runs_are_reproducible_and_tell_warnings_apart(tmp_path):
    """Same input and seed, same plan (a run that finishes within its limit); a booking that
    could not be kept is a warning in summary.json with exit code 0."""
    import json

    from typer.testing import CliRunner

    from orplan.cli import app
    from orplan.generate import generate_case, write_case

    tables, config = generate_case("tiny", 6)
    write_case(tmp_path / "case", tables, config)
    runner = CliRunner()
    outputs = []
    for name in ("a", "b"):
        result = runner.invoke(app, ["solve", str(tmp_path / "case"), "-o", str(tmp_path / name),
                                     "--quiet"])
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / name / "plan.csv").read_text())
        assert json.loads((tmp_path / name / "summary.json").read_text())["status"] == "optimal"
    assert outputs[0] == outputs[1]
    plan = pd.read_csv(tmp_path / "a" / "plan.csv", dtype=str)
    plan.loc[0, "session_id"] = "CLOSED-SESSION"
    plan.to_csv(tmp_path / "case" / "previous_plan.csv", index=False)
    result = runner.invoke(app, ["solve", str(tmp_path / "case"), "-o", str(tmp_path / "c"),
                                 "--quiet"])
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["warnings"] >= 1 and summary["changes"]["bookings"] == len(plan)


def _no_plan(*args, **kwargs):  # type: ignore[no-untyped-def]
    """A solver that finds nothing in time."""
    from orplan.solve import SolveReport, SolveResult, Status

    report = SolveReport(Status.NO_PLAN, None, None, None, 1.0,
                         "stopped by orplan at the time limit", "HiGHS", 1.0)
    return SolveResult(report, None)


def test_the_previous_plan_is_kept_when_the_solver_finds_nothing_better(tmp_path, monkeypatch):
    from orplan import pipeline
    from orplan.generate import generate_case, write_case

    tables, config = generate_case("small", 7)
    # with the [weights] alone: with priority tiers, a previous plan that the planner's rule
    # (which takes the bookings first) beats in some urgency class is levelled with it, see
    # test_a_previous_plan_behind_the_planners_rule_is_levelled
    write_case(tmp_path / "case", tables, config + "\n[priority]\ntiers = []\n")
    first = solve(tmp_path / "case", tmp_path / "first", time_limit=15, gap=0.0)
    (tmp_path / "first" / "plan.csv").replace(tmp_path / "case" / "previous_plan.csv")

    monkeypatch.setattr(pipeline, "solve_stage", _no_plan)
    again = solve(tmp_path / "case", tmp_path / "again")
    assert again.summary["plan_source"] == "previous plan"
    assert again.summary["solver_status"].endswith("the previous plan was better and was written")
    assert planned(again) == planned(first)
    assert again.tables["plan"]["start"].tolist() == first.tables["plan"]["start"].tolist()
    assert again.summary["changes"]["confirmed_changed"] == 0


def test_the_previous_plan_filled_takes_new_urgent_patients(tmp_path, monkeypatch):
    """Overnight a booked patient leaves the waitlist and an urgent referral arrives. Even when
    the solver finds nothing, the plan written keeps every other booking where it was and puts
    the urgent patient into the time that was freed (the previous plan, filled by the greedy
    rule) rather than keeping last night's plan as it was."""
    from orplan import pipeline
    from orplan.generate import generate_case, write_case

    tables, config = generate_case("small", 7)
    # with the [weights] alone (with tiers the filled plan may be levelled with the planner's
    # rule, see test_a_previous_plan_behind_the_planners_rule_is_levelled)
    write_case(tmp_path / "case", tables, config + "\n[priority]\ntiers = []\n")
    first = solve(tmp_path / "case", tmp_path / "first", time_limit=15, gap=0.0)
    plan = pd.read_csv(tmp_path / "first" / "plan.csv", dtype=str)
    plan.to_csv(tmp_path / "case" / "previous_plan.csv", index=False)
    waitlist = pd.read_csv(tmp_path / "case" / "waitlist.csv", dtype=str, keep_default_na=False)
    gone = plan.sort_values("duration_min", key=lambda d: d.astype(float)).iloc[-1]
    urgent = waitlist[waitlist["patient_id"] == gone["patient_id"]].copy()
    urgent["patient_id"], urgent["urgency"], urgent["deadline"] = "NEW-URGENT", "A", ""
    urgent["duration_min"] = "30"
    waitlist = pd.concat([waitlist[waitlist["patient_id"] != gone["patient_id"]], urgent])
    waitlist.to_csv(tmp_path / "case" / "waitlist.csv", index=False)

    monkeypatch.setattr(pipeline, "solve_stage", _no_plan)
    again = solve(tmp_path / "case", tmp_path / "again")
    assert again.summary["plan_source"] == "previous plan filled"
    assert again.violations == []
    kept = planned(first)
    del kept[gone["patient_id"]]
    now = planned(again)
    assert {p: now.get(p) for p in kept} == kept
    assert "NEW-URGENT" in now
    assert again.summary["changes"]["confirmed_dropped"] == 1  # the one who left


def test_a_previous_plan_behind_the_planners_rule_is_levelled(tmp_path, monkeypatch):
    """With the default priority tiers the plan written is never behind the planner's rule, also
    when last night's plan is (the planner's rule takes the bookings first and may then plan
    more patients of some class due or overdue): the previous plan is then levelled with it."""
    from orplan import pipeline
    from orplan.dominance import clinical_counts, dominates
    from orplan.generate import generate_case, write_case
    from orplan.model.build import planning_data

    tables, config = generate_case("small", 7)
    write_case(tmp_path / "case", tables, config)
    solve(tmp_path / "case", tmp_path / "first", time_limit=15, gap=0.0)
    (tmp_path / "first" / "plan.csv").replace(tmp_path / "case" / "previous_plan.csv")
    monkeypatch.setattr(pipeline, "solve_stage", _no_plan)
    again = solve(tmp_path / "case", tmp_path / "again")
    behind = {c["name"]: c.get("behind_planners_rule") for c in again.summary["candidates"]}
    assert behind["planner's rule"] is False
    if behind["previous plan"]:
        assert again.summary["plan_source"] != "previous plan"
    data = planning_data(again.case)
    greedy = pipeline.extract_stage(data, pipeline.greedy_stage(data).chosen)
    written = again.tables["plan"].assign(date=lambda f: pd.to_datetime(f["date"]))
    assert dominates(clinical_counts(data, written), clinical_counts(data, greedy.plan))
    assert again.violations == []
