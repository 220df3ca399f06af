"""A plain PuLP + HiGHS model of the same rules, against orplan's written plan.

Builds orplan's full MILP (one binary per eligible pair, every rule: orplan.model.build) priced
by the flat [weights] (no priority tiers) with every mandatory patient required (sum of their
pairs = 1, where they have any), solves it with HiGHS's defaults for LIMIT seconds on one thread,
times its plan as orplan would, checks it (orplan.verify), and prints, for it and for the plan in
OUT (an `orplan solve` output folder of the same case): mandatory patients planned of those who
can be, deadlines kept, patients planned, the flat [weights] objective without its deadline
term (the plain model's cost: mandatory patients are kept as a rule there) and with it, and the
priority tiers' costs (orplan's own evaluation of both plans).

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/plain_milp.py CASE OUT [LIMIT]
(e.g. benchmarks/cases/clinic-s1 /tmp/trust2/clinic-s1-milp 60)
"""

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pulp

from orplan.config import load_config
from orplan.dominance import clinical_counts
from orplan.model.build import build_model, planning_data
from orplan.model.common import add_rows
from orplan.pipeline import extract_stage, plan_terms, tier_costs
from orplan.solve import chosen_pairs
from orplan.validate import load_case
from orplan.verify import verify_plan

case_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
config_path = case_dir / "orplan.toml"
config = load_config(config_path if config_path.exists() else None)
case, _ = load_case(case_dir, config)
flat_case, _ = load_case(case_dir, dataclasses.replace(
    config, priority=dataclasses.replace(config.priority, tiers=())))
assert case is not None and flat_case is not None
data, flat = planning_data(case), planning_data(flat_case)
mandatory = case.waitlist["mandatory"].to_numpy(dtype=bool)
started = time.perf_counter()
model = build_model(flat_case, flat)
p = model.pairs["p"].to_numpy()
need = mandatory[p]
add_rows(model, "mandatory", p[need], model.pairs["x"].to_numpy()[need],
         np.ones(int(need.sum())), "==", 1.0)
built = time.perf_counter() - started
stats = model.problem.solve(pulp.HiGHS(msg=False, threads=1, timeLimit=limit, random_seed=0))
solved = time.perf_counter() - started - built
status = str(getattr(stats, "status_str", stats.status))
plannable = int(len(np.unique(p[need])))


def figures(name: str, plan: pd.DataFrame, timed: object | None = None) -> str:
    planned = set(plan["patient_id"])
    ids = case.waitlist["patient_id"].to_numpy()
    kept = sum(pid in planned for pid in ids[mandatory])
    counts = clinical_counts(data, plan)
    from orplan.plan import TimedPlan

    timed_plan = TimedPlan(plan, [])
    terms = plan_terms(data, timed_plan)
    flat_terms = plan_terms(flat, timed_plan)
    cost = sum(v for k, v in flat_terms.items() if k != "deadline_breach")
    tiers = ", ".join(f"{c:,.0f}" for c in tier_costs(case.config, terms))
    return (f"| {name} | {kept} / {plannable} ({int(mandatory.sum())}) | "
            f"{counts['deadlines_kept']} | {len(planned)} | {cost:,.0f} | "
            f"{sum(flat_terms.values()):,.0f} | {tiers} | {len(verify_plan(case, plan))} |")


print(f"{case_dir}: plain MILP {len(model.pairs):,} pairs, built in {built:.1f} s, HiGHS "
      f"{status} after {solved:.1f} s (limit {limit:g} s)")
print("| plan | mandatory planned / plannable (all) | deadlines kept | planned | flat cost "
      "without deadlines | flat objective | tier costs | violations |")
print("|---|---|---|---|---|---|---|---|")
if stats.has_solution:
    chosen = chosen_pairs(model)
    timed = extract_stage(data, chosen)
    print(figures("plain MILP", timed.plan, timed))
else:
    print("| plain MILP | no plan | | | | | | |")
written = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False)
positions = pd.Series(np.arange(len(case.waitlist)), index=case.waitlist["patient_id"])
sessions = pd.Series(np.arange(len(data.sessions)), index=data.sessions["session_id"])
written = written.assign(
    date=pd.to_datetime(written["date"]), duration_min=written["duration_min"].astype(float),
    order=written["order"].astype(int),
    start=written["start"].map(lambda t: int(t[:2]) * 60 + int(t[3:5])).astype(float),
    end=written["end"].map(lambda t: int(t[:2]) * 60 + int(t[3:5])).astype(float),
    _p=positions.reindex(written["patient_id"]).to_numpy(),
    _s=sessions.reindex(written["session_id"]).to_numpy())
print(figures(f"orplan ({out.name})", written))
