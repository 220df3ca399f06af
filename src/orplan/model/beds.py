"""Ward beds: patients operated on day d occupy a bed of their ward on d .. d + los_days - 1."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orplan.model.common import Model, add_rows


def bed_ward(model_pairs: pd.DataFrame, waitlist: pd.DataFrame) -> pd.Series:
    """The patient's ward, or the session's site when none is given."""
    ward = waitlist["ward"].to_numpy()[model_pairs["p"].to_numpy()]
    return pd.Series(np.where(ward != "", ward, model_pairs["site"].to_numpy()),
                     index=model_pairs.index)


def define_bed_constraints(model: Model) -> None:
    """sum_{(p,s): ward(p,s) = w, date_s <= t < date_s + los_p} x[p,s] <= capacity[w, t]."""
    beds = model.case.beds
    if beds is None or beds.empty:
        return
    waitlist = model.case.waitlist
    pairs = model.pairs
    los = waitlist["los_days"].fillna(0).to_numpy()[pairs["p"].to_numpy()]
    staying = los >= 1
    if not staying.any():
        return
    stays = pd.DataFrame({
        "x": pairs["x"].to_numpy()[staying],
        "ward": bed_ward(pairs, waitlist).to_numpy()[staying],
        "date": pairs["date"].to_numpy()[staying],
        "offset": [np.arange(int(n)) for n in los[staying]],
    }).explode("offset")
    stays["date"] = stays["date"] + pd.to_timedelta(stays["offset"].astype(int), unit="D")
    capacity = beds.drop_duplicates(["ward", "date"])[["ward", "date", "capacity"]]
    stays = stays.merge(capacity, on=["ward", "date"])
    if stays.empty:
        return
    key = stays.groupby(["ward", "date"], sort=True).ngroup().to_numpy()
    cap = stays.groupby(key)["capacity"].first().to_numpy()
    binding = (np.bincount(key) > cap)[key]
    if not binding.any():
        return
    add_rows(model, "beds", key[binding], stays["x"].to_numpy()[binding],
             np.ones(int(binding.sum())), "<=", {int(k): float(cap[k]) for k in np.unique(key)})
