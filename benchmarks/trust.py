"""Plans a planner can trust: for each case, orplan's optimiser against the planner's rule
(`--method greedy`) on what matters clinically first, then efficiency. Solves every CASE with
both methods (each run in its own process, through the CLI as a user would) and prints one row per
case and method: exit code, violations found by the check, deadlines due in the horizon kept of
those keepable at all (summary.json `deadlines`), patients planned per urgency class, due or
overdue patients planned per class, overdue planned, utilisation of staffed time, overtime
minutes, each priority tier's gap where it has a bound, the plan's source and the wall time.
A last column says whether the optimiser's plan is behind the planner's rule anywhere.

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/trust.py WORK_DIR CASE... [-- solve options...]
(e.g. /tmp/trust benchmarks/cases/hospital-split benchmarks/cases/clinic -- --time-limit 60)
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

args = sys.argv[1:]
options = args[args.index("--") + 1:] if "--" in args else []
args = args[:args.index("--")] if "--" in args else args
work, cases = Path(args[0]), [Path(a) for a in args[1:]]
orplan = str(Path(sys.executable).with_name("orplan"))
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)


def counts(case: Path, out: Path) -> dict[str, object]:
    """Per urgency class: planned, and planned among those due or overdue (from the outputs)."""
    plan = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False)
    left = pd.read_csv(out / "unscheduled.csv", dtype=str, keep_default_na=False)
    summary = json.loads((out / "summary.json").read_text())
    horizon = pd.Timestamp(summary["horizon"]["start"])
    planned_due = plan["due_by"] != ""
    planned_over = (plan["deadline"] != "") & (pd.to_datetime(plan["deadline"].replace("", None))
                                               < horizon)
    by_class = plan.groupby("urgency").size().to_dict()
    pressing = plan[planned_due | planned_over.fillna(False)].groupby("urgency").size().to_dict()
    classes = sorted(set(plan["urgency"]) | set(left["urgency"]))
    return {"planned": {c: int(by_class.get(c, 0)) for c in classes},
            "pressing": {c: int(pressing.get(c, 0)) for c in classes}}


rows = []
for case in cases:
    results = {}
    for method in ("greedy", "milp"):
        out = work / f"{case.name}-{method}"
        started = time.perf_counter()
        done = subprocess.run([orplan, "solve", str(case), "-o", str(out), "--quiet",
                               "--method", method, *options], check=False,
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        if not (out / "summary.json").exists():
            rows.append({"case": case.name, "method": method, "exit": done.returncode,
                         "plan": "no output: " + done.stderr.strip().splitlines()[-1][:80]
                         if done.stderr.strip() else "no output", "wall s": f"{wall:.1f}"})
            continue
        summary = json.loads((out / "summary.json").read_text())
        figures = counts(case, out)
        kpis = summary["kpis"]
        deadlines = summary.get("deadlines", {})
        gaps = [f"{t['name']} {100 * t['gap']:.1f} %" for t in summary.get("tiers", [])
                if t.get("gap") is not None]
        results[method] = (summary, figures)
        rows.append({
            "case": case.name, "method": method, "exit": done.returncode,
            "violations": summary.get("violations"),
            "deadlines kept / keepable (due)": f"{kpis['deadline_kept']} / "
            f"{deadlines.get('keepable_at_most', '-')} ({kpis['deadline_due_in_horizon']})",
            "planned by class": " ".join(f"{c} {n}" for c, n in figures["planned"].items()),
            "due or overdue planned by class": " ".join(
                f"{c} {n}" for c, n in figures["pressing"].items()),
            "overdue planned": f"{kpis['overdue_planned']} / {kpis['overdue_waiting']}",
            "utilisation": f"{100 * kpis['utilisation_staffed']:.1f} %",
            "overtime min": f"{kpis['overtime_min']:,.0f}",
            "tier gaps": ", ".join(gaps) or "-",
            "whole gap": "-" if summary.get("gap") is None else f"{100 * summary['gap']:.1f} %",
            "plan": summary.get("plan_source"), "wall s": f"{wall:.1f}"})
    if len(results) < 2:
        continue
    (greedy, g), (milp, m) = results["greedy"], results["milp"]
    behind = [c for c, n in g["pressing"].items() if m["pressing"].get(c, 0) < n]
    if milp["kpis"]["deadline_kept"] < greedy["kpis"]["deadline_kept"]:
        behind.append("deadlines")
    rows[-1]["behind the planner's rule"] = ", ".join(behind) or "no"

columns = list(rows[0]) + ["behind the planner's rule"]
print(f"options: {' '.join(options) or '(defaults)'}")
print("| " + " | ".join(columns) + " |")
print("|" + "---|" * len(columns))
for row in rows:
    print("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
