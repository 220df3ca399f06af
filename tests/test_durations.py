"""Durations learnt from history (orplan.durations, `orplan durations fit`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from orplan.cli import app
from orplan.durations import DurationFit, fit, holdout, norm_ppf, read_fit, write_fit

runner = CliRunner()

# (procedure, specialty, mu, sigma): the true log-normals of the synthetic history
TRUTH = (("HIP", "ORTH", np.log(110), 0.25), ("KNEE", "ORTH", np.log(120), 0.30),
         ("SCOPE", "ORTH", np.log(45), 0.40), ("CHOLE", "GEN", np.log(75), 0.35))
SURGEON_EFFECT = {"S1": 0.25, "S2": -0.25, "S3": 0.0}


def synthetic_history(seed: int = 3, per_cell: int = 150) -> pd.DataFrame:
    """Every surgeon operates every procedure: log minutes = mu + surgeon effect + N(0, sigma)."""
    rng = np.random.default_rng(seed)
    rows = []
    dates = pd.date_range("2025-01-01", "2025-12-31")
    for procedure, specialty, mu, sigma in TRUTH:
        for surgeon, effect in SURGEON_EFFECT.items():
            minutes = np.exp(mu + effect + sigma * rng.standard_normal(per_cell))
            for value in minutes:
                rows.append({"procedure": procedure, "specialty": specialty,
                             "surgeon_id": surgeon, "date": rng.choice(dates),
                             "actual_min": round(float(value), 1),
                             "booked_min": round(float(np.exp(mu)) / 5) * 5})
    frame = pd.DataFrame(rows)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_fit_recovers_procedure_and_surgeon_log_normals() -> None:
    fitted = fit(synthetic_history()).table.set_index(["level", "procedure", "surgeon_id"])
    for procedure, _, mu, sigma in TRUTH:
        for surgeon, effect in SURGEON_EFFECT.items():
            row = fitted.loc[("surgeon", procedure, surgeon)]
            assert row["cases"] == 150
            # 150 cases: the standard error of the mean is sigma / 12
            assert row["mu"] == pytest.approx(mu + effect, abs=0.1)
            assert row["sigma"] == pytest.approx(sigma, abs=0.06)
        proc = fitted.loc[("procedure", procedure, "")]
        assert proc["mu"] == pytest.approx(mu, abs=0.06)
        # the procedure's spread includes its surgeons' (the surgeon is not known at that level)
        assert proc["sigma"] == pytest.approx(np.sqrt(sigma ** 2 + 0.25 ** 2 * 2 / 3), abs=0.05)
        assert proc["mean_min"] == pytest.approx(np.exp(proc["mu"] + proc["sigma"] ** 2 / 2))


def test_thin_cells_are_shrunk_towards_the_procedure() -> None:
    history = synthetic_history()
    # one case of a new surgeon, far slower than anyone: believed only in part
    history.loc[len(history)] = {"procedure": "HIP", "specialty": "ORTH", "surgeon_id": "NEW",
                                 "date": pd.Timestamp("2025-06-01"), "actual_min": 400.0,
                                 "booked_min": 110}
    table = fit(history).table.set_index(["level", "procedure", "surgeon_id"])
    new, hip = table.loc[("surgeon", "HIP", "NEW")], table.loc[("procedure", "HIP", "")]
    assert hip["mu"] < new["mu"] < np.log(400)
    assert new["mu"] - hip["mu"] < 0.5 * (np.log(400) - hip["mu"])
    # its sigma is mostly the procedure's (one case has no spread of its own)
    assert new["sigma"] == pytest.approx(hip["sigma"], rel=0.01)


def test_lookup_takes_the_most_specific_level_the_history_has() -> None:
    fitted = fit(synthetic_history())
    mu, sigma, level = fitted.lookup(
        pd.Series(["ORTH", "ORTH", "ORTH", "GEN", "URO", ""]),
        pd.Series(["HIP", "HIP", "", "NEWPROC", "", ""]),
        pd.Series(["S1", "UNKNOWN", "S1", "S1", "", ""]))
    assert list(level) == ["surgeon", "procedure", "specialty", "specialty", "", ""]
    table = fitted.table.set_index(["level", "procedure", "surgeon_id", "specialty"])
    assert mu[0] == table.loc[("surgeon", "HIP", "S1", "ORTH"), "mu"]
    assert mu[1] == table.loc[("procedure", "HIP", "", "ORTH"), "mu"]
    assert sigma[2] == table.loc[("specialty", "", "", "ORTH"), "sigma"]
    assert np.isnan(mu[4:]).all()
    assert 0.25 < fitted.pooled_sigma < 0.45


def test_holdout_beats_procedure_averages_and_is_calibrated() -> None:
    accuracy = holdout(synthetic_history(per_cell=300), 0.2)
    assert accuracy is not None
    assert accuracy.train + accuracy.test == 3600
    by = {row["method"]: row for row in accuracy.rows}
    # strong surgeon effects: knowing the surgeon beats the procedure's average
    assert by["fit: mean"]["mae_min"] < 0.9 * by["procedure average"]["mae_min"]
    assert by["fit: median"]["mae_min"] < by["booked minutes"]["mae_min"]
    assert abs(by["fit: mean"]["bias_min"]) < 3
    for name, share in (("p50", 0.5), ("p80", 0.8), ("p90", 0.9)):
        assert accuracy.coverage[name] == pytest.approx(share, abs=0.04)
    assert accuracy.levels["surgeon"] == accuracy.test


def test_holdout_needs_a_history_to_split() -> None:
    assert holdout(synthetic_history().head(20), 0.2) is None


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_fit_file_round_trip(tmp_path: Path, suffix: str) -> None:
    fitted = fit(synthetic_history())
    path = tmp_path / f"durations{suffix}"
    write_fit(fitted, path)
    again, issues = read_fit(path)
    assert issues == [] and again is not None
    assert list(again.table["level"]) == list(fitted.table["level"])
    assert np.allclose(again.table["mu"], fitted.table["mu"], atol=1e-6)
    assert np.allclose(again.table["sigma"], fitted.table["sigma"], atol=1e-6)


def test_bad_fit_files_are_named_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "durations.csv"
    pd.DataFrame([
        {"level": "procedure", "procedure": "HIP", "cases": 3, "mu": 4.7, "sigma": 0.3},
        {"level": "procedure", "procedure": "HIP", "cases": 3, "mu": 4.8, "sigma": 0.3},
        {"level": "surgeon", "procedure": "HIP", "cases": 3, "mu": 4.7, "sigma": 0.3},
        {"level": "room", "procedure": "HIP", "cases": 3, "mu": 4.7, "sigma": 0.3},
        {"level": "all", "procedure": "", "cases": 3, "mu": 4.7, "sigma": 0},
    ]).to_csv(path, index=False)
    fitted, issues = read_fit(path)
    assert fitted is None
    found = {(i.code, i.row, i.column) for i in issues}
    assert found == {("duplicate-id", 3, "level"), ("missing-value", 4, "surgeon_id"),
                     ("bad-level", 5, "level"), ("not-positive", 6, "sigma")}


def test_norm_ppf() -> None:
    assert norm_ppf(0.5) == pytest.approx(0.0, abs=1e-12)
    assert norm_ppf(0.9) == pytest.approx(1.2815515655446004, abs=1e-8)
    assert norm_ppf(0.01) == pytest.approx(-2.3263478740408408, abs=1e-8)
    assert norm_ppf(0.999) == pytest.approx(3.090232306167813, abs=1e-8)


def test_cli_fit_writes_the_fit_and_reports_accuracy(tmp_path: Path) -> None:
    history = synthetic_history()
    history.loc[5, "actual_min"] = 5000  # a missing end time: left out with a warning
    history.to_csv(tmp_path / "history.csv", index=False)
    result = runner.invoke(app, ["durations", "fit", str(tmp_path), "-o",
                                 str(tmp_path / "fit" / "durations.csv")])
    assert result.exit_code == 0, result.output
    assert "implausible-duration" in result.output and "row 7, column actual_min" in result.output
    assert "1,799 past cases; 12 surgeon x procedure, 4 procedure, 2 specialty rows" in (
        result.output)
    assert "procedure average" in result.output and "booked minutes" in result.output
    fitted, issues = read_fit(tmp_path / "fit" / "durations.csv")
    assert fitted is not None and issues == []
    assert isinstance(fitted, DurationFit)


def test_cli_fit_bad_history_and_usage(tmp_path: Path) -> None:
    (tmp_path / "history.csv").write_text(
        "procedure,specialty,date,actual_min\nHIP,ORTH,2025-01-01,-3\nHIP,,2025-13-01,x\n",
        encoding="utf-8")
    out = tmp_path / "durations.csv"
    result = runner.invoke(app, ["durations", "fit", str(tmp_path / "history.csv"), "-o",
                                 str(out)])
    assert result.exit_code == 3
    assert "history.csv, row 2, column actual_min: 'actual_min' must be greater than 0" in (
        result.output)
    assert "history.csv, row 3, column date" in result.output
    assert "4 error(s) in the history" in result.output and not out.exists()
    result = runner.invoke(app, ["durations", "fit", str(tmp_path), "-o", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "--output must end in .csv or .parquet" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["durations", "fit", str(empty), "-o", str(out)])
    assert result.exit_code == 3 and "no history.csv or history.parquet in" in result.output
