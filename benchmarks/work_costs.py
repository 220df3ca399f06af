"""Fit orplan.work's costs (seconds per unit on this machine) to solved runs. Reads the
summary.json of each output folder given (runs of `orplan solve`, deterministic or with
--wall-clock), takes per solver stage the units counted and the wall seconds between charges,
and fits one cost per unit by non-negative least squares over all stages of all runs, weighting
each stage by 1 / (its wall seconds + 1) so that large and small cases both count. Prints the
fitted costs beside orplan's, and per run and stage the wall seconds against the seconds counted
with each set of costs.

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/work_costs.py OUT [OUT ...]
(e.g. the run folders of benchmarks/reproducible.py on the demo week, a 1,000-patient week and
the hospital week)
"""

import json
import sys
from pathlib import Path

import numpy as np

from orplan.work import COSTS

units = list(COSTS)
rows, walls, labels = [], [], []
for folder in sys.argv[1:]:
    figures = json.loads((Path(folder) / "summary.json").read_text())["work"]
    for stage, counts in figures["units"].items():
        rows.append([counts.get(unit, 0.0) for unit in units])
        walls.append(figures["wall_s"][stage])
        labels.append((folder, stage))
a, b = np.array(rows, dtype=float), np.array(walls, dtype=float)
weight = 1.0 / (b + 1.0)
used = np.flatnonzero(a.sum(axis=0) > 0)
scale = a[:, used].max(axis=0)


def nnls(m: np.ndarray, y: np.ndarray, rounds: int = 200) -> np.ndarray:
    """Non-negative least squares by active sets (Lawson and Hanson)."""
    x = np.zeros(m.shape[1])
    passive = np.zeros(m.shape[1], dtype=bool)
    for _ in range(rounds):
        gradient = m.T @ (y - m @ x)
        if passive.all() or gradient[~passive].max(initial=0.0) <= 1e-12:
            break
        passive[np.flatnonzero(~passive)[np.argmax(gradient[~passive])]] = True
        while True:
            z = np.zeros_like(x)
            z[passive] = np.linalg.lstsq(m[:, passive], y, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            bad = passive & (z <= 0)
            step = np.min(x[bad] / (x[bad] - z[bad]))
            x = x + step * (z - x)
            passive &= x > 1e-15
    return x


fitted = nnls(a[:, used] / scale * weight[:, None], b * weight) / scale
costs = {unit: COSTS[unit] for unit in units}
new = dict(costs)
for unit, value in zip((units[i] for i in used), fitted, strict=True):
    new[unit] = float(value)
print("| unit | orplan | fitted |")
print("|---|---|---|")
for unit in units:
    print(f"| {unit} | {costs[unit]:.3g} | {new[unit]:.3g} |")
print("\n| run | stage | wall s | counted s (orplan) | counted s (fitted) |")
print("|---|---|---|---|---|")
for (folder, stage), row, wall in zip(labels, a, b, strict=True):
    ours = sum(c * costs[u] for u, c in zip(units, row, strict=True))
    theirs = sum(c * new[u] for u, c in zip(units, row, strict=True))
    print(f"| {Path(folder).name} | {stage} | {wall:.2f} | {ours:.2f} | {theirs:.2f} |")
