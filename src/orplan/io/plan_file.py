"""Read a plan (orplan's own or one made elsewhere) for checking."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from orplan.issues import Issue
from orplan.schema import PLAN


def read_plan(path: Path) -> tuple[pd.DataFrame | None, list[Issue]]:
    """A typed plan frame (start/end in minutes) from a plan file or a folder holding one."""
    from orplan.validate import read_typed

    issues: list[Issue] = []
    _, frame = read_typed(path, PLAN, issues)
    if frame is not None:
        for column in ("start", "end"):
            frame[column] = frame[column].astype(float)
    return frame, issues
