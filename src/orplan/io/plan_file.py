"""Read a plan (orplan's own or one made elsewhere) for checking."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from orplan.io.read import RawTable, read_raw_table
from orplan.issues import Issue
from orplan.schema import PLAN


def read_plan(path: Path) -> tuple[pd.DataFrame | None, list[Issue]]:
    """A typed plan frame (start/end in minutes) from a plan file or a folder holding one."""
    from orplan.validate import parse_table

    issues: list[Issue] = []
    if path.is_dir():
        raw = read_raw_table(path, "plan", issues)
        if raw is None and not issues:
            issues.append(Issue("missing-file", "plan.csv", None, None,
                                f"no plan.csv or plan.parquet in {path}"))
    elif path.exists() and path.suffix in (".csv", ".parquet"):
        raw = read_raw_table(path.parent, path.stem, issues)
        if raw is not None:
            raw = RawTable("plan", raw.path, raw.frame, raw.decimal_comma)
    else:
        issues.append(Issue("missing-file", path.name, None, None,
                            f"plan {path} does not exist (give a .csv or .parquet file or a "
                            "folder holding plan.csv)"))
        raw = None
    if raw is None:
        return None, issues
    frame = parse_table(raw, PLAN, issues)
    if frame is not None:
        for column in ("start", "end"):
            frame[column] = frame[column].astype(float)
    return frame, issues
