"""The generated case history (schema.HISTORY): what durations are learnt from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from orplan.generate import CATALOGUE, generate_case
from orplan.schema import HISTORY

ROOT = Path(__file__).resolve().parent.parent


def test_history_follows_the_catalogue_and_leaves_the_case_alone() -> None:
    tables, _ = generate_case("example", 7)
    history = tables["history"]
    assert list(history.columns) == HISTORY.column_names
    assert len(history) == 2 * len(tables["waitlist"])
    dates = pd.to_datetime(history["date"]).dt.date
    assert dates.max() < dt.date(2026, 11, 30) and dates.min() >= dt.date(2025, 11, 30)
    assert (history["actual_min"] > 0).all() and (history["booked_min"] % 5 == 0).all()
    median_of = {p.code: p.median_min for p in CATALOGUE}
    ratio = np.log(history["actual_min"] / history["procedure"].map(median_of))
    # the catalogue's log-normal medians: over all 1,200 cases, and per procedure within
    # sampling and surgeon spread (5 surgeons a specialty here)
    assert abs(ratio.median()) < 0.05
    counts = history["procedure"].value_counts()
    per_procedure = ratio.groupby(history["procedure"]).median()[counts[counts >= 30].index]
    assert (per_procedure.abs() < 0.3).all()
    # the shipped example was made by the same generator (its history has a random stream of its
    # own, so adding it left the other tables as they were)
    for name, frame in tables.items():
        shipped = (ROOT / "examples" / "demo-week" / f"{name}.csv").read_text(encoding="utf-8")
        assert frame.to_csv(index=False) == shipped, name
