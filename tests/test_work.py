"""Reproducible budgets (orplan.work): stages stop by counted work, not by the wall clock."""

from __future__ import annotations

import time
from pathlib import Path

import highspy
import numpy as np
import pytest

import orplan.refill
from orplan.generate import generate_case, write_case
from orplan.pipeline import SolveOptions, run_solve, solver_budget
from orplan.work import COSTS, Work

from conftest import FakeClock, config_of


def test_counted_clock_moves_only_with_work() -> None:
    work = Work(budget=2.0, hard=time.time() + 60, deterministic=True)
    time.sleep(0.05)
    assert work.now() == 0.0 and work.left() == 2.0
    spent = work.charge("refill", ("refill_pair", 100_000))
    assert spent == pytest.approx(work.estimate(("refill_pair", 100_000))) and 0 < spent < 2.0
    assert work.now() == pytest.approx(spent)
    # a stage stops before work that would pass its deadline, not after
    assert not work.done("refill", deadline=2.0)
    assert work.done("refill", deadline=2.0, next_cost=2.0 - spent)
    assert work.cut == []
    assert work.figures()["units"] == {"refill": {"refill_pair": 100_000}}


def test_wall_clock_stops_any_stage_and_is_recorded() -> None:
    work = Work(budget=100.0, hard=time.time() - 1.0, deterministic=True)
    assert work.done("patterns", deadline=50.0)
    assert work.cut == ["patterns"]
    # with the wall clock in charge, running out of time is expected, not a broken promise
    clock = Work(budget=100.0, hard=time.time() - 1.0, deterministic=False)
    assert clock.done("patterns", deadline=50.0) and clock.cut == []


def _lp(n: int = 400, m: int = 300) -> highspy.Highs:
    rng = np.random.default_rng(0)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.addVars(n, np.zeros(n), np.ones(n))
    highs.changeColsCost(n, np.arange(n, dtype=np.int32), -rng.random(n))
    for _ in range(m):
        index = np.flatnonzero(rng.random(n) < 0.2).astype(np.int32)
        highs.addRow(-highspy.kHighsInf, 10.0, len(index), index, rng.random(len(index)))
    return highs


def test_lp_budget_is_simplex_iterations() -> None:
    """A deterministic LP stops at the iterations its budget buys, the same every time."""
    counts = []
    for _ in range(2):
        highs = _lp()
        work = Work(budget=10.0, hard=time.time() + 60, deterministic=True)
        per_iteration = work.estimate(("simplex_column", highs.getNumCol()))
        assert not work.run_lp(highs, "compact LP", 20 * per_iteration)
        assert highs.getModelStatus() == highspy.HighsModelStatus.kIterationLimit
        counts.append(highs.getInfo().simplex_iteration_count)
        assert work.now() == pytest.approx(counts[-1] * per_iteration
                                           + work.estimate(("lp_solve", 1)))
        assert work.cut == []
    assert counts[0] == counts[1] == 20
    # with enough budget it solves to optimality
    highs = _lp()
    assert Work(10.0, time.time() + 60).run_lp(highs, "compact LP", 10.0)


def test_budget_depends_on_the_case_size_and_options_only() -> None:
    assert solver_budget(60.0, 650_000, 450) == solver_budget(60.0, 650_000, 450)
    assert solver_budget(60.0, 650_000, 450) < solver_budget(60.0, 6_000, 450) < 60.0
    assert solver_budget(60.0, 6_000, 2_700) < solver_budget(60.0, 6_000, 50)
    assert solver_budget(60.0, 6_000, 50, extras=3.0) == pytest.approx(
        solver_budget(60.0, 6_000, 50) - 3.0)
    assert solver_budget(1.0, 650_000, 450) == 0.5  # never nothing


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("work") / "case"
    tables, config = generate_case("example", 3)
    write_case(folder, tables, config)
    return folder


def _solve(folder: Path, out: Path, deterministic: bool = True,  # type: ignore[no-untyped-def]
           time_limit: float = 12.0):
    options = SolveOptions(time_limit=time_limit, gap=0.0, threads=1, seed=0, isolate=False,
                           deterministic=deterministic)
    return run_solve(folder, out, config_of(folder), options)


