"""How far is a written plan from the best plan of each specialty's sessions, the rest fixed?
For each specialty in turn, the full MILP over every pair of that specialty's sessions (the rest
of the plan fixed, the plan as its start) is solved for SECONDS; the neighbourhood's plan is timed
(rounding.timed_repair, keeping the plan's starts where list scheduling cannot time a group) and
kept if better. Prints per specialty the MILP's objective and bound (a bound for that
neighbourhood only, not for the full problem) and the timed objective.

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/neighbourhoods.py CASE PLAN_DIR SECONDS [SPECIALTY ...]
(PLAN_DIR: an `orplan solve` output folder on CASE; without specialties, all, smallest first)
"""

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from written_plan import read_written

from orplan.config import load_config
from orplan.greedy import priced_order
from orplan.model.build import build_model, planning_data
from orplan.pipeline import extract_stage, load_stage, plan_objective
from orplan.rounding import timed_repair
from orplan.solve import chosen_pairs, set_start, solve_model

folder, plan_dir, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
config_path = folder / "orplan.toml"
case, _ = load_stage(folder, load_config(config_path if config_path.exists() else None))
data = planning_data(case)
order = priced_order(data.priority, case.waitlist["duration_min"].to_numpy(float))

plan, times = read_written(data, plan_dir)  # the written plan as pairs and starts


def objective(mask: np.ndarray, starts: np.ndarray) -> float:
    return plan_objective(data, extract_stage(data, mask, None, starts))


current = objective(plan, times)
print(f"written plan: {current:,.0f} ({plan.sum()} patients)")
specialty = data.sessions["specialty"].fillna("").to_numpy()
pair_specialty = specialty[data.pairs["s"].to_numpy()]
names = sys.argv[4:] or [name for name, _ in sorted(
    pd.Series(pair_specialty[pair_specialty != ""]).value_counts().items(), key=lambda kv: kv[1])]
print("specialty, sessions, pairs, build s, solve s, status, MILP objective, its bound, timed, "
      "gain")
for name in names:
    inside = pair_specialty == name
    keep = inside | plan
    started = time.perf_counter()
    model = build_model(case, data, keep)
    kept = np.flatnonzero(keep)
    for variable, fixed in zip(model.pairs["x"], plan[kept] & ~inside[kept], strict=True):
        if fixed:
            variable.lowBound = 1
    set_start(model, plan[kept])
    built = time.perf_counter() - started
    report = solve_model(model, seconds, 1e-4, 1, 0, warm_start=True)
    chosen = np.zeros(len(plan), dtype=bool)
    chosen[kept[chosen_pairs(model)]] = True
    repaired, starts = timed_repair(data, chosen, order, np.where(chosen & plan, times, np.nan))
    value = objective(repaired, starts)
    n_sessions = len(np.unique(data.pairs["s"].to_numpy()[inside]))
    print(f"{name}, {n_sessions}, {inside.sum()}, {built:.1f}, {report.seconds:.1f}, "
          f"{report.status.value}, {report.objective or float('nan'):,.0f}, "
          f"{report.best_bound or float('nan'):,.0f}, {value:,.0f}, {current - value:,.0f}",
          flush=True)
    if value < current:
        plan, times, current = repaired, starts, value
print(f"last plan: {current:,.0f}")
