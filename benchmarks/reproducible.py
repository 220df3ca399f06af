"""Does the same input give the same plan, and do the counted seconds match the wall clock's?
Solves CASE RUNS times with the same options (each in its own process), then prints per run the
objective, the wall seconds, whether orplan says the run held its reproducibility promise, the
stages the wall clock cut, and a fingerprint of plan.csv; then, per solver stage, the median
counted seconds (orplan.work's estimate for the reference machine) against the median wall
seconds. With --wall-clock among the options the stages stop by the wall clock (the costs are
checked on runs like these: each stage then runs as it would without counting).

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/reproducible.py CASE RUNS WORK_DIR [solve options...]
(e.g. benchmarks/cases/hospital-s1 3 /tmp/repro --time-limit 60: about 3 minutes)
"""

import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

case, runs, work = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
options = sys.argv[4:]
orplan = str(Path(sys.executable).with_name("orplan"))
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)

rows, summaries = [], []
for run in range(1, runs + 1):
    out = work / f"run{run}"
    started = time.perf_counter()
    subprocess.run([orplan, "solve", str(case), "-o", str(out), "--quiet", *options], check=False)
    wall = time.perf_counter() - started
    summary = json.loads((out / "summary.json").read_text())
    summaries.append(summary)
    digest = hashlib.sha256((out / "plan.csv").read_bytes()).hexdigest()[:12]
    cut = ", ".join(summary.get("work", {}).get("cut_by_clock", [])) or "-"
    rows.append((run, f"{summary['objective']:,.0f}", f"{wall:.1f}",
                 str(summary.get("reproducible")), cut, digest))

print(f"{case} x {runs}, options: {' '.join(options) or '(defaults)'}")
print("| run | objective | wall s | reproducible | cut by the clock | plan.csv |")
print("|---|---|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(str(v) for v in row) + " |")
print(f"distinct plans: {len({row[-1] for row in rows})} of {runs}")

stages: dict[str, tuple[list[float], list[float]]] = {}
for summary in summaries:
    figures = summary.get("work", {})
    for stage, counted in figures.get("counted_s", {}).items():
        entry = stages.setdefault(stage, ([], []))
        entry[0].append(counted)
        entry[1].append(figures.get("wall_s", {}).get(stage, 0.0))
if stages:
    print("\n| stage | counted s | wall s | wall / counted |")
    print("|---|---|---|---|")
    for stage, (counted, wall_s) in stages.items():
        c, w = statistics.median(counted), statistics.median(wall_s)
        print(f"| {stage} | {c:.2f} | {w:.2f} | {w / c if c else float('nan'):.2f} |")
    budget = summaries[0]["work"].get("budget_s")
    print(f"solver budget (counted s): {budget}; median total_s: "
          f"{statistics.median(s['times_s']['total'] for s in summaries):.1f}")
    units = summaries[0]["work"].get("units", {})
    print("units of the first run, per stage: " + json.dumps(units))
