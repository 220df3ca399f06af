"""Make a case whose case minutes share no grid: CASE's waitlist with every duration_min moved
by a random -2..+2 minutes (at least 5), as a hospital export to the minute would have them.
The session knapsacks then round to 5 minutes (orplan.model.bound.KNAPSACK_GRID_MIN).

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/off_grid.py CASE OUT [SEED]
(e.g. benchmarks/cases/hospital-s1 /tmp/h-min, then `./dev orplan solve /tmp/h-min -o OUT`)
"""

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

case, out = Path(sys.argv[1]), Path(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(case, out)
(out / "history.csv").unlink(missing_ok=True)
waitlist = pd.read_csv(out / "waitlist.csv", dtype=str, keep_default_na=False)
moved = waitlist["duration_min"].astype(float) + np.random.default_rng(seed).integers(
    -2, 3, len(waitlist))
waitlist["duration_min"] = moved.clip(lower=5).astype(int).astype(str)
waitlist.to_csv(out / "waitlist.csv", index=False)
print(f"wrote {out}: {len(waitlist)} patients, durations moved by -2..+2 minutes")
