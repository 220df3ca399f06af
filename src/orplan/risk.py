"""Planning with a chosen risk of running past the allowed overtime (`orplan solve --risk P`).

A session's total time T (its cases' minutes plus the turnovers between them) is a sum of
log-normals. Its distribution is approximated by the Fenton-Wilkinson log-normal: the log-normal
with T's mean M and variance V (s^2 = ln(1 + V/M^2), m = ln M - s^2/2), so

    P(T > L) = P(Z > (ln L - m) / s),   L = the session's minutes up to its end plus allowed
                                        overtime.

Keeping P(T > L) <= P is not linear in the cases planned. orplan makes it linear in two steps:
1. at a reference session (the median session length L0 filled with the waitlist's mix, whose
   variance per planned minute is rho), find the mean M0 at which the Fenton-Wilkinson risk is
   exactly P; its normal-equivalent multiplier is z = (L0 - M0) / sqrt(V0), V0 = rho M0 (the
   multiplier is larger than the normal quantile: the total is skewed to the right);
2. require M + z sqrt(V) <= L, with sqrt(V) replaced by its tangent at V0, which lies above it
   (sqrt is concave), so the rule is only ever stricter:

    sum_i (m_i + z v_i / (2 sqrt(V0))) + turnovers <= L - z sqrt(V0) / 2.

The solver therefore sees each case at its mean plus a reserve proportional to its variance
and each session's allowed overtime less a fixed reserve (both rounded up to the 5-minute booking
grid, orplan.durations.GRID_MIN); the solver's timing is then shifted to the means (`left_shift`),
so the reserve stays free at the end of each session. What the written plan's sessions actually
risk (Fenton-Wilkinson, and `orplan simulate` for the replayed truth) is reported in
summary.json.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from orplan.case import Case


def normal_sf(x: np.ndarray) -> np.ndarray:
    """P(Z > x) for a standard normal Z."""
    return np.asarray(np.vectorize(lambda v: 0.5 * math.erfc(v / math.sqrt(2)),
                                   otypes=[float])(np.asarray(x, dtype=float)))


def fenton_wilkinson(mean: np.ndarray, var: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """P(T > limit) for T log-normal with this mean and variance (1 where the mean is not
    positive enough to fit, 0 for an empty session)."""
    mean, var, limit = (np.asarray(a, dtype=float) for a in (mean, var, limit))
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.log1p(var / mean ** 2)
        s = np.sqrt(s2)
        x = (np.log(limit) - (np.log(mean) - s2 / 2)) / s
    p = normal_sf(np.where(np.isfinite(x), x, 0.0))
    p = np.where(s > 0, p, (mean > limit).astype(float))
    p = np.where(mean <= 0, 0.0, p)
    return np.where(limit <= 0, np.where(mean > 0, 1.0, 0.0), p)


@dataclass(frozen=True)
class RiskReserve:
    target: float  # P: the allowed chance of running past the allowed overtime
    reference_min: float  # L0: the median session's minutes up to end plus allowed overtime
    variance_per_min: float  # rho: variance (min^2) per planned minute of the waitlist's mix
    reference_mean: float  # M0
    z: float  # the normal-equivalent multiplier at the reference
    session_reserve_min: float  # z sqrt(V0) / 2, taken off every session's allowed overtime
    per_variance: float  # z / (2 sqrt(V0)): each case's reserve per min^2 of its variance
    turnover_var: float  # variance of one turnover

    def summary(self) -> dict[str, Any]:
        return {k: round(v, 6) if isinstance(v, float) else v
                for k, v in dataclasses.asdict(self).items()}


def case_variance(case: Case) -> np.ndarray:
    """Per waitlist case: the variance of its minutes (its planned minutes are the mean; the
    log-normal's sigma is `_dur_sigma`, set by orplan.durations.DurationPlan)."""
    minutes = case.waitlist["duration_min"].to_numpy(dtype=float)
    sigma = case.waitlist["_dur_sigma"].to_numpy(dtype=float)
    return np.asarray(minutes ** 2 * np.expm1(sigma ** 2))


def _turnover_var(case: Case) -> float:
    turnover = case.config.turnover_min
    return float(turnover ** 2 * math.expm1(case.config.durations.turnover_sigma ** 2))


def _allowed(case: Case) -> pd.Series:
    sessions = case.sessions
    max_ot = sessions["max_overtime_min"].fillna(case.config.max_overtime_min)
    return sessions["end"] + max_ot - sessions["start"]


def risk_reserve(case: Case, target: float) -> RiskReserve:
    """The reference session and its linear rule (see the module docstring)."""
    turnover = case.config.turnover_min
    v_t = _turnover_var(case)
    minutes = case.waitlist["duration_min"].to_numpy(dtype=float)
    rho = float((case_variance(case).sum() + v_t * len(minutes))
                / max(1e-9, (minutes + turnover).sum()))
    limit = float(np.median(_allowed(case))) if len(case.sessions) else 480.0
    low, high = 1e-6, limit
    for _ in range(100):  # the risk grows with the mean: bisection
        middle = (low + high) / 2
        if fenton_wilkinson(np.array(middle), np.array(rho * middle), np.array(limit)) > target:
            high = middle
        else:
            low = middle
    mean = low
    ref_var = max(rho * mean, 1e-9)
    z = (limit - mean) / math.sqrt(ref_var)
    return RiskReserve(target, limit, rho, mean, z, z * math.sqrt(ref_var) / 2,
                       z / (2 * math.sqrt(ref_var)), v_t)


def planning_case(case: Case, risk: RiskReserve) -> Case:
    """The case the solver sees: each case at its mean plus its reserve, each session's allowed
    overtime less the session reserve (its end moved earlier when that is not enough)."""
    from orplan.durations import GRID_MIN

    waitlist = case.waitlist.copy()
    reserved = (waitlist["duration_min"]
                + risk.per_variance * (case_variance(case) + risk.turnover_var))
    # up to the booking grid (never less reserve; see orplan.durations.GRID_MIN)
    waitlist["duration_min"] = np.ceil(reserved / GRID_MIN - 1e-9) * GRID_MIN
    sessions = case.sessions.copy()
    allowed = sessions["max_overtime_min"].fillna(case.config.max_overtime_min)
    # the session reserve up to the grid too, so that session limits stay on it
    left = allowed - math.ceil(risk.session_reserve_min / GRID_MIN - 1e-9) * GRID_MIN
    sessions["max_overtime_min"] = left.clip(lower=0.0)
    end = sessions["end"] + left.clip(upper=0.0)
    sessions["end"] = np.maximum(end, sessions["start"] + 1.0)
    return dataclasses.replace(case, waitlist=waitlist, sessions=sessions)


def left_shift(plan: pd.DataFrame, real: Case) -> pd.DataFrame:
    """The plan timed with the solver's minutes (reserves included), timed again at `real`'s
    minutes (the means), every case as early as its room and surgeon allow, in the same order.
    Each case ends no later than before, so every rule still holds, and the reserves end up
    free at the end of each session, never in front of its first case (a fresh timing could
    spend them on waiting for a surgeon). Rows keep their columns and order."""
    if plan.empty:
        return plan
    minutes = real.waitlist["duration_min"].to_numpy(dtype=float)[plan["_p"].to_numpy()]
    opens = real.sessions.drop_duplicates("session_id").set_index("session_id")["start"]
    turnover = real.config.turnover_min
    order = np.lexsort((plan["order"].to_numpy(dtype=float), plan["start"].to_numpy(dtype=float)))
    room_ready: dict[tuple[str, str, object], float] = {}
    surgeon_ready: dict[tuple[str, object], float] = {}
    start = np.empty(len(plan))
    sites, rooms, dates = plan["site"].to_numpy(), plan["room"].to_numpy(), plan["date"].to_numpy()
    surgeons, session_ids = plan["surgeon_id"].to_numpy(), plan["session_id"].to_numpy()
    for i in order:
        room = (sites[i], rooms[i], dates[i])
        ready = max(float(opens[session_ids[i]]), room_ready.get(room, -math.inf))
        if surgeons[i]:
            ready = max(ready, surgeon_ready.get((surgeons[i], dates[i]), -math.inf))
        start[i] = ready
        room_ready[room] = ready + minutes[i] + turnover
        if surgeons[i]:
            surgeon_ready[(surgeons[i], dates[i])] = ready + minutes[i]
    out = plan.copy()
    out["start"], out["end"], out["duration_min"] = start, start + minutes, minutes
    return out


def session_risk(case: Case, plan: pd.DataFrame) -> pd.DataFrame:
    """Per session with cases in `plan` (typed: start and end in minutes): the Fenton-Wilkinson
    chance that its cases and turnovers, from its first planned start, run past its end plus
    allowed overtime."""
    if plan.empty:
        return pd.DataFrame(columns=["session_id", "cases", "mean_min", "sd_min", "allowed_min",
                                     "risk"])
    index = pd.Series(np.arange(len(case.waitlist)), index=case.waitlist["patient_id"])
    variance = case_variance(case)[index.reindex(plan["patient_id"]).to_numpy()]
    cases = pd.DataFrame({"session_id": plan["session_id"].to_numpy(),
                          "minutes": (plan["end"] - plan["start"]).to_numpy(dtype=float),
                          "var": variance, "start": plan["start"].to_numpy(dtype=float)})
    grouped = cases.groupby("session_id").agg(cases=("minutes", "size"), mean=("minutes", "sum"),
                                              var=("var", "sum"), first=("start", "min"))
    turnovers = grouped["cases"] - 1
    mean = grouped["mean"] + turnovers * case.config.turnover_min
    var = grouped["var"] + turnovers * _turnover_var(case)
    sessions = case.sessions.drop_duplicates("session_id").set_index("session_id")
    max_ot = sessions["max_overtime_min"].fillna(case.config.max_overtime_min)
    allowed = (sessions["end"] + max_ot).reindex(grouped.index) - grouped["first"]
    return pd.DataFrame({"session_id": grouped.index, "cases": grouped["cases"].to_numpy(),
                         "mean_min": mean.to_numpy(), "sd_min": np.sqrt(var.to_numpy()),
                         "allowed_min": allowed.to_numpy(),
                         "risk": fenton_wilkinson(mean.to_numpy(), var.to_numpy(),
                                                  allowed.to_numpy())})
