"""Replay a plan many times with sampled case durations and turnovers: how often each session
runs over, by how much, and how many cases would not start in time (the day-of cancellations).

Each run draws every planned case's minutes from its log-normal (orplan.durations: the fit's
level for the case, else its planned minutes as the mean with the configured spread) and each
turnover from a log-normal around the configured turnover, then runs each session's list in the
plan's order: the first case starts at its planned time, each next one when the room is ready
(with `[durations] early_start = false`: not before its planned start either). A case that would
start at or after the session's end plus its allowed overtime is cancelled, and so is every case
after it. The surgeon's other room is not modelled (a flip-room case is not held for its
surgeon).

Vectorised: runs x cases arrays, a cumulative sum per session and a running maximum for the
planned starts; runs are drawn in chunks of CHUNK, so a seed gives the same figures whatever the
machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from orplan.case import Case
from orplan.durations import DurationFit

CHUNK = 1000
_BIG = 1e6  # separates sessions in the running maximum (minutes in a day are far fewer)


@dataclass(frozen=True)
class CaseDurations:
    """Per planned case: log-normal parameters and where they came from."""

    mu: np.ndarray
    sigma: np.ndarray
    source: np.ndarray  # surgeon, procedure, specialty (fit levels) or planned

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(np.exp(self.mu + self.sigma ** 2 / 2))

    @property
    def variance(self) -> np.ndarray:
        return np.asarray((np.exp(self.sigma ** 2) - 1) * self.mean ** 2)


def case_durations(specialty: pd.Series, procedure: pd.Series, surgeon: pd.Series,
                   planned: np.ndarray, fit: DurationFit | None,
                   default_sigma: float) -> CaseDurations:
    """The log-normal of each case: the fit's most specific level (orplan.durations), else the
    planned minutes as its mean with the fit's pooled spread (the configured one without a
    fit)."""
    n = len(planned)
    if fit is not None:
        mu, sigma, level = fit.lookup(specialty, procedure, surgeon)
        spread = fit.pooled_sigma
    else:
        mu, sigma, level = np.full(n, np.nan), np.full(n, np.nan), np.full(n, "", dtype=object)
        spread = default_sigma
    unknown = level == ""
    sigma = np.where(unknown, spread, sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(unknown, np.log(np.asarray(planned, dtype=float)) - sigma ** 2 / 2, mu)
    return CaseDurations(mu, sigma, np.where(unknown, "planned", level).astype(object))


@dataclass(frozen=True)
class Simulation:
    sessions: pd.DataFrame  # one row per session with cases (see simulate)
    totals: dict[str, Any]


def plan_cases(case: Case, plan: pd.DataFrame) -> pd.DataFrame:
    """The planned cases in replay order with what the simulation needs of each: session,
    planned start and minutes, specialty, procedure and surgeon (from the waitlist)."""
    waitlist = case.waitlist.drop_duplicates("patient_id").set_index("patient_id")
    cases = plan[["patient_id", "session_id", "start", "end"]].copy()
    if "order" in plan:
        cases["order"] = plan["order"]
    else:
        cases["order"] = cases.groupby("session_id")["start"].rank(method="first")
    cases["minutes"] = (plan["end"] - plan["start"]).astype(float)
    for column in ("specialty", "procedure", "surgeon_id"):
        cases[column] = waitlist[column].reindex(cases["patient_id"]).fillna("").to_numpy()
    return cases.sort_values(["session_id", "order", "start"], kind="stable").reset_index(
        drop=True)


def simulate(case: Case, plan: pd.DataFrame, runs: int, fit: DurationFit | None = None,
             seed: int = 0) -> Simulation:
    """Replay `plan` (typed: start and end in minutes) `runs` times; see the module docstring."""
    settings = case.config.durations
    cases = plan_cases(case, plan)
    sessions = case.sessions.drop_duplicates("session_id").set_index("session_id")
    sessions = sessions.reindex(cases["session_id"].unique())
    max_ot = sessions["max_overtime_min"].fillna(case.config.max_overtime_min).to_numpy()
    end = sessions["end"].to_numpy(dtype=float)
    limit = end + max_ot
    model = case_durations(cases["specialty"], cases["procedure"], cases["surgeon_id"],
                           cases["minutes"].to_numpy(), fit, settings.sigma)
    n = len(cases)
    segment = cases["session_id"].ne(cases["session_id"].shift()).cumsum().to_numpy() - 1
    first = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]]) if n else np.array([], int)
    last = np.r_[first[1:], n] - 1 if n else np.array([], int)
    planned = cases["start"].to_numpy(dtype=float)
    # the earliest each case may start: its planned start, or for a running list only the
    # session's first case is held to it
    release = planned.copy()
    if settings.early_start:
        release[np.setdiff1d(np.arange(n), first)] = -_BIG / 2
    turnover = case.config.turnover_min
    t_mu = np.log(turnover) - settings.turnover_sigma ** 2 / 2 if turnover > 0 else 0.0
    is_last = np.zeros(n, dtype=bool)
    is_last[last] = True
    rng = np.random.default_rng(seed)
    over = np.zeros(len(first))
    over_allowed = np.zeros(len(first))
    overtime = np.zeros(len(first))
    cancelled = np.zeros(len(first))
    run_cancelled: list[np.ndarray] = []
    run_overtime: list[np.ndarray] = []
    done = 0
    while done < runs and n:
        size = min(CHUNK, runs - done)
        minutes = np.exp(model.mu + model.sigma * rng.standard_normal((size, n)))
        if turnover > 0 and settings.turnover_sigma > 0:
            gaps = np.exp(t_mu + settings.turnover_sigma * rng.standard_normal((size, n)))
        else:
            gaps = np.full((size, n), float(turnover))
        gaps[:, is_last] = 0.0
        step = minutes + gaps
        total = np.cumsum(step, axis=1)
        before = total - step  # exclusive cumulative sum
        offset = before[:, first][:, segment]
        elapsed = before - offset  # minutes of the session's earlier cases and turnovers
        # start_k = elapsed_k + max_{j <= k in the session} (release_j - elapsed_j)
        lead = release[None, :] - elapsed + segment[None, :] * _BIG
        start = elapsed + np.maximum.accumulate(lead, axis=1) - segment[None, :] * _BIG
        late = start >= limit[segment][None, :]
        finish = np.where(late, -np.inf, start + minutes)
        session_finish = np.maximum.reduceat(finish, first, axis=1)
        session_finish = np.where(np.isfinite(session_finish), session_finish, -np.inf)
        extra = np.clip(session_finish - end[None, :], 0.0, None)
        lost = np.add.reduceat(late, first, axis=1)
        over += (session_finish > end[None, :] + 1e-9).sum(axis=0)
        over_allowed += (session_finish > limit[None, :] + 1e-9).sum(axis=0)
        overtime += extra.sum(axis=0)
        cancelled += lost.sum(axis=0)
        run_cancelled.append(lost.sum(axis=1))
        run_overtime.append(extra.sum(axis=1))
        done += size
    runs_done = max(done, 1)
    planned_finish = (cases["end"].to_numpy(dtype=float)[last] if n else np.array([]))
    table = pd.DataFrame({
        "session_id": sessions.index.to_numpy(),
        "cases": (last - first + 1) if n else np.array([], int),
        "planned_end": planned_finish,
        "end": end,
        "max_overtime_min": max_ot,
        "p_overtime": over / runs_done,
        "p_over_allowed": over_allowed / runs_done,
        "expected_overtime_min": overtime / runs_done,
        "expected_cancelled": cancelled / runs_done,
    })
    per_run_cancelled = np.concatenate(run_cancelled) if run_cancelled else np.zeros(1)
    per_run_overtime = np.concatenate(run_overtime) if run_overtime else np.zeros(1)
    sources = pd.Series(model.source).value_counts()
    totals = {
        "runs": runs, "seed": seed, "cases": n, "sessions": len(first),
        "expected_overtime_min": float(overtime.sum() / runs_done),
        "p90_overtime_min": float(np.quantile(per_run_overtime, 0.9)),
        "expected_cancelled": float(cancelled.sum() / runs_done),
        "p90_cancelled": float(np.quantile(per_run_cancelled, 0.9)),
        "expected_sessions_overtime": float(over.sum() / runs_done),
        "expected_sessions_over_allowed": float(over_allowed.sum() / runs_done),
        "sessions_over_allowed_risk_above_10pct": int((over_allowed / runs_done > 0.10).sum()),
        "duration_source": {str(k): int(v) for k, v in sources.items()},
        "turnover_sigma": settings.turnover_sigma, "early_start": settings.early_start,
    }
    return Simulation(table, totals)
