"""Replaying plans with sampled durations (orplan.simulate, `orplan simulate`)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from orplan import simulate as sim
from orplan.cli import app
from orplan.durations import DurationFit, norm_ppf
from orplan.validate import load_case

from conftest import config_of, make_case, solve

runner = CliRunner()


def loaded(folder: Path, **durations: object):  # type: ignore[no-untyped-def]
    case, issues = load_case(folder, config_of(folder))
    assert case is not None
    if durations:
        case.config = dataclasses.replace(
            case.config, durations=dataclasses.replace(case.config.durations, **durations))
    return case


def plan_of(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(patient, session, start, end) -> a typed plan."""
    def minutes(text: str) -> float:
        return float(int(text[:2]) * 60 + int(text[3:]))

    return pd.DataFrame({"patient_id": [r[0] for r in rows], "session_id": [r[1] for r in rows],
                         "start": [minutes(r[2]) for r in rows],
                         "end": [minutes(r[3]) for r in rows]})


def test_one_case_matches_the_log_normal_tail(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": 240}], [{}])
    case = loaded(folder, sigma=0.3)
    result = sim.simulate(case, plan_of([("P1", "S1", "08:00", "12:00")]), 20_000, seed=1)
    row = result.sessions.iloc[0]
    # mean 240 min in a 240-minute session: P(d > 240) = P(Z > sigma / 2)
    expected = 0.5 * math.erfc(0.15 / math.sqrt(2))
    assert row["p_overtime"] == pytest.approx(expected, abs=0.01)
    assert row["p_over_allowed"] == pytest.approx(row["p_overtime"])  # no overtime allowed
    assert row["expected_cancelled"] == 0.0
    assert result.totals["duration_source"] == {"planned": 1}


def test_a_case_that_cannot_start_in_time_is_cancelled_with_the_rest(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": 300}, {"duration_min": 30},
                                        {"duration_min": 30}], [{}],
                       config="[rules]\nturnover_min = 15\nmax_overtime_min = 30\n")
    case = loaded(folder, sigma=1e-6, turnover_sigma=0.0)
    plan = plan_of([("P1", "S1", "08:00", "13:00"), ("P2", "S1", "13:15", "13:45"),
                    ("P3", "S1", "14:00", "14:30")])
    result = sim.simulate(case, plan, 50)
    row = result.sessions.iloc[0]
    # the first case ends 13:00, past 12:00 + 30 min: the two after it never start
    assert row["expected_cancelled"] == pytest.approx(2.0)
    assert row["expected_overtime_min"] == pytest.approx(60.0, abs=1e-3)
    assert row["p_over_allowed"] == 1.0
    assert result.totals["expected_cancelled"] == pytest.approx(2.0)


