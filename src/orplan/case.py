"""A loaded, typed planning case: the tables after parsing, the config and the horizon."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from orplan.config import Config


@dataclass
class Case:
    """Typed tables. Dates are datetime64 (NaT when blank), times are minutes after midnight,
    `list` columns are tuples of str, bools are bool (blank = False), numbers are float (NaN when
    blank)."""

    folder: Path
    config: Config
    waitlist: pd.DataFrame
    sessions: pd.DataFrame
    surgeons: pd.DataFrame | None = None
    equipment: pd.DataFrame | None = None
    beds: pd.DataFrame | None = None
    previous_plan: pd.DataFrame | None = None  # bookings, see validate._previous_plan
    horizon_start: dt.date = dt.date(1970, 1, 1)
    horizon_days: int = 0
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def horizon_end(self) -> dt.date:
        """Last planned date (inclusive)."""
        return self.horizon_start + dt.timedelta(days=self.horizon_days - 1)

    def file(self, table: str) -> str:
        path = self.files.get(table)
        return path.name if path else f"{table}.csv"
