"""Shared helpers: build small cases on disk and solve them with fixed threads and seed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from orplan.config import Config, load_config
from orplan.pipeline import SolveOptions, SolveOutcome, run_solve
from orplan.validate import load_case

SESSION_DAY = "2026-01-05"


def write_table(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)


def make_case(folder: Path, waitlist: list[dict[str, Any]], sessions: list[dict[str, Any]],
              config: str | None = None, **optional: list[dict[str, Any]]) -> Path:
    """Write a case folder. Sessions default to site A, 08:00-12:00 on SESSION_DAY."""
    full_sessions = []
    for i, row in enumerate(sessions):
        full = {"session_id": f"S{i + 1}", "site": "A", "room": f"R{i + 1}", "date": SESSION_DAY,
                "start": "08:00", "end": "12:00", "specialty": ""}
        full.update(row)
        full_sessions.append(full)
    full_waitlist = []
    for i, row in enumerate(waitlist):
        full = {"patient_id": f"P{i + 1}", "specialty": "ORTH", "duration_min": 60}
        full.update(row)
        full_waitlist.append(full)
    write_table(folder, "waitlist", full_waitlist)
    write_table(folder, "sessions", full_sessions)
    for name, rows in optional.items():
        write_table(folder, name, rows)
    (folder / "orplan.toml").write_text(
        config if config is not None else "[rules]\nturnover_min = 0\nmax_overtime_min = 0\n",
        encoding="utf-8")
    return folder


def config_of(folder: Path) -> Config:
    path = folder / "orplan.toml"
    return load_config(path if path.exists() else None)


def solve(folder: Path, out: Path | None = None, time_limit: float = 30.0,
          gap: float = 0.0, method: str = "milp") -> SolveOutcome:
    out = out if out is not None else folder.parent / f"{folder.name}-out"
    # in-process for speed; the CLI tests run the default, isolated solver process
    options = SolveOptions(time_limit=time_limit, gap=gap, threads=1, seed=0, isolate=False,
                           method=method)  # type: ignore[arg-type]
    return run_solve(folder, out, config_of(folder), options)


def planned(outcome: SolveOutcome) -> dict[str, str]:
    """patient_id -> session_id of the written plan."""
    plan = outcome.tables["plan"]
    return dict(zip(plan["patient_id"], plan["session_id"], strict=True))


def loaded(folder: Path):  # type: ignore[no-untyped-def]
    case, issues = load_case(folder, config_of(folder))
    assert case is not None, issues
    return case


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    return tmp_path / "case"


def own_timing_is_valid(data: Any, chosen: Any, times: Any) -> bool:
    """The starts a plan came with (`times` over data.pairs, for the `chosen` pairs) are a timing
    that keeps every rule on their own."""
    from orplan.plan import _given_timing, _plan_frame
    from orplan.verify import verify_plan

    p = data.pairs["p"].to_numpy()[chosen]
    cases = pd.DataFrame({"p": p, "s": data.pairs["s"].to_numpy()[chosen],
                          "given": times[chosen],
                          "duration": data.case.waitlist["duration_min"].to_numpy()[p]})
    own = _plan_frame(data.case.waitlist, data.sessions, _given_timing(cases))
    return verify_plan(data.case, own) == []


class FakeClock:
    """A wall clock of the test's own (orplan.wall): real seconds count `rate` times as much, and
    `advance` moves it on at once, so a test can make a step take longer without sleeping and
    without depending on how busy the machine is."""

    def __init__(self, rate: float = 1.0) -> None:
        import time

        self.rate = rate
        self._real = time.perf_counter
        self._begun = time.perf_counter()
        self._epoch = time.time()
        self.extra = 0.0

    def perf_counter(self) -> float:
        return self._begun + (self._real() - self._begun) * self.rate + self.extra

    def time(self) -> float:
        return self._epoch + self.perf_counter() - self._begun

    def advance(self, seconds: float) -> None:
        self.extra += seconds


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """orplan's wall clock running at a hundredth of real time: a solve's time limit is then
    never what stops it, however busy the machine."""
    import orplan.wall

    clock = FakeClock(rate=0.01)
    monkeypatch.setattr(orplan.wall, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(orplan.wall, "time", clock.time)
    return clock


# Property tests draw a third of their examples in `./dev test` (the suite stays within its
# minutes on two cores) and all of them with ORPLAN_THOROUGH=1 (CI runs the property tests so
# again, after the suite: .ci/run).
THOROUGH = os.environ.get("ORPLAN_THOROUGH", "") not in ("", "0")


def examples(n: int) -> int:
    """How many examples a property test drawing `n` in the thorough run draws in this run."""
    return n if THOROUGH else max(5, (n + 2) // 3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Property tests (hypothesis) are marked `property`: `-m property` runs them alone."""
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)
