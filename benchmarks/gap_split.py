"""Where does a plan's gap lie, and how much would a stronger bound close?

1. The gap split. For any prices (here the compact LP's, whose Lagrangian bound LB orplan
   reports), a plan's objective is exactly

       objective = LB + sum_s (V_s - value_s) + sum_p lambda_p (1 - planned_p)
                   + mu (rhs - A x) + nu (units - used) + room switches (+ rounding),

   where V_s is session s's best knapsack at the prices (model.bound) and value_s what the plan's
   cases in s are worth at the same prices. The first sum (session regret) is where a session's
   cases fall short of its best knapsack; the second, patients with a positive price left out.
   Both are printed per specialty.

2. Blocks. The Lagrangian bound lets every session pick its best knapsack on its own, so at the
   compact LP's prices several sessions may all pick the same valuable patients. Where cases are
   long and sessions hold one or two of them, every session then counts the same patients and the
   bound falls well short of any plan. Keeping the priced rule *and* adding "each patient at most
   once within the block" (true of every plan) gives, per block B of sessions, the multiple
   knapsack M_B <= sum_{s in B} V_s, so for the same prices

       LB_blocks = LB + sum_B (sum_{s in B} V_s - U_B),

   valid for the full model, where U_B >= M_B is HiGHS's dual bound on the block's MILP when
   stopped (its optimum when solved). Blocks are a specialty's sessions (open sessions stay on
   their own), solved smallest first, each with an equal share of the time left. A block none of
   whose patients is picked by two of its sessions' knapsacks gains nothing and is skipped.

Usage (after `./dev setup`):
  .venv/bin/python benchmarks/gap_split.py CASE PLAN_DIR BLOCK_SECONDS
(PLAN_DIR: an `orplan solve` output folder on CASE; the compact LP is solved first, up to 60 s)
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
from written_plan import read_written

from orplan.config import load_config
from orplan.greedy import priced_order
from orplan.model.bound import (
    Prices,
    Relaxation,
    lagrangian_bound,
    priced_profit,
    relaxation,
    session_values,
)
from orplan.model.build import planning_data
from orplan.model.compact import solve_compact
from orplan.pipeline import extract_stage, load_stage, plan_objective

INF = highspy.kHighsInf
# HiGHS's dual bound carries its tolerances: a block's gain is reduced by this share of its size.
TOLERANCE = 1e-6


@dataclass
class BlockBound:
    bound: float  # LB at the prices, raised by the blocks' gains: valid for the full model
    lagrangian: float  # LB at the prices alone (model.bound.lagrangian_bound)
    blocks: int  # blocks where two sessions' knapsacks pick one patient
    solved: int  # blocks whose MILP was solved to optimality
    gained: int  # blocks that raised the bound
    seconds: float


def block_bound(rel: Relaxation, prices: Prices, block: np.ndarray, deadline: float,
                threads: int = 1, seed: int = 0, report=None) -> BlockBound:
    """The bound at `prices` with "each patient at most once" kept within each block.
    `block`: per session, a block number (-1: the session stays on its own). `deadline`:
    time.perf_counter() by which to stop (the bound is valid whenever it stops)."""
    started = time.perf_counter()
    profit = priced_profit(rel, prices)
    values, picked = session_values(rel, profit, prices.equipment, want_choice=True)
    lagrangian = (rel.constant - float(prices.patient.sum()) - float(prices.link @ rel.link_rhs)
                  - float(prices.equipment @ rel.equipment_units) - float(values.sum()))
    potential = _potential(rel, profit, picked, block)
    usable = np.flatnonzero(profit > 1e-9)
    pair_block = block[rel.s[usable]]
    numbers = np.flatnonzero(potential > 0)
    sizes = np.bincount(pair_block[pair_block >= 0], minlength=len(potential))[numbers]
    numbers = numbers[np.argsort(sizes, kind="stable")]
    gain, solved, gained = 0.0, 0, 0
    for k, number in enumerate(numbers):
        left = deadline - time.perf_counter()
        if left <= 0.05:
            break
        sessions = np.flatnonzero(block == number)
        upper, optimal = _block_upper(rel, profit, prices.equipment, sessions,
                                      usable[pair_block == number], left / (len(numbers) - k),
                                      threads, seed)
        total = float(values[sessions].sum())
        better = total - upper - TOLERANCE * max(1.0, abs(total))
        if report is not None:
            print(f"  block {report[number]}: {len(sessions)} sessions, "
                  f"{int((pair_block == number).sum())} pairs, sum V {total:,.0f}, "
                  f"upper bound {upper:,.0f}{' (optimal)' if optimal else ''}, "
                  f"gain {max(better, 0.0):,.0f}", flush=True)
        solved += int(optimal)
        if better > 0:
            gain += better
            gained += 1
    return BlockBound(lagrangian + gain, lagrangian, len(numbers), solved, gained,
                      time.perf_counter() - started)


def _potential(rel: Relaxation, profit: np.ndarray, picked: np.ndarray | None,
               block: np.ndarray) -> np.ndarray:
    """Per block: the profits of every pick of a patient by its sessions but the best one."""
    n_blocks = int(block.max()) + 1 if len(block) else 0
    potential = np.zeros(max(n_blocks, 0))
    if picked is None or n_blocks == 0:
        return potential
    pairs = np.flatnonzero(picked & (block[rel.s] >= 0))
    key = block[rel.s[pairs]].astype(np.int64) * rel.n_patients + rel.p[pairs]
    order = np.lexsort((-profit[pairs], key))
    key, pairs = key[order], pairs[order]
    repeat = np.r_[False, key[1:] == key[:-1]]
    np.add.at(potential, block[rel.s[pairs[repeat]]], profit[pairs[repeat]])
    return potential


def _block_upper(rel: Relaxation, profit: np.ndarray, equipment_price: np.ndarray,
                 sessions: np.ndarray, pairs: np.ndarray, seconds: float, threads: int,
                 seed: int) -> tuple[float, bool]:
    """An upper bound on the block's multiple knapsack (inf if HiGHS has none in time), and
    whether it is the optimum. Columns: x per pair, o (open) and ov (overtime units) per
    session, y per session and binding equipment row; rows: each patient once, capacity
    (sum w x <= cap o), overtime (sum w x - free o <= ov), x <= y for cases needing the row."""
    n_x, n_s = len(pairs), len(sessions)
    local = np.full(len(rel.session_cap), -1, dtype=np.int64)
    local[sessions] = np.arange(n_s)
    at = local[rel.s[pairs]]
    _, patient = np.unique(rel.p[pairs], return_inverse=True)
    n_p = int(patient.max()) + 1 if n_x else 0
    needs = rel.pair_needs[pairs].astype(np.int64)
    y_row, link_x, link_y = [], [], []
    for k, session in enumerate(sessions):
        for bit, row in enumerate(rel.session_rows[session]):
            hit = np.flatnonzero((at == k) & (((needs >> bit) & 1) == 1))
            link_x.append(hit)
            link_y.append(np.full(len(hit), len(y_row)))
            y_row.append(row)
    n_y = len(y_row)
    lx = np.concatenate(link_x) if link_x else np.empty(0, dtype=np.int64)
    ly = np.concatenate(link_y) if link_y else np.empty(0, dtype=np.int64)
    n_l = len(lx)
    c_o, c_ov, c_y = n_x, n_x + n_s, n_x + 2 * n_s
    r_cap, r_ot, r_link = n_p, n_p + n_s, n_p + 2 * n_s
    n_cols, n_rows = c_y + n_y, r_link + n_l
    w = rel.weight[pairs].astype(float)
    own = np.arange(n_s)
    rows = np.concatenate([patient, r_cap + at, r_ot + at, r_cap + own, r_ot + own, r_ot + own,
                           r_link + np.arange(n_l), r_link + np.arange(n_l)])
    cols = np.concatenate([np.arange(n_x), np.arange(n_x), np.arange(n_x), c_o + own, c_o + own,
                           c_ov + own, lx, c_y + ly])
    coefs = np.concatenate([np.ones(n_x), w, w, -rel.session_cap[sessions].astype(float),
                            -rel.session_free[sessions], -np.ones(n_s), np.ones(n_l),
                            -np.ones(n_l)])
    order = np.argsort(cols, kind="stable")
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    # minimise the negated value
    lp.col_cost_ = np.concatenate([-profit[pairs], rel.session_fixed[sessions],
                                   np.full(n_s, rel.overtime_price),
                                   equipment_price[np.asarray(y_row, dtype=np.int64)]])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.concatenate([np.ones(n_x + n_s), np.full(n_s, INF), np.ones(n_y)])
    lp.row_lower_ = np.full(n_rows, -INF)
    lp.row_upper_ = np.concatenate([np.ones(n_p), np.zeros(2 * n_s + n_l)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(n_cols + 1))
    lp.a_matrix_.index_ = rows[order].astype(np.int32)
    lp.a_matrix_.value_ = coefs[order]
    integer, continuous = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
    lp.integrality_ = [integer] * (n_x + n_s) + [continuous] * n_s + [integer] * n_y
    highs = highspy.Highs()
    for option, value in (("output_flag", False), ("threads", int(threads)),
                          ("random_seed", int(seed)), ("time_limit", max(seconds, 0.01)),
                          ("mip_rel_gap", 1e-6)):
        highs.setOptionValue(option, value)
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return -float(highs.getInfo().mip_dual_bound), True
    if status not in (highspy.HighsModelStatus.kTimeLimit,
                      highspy.HighsModelStatus.kInterrupt):
        return np.inf, False
    dual = float(highs.getInfo().mip_dual_bound)
    return (-dual if np.isfinite(dual) else np.inf), False


def main() -> None:
    folder, plan_dir, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    config_path = folder / "orplan.toml"
    case, _ = load_stage(folder, load_config(config_path if config_path.exists() else None))
    data = planning_data(case)
    order = priced_order(data.priority, case.waitlist["duration_min"].to_numpy(float))
    rel = relaxation(data)
    compact = solve_compact(rel, order, 60.0)
    prices = compact.prices
    bound = lagrangian_bound(rel, prices)
    print(f"compact LP optimal {compact.optimal}; bound at its prices (LB) {bound:,.0f}")
    x, starts = read_written(data, plan_dir)  # rel.p, rel.s are data.pairs' p, s
    objective = plan_objective(data, extract_stage(data, x, None, starts))
    print(f"plan {objective:,.0f}: {objective - bound:,.0f} above LB "
          f"({(objective - bound) / objective:.1%} of the plan)")
    # 1. the split
    profit = priced_profit(rel, prices)
    values, _ = session_values(rel, profit, prices.equipment)
    n_s = len(rel.capacity)
    units = np.bincount(rel.s[x], weights=rel.weight[x], minlength=n_s)
    worth = np.bincount(rel.s[x], weights=profit[x], minlength=n_s)
    opened = np.bincount(rel.s[x], minlength=n_s) > 0
    equipment = np.zeros(n_s)
    used = np.zeros(len(rel.equipment_units))
    for s in np.flatnonzero(opened):
        needs = np.bitwise_or.reduce(rel.pair_needs[x & (rel.s == s)].astype(np.int64))
        for bit, row in enumerate(rel.session_rows[s]):
            if (needs >> bit) & 1:
                equipment[s] += prices.equipment[row]
                used[row] += 1
    over = np.maximum(0.0, units - rel.session_free)
    worth = np.where(opened, worth - rel.session_fixed - rel.overtime_price * over - equipment,
                     0.0)
    regret = values - worth
    planned = np.bincount(rel.p[x], minlength=rel.n_patients)
    left_out = prices.patient * (1 - planned)
    booked = np.bincount(rel.link_row, weights=rel.link_coef * x[rel.link_pair],
                         minlength=len(rel.link_rhs))
    slack = prices.link @ (rel.link_rhs - booked) + prices.equipment @ (
        rel.equipment_units - used)
    rest = objective - bound - regret.sum() - left_out.sum() - slack
    print(f"session regret {regret.sum():,.0f}; priced patients left out {left_out.sum():,.0f} "
          f"({int(((prices.patient > 0) & (planned == 0)).sum())} patients); slack of priced "
          f"rows {slack:,.0f}; the rest (room switches, rounding) {rest:,.0f}")
    specialty = data.sessions["specialty"].fillna("").to_numpy()
    table = pd.DataFrame({"specialty": np.where(specialty == "", "(open)", specialty),
                          "regret": regret}).groupby("specialty").agg(
        sessions=("regret", "size"), regret=("regret", "sum"))
    table = table.join(pd.DataFrame({"specialty": case.waitlist["specialty"].to_numpy(),
                                     "left_out": left_out}).groupby("specialty").sum())
    print(table.sort_values("regret", ascending=False).round(0).to_string())
    # 2. blocks
    codes, names = pd.factorize(pd.Series(specialty))
    block = np.where(specialty == "", -1, codes)
    result = block_bound(rel, prices, block, time.perf_counter() + seconds, report=names)
    print(f"blocks: LB {result.lagrangian:,.0f} -> {result.bound:,.0f} in {result.seconds:.1f} s "
          f"({result.gained} of {result.blocks} blocks gained, {result.solved} solved); the plan "
          f"is {(objective - result.bound) / objective:.1%} above it")


if __name__ == "__main__":
    main()
