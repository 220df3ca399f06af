"""Write an output folder atomically: everything goes to a temporary folder beside the target,
which replaces the target only when complete. A failed run leaves the old outputs untouched."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

Format = Literal["csv", "parquet"]


def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


def write_outputs(out_dir: Path, tables: dict[str, pd.DataFrame],
                  summary: Callable[[], dict[str, Any]], fmt: Format,
                  finish: Callable[[Path], None] | None = None) -> None:
    """Write the tables, then `summary()` (called last, so it can time the table writing), then
    `finish(folder)` (for files made from the others, such as the report) before the folder
    replaces the target."""
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for name, frame in tables.items():
            frame = _text_frame(frame)
            if fmt == "csv":
                frame.to_csv(staging / f"{name}.csv", index=False)
            else:
                frame.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "summary.json").write_text(json.dumps(summary(), indent=2, default=str) + "\n",
                                              encoding="utf-8")
        if finish is not None:
            finish(staging)
        if out_dir.exists():
            if not out_dir.is_dir():
                raise FileExistsError(f"{out_dir} exists and is not a folder")
            retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
            os.replace(out_dir, retired / "previous")
            os.replace(staging, out_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_files(writers: dict[Path, Callable[[Path], object]]) -> None:
    """Write each target through its writer into a temporary file beside it, then put them all
    in place; on any failure no target is touched and the temporary files are removed."""
    staged: list[tuple[Path, Path]] = []
    try:
        for target, write in writers.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(handle)
            staged.append((Path(name), target))
            write(Path(name))
        for staging, target in staged:
            os.replace(staging, target)
    finally:
        for staging, _ in staged:
            staging.unlink(missing_ok=True)
