"""Session knapsacks on minutes that share no grid (a hospital export to the minute)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from orplan.model.bound import (
    KNAPSACK_GRID_MIN,
    cap_units,
    exact_view,
    lagrangian_bound,
    relaxation,
    session_values,
)
from orplan.model.build import planning_data
from orplan.model.compact import solve_compact
from orplan.validate import load_case
from orplan.work import REF_CAP_UNITS, knapsack_units

from conftest import config_of, make_case


def _rel(tmp_path: Path, minutes: list[int]):  # type: ignore[no-untyped-def]
    folder = make_case(tmp_path / "c", [{"duration_min": m} for m in minutes],
                       [{"end": "16:00"}, {"end": "12:00"}],
                       config="[rules]\nturnover_min = 20\nmax_overtime_min = 30\n")
    case, _ = load_case(folder, config_of(folder))
    assert case is not None
    return relaxation(planning_data(case))


def test_minutes_off_the_grid_round_up_for_plans_and_down_for_bounds(tmp_path: Path) -> None:
    rel = _rel(tmp_path, [61, 93, 122, 47, 150, 88])
    exact = (rel.duration + rel.turnover) / KNAPSACK_GRID_MIN
    assert rel.weight_low is not None
    assert np.all(rel.weight >= exact) and np.all(rel.weight - exact < 1)
    assert np.all(rel.relaxed_weight <= exact) and np.all(exact - rel.relaxed_weight < 1)
    # 08:00-16:00 plus 20 turnover and 30 overtime: 530 minutes, 106 units
    assert cap_units(rel) == 107
    # every knapsack choice fits in true minutes
    _, chosen = session_values(rel, rel.base_profit, np.zeros(len(rel.equipment_units)),
                               want_choice=True)
    assert chosen is not None
    booked = np.bincount(rel.s[chosen], weights=rel.duration[chosen] + rel.turnover,
                         minlength=len(rel.capacity)) - rel.turnover
    assert np.all(booked <= rel.session_limit + 1e-9)
    # the bound on the minutes' own grid is at least as tight as on the coarse grid
    fine = exact_view(rel)
    assert fine.weight_low is None and cap_units(fine) == 531
    prices = solve_compact(rel, np.arange(rel.n_patients), 10.0).prices
    assert lagrangian_bound(fine, prices) >= lagrangian_bound(rel, prices) - 1e-9


def test_minutes_on_a_grid_are_exact(tmp_path: Path) -> None:
    rel = _rel(tmp_path, [60, 90, 120, 45])
    assert rel.weight_low is None and exact_view(rel) is rel
    assert np.array_equal(rel.weight * 5, rel.duration + rel.turnover)


def test_wider_tables_cost_more_counted_work() -> None:
    base = dict(knapsack_units(1000, 10))
    assert dict(knapsack_units(1000, 10, REF_CAP_UNITS - 20)) == base
    wide = dict(knapsack_units(1000, 10, 5 * REF_CAP_UNITS))
    assert wide["knapsack_pair"] == 5 * base["knapsack_pair"]