def test_planned_starts_hold_only_without_early_start(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": 30}, {"duration_min": 60}], [{}])
    plan = plan_of([("P1", "S1", "08:00", "08:30"), ("P2", "S1", "11:30", "12:30")])
    held = sim.simulate(loaded(folder, sigma=1e-6, early_start=False), plan, 20)
    assert held.sessions.iloc[0]["expected_overtime_min"] == pytest.approx(30.0, abs=1e-3)
    running = sim.simulate(loaded(folder, sigma=1e-6, early_start=True), plan, 20)
    assert running.sessions.iloc[0]["expected_overtime_min"] == pytest.approx(0.0, abs=1e-3)


def _reference(case, plan: pd.DataFrame, runs: int, fit: DurationFit | None,  # type: ignore[no-untyped-def]
               seed: int) -> pd.DataFrame:
    """The replay written as loops over runs, sessions and cases, with the same draws."""
    settings = case.config.durations
    cases = sim.plan_cases(case, plan)
    model = sim.case_durations(cases["specialty"], cases["procedure"], cases["surgeon_id"],
                               cases["minutes"].to_numpy(), fit, settings.sigma)
    sessions = case.sessions.set_index("session_id")
    turnover = case.config.turnover_min
    t_mu = math.log(turnover) - settings.turnover_sigma ** 2 / 2
    rng = np.random.default_rng(seed)
    n = len(cases)
    stats: dict[str, list[float]] = {}
    done = 0
    while done < runs:
        size = min(sim.CHUNK, runs - done)
        minutes = np.exp(model.mu + model.sigma * rng.standard_normal((size, n)))
        gaps = np.exp(t_mu + settings.turnover_sigma * rng.standard_normal((size, n)))
        for r in range(size):
            for session_id, group in cases.groupby("session_id", sort=False):
                row = sessions.loc[session_id]
                end = row["end"]
                limit = end + (row["max_overtime_min"] if not math.isnan(row["max_overtime_min"])
                               else case.config.max_overtime_min)
                clock, finish, lost = -math.inf, -math.inf, 0
                for k, i in enumerate(group.index):
                    release = group.loc[i, "start"] if (k == 0 or not settings.early_start) else (
                        -math.inf)
                    start = max(release, clock)
                    if start >= limit:
                        lost += 1
                        clock = start + minutes[r, i] + gaps[r, i]
                        continue
                    finish = start + minutes[r, i]
                    clock = finish + gaps[r, i]
                s = stats.setdefault(session_id, [0.0, 0.0, 0.0, 0.0])
                s[0] += finish > end + 1e-9
                s[1] += finish > limit + 1e-9
                s[2] += max(0.0, finish - end)
                s[3] += lost
        done += size
    return pd.DataFrame([[k, *(v / runs for v in values)] for k, values in stats.items()],
                        columns=["session_id", "p_overtime", "p_over_allowed",
                                 "expected_overtime_min", "expected_cancelled"])


@pytest.mark.parametrize("early_start", [True, False])
def test_vectorised_replay_equals_loops(tmp_path: Path, early_start: bool) -> None:
    rng = np.random.default_rng(5)
    waitlist = [{"duration_min": int(rng.integers(20, 150)), "procedure": f"X{i % 3}"}
                for i in range(24)]
    sessions = [{"end": "12:00"}, {"end": "15:00", "max_overtime_min": 45}, {"end": "10:00"}]
    folder = make_case(tmp_path / "c", waitlist, sessions,
                       config="[rules]\nturnover_min = 20\nmax_overtime_min = 15\n")
    case = loaded(folder, early_start=early_start)
    rows, clock = [], {"S1": 480.0, "S2": 480.0, "S3": 480.0}
    for i, entry in enumerate(waitlist):
        session = f"S{i % 3 + 1}"
        start = clock[session]
        rows.append((f"P{i + 1}", session, start, start + entry["duration_min"]))
        clock[session] = start + entry["duration_min"] + 20 + (10 if i % 4 == 0 else 0)
    plan = pd.DataFrame(rows, columns=["patient_id", "session_id", "start", "end"])
    fit = DurationFit(pd.DataFrame({
        "level": ["procedure", "all"], "specialty": ["ORTH", ""], "procedure": ["X1", ""],
        "surgeon_id": ["", ""], "cases": [50, 50], "mu": [4.2, 4.0], "sigma": [0.5, 0.35]}))
    runs = sim.CHUNK + 150  # two chunks
    fast = sim.simulate(case, plan, runs, fit, seed=3).sessions.set_index("session_id")
    slow = _reference(case, plan, runs, fit, 3).set_index("session_id")
    for column in slow.columns:
        assert np.allclose(fast.loc[slow.index, column], slow[column], atol=1e-9), column


def test_same_seed_same_figures_other_seed_other_draws(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": 120}, {"duration_min": 110}], [{}])
    case = loaded(folder)
    plan = plan_of([("P1", "S1", "08:00", "10:00"), ("P2", "S1", "10:00", "11:50")])
    a, b = sim.simulate(case, plan, 500, seed=4), sim.simulate(case, plan, 500, seed=4)
    c = sim.simulate(case, plan, 500, seed=5)
    pd.testing.assert_frame_equal(a.sessions, b.sessions)
    assert not a.sessions.equals(c.sessions)


def test_cli_simulate_writes_into_the_output_folder(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": d, "procedure": "HIP"}
                                        for d in (90, 100, 80, 60)], [{}, {}],
                       config="[rules]\nturnover_min = 15\nmax_overtime_min = 30\n")
    out = tmp_path / "out"
    outcome = solve(folder, out, time_limit=10)
    assert outcome.summary["kpis"]["patients_planned"] == 4
    fit = tmp_path / "durations.csv"
    pd.DataFrame([{"level": "procedure", "specialty": "ORTH", "procedure": "HIP", "cases": 40,
                   "mu": math.log(100), "sigma": 0.3}]).to_csv(fit, index=False)
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    assert "Risk of overtime" not in (out / "report.html").read_text(encoding="utf-8")
    result = runner.invoke(app, ["simulate", str(folder), str(out), "--runs", "2000", "-d",
                                 str(fit), "--write"])
    assert result.exit_code == 0, result.output
    assert "2,000 replays of 4 cases in 2 sessions (seed 0; case minutes from: procedure 4)" in (
        result.output)
    table = pd.read_csv(out / "simulation.csv")
    assert list(table["session_id"]) == sorted(table["session_id"]) and len(table) == 2
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["simulation"]["runs"] == 2000 and summary["objective"] > 0
    assert summary["simulation"]["expected_cancelled"] == pytest.approx(
        table["expected_cancelled"].sum(), abs=0.01)
    # the report is refreshed with the replay's figures
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Risk of overtime and cancellations" in report and 'id="simulated"' in report
    assert "2,000 replays (seed 0)" in report
    # a plan file works too, and the figures do not depend on how the plan is given
    again = runner.invoke(app, ["simulate", str(folder), str(out / "plan.csv"), "--runs", "2000",
                                "-d", str(fit)])
    assert again.exit_code == 0 and again.output.split("\n")[:8] == result.output.split("\n")[:8]


def test_cli_simulate_bad_input(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": 60}], [{}])
    plan = tmp_path / "plan.csv"
    plan.write_text("patient_id,session_id,start,end\nP1,NOPE,08:00,09:00\nP9,S1,08:00,09:00\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["simulate", str(folder), str(plan)])
    assert result.exit_code == 3
    assert "plan.csv, row 2, column session_id: the session is not in sessions.csv" in (
        result.output)
    assert "plan.csv, row 3, column patient_id: the patient is not in waitlist.csv" in (
        result.output)
    bad_fit = tmp_path / "durations.csv"
    bad_fit.write_text("level,cases,mu,sigma\nprocedure,3,4.1,0.2\n", encoding="utf-8")
    result = runner.invoke(app, ["simulate", str(folder), str(plan), "-d", str(bad_fit)])
    assert result.exit_code == 3
    assert "durations.csv, row 2, column procedure: a row of level procedure needs its " \
           "procedure" in result.output
    result = runner.invoke(app, ["simulate", str(folder), str(plan), "--write"])
    assert result.exit_code == 2 and "--write needs PLAN to be an output folder" in result.output


def test_norm_ppf_inverts_the_tail() -> None:
    for p in (0.05, 0.1, 0.3):
        assert 0.5 * math.erfc(norm_ppf(1 - p) / math.sqrt(2)) == pytest.approx(p, abs=1e-9)


def test_blank_minutes_filled_by_the_fit_for_validate_and_simulate(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": "", "procedure": "HIP"},
                                        {"duration_min": 60, "procedure": "HIP"}], [{}])
    fit = tmp_path / "durations.csv"
    pd.DataFrame([{"level": "procedure", "specialty": "ORTH", "procedure": "HIP", "cases": 40,
                   "mu": math.log(100), "sigma": 0.3}]).to_csv(fit, index=False)
    blank = runner.invoke(app, ["validate", str(folder)])
    assert blank.exit_code == 3 and "waitlist.csv, row 2, column duration_min" in blank.output
    filled = runner.invoke(app, ["validate", str(folder), "-d", str(fit)])
    assert filled.exit_code == 0, filled.output
    plan = tmp_path / "plan.csv"
    plan.write_text("patient_id,session_id,start,end\nP1,S1,08:00,09:45\nP2,S1,09:45,10:45\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["simulate", str(folder), str(plan), "-d", str(fit), "-n", "100"])
    assert result.exit_code == 0, result.output
    assert "100 replays of 2 cases in 1 session (seed 0" in result.output
