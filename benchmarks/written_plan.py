"""A plan.csv written by `orplan solve` as chosen pairs and starts over data.pairs (shared by the
diagnostic scripts here; a plan that does not belong to the case ends in a pandas KeyError)."""

from pathlib import Path

import numpy as np
import pandas as pd

from orplan.model.common import PlanningData


def read_written(data: PlanningData, plan_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Mask over data.pairs of the written plan's pairs, and their starts (minutes; NaN else)."""
    written = pd.read_csv(plan_dir / "plan.csv", dtype=str)
    p_of = pd.Series(np.arange(len(data.case.waitlist)), index=data.case.waitlist["patient_id"])
    s_of = pd.Series(np.arange(len(data.sessions)), index=data.sessions["session_id"])
    pair_of = pd.Series(np.arange(len(data.pairs)),
                        index=pd.MultiIndex.from_arrays([data.pairs["p"], data.pairs["s"]]))
    positions = pair_of.loc[list(zip(p_of[written["patient_id"]], s_of[written["session_id"]],
                                     strict=True))].to_numpy()
    chosen = np.zeros(len(data.pairs), dtype=bool)
    chosen[positions] = True
    hours, minutes = written["start"].str.split(":", expand=True).astype(int).T.to_numpy()
    starts = np.full(len(data.pairs), np.nan)
    starts[positions] = hours * 60 + minutes
    return chosen, starts
