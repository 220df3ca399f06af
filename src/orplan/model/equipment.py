"""Mobile equipment: sessions at a site on a date that use a type not installed in their room may
not exceed that type's units."""

from __future__ import annotations

import numpy as np

from orplan.model.common import Model, add_rows, binaries
from orplan.model.pairs import mobile_units


def define_equipment_constraints(model: Model) -> None:
    """uses[s,k] >= x[p,s] for p needing k (k not installed in s);
    sum_{s at site, date} uses[s,k] <= units[k, site, date]."""
    pairs, sessions = model.pairs, model.sessions
    if model.case.equipment is None:
        return
    needing = pairs[pairs["needs"].map(len) > 0]
    if needing.empty:
        return
    exploded = needing.assign(row=needing.index).explode("needs").rename(
        columns={"needs": "equipment"})
    installed = sessions["equipment"].to_numpy()[exploded["s"].to_numpy()]
    mobile = np.array([k not in inst for k, inst in zip(exploded["equipment"], installed,
                                                        strict=True)], dtype=bool)
    exploded = exploded[mobile]
    if exploded.empty:
        return
    group = exploded.groupby(["equipment", "site", "date"], sort=True).ngroup().to_numpy()
    keys = exploded[["equipment", "site", "date"]].drop_duplicates().sort_values(
        ["equipment", "site", "date"])
    units = mobile_units(model.case, keys)
    n_sessions = exploded.groupby(group)["s"].nunique().to_numpy()
    binding = (n_sessions > units)[group]
    exploded, group = exploded[binding], group[binding]
    if exploded.empty:
        return
    use_key = exploded.groupby(["equipment", "s"], sort=True).ngroup().to_numpy()
    uses = binaries(model, "equipment_use", int(use_key.max()) + 1)
    n = len(exploded)
    index = np.arange(n)
    add_rows(model, "equipment_use", np.concatenate([index, index]),
             np.concatenate([exploded["x"].to_numpy(), uses[use_key]]),
             np.concatenate([np.ones(n), -np.ones(n)]), "<=", 0.0)
    first = np.unique(use_key, return_index=True)[1]
    add_rows(model, "equipment_units", group[first], uses[use_key[first]],
             np.ones(len(first)), "<=", {int(g): float(units[g]) for g in np.unique(group)})
