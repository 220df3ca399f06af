"""The command line end to end with Typer's runner: exit codes and messages word for word."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orplan.cli import app

from conftest import make_case

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def small(case_dir: Path) -> Path:
    return make_case(case_dir, [{"duration_min": 90, "surgeon_id": "DR1"},
                                {"duration_min": 120, "urgency": "A"},
                                {"duration_min": 200, "specialty": "GYN"}],
                     [{}, {"specialty": "ORTH"}],
                     config="[rules]\nturnover_min = 30\n[solver]\ntime_limit = 20\n")


def test_validate_valid_case(small):
    result = run("validate", small)
    assert result.exit_code == 0
    assert result.stdout == "valid: 0 errors, 0 warning(s)\n"


def test_validate_invalid_case_lists_everything(small):
    (small / "sessions.csv").write_text("site,room,date,start,end\nA,1,2026-01-05,15:00,08:00\n"
                                        "A,1,2026-01-06,08:00,25:00\n")
    result = run("validate", small)
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "error [bad-time] sessions.csv, row 3, column end: '25:00' is not a time as HH:MM",
        "error [end-before-start] sessions.csv, row 2, column end: session ends (08:00) at or "
        "before it starts (15:00); check start and end",
        "invalid: 2 error(s), 0 warning(s)",
    ]


def test_missing_case_folder(tmp_path):
    result = run("validate", tmp_path / "nowhere")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"error [missing-file] {tmp_path / 'nowhere'}: case folder {tmp_path / 'nowhere'} does "
        "not exist or is not a folder")


def test_solve_writes_outputs_and_check_passes(small, tmp_path):
    out = tmp_path / "out"
    result = run("solve", small, "-o", out, "--threads", "1", "--seed", "0")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "breaches.csv", "plan.csv", "sessions.csv", "summary.json", "unscheduled.csv"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert set(summary["times_s"]) == {"startup", "load", "prepare", "keepable", "start_plan",
                                       "build", "solve", "extract", "verify", "report", "write",
                                       "total"}
    assert summary["plan_source"] == "solver"
    assert summary["inputs"].keys() == {"orplan.toml", "sessions.csv", "waitlist.csv"}
    assert "status: optimal  gap: 0.0 %" in result.stdout
    check = run("check", small, out)
    assert check.exit_code == 0
    assert check.stdout == "plan keeps every rule (3 cases checked)\n"


def test_no_patient_identifiers_in_terminal_output(small, tmp_path):
    result = run("solve", small, "-o", tmp_path / "out")
    assert not re.search(r"\bP[123]\b", result.output)


def test_solve_parquet_format(small, tmp_path):
    out = tmp_path / "out"
    assert run("solve", small, "-o", out, "--format", "parquet").exit_code == 0
    assert (out / "plan.parquet").exists()
    assert run("check", small, out).exit_code == 0


def test_check_reports_violations(small, tmp_path):
    plan = tmp_path / "manual.csv"
    plan.write_text("patient_id,session_id,start,end\nP1,S1,08:00,09:30\nP2,S1,09:00,11:00\n")
    result = run("check", small, plan)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "violation [room-overlap] at S1: case starts 09:00, overlaps the previous case in room R1,"
        " which ends 09:30; 30 min turnover is needed",
        "plan breaks 1 rule(s) (2 cases checked)",
    ]
    shown = run("check", small, plan, "--show-ids")
    assert "patient P2 at S1" in shown.stderr


def test_check_with_bad_plan_file(small, tmp_path):
    plan = tmp_path / "plan.csv"
    plan.write_text("patient_id,session_id,start\nP1,S1,08:00\n")
    result = run("check", small, plan)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        "error [missing-column] plan.csv, row 1, column end: required column 'end' is missing; "
        "the header has: patient_id, session_id, start")


def test_invalid_input_never_writes_output(small, tmp_path):
    (small / "waitlist.csv").write_text("patient_id,specialty,duration_min\nP1,ORTH,abc\n")
    out = tmp_path / "out"
    result = run("solve", small, "-o", out)
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[-1] == ("1 input error(s): nothing was planned. Fix them and"
                                              " run again (`orplan validate CASE` lists them all).")
    assert not out.exists()


def test_bad_config(small, tmp_path):
    (small / "orplan.toml").write_text("[weights]\nidle_min = 'lots'\nspeed = 3\n")
    result = run("solve", small, "-o", tmp_path / "out")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "error [config-type] orplan.toml, column weights.idle_min: 'weights.idle_min' must be a "
        "non-negative number, got 'lots'",
        "error [config-unknown-key] orplan.toml, column weights.speed: unknown key "
        "'weights.speed'; known keys: deadline_breach, drop_booked, idle_min, move_date, "
        "move_room, open_session, overdue_per_day, overtime_min, room_switch, tentative_share, "
        "unscheduled, waiting_day",
        "invalid configuration: nothing was planned",
    ]


def test_usage_errors_exit_2(small, tmp_path):
    assert run().exit_code == 2
    assert run("solve", small).exit_code == 2  # -o is required
    result = run("solve", small, "-o", tmp_path / "o", "--format", "xml")
    assert result.exit_code == 2
    assert result.stderr == "--format must be csv, parquet or xlsx, not 'xml'\n"


def test_generate_then_validate(tmp_path):
    result = run("generate", "--profile", "tiny", "--seed", "2", "-o", tmp_path / "g")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"wrote tiny case (seed 2) to {tmp_path / 'g'}: 20 patients")
    assert run("validate", tmp_path / "g").exit_code == 0
    again = run("generate", "--profile", "tiny", "-o", tmp_path / "g")
    assert again.exit_code == 2


@pytest.mark.parametrize("command", ["solve", "validate", "check", "generate", "bench", "report",
                                     "compare", "diff", "simulate", "durations fit"])
def test_every_command_has_help_with_examples(command):
    result = run(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout


def test_readme_lists_every_command():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for command in app.registered_commands:
        assert f"orplan {command.name or command.callback.__name__}" in readme
    for group in app.registered_groups:
        for command in group.typer_instance.registered_commands:
            assert f"orplan {group.name} {command.name}" in readme


def test_solver_without_a_plan_falls_back_to_its_starting_plan(small, tmp_path, monkeypatch):
    from orplan import pipeline
    from orplan.solve import SolveReport, SolveResult, Status

    def no_plan(*args, **kwargs):
        report = SolveReport(Status.NO_PLAN, None, None, None, 1.0,
                             "stopped by orplan at the time limit", "HiGHS", 1.0)
        return SolveResult(report, None)

    monkeypatch.setattr(pipeline, "solve_stage", no_plan)
    out = tmp_path / "out"
    result = run("solve", small, "-o", out)
    assert result.exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "heuristic"
    assert summary["solver_status"].startswith("stopped by orplan at the time limit; the ")
    assert summary["solver_status"].endswith(" was written")
    assert "warning: the solver found no better plan (stopped by orplan" in result.stderr
    assert summary["plan_source"] == "greedy start"
    # the greedy fills the first session with the two ORTH cases; the GYN case fits nowhere else
    assert summary["kpis"]["patients_planned"] == 2
    assert run("check", small, out).exit_code == 0


def test_unexpected_error_is_one_line_unless_debug(small, tmp_path, monkeypatch):
    from orplan import pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(pipeline, "planning_data", broken)
    result = run("solve", small, "-o", tmp_path / "out")
    assert result.exit_code == 5
    assert result.stderr == ("orplan failed: RuntimeError: model exploded (run with --debug for "
                             "details)\n")
    debug = run("solve", small, "-o", tmp_path / "out", "--debug")
    assert "Traceback" in debug.stderr


def test_greedy_method(small, tmp_path):
    out = tmp_path / "out"
    result = run("solve", small, "-o", out, "--method", "greedy")
    assert result.exit_code == 0
    assert "status: heuristic  gap: -" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["method"] == "greedy"
    assert run("check", small, out).exit_code == 0
    bad = run("solve", small, "-o", out, "--method", "magic")
    assert bad.exit_code == 2
    assert bad.stderr == "--method must be milp or greedy, not 'magic'\n"


def test_bench_writes_a_table(tmp_path):
    case = tmp_path / "tiny"
    assert run("generate", "--profile", "tiny", "-o", case).exit_code == 0
    prefix = tmp_path / "bench" / "table"
    result = run("bench", case, "-m", "greedy", "-m", "milp", "-t", "20", "-o", prefix)
    assert result.exit_code == 0, result.output
    import pandas as pd

    table = pd.read_csv(prefix.with_suffix(".csv"))
    assert table["method"].tolist() == ["greedy", "milp"]
    assert table["status"].tolist() == ["heuristic", "optimal"]
    assert (table["exit_code"] == 0).all()
    assert table["planned"].notna().all() and table["peak_mb"].gt(0).all()
    assert table.loc[1, "objective"] <= table.loc[0, "objective"]
    assert prefix.with_suffix(".md").read_text().startswith("Made by `orplan ")


def test_readme_documents_every_config_key():
    from orplan.config import CONFIG_KEYS

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `[")]
    for section, key, _ in CONFIG_KEYS:
        section = section.replace("<KEY>", "KEY")
        names = [name.strip() for name in key.split("/")]
        lines = [line for line in rows if line.startswith(f"| `[{section}]")]
        assert lines, section
        for name in names:
            assert any(f" {name}`" in line.split("|")[1] or f"`{name}`" in line.split("|")[1]
                       for line in lines), f"[{section}] {name}"
