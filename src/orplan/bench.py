"""Benchmark runs: cases x methods x time limits, each `orplan solve` in its own process, read back
from its summary.json into one tidy table (CSV and Markdown)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS = ["case", "method", "time_limit_s", "threads", "run", "exit_code", "status", "load_s",
           "build_s", "solve_s", "total_s", "wall_s", "peak_mb", "objective", "best_bound",
           "gap", "planned", "waiting", "staffed_min_used", "overtime_min", "due_in_horizon",
           "deadline_missed", "overdue_planned"]


@dataclass(frozen=True)
class BenchRun:
    case: Path
    method: str
    time_limit: float
    threads: int
    seed: int
    run: int


def plan_runs(cases: Iterable[Path], methods: Iterable[str], time_limits: Iterable[float],
              threads: int, seed: int, repeat: int) -> list[BenchRun]:
    return [BenchRun(case, method, limit, threads, seed, run)
            for case in cases for method in methods for limit in time_limits
            for run in range(1, repeat + 1)]


def run_one(spec: BenchRun) -> dict[str, Any]:
    """Run one `orplan solve` process and return its row of the table."""
    with tempfile.TemporaryDirectory(prefix="orplan-bench-") as tmp:
        out = Path(tmp) / "out"
        command = [sys.executable, "-m", "orplan", "solve", str(spec.case), "-o", str(out),
                   "--method", spec.method, "--time-limit", str(spec.time_limit),
                   "--threads", str(spec.threads), "--seed", str(spec.seed), "--quiet"]
        started = time.perf_counter()
        process = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        summary_path = out / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    row: dict[str, Any] = {"case": spec.case.name, "method": spec.method,
                           "time_limit_s": spec.time_limit, "threads": spec.threads,
                           "run": spec.run, "exit_code": process.returncode,
                           "wall_s": round(wall, 2)}
    if summary is None:
        row["status"] = "failed" if process.returncode not in (0, 4) else "no-plan"
        return row
    kpi = summary["kpis"]
    times = summary["times_s"]
    row.update({
        "status": summary["status"],
        "load_s": times.get("load"),
        "build_s": times.get("build"),
        "solve_s": times.get("solve"),
        "total_s": times.get("total"),
        "peak_mb": max(summary["peak_memory_mb"].values()),
        "objective": round(summary["objective"], 1),
        "best_bound": None if summary["best_bound"] is None else round(summary["best_bound"], 1),
        "gap": summary["gap"],
        "planned": kpi["patients_planned"],
        "waiting": kpi["patients_waiting"],
        "staffed_min_used": kpi["used_staffed_min"],
        "overtime_min": kpi["overtime_min"],
        "due_in_horizon": kpi["deadline_due_in_horizon"],
        "deadline_missed": kpi["deadline_due_in_horizon"] - kpi["deadline_kept"],
        "overdue_planned": kpi["overdue_planned"],
    })
    return row


def to_markdown(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return "-"
        if isinstance(value, float):
            return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def write_table(frame: pd.DataFrame, prefix: Path, command: str) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(prefix.with_suffix(".csv"), index=False)
    prefix.with_suffix(".md").write_text(
        f"Made by `{command}`.\n\n" + to_markdown(frame), encoding="utf-8")
