"""orplan compare: two plans for one case, evaluated alike, checked, and diffed by patient."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from orplan.cli import app
from orplan.generate import generate_case, write_case
from orplan.io.plan_file import read_plan
from orplan.reports.compare import kpi_table, patient_changes, plan_figures

from conftest import loaded, solve

runner = CliRunner()


@pytest.fixture(scope="module")
def two_plans(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A small case with orplan's plan and the planner's rule's plan."""
    root = tmp_path_factory.mktemp("compare")
    tables, config = generate_case("small", 5)
    write_case(root / "case", tables, config)
    solve(root / "case", root / "milp", time_limit=15, gap=0.0)
    solve(root / "case", root / "greedy", method="greedy")
    return root / "case", root / "milp", root / "greedy"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_own_plan_is_evaluated_as_solve_reported_it(two_plans):
    case, milp, _ = two_plans
    summary = json.loads((milp / "summary.json").read_text())
    plan, issues = read_plan(milp)
    figures = plan_figures(loaded(case), plan)
    assert figures.violations == [] and figures.ignored == 0
    assert figures.objective == pytest.approx(summary["objective"], rel=1e-9)
    for key in ("patients_planned", "deadline_kept", "deadline_breaches", "overtime_min",
                "idle_min", "room_switches", "utilisation_staffed"):
        assert figures.kpis[key] == pytest.approx(summary["kpis"][key]), key


def test_a_plan_against_itself_differs_in_nothing(two_plans):
    case, milp, _ = two_plans
    result = run("compare", case, milp, milp)
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(milp / "plan.csv")
    assert f"same session {len(plan)}, same day, other session 0, other day 0, only in A 0, " \
        "only in B 0" in result.output
    assert "plan A keeps every rule" in result.output


def test_compare_milp_with_planners_rule_and_write_files(two_plans, tmp_path):
    case, milp, greedy = two_plans
    result = run("compare", case, greedy, milp, "-o", tmp_path / "cmp")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    objective = table.set_index("figure").loc["objective"]
    assert objective["difference"] == pytest.approx(objective["b"] - objective["a"])
    assert objective["better"] == "b"  # the optimiser's plan beats the planner's rule
    changes = pd.read_csv(tmp_path / "cmp" / "patients.csv")
    planned_a = len(pd.read_csv(greedy / "plan.csv"))
    assert (changes["change"] != "only-b").sum() == planned_a
    assert set(changes["change"]) <= {"same", "room", "date", "only-a", "only-b"}


def test_hand_made_plan_is_checked_and_ids_stay_hidden(two_plans, tmp_path):
    case, milp, _ = two_plans
    plan = pd.read_csv(milp / "plan.csv", dtype=str)
    hand = plan[["patient_id", "session_id", "start", "end"]].copy()  # the minimum columns
    hand = pd.concat([hand, hand.iloc[[0]]])  # the first patient twice
    hand.iloc[1, hand.columns.get_loc("end")] = "23:00"  # a case running past overtime
    hand.to_csv(tmp_path / "manual.csv", index=False)
    result = run("compare", case, tmp_path / "manual.csv", milp)
    assert result.exit_code == 1  # a plan breaks rules
    assert "plan A breaks" in result.output and "plan B keeps every rule" in result.output
    assert "patient-twice" in result.output and "past-overtime" in result.output
    assert "1 row(s) left out of the figures" in result.output
    assert plan["patient_id"].iloc[0] not in result.output
    shown = run("compare", case, tmp_path / "manual.csv", milp, "--show-ids")
    assert plan["patient_id"].iloc[0] in shown.output


def test_unreadable_plan_is_a_clear_error(two_plans, tmp_path):
    case, milp, _ = two_plans
    (tmp_path / "bad.csv").write_text("patient_id,session_id,start\nP1,S1,08:00\n")
    result = run("compare", case, tmp_path / "bad.csv", milp)
    assert result.exit_code == 3
    assert "end" in result.output and "error(s) in the plan" in result.output


def test_patient_changes_classify_every_move(two_plans):
    case, _, _ = two_plans
    data = loaded(case)
    sessions = data.sessions.sort_values(["date", "start"]).drop_duplicates("session_id")
    first_day = sessions[sessions["date"] == sessions["date"].min()]["session_id"].tolist()
    other_day = sessions[sessions["date"] > sessions["date"].min()]["session_id"].iloc[0]
    p = data.waitlist["patient_id"].tolist()

    def frame(rows):
        return pd.DataFrame(rows, columns=["patient_id", "session_id", "start", "end"])

    a = frame([(p[0], first_day[0], 480.0, 540.0), (p[1], first_day[0], 570.0, 600.0),
               (p[2], first_day[0], 630.0, 660.0), (p[3], first_day[0], 690.0, 700.0)])
    b = frame([(p[0], first_day[0], 480.0, 540.0), (p[1], first_day[1], 480.0, 510.0),
               (p[2], other_day, 480.0, 510.0), (p[4], first_day[1], 540.0, 560.0)])
    changes = patient_changes(data, a, b).set_index("patient_id")["change"].to_dict()
    assert changes == {p[0]: "same", p[1]: "room", p[2]: "date", p[3]: "only-a", p[4]: "only-b"}


def test_kpi_table_says_which_is_better(two_plans):
    case, milp, greedy = two_plans
    data = loaded(case)
    a = plan_figures(data, read_plan(greedy)[0])
    b = plan_figures(data, read_plan(milp)[0])
    table = kpi_table(a, b).set_index("figure")
    assert table.loc["objective", "better"] == ("b" if b.objective < a.objective else "a")
    assert table.loc["rule violations", "better"] == ""
