"""Plans made at several duration rules, each replayed with the durations learnt from the case's
history: the trade-off between full sessions and overtime / day-of cancellations.

Fits CASE/history (orplan durations fit), then solves CASE with: the waitlist's own minutes
(what is planned today), the fit's means, the fit's 80th percentile, and the fit's means with
risk targets (--risk); replays every plan 10,000 times with the fit (orplan simulate) and prints
one markdown table. For the risk plans it also compares each session's Fenton-Wilkinson risk
(summary.json, orplan.risk) with its simulated chance of running past the allowed overtime:
the approximation's error.

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/risk_tradeoff.py CASE SECONDS WORK_DIR [RISK ...]
(e.g. benchmarks/cases/hospital-s1 60 /tmp/tradeoff: about 8 minutes)
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from orplan.bench import to_markdown
from orplan.config import load_config
from orplan.durations import DurationPlan
from orplan.io.plan_file import read_plan
from orplan.pipeline import load_stage, read_durations
from orplan.risk import session_risk
from orplan.simulate import case_durations, plan_cases, simulate

case, seconds, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
risks = [float(r) for r in sys.argv[4:]] or [0.3, 0.2, 0.1, 0.05]
RUNS = 10_000
orplan = str(Path(sys.executable).with_name("orplan"))
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
fit_path = work / "durations.csv"
subprocess.run([orplan, "durations", "fit", str(case), "-o", str(fit_path)], check=True)
fit = read_durations(fit_path)
config = load_config(case / "orplan.toml" if (case / "orplan.toml").exists() else None)
loaded, _ = load_stage(case, config)

plans = [("waitlist minutes (today)", []), ("fit: mean", ["-d", str(fit_path)]),
         ("fit: 80th percentile", ["-d", str(fit_path), "--quantile", "0.8"])]
plans += [(f"fit: risk {r:g}", ["-d", str(fit_path), "--risk", str(r)]) for r in risks]
rows, errors = [], []
for name, options in plans:
    out = work / name.replace(" ", "_").replace(":", "").replace("(", "").replace(")", "")
    subprocess.run([orplan, "solve", str(case), "-o", str(out), "--time-limit", seconds,
                    "--quiet", *options], check=True)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    plan, _ = read_plan(out)
    started = time.perf_counter()
    result = simulate(loaded, plan, RUNS, fit, seed=0)
    seconds_sim = time.perf_counter() - started
    totals, k = result.totals, summary["kpis"]
    # the work the plan takes on, in expected minutes (the fit's means: comparable across plans,
    # whatever minutes each was planned with)
    cases = plan_cases(loaded, plan)
    expected = case_durations(cases["specialty"], cases["procedure"], cases["surgeon_id"],
                              cases["minutes"].to_numpy(), fit, config.durations.sigma).mean
    rows.append({
        "plan": name, "cases": k["patients_planned"],
        "expected case min": round(float(expected.sum())),
        "of staffed": f"{100 * expected.sum() / k['staffed_min']:.1f} %",
        "planned staffed used": f"{100 * k['utilisation_staffed']:.1f} %",
        "planned overtime min": int(k["overtime_min"]),
        "sim. overtime min": round(totals["expected_overtime_min"]),
        "sim. overtime p90": round(totals["p90_overtime_min"]),
        "sim. cancelled": round(totals["expected_cancelled"], 1),
        "sessions past end": round(totals["expected_sessions_overtime"], 1),
        "sessions past allowed": round(totals["expected_sessions_over_allowed"], 1),
        "replay s": round(seconds_sim, 2),
    })
    if "--risk" in options:
        # the approximation, on the plan as written (minutes from the fit's means)
        planned_case, _ = load_stage(case, config, DurationPlan(fit, None, float(options[-1])))
        per_session = session_risk(planned_case, plan).set_index("session_id")["risk"]
        simulated = result.sessions.set_index("session_id")["p_over_allowed"]
        diff = per_session - simulated.reindex(per_session.index)
        errors.append({"plan": name, "sessions": len(per_session),
                       "FW mean risk": round(float(per_session.mean()), 4),
                       "simulated mean": round(float(simulated.mean()), 4),
                       "mean abs. error": round(float(diff.abs().mean()), 4),
                       "max abs. error": round(float(diff.abs().max()), 4),
                       "FW max": round(float(per_session.max()), 4),
                       "simulated max": round(float(simulated.max()), 4),
                       "simulated > target": int((simulated > float(options[-1])).sum())})

table = pd.DataFrame(rows)
table.to_csv(work / "tradeoff.csv", index=False)
print(f"\n{case.name}: {RUNS:,} replays per plan with the fit of its history, solve "
      f"--time-limit {seconds}\n")
print(to_markdown(table))
if errors:
    print("\nFenton-Wilkinson session risk (orplan.risk) against the replay, per session:\n")
    print(to_markdown(pd.DataFrame(errors)))
    pd.DataFrame(errors).to_csv(work / "approximation.csv", index=False)
