"""Planning with fitted durations and a risk target (orplan.durations.DurationPlan, orplan.risk,
`orplan solve --durations/--quantile/--risk`, `orplan check --durations`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from orplan.cli import app
from orplan.durations import DurationFit, DurationPlan, norm_ppf
from orplan.risk import fenton_wilkinson, normal_sf, risk_reserve
from orplan.validate import load_case

from conftest import config_of, make_case

runner = CliRunner()
FIT = pd.DataFrame({"level": ["surgeon", "procedure", "specialty", "all"],
                    "specialty": ["ORTH", "ORTH", "ORTH", ""],
                    "procedure": ["HIP", "HIP", "", ""], "surgeon_id": ["DR1", "", "", ""],
                    "cases": [40, 200, 400, 400], "mu": [math.log(120), math.log(95), 4.3, 4.3],
                    "sigma": [0.25, 0.3, 0.45, 0.3]})


def grid(minutes: float) -> float:
    """Planned minutes on the 5-minute booking grid (orplan.durations.GRID_MIN)."""
    return max(5.0, round(minutes / 5) * 5)


def test_fenton_wilkinson_against_sampled_sums() -> None:
    rng = np.random.default_rng(2)
    sigma = np.array([0.3, 0.25, 0.4, 0.35, 0.3])
    mean = np.array([90.0, 120.0, 45.0, 60.0, 100.0])
    mu = np.log(mean) - sigma ** 2 / 2
    total = np.exp(mu + sigma * rng.standard_normal((200_000, 5))).sum(axis=1)
    var = (mean ** 2 * np.expm1(sigma ** 2)).sum()
    for limit in (420.0, 460.0, 500.0, 540.0):
        assert fenton_wilkinson(np.array(mean.sum()), np.array(var), np.array(limit)) == (
            pytest.approx((total > limit).mean(), abs=0.01))
    # one case: exact
    assert fenton_wilkinson(np.array(100.0), np.array(100.0 ** 2 * math.expm1(0.09)),
                            np.array(100.0)) == pytest.approx(normal_sf(np.array(0.15)),
                                                              abs=1e-12)
    assert list(fenton_wilkinson(np.array([0.0, 10.0]), np.array([0.0, 0.0]),
                                 np.array([5.0, 5.0]))) == [0.0, 1.0]


def _fit_case(tmp_path: Path, waitlist: list[dict[str, object]], **plan: object):  # type: ignore[no-untyped-def]
    folder = make_case(tmp_path / "c", waitlist, [{"end": "16:00"}],
                       config="[rules]\nturnover_min = 20\nmax_overtime_min = 30\n")
    case, issues = load_case(folder, config_of(folder), DurationPlan(DurationFit(FIT), **plan))
    return case, issues


def test_durations_fill_replace_keep_and_quantile(tmp_path: Path) -> None:
    rows = [{"procedure": "HIP", "surgeon_id": "DR1", "duration_min": 60},
            {"procedure": "HIP", "duration_min": ""},
            {"procedure": "KNEE", "duration_min": 70},
            {"procedure": "", "specialty": "URO", "duration_min": 50}]
    mean = {name: math.exp(mu + s ** 2 / 2) for name, mu, s in zip(
        FIT["level"], FIT["mu"], FIT["sigma"], strict=True)}
    case, issues = _fit_case(tmp_path, rows)
    assert issues == []
    assert list(case.waitlist["duration_min"]) == [grid(mean["surgeon"]), grid(mean["procedure"]),
                                                   grid(mean["specialty"]), 50]
    assert list(case.waitlist["_dur_source"]) == ["surgeon", "procedure", "specialty", "waitlist"]
    assert list(case.waitlist["_dur_sigma"]) == [0.25, 0.3, 0.45, 0.3]
    kept, _ = _fit_case(tmp_path, rows, keep=True)
    assert list(kept.waitlist["duration_min"]) == [60, grid(mean["procedure"]), 70, 50]
    q80, _ = _fit_case(tmp_path, rows, quantile=0.8)
    assert q80.waitlist["duration_min"].iloc[0] == grid(120 * math.exp(norm_ppf(0.8) * 0.25))
    # the waitlist's own minutes as the mean where the fit knows nothing
    assert q80.waitlist["duration_min"].iloc[3] == grid(
        50 * math.exp(-0.045 + norm_ppf(0.8) * 0.3))


def test_a_case_without_minutes_the_fit_cannot_fill_is_an_error(tmp_path: Path) -> None:
    case, issues = _fit_case(tmp_path, [{"procedure": "", "specialty": "URO",
                                         "duration_min": ""}])
    assert [(i.code, i.row, i.column) for i in issues] == [("missing-value", 2, "duration_min")]
    assert "knows neither procedure '' nor specialty 'URO'" in issues[0].message


def test_the_reserve_meets_the_target_at_the_reference_and_is_stricter_elsewhere(
        tmp_path: Path) -> None:
    case, _ = _fit_case(tmp_path, [{"procedure": "HIP"} for _ in range(6)])
    reserve = risk_reserve(case, 0.1)
    assert reserve.reference_min == 510  # 08:00-16:00 plus 30 minutes
    limit, m0, v0 = 510.0, reserve.reference_mean, reserve.variance_per_min * reserve.reference_mean
    assert fenton_wilkinson(np.array(m0), np.array(v0), np.array(limit)) == pytest.approx(0.1)
    assert reserve.z > norm_ppf(0.9)  # the total is skewed to the right
    # any session total the linear rule admits risks no more than the target
    for mean in np.linspace(50, 500, 46):
        for var in np.linspace(10, 6000, 60):
            used = mean + reserve.per_variance * var + reserve.session_reserve_min
            if used <= limit:
                risk = fenton_wilkinson(np.array(mean), np.array(var), np.array(limit))
                assert risk <= 0.1 + 0.005


def test_solve_with_a_risk_target_and_check_it(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"procedure": "HIP", "duration_min": 90}
                                        for _ in range(12)],
                       [{"end": "16:00"}, {"end": "16:00"}],
                       config="[rules]\nturnover_min = 20\nmax_overtime_min = 30\n")
    FIT.iloc[1:].to_csv(tmp_path / "durations.csv", index=False)
    fit = str(tmp_path / "durations.csv")

    def run(out: str, *options: str) -> dict:  # type: ignore[type-arg]
        result = runner.invoke(app, ["solve", str(folder), "-o", str(tmp_path / out), "-t", "20",
                                     "--quiet", *options])
        assert result.exit_code == 0, result.output
        return json.loads((tmp_path / out / "summary.json").read_text(encoding="utf-8"))

    plain = run("plain", "-d", fit)
    # 100 min a case (the fit's mean, 99.4, on the grid): 4 cases and 3 turnovers fit in 510
    assert plain["kpis"]["patients_planned"] == 8
    assert plain["durations"]["source"] == {"procedure": 12}
    risky = run("risk", "-d", fit, "--risk", "0.1")
    assert risky["kpis"]["patients_planned"] < 8
    assert risky["durations"]["session_risk"]["max"] <= 0.1
    assert risky["durations"]["reserve"]["target"] == 0.1
    assert "durations.csv" in risky["inputs"]
    plan = pd.read_csv(tmp_path / "risk" / "plan.csv")
    assert (plan["duration_min"] == grid(math.exp(FIT["mu"][1] + 0.045))).all()
    # the reserve stays free at the end of the session: cases run back to back from 08:00
    assert plan.groupby("session_id")["start"].min().eq("08:00").all()
    # checked with the same durations, the plan keeps every rule; with the waitlist's it does not
    ok = runner.invoke(app, ["check", str(folder), str(tmp_path / "risk"), "-d", fit])
    assert ok.exit_code == 0, ok.output
    assert runner.invoke(app, ["check", str(folder), str(tmp_path / "risk")]).exit_code == 1
    # and compared with another plan made with the same durations
    both = runner.invoke(app, ["compare", str(folder), str(tmp_path / "plain"),
                               str(tmp_path / "risk"), "-d", fit])
    assert both.exit_code == 0, both.output
    # nightly: the risk plan as the previous plan is kept as it is, within the target
    (folder / "previous_plan.csv").write_bytes((tmp_path / "risk" / "plan.csv").read_bytes())
    again = run("again", "-d", fit, "--risk", "0.1")
    assert again["changes"]["confirmed_changed"] == 0
    assert again["changes"]["kept"] == risky["kpis"]["patients_planned"]
    assert again["durations"]["session_risk"]["max"] <= 0.1
    (folder / "previous_plan.csv").unlink()
    # without a fit, the waitlist's minutes are the means ([durations] sigma)
    alone = run("alone", "--risk", "0.1")
    assert alone["durations"]["source"] == {"waitlist": 12}
    assert alone["durations"]["session_risk"]["max"] <= 0.1


def test_the_reserve_is_not_spent_waiting_for_a_flip_room_surgeon(tmp_path: Path) -> None:
    # one surgeon in two rooms: a room's first case waits for the surgeon; timing at the means
    # keeps the solver's order and starts every case as early as it can, so no session's risk
    # (measured from its first case) passes the target
    folder = make_case(tmp_path / "c", [{"procedure": "HIP", "surgeon_id": "DR1",
                                         "duration_min": 90} for _ in range(10)],
                       [{"end": "16:00"}, {"end": "16:00"}],
                       config="[rules]\nturnover_min = 20\nmax_overtime_min = 30\n")
    FIT.iloc[1:].to_csv(tmp_path / "durations.csv", index=False)
    out = tmp_path / "out"
    result = runner.invoke(app, ["solve", str(folder), "-o", str(out), "-t", "20", "--quiet",
                                 "-d", str(tmp_path / "durations.csv"), "--risk", "0.1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["violations"] == 0 and summary["kpis"]["patients_planned"] >= 3
    assert summary["durations"]["session_risk"]["max"] <= 0.1
    plan = pd.read_csv(out / "plan.csv").sort_values("start")
    assert plan["start"].iloc[0] == "08:00"


def test_left_shift_keeps_the_order_and_starts_each_case_as_early_as_it_can(
        tmp_path: Path) -> None:
    from orplan.risk import left_shift
    from orplan.verify import verify_plan

    folder = make_case(tmp_path / "c", [{"surgeon_id": "DR1", "duration_min": 60}
                                        for _ in range(4)], [{"end": "16:00"}, {"end": "16:00"}],
                       config="[rules]\nturnover_min = 20\nmax_overtime_min = 0\n")
    case, _ = load_case(folder, config_of(folder))
    # timed with 80-minute cases (the solver's, reserves included); one surgeon, two rooms
    rows = [("P1", "S1", "R1", 480), ("P2", "S2", "R2", 560), ("P3", "S1", "R1", 640),
            ("P4", "S2", "R2", 720)]
    plan = pd.DataFrame({
        "patient_id": [r[0] for r in rows], "session_id": [r[1] for r in rows], "site": "A",
        "room": [r[2] for r in rows], "date": pd.Timestamp("2026-01-05"), "order": [1, 1, 2, 2],
        "start": [float(r[3]) for r in rows], "end": [r[3] + 80.0 for r in rows],
        "surgeon_id": "DR1", "specialty": "ORTH", "procedure": "", "duration_min": 80.0,
        "_p": [0, 1, 2, 3], "_s": [0, 1, 0, 1]})
    shifted = left_shift(plan, case)
    # P2 waits for the surgeon (P1 now ends 09:00), and so on: each case an hour after the last
    assert list(shifted["start"]) == [480.0, 540.0, 600.0, 660.0]
    assert list(shifted["duration_min"]) == [60.0] * 4
    assert (shifted["start"] <= plan["start"]).all() and (shifted["end"] <= plan["end"]).all()
    assert verify_plan(case, shifted) == []


def test_a_case_too_long_only_with_its_reserve_says_so(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{"duration_min": 230}, {"duration_min": 60}], [{}])
    out = tmp_path / "out"
    result = runner.invoke(app, ["solve", str(folder), "-o", str(out), "-t", "10", "--quiet",
                                 "--risk", "0.1"])
    assert result.exit_code == 0, result.output
    left = pd.read_csv(out / "unscheduled.csv").set_index("patient_id")
    assert left.loc["P1", "reason"] == "too-long"
    assert left.loc["P1", "message"].endswith("once its risk reserve (--risk) is added")
    assert list(pd.read_csv(out / "plan.csv")["patient_id"]) == ["P2"]


def test_duration_options_usage(tmp_path: Path) -> None:
    folder = make_case(tmp_path / "c", [{}], [{}])
    out = str(tmp_path / "out")
    both = runner.invoke(app, ["solve", str(folder), "-o", out, "--risk", "0.1", "--quantile",
                               "0.8"])
    assert both.exit_code == 2 and "give --quantile or --risk, not both" in both.output
    keep = runner.invoke(app, ["solve", str(folder), "-o", out, "--keep-durations"])
    assert keep.exit_code == 2 and "--keep-durations needs --durations" in keep.output
    missing = runner.invoke(app, ["solve", str(folder), "-o", out, "-d", str(tmp_path / "x.csv")])
    assert missing.exit_code == 3 and "1 error(s) in the durations" in missing.output
    assert not Path(out).exists()
