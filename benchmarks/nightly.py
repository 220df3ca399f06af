"""How many confirmed bookings does a night's re-planning change, with and without the previous
plan? Solves CASE (night 1), makes a realistic overnight change (a share of booked patients
cancel and leave the waitlist, new urgent referrals arrive, one booked room-day closes), then
plans night 2 three times: as a fresh plan, with night 1's plan as the previous plan, and with
it and the first day frozen (--freeze-days 1). Prints the churn of each against night 1
(orplan.reports.diff).

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/nightly.py CASE SECONDS WORK_DIR [SEED]
(e.g. benchmarks/cases/hospital-s1 60 /tmp/nightly: about 4.5 minutes)
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from orplan.reports.diff import churn, plan_diff, read_bookings, render_churn

case, seconds, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
CANCEL_SHARE, NEW_URGENT = 0.01, 20
rng = np.random.default_rng(seed)
orplan = str(Path(sys.executable).with_name("orplan"))


def solve(folder: Path, out: Path, *options: str) -> None:
    subprocess.run([orplan, "solve", str(folder), "-o", str(out), "--time-limit", seconds,
                    "--quiet", *options], check=True)


shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
solve(case, work / "night1")
first = pd.read_csv(work / "night1" / "plan.csv", dtype=str)

# the overnight change
night2 = work / "case2"
shutil.copytree(case, night2)
waitlist = pd.read_csv(night2 / "waitlist.csv", dtype=str, keep_default_na=False)
sessions = pd.read_csv(night2 / "sessions.csv", dtype=str, keep_default_na=False)
cancelled = rng.choice(first["patient_id"].to_numpy(), int(CANCEL_SHARE * len(first)),
                       replace=False)
waitlist = waitlist[~waitlist["patient_id"].isin(cancelled)]
new = waitlist.sample(NEW_URGENT, random_state=seed).copy()
new["patient_id"] = [f"NEW{i:04d}" for i in range(NEW_URGENT)]
start = pd.Timestamp(sessions["date"].min())
new["urgency"], new["referral_date"] = "A", (start - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
new["deadline"] = (start + pd.Timedelta(days=4)).strftime("%Y-%m-%d")
new["earliest_date"] = ""
waitlist = pd.concat([waitlist, new])
closed = first["session_id"].iloc[int(rng.integers(len(first)))]
ids = sessions["site"] + "-" + sessions["room"] + "-" + sessions["date"] + "-" + sessions[
    "start"].str.replace(":", "")
sessions = sessions[ids != closed]
waitlist.to_csv(night2 / "waitlist.csv", index=False)
sessions.to_csv(night2 / "sessions.csv", index=False)
print(f"night 1: {len(first)} booked; overnight: {len(cancelled)} cancel, {NEW_URGENT} urgent "
      f"referrals, session {closed} closed "
      f"({(first['session_id'] == closed).sum()} booked in it)")

solve(night2, work / "fresh")
shutil.copy(work / "night1" / "plan.csv", night2 / "previous_plan.csv")
solve(night2, work / "with_previous")
solve(night2, work / "frozen_day", "--freeze-days", "1")
old, _ = read_bookings(work / "night1")
for name in ("fresh", "with_previous", "frozen_day"):
    new_plan, _ = read_bookings(work / name)
    figures = churn(plan_diff(old, new_plan))
    summary = pd.read_json(work / name / "summary.json", typ="series")
    kpis = summary["kpis"]
    change_terms = sum(summary["terms"][t]["value"] for t in ("dropped", "moved_date",
                                                              "moved_room"))
    print(f"{name}: {render_churn(figures)}; objective without the change terms "
          f"{summary['objective'] - change_terms:,.0f}, "
          f"planned {kpis['patients_planned']}, deadline breaches {kpis['deadline_breaches']}")