def test_same_plan_on_a_slower_machine(demo_case: Path, tmp_path: Path, fake_clock: FakeClock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The stages of a 12 s run of a 600-patient week are cut by their budgets, not by finishing;
    when every refilling round takes 0.2 s longer (a slower or busier machine: the wall clock the
    solve reads is the test's own, so how busy this machine is does not matter), the plan is the
    same to the byte."""
    first = _solve(demo_case, tmp_path / "a")
    assert first.summary["reproducible"] is True
    figures = first.summary["work"]
    assert figures["deterministic"] is True and figures["cut_by_clock"] == []
    assert set(figures["counted_s"]) >= {"compact LP", "LP plans", "patterns"}

    slow_values = orplan.refill.session_values

    def slower(*args, **kwargs):  # type: ignore[no-untyped-def]
        fake_clock.advance(0.2)
        return slow_values(*args, **kwargs)

    monkeypatch.setattr(orplan.refill, "session_values", slower)
    second = _solve(demo_case, tmp_path / "b")
    assert second.summary["reproducible"] is True
    assert (tmp_path / "a" / "plan.csv").read_bytes() == (tmp_path / "b" / "plan.csv").read_bytes()
    assert second.summary["objective"] == first.summary["objective"]
    assert second.summary["work"]["counted_s"] == figures["counted_s"]
    rounds = second.summary["work"]["units"]["refill"]
    assert rounds["refill_session"] > 0
    assert second.summary["work"]["wall_s"]["refill"] > figures["wall_s"]["refill"] + 0.2


def test_wall_clock_mode_says_it_is_not_reproducible(demo_case: Path, tmp_path: Path) -> None:
    outcome = _solve(demo_case, tmp_path / "out", deterministic=False, time_limit=4.0)
    assert outcome.summary["reproducible"] is False
    assert outcome.summary["work"]["deterministic"] is False
    assert outcome.violations == []


def test_costs_far_too_low_let_the_wall_clock_stop_the_run(demo_case: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine far slower than the costs say (a thousand times, and refilling rounds of a
    second and a half), the time limit still holds: the wall clock stops the steps, the plan
    written keeps every rule, and summary.json says the run is not reproducible and which steps
    the clock cut."""
    import orplan.work

    for unit, cost in list(orplan.work.COSTS.items()):
        monkeypatch.setitem(orplan.work.COSTS, unit, cost / 1000)
    values = orplan.refill.session_values

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(1.5)
        return values(*args, **kwargs)

    monkeypatch.setattr(orplan.refill, "session_values", slow)
    started = time.perf_counter()
    options = SolveOptions(time_limit=8.0, gap=0.0, threads=1, seed=0, isolate=False)
    outcome = run_solve(demo_case, tmp_path / "out", config_of(demo_case), options)
    assert time.perf_counter() - started < 8.0 + 3.0
    assert outcome.summary["reproducible"] is False
    assert outcome.summary["work"]["cut_by_clock"] != []
    assert outcome.violations == []
    assert (tmp_path / "out" / "plan.csv").exists()


def test_cli_and_config_choose_the_clock(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from orplan.cli import app

    tables, config = generate_case("tiny", 2)
    write_case(tmp_path / "case", tables, config)
    runner = CliRunner()
    for name, extra in (("default", []), ("wall", ["--wall-clock"])):
        result = runner.invoke(app, ["solve", str(tmp_path / "case"), "-o", str(tmp_path / name),
                                     "--quiet", "--time-limit", "10", *extra])
        assert result.exit_code == 0, result.output
    default = json.loads((tmp_path / "default" / "summary.json").read_text())
    wall = json.loads((tmp_path / "wall" / "summary.json").read_text())
    assert default["reproducible"] is True and default["work"]["deterministic"] is True
    assert wall["reproducible"] is False and wall["work"]["deterministic"] is False
    toml = tmp_path / "case" / "orplan.toml"
    toml.write_text(toml.read_text().replace("[solver]\n", "[solver]\ndeterministic = false\n"))
    result = runner.invoke(app, ["solve", str(tmp_path / "case"), "-o", str(tmp_path / "cfg"),
                                 "--quiet", "--time-limit", "10"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "cfg" / "summary.json").read_text())["reproducible"] is False


def test_deterministic_must_be_true_or_false(tmp_path: Path) -> None:
    from orplan.config import ConfigError, load_config

    path = tmp_path / "orplan.toml"
    path.write_text("[solver]\ndeterministic = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    (issue,) = error.value.issues
    assert issue.code == "config-type" and issue.column == "solver.deterministic"
    assert "must be true or false" in issue.message


def test_pace_and_affords_on_a_slower_machine():
    """A stage asks whether its next work fits the wall clock at the machine's pace (wall seconds
    per counted second so far); one that does not fit is recorded as cut."""
    work = Work(budget=10.0, hard=time.time() + 100.0)
    assert work.pace() == 1.0  # nothing counted yet
    work.charge("compact LP", ("lp_solve", 2.0 / COSTS["lp_solve"]))  # 2 counted seconds
    assert work.pace() == 1.0  # faster than the reference: never below 1
    assert work.affords("compact LP", 50.0)
    work.started -= 20.0  # as if the 2 counted seconds had taken 20 wall seconds
    assert work.pace() >= 10.0
    assert work.affords("neighbourhoods", 5.0)  # 50 wall seconds of the 100 left
    assert work.cut == []
    assert not work.affords("neighbourhoods", 20.0)  # 200 wall seconds: it would overrun
    assert work.cut == ["neighbourhoods"]
