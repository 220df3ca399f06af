"""Read a table from `NAME.csv` or `NAME.parquet` into a frame of text cells.

Both formats end as text so that one typed parser (orplan.validate) handles both and they give
identical results. CSV exports from spreadsheets are messy: the reader accepts `,` `;` or tab
separators, a UTF-8 byte-order mark, Windows line endings and decimal commas (only with `;` or
tab separators, where a comma cannot be a separator).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from orplan.issues import Issue


@dataclass(frozen=True)
class RawTable:
    name: str
    path: Path
    frame: pd.DataFrame  # every cell a str; "" for blank
    decimal_comma: bool  # numbers may use ',' as decimal mark

    @property
    def file(self) -> str:
        return self.path.name


def find_table(folder: Path, name: str) -> list[Path]:
    return [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, pd.Timestamp | dt.datetime):
        if value.hour == value.minute == value.second == 0:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.timedelta | pd.Timedelta):
        minutes = int(pd.Timedelta(value).total_seconds() // 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if value is pd.NaT or value is pd.NA:
        return ""
    return str(value).strip()


def _read_csv(path: Path) -> tuple[pd.DataFrame, bool]:
    data = path.read_bytes()
    if not data.strip():
        raise ValueError("the file is empty; it needs at least a header row")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older spreadsheet exports are Windows-1252; accept them rather than reject.
        text = data.decode("cp1252")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=header.count)
    if header.count(delimiter) == 0:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    columns = [c.strip() for c in rows[0]]
    body = [[c.strip() for c in r] for r in rows[1:]]
    width = len(columns)
    body = [(r + [""] * width)[:width] if len(r) != width else r for r in body]
    frame = pd.DataFrame(body, columns=columns, dtype=object)
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return frame, delimiter != ","


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = pd.DataFrame(
        {name: [_cell_text(v) for v in table.column(name).to_pylist()]
         for name in table.column_names},
        dtype=object,
    )
    return frame


def read_raw_table(folder: Path, name: str, issues: list[Issue]) -> RawTable | None:
    """Read NAME.csv or NAME.parquet from folder; append an issue and return None if unreadable."""
    candidates = find_table(folder, name)
    if not candidates:
        return None
    if len(candidates) > 1:
        issues.append(Issue("ambiguous-table", candidates[0].name, None, None,
                            f"both {name}.csv and {name}.parquet exist in {folder}; keep one"))
        return None
    path = candidates[0]
    try:
        if path.suffix == ".csv":
            frame, decimal_comma = _read_csv(path)
        else:
            frame, decimal_comma = _read_parquet(path), False
    except ValueError as exc:
        if path.suffix == ".csv":
            issues.append(Issue("empty-file", path.name, None, None, str(exc)))
        else:
            issues.append(Issue("corrupt-file", path.name, None, None,
                                f"cannot read Parquet file: {exc}; export it again"))
        return None
    except Exception as exc:  # pyarrow raises several types for damaged files
        issues.append(Issue("corrupt-file", path.name, None, None,
                            f"cannot read {path.suffix[1:]} file: {exc}; export it again"))
        return None
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        issues.append(Issue("duplicate-column", path.name, 1, duplicated[0],
                            f"column '{duplicated[0]}' appears more than once in the header"))
        return None
    return RawTable(name, path, frame, decimal_comma)


def read_table_at(path: Path, name: str, issues: list[Issue]) -> RawTable | None:
    """Read table `name` from a .csv or .parquet file, or from a folder holding NAME.csv or
    NAME.parquet; append an issue and return None when there is none or it is unreadable."""
    if path.is_dir():
        raw = read_raw_table(path, name, issues)
        if raw is None and not issues:
            issues.append(Issue("missing-file", f"{name}.csv", None, None,
                                f"no {name}.csv or {name}.parquet in {path}"))
        return raw
    if path.exists() and path.suffix in (".csv", ".parquet"):
        raw = read_raw_table(path.parent, path.stem, issues)
        return None if raw is None else RawTable(name, raw.path, raw.frame, raw.decimal_comma)
    issues.append(Issue("missing-file", path.name, None, None,
                        f"{name} {path} does not exist (give a .csv or .parquet file or a folder "
                        f"holding {name}.csv)"))
    return None
