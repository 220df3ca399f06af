"""How strong can the session-pattern bound get on a case, given time? (orplan's own runs stop
its column generation early.) Solves the compact LP, then runs the column generation from its
prices for SECONDS with no diving, and prints the LP value and the best bound as it goes.

Usage (after `./dev setup`): .venv/bin/python benchmarks/pattern_bound.py CASE SECONDS
(e.g. benchmarks/cases/hospital-s1 900: about 16 minutes)
"""

import sys
import time
from pathlib import Path

from orplan.colgen import generate_patterns
from orplan.config import load_config
from orplan.greedy import priced_order, priced_plan
from orplan.model.bound import lagrangian_bound, relaxation
from orplan.model.build import planning_data
from orplan.model.compact import solve_compact
from orplan.pipeline import load_stage

folder, seconds = Path(sys.argv[1]), float(sys.argv[2])
config_path = folder / "orplan.toml"
case, _ = load_stage(folder, load_config(config_path if config_path.exists() else None))
data = planning_data(case)
order = priced_order(data.priority, case.waitlist["duration_min"].to_numpy(float))
start = priced_plan(data, first=order)[0]
rel = relaxation(data)
t = time.perf_counter()
compact = solve_compact(rel, order, seconds, 1, 0)
print(f"compact LP: optimal {compact.optimal}, value {compact.value:,.0f}, "
      f"{time.perf_counter() - t:.1f} s, bound at its prices "
      f"{lagrangian_bound(rel, compact.prices):,.0f}", flush=True)
result = generate_patterns(data, start, seconds, 1, 0, root_share=1.0, rel=rel, compact=compact,
                           dive=False)
print(f"converged {result.root_converged}, rounds {result.rounds}, columns {result.columns}")
print("seconds, pattern LP value, best bound")
history = result.history
for seconds_, lp, bound in history[::max(1, len(history) // 40)] + history[-1:]:
    print(f"{seconds_:8.1f}  {lp:15,.0f}  {bound:15,.0f}")
