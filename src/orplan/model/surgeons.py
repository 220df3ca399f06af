"""Surgeon rules: daily operating limit, never in two rooms at once, and room switches."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.model.common import Model, add_rows, binaries, continuous, expression


def _surgeon_pairs(model: Model) -> pd.DataFrame:
    pairs = model.pairs
    named = pairs[pairs["surgeon_id"] != ""]
    return named.assign(row=np.flatnonzero((pairs["surgeon_id"] != "").to_numpy()))


def define_surgeon_day_limit(model: Model) -> None:
    """sum_{p of g, s on day d} d_p x[p,s] <= max_minutes[g,d] where the limit can bind."""
    surgeons = model.case.surgeons
    named = _surgeon_pairs(model)
    if surgeons is None or named.empty or surgeons["max_minutes"].isna().all():
        return
    limits = surgeons.dropna(subset=["max_minutes"]).drop_duplicates(["surgeon_id", "date"])
    merged = named.merge(limits[["surgeon_id", "date", "max_minutes"]], on=["surgeon_id", "date"])
    if merged.empty:
        return
    key = merged.groupby(["surgeon_id", "date"], sort=True).ngroup().to_numpy()
    total = np.bincount(key, weights=merged["duration"].to_numpy())
    limit = merged.groupby(key)["max_minutes"].first().to_numpy()
    binding = (total > limit)[key]
    if not binding.any():
        return
    add_rows(model, "surgeon_day_limit", key[binding], merged["x"].to_numpy()[binding],
             merged["duration"].to_numpy()[binding], "<=",
             {int(k): float(limit[k]) for k in np.unique(key[binding])})


def surgeon_session_windows(model: Model) -> pd.DataFrame:
    """Distinct (surgeon, session) with each window [start, end + max_ot) and an overlap cluster
    id: sessions of one surgeon on one day whose windows overlap (transitively) share a cluster."""
    named = _surgeon_pairs(model)
    sessions = model.sessions
    windows = named[["surgeon_id", "date", "s"]].drop_duplicates()
    windows = windows.assign(start=sessions["start"].to_numpy()[windows["s"]],
                             finish=(sessions["end"] + sessions["max_ot"]).to_numpy()[windows["s"]])
    windows = windows.sort_values(["surgeon_id", "date", "start"]).reset_index(drop=True)
    reach = windows.groupby(["surgeon_id", "date"])["finish"].cummax()
    same_day = (windows[["surgeon_id", "date"]] == windows[["surgeon_id", "date"]].shift()).all(
        axis=1)
    new_cluster = ~same_day | (windows["start"] >= reach.shift())
    windows["cluster"] = new_cluster.cumsum() - 1
    return windows


def define_surgeon_overlap_constraints(model: Model) -> None:
    """For sessions of one surgeon on one day whose windows overlap: the surgeon's case minutes in
    them fit in the union of the windows (one surgeon operates one case at a time)."""
    named = _surgeon_pairs(model)
    if named.empty:
        return
    windows = surgeon_session_windows(model)
    size = windows.groupby("cluster")["s"].transform("size")
    windows = windows[size > 1]
    if windows.empty:
        return
    span = windows.groupby("cluster").agg(start=("start", "min"), finish=("finish", "max"))
    span_minutes = dict(zip(span.index.to_numpy().tolist(),
                            (span["finish"] - span["start"]).to_numpy().tolist(), strict=True))
    merged = named.merge(windows[["surgeon_id", "s", "cluster"]], on=["surgeon_id", "s"])
    cluster = merged["cluster"].to_numpy()
    total = merged.groupby("cluster")["duration"].sum()
    binding = (total > pd.Series(span_minutes)).reindex(cluster).to_numpy()
    if not binding.any():
        return
    add_rows(model, "surgeon_overlap", cluster[binding], merged["x"].to_numpy()[binding],
             merged["duration"].to_numpy()[binding], "<=",
             {int(k): float(v) for k, v in span_minutes.items()})  # cluster -> minutes


def define_room_switch_constraints(model: Model) -> None:
    """uses[g,d,room] >= x[p,s] for the surgeon's pairs; switches[g,d] >= sum_room uses - 1.
    Only for surgeon-days that could use two or more rooms."""
    named = _surgeon_pairs(model)
    if named.empty:
        return
    sessions = model.sessions
    named = named.assign(room=(sessions["site"] + "\x1f" + sessions["room"]).to_numpy()[named["s"]])
    rooms_per_day = named.groupby(["surgeon_id", "date"])["room"].transform("nunique")
    named = named[rooms_per_day > 1]
    if named.empty:
        return
    day_key = named.groupby(["surgeon_id", "date"], sort=True).ngroup().to_numpy()
    room_key = named.groupby(["surgeon_id", "date", "room"], sort=True).ngroup().to_numpy()
    n_rooms, n_days = int(room_key.max()) + 1, int(day_key.max()) + 1
    uses = binaries(model, "room_use", n_rooms)
    switches = continuous(model, "switches", n_days)
    pair_index = np.arange(len(named))
    add_rows(model, "room_use", np.concatenate([pair_index, pair_index]),
             np.concatenate([named["x"].to_numpy(), uses[room_key]]),
             np.concatenate([np.ones(len(named)), -np.ones(len(named))]), "<=", 0.0)
    room_day = pd.Series(day_key).groupby(room_key).first().to_numpy()
    add_rows(model, "room_switch", np.concatenate([room_day, np.arange(n_days)]),
             np.concatenate([uses, switches]),
             np.concatenate([np.ones(n_rooms), -np.ones(n_days)]), "<=", 1.0)
    model.add_term("room_switches", expression(switches, np.ones(n_days)))
