"""The neighbourhood search (orplan.neighbourhoods): a plan improved a site-day or a site's
specialty at a time by the full MILP over that part; never worse by the objective evaluated term
by term, and the plan keeps every rule."""

import numpy as np

from orplan.generate import generate_case, write_case
from orplan.greedy import greedy_assignment, priced_order
from orplan.model.bound import relaxation
from orplan.model.build import planning_data
from orplan.neighbourhoods import improve, neighbourhoods, plan_cost
from orplan.pipeline import extract_stage
from orplan.rounding import timed_repair
from orplan.verify import verify_plan
from orplan.work import Work

from conftest import loaded


def _case(tmp_path, profile="small", seed=3):
    tables, config = generate_case(profile, seed)
    write_case(tmp_path / "case", tables, config)
    return planning_data(loaded(tmp_path / "case"))


def test_site_days_then_specialties_over_the_horizon(tmp_path):
    data = _case(tmp_path)
    named = neighbourhoods(data)
    sessions = data.sessions
    days = sessions.groupby(["site", "date"]).ngroups
    assert len(named) >= days
    for _name, rows in named[:days]:  # one site on one day
        part = sessions.iloc[rows]
        assert part["site"].nunique() == 1 and part["date"].nunique() == 1
    for _name, rows in named[days:]:  # one specialty of a site, several days
        part = sessions.iloc[rows]
        assert part["site"].nunique() == 1 and part["specialty"].nunique() == 1
        assert len(part) > 1


def test_a_poor_plan_is_improved_and_keeps_every_rule(tmp_path):
    data = _case(tmp_path)
    rel = relaxation(data)
    order = priced_order(data.priority, data.case.waitlist["duration_min"].to_numpy(float))
    start = greedy_assignment(data, order, allow_overtime=True)
    poor = start.copy()
    poor[np.flatnonzero(start)[::2]] = False  # half the cases gone: room to improve
    mask, starts = timed_repair(data, poor, order)
    before = plan_cost(data, extract_stage(data, mask, None, starts))
    # counted work: the same plan on any machine
    work = Work(4.0, float("inf"), deterministic=True)
    chosen, times, search = improve(data, rel, mask, starts, 4.0, work, 1, 0)
    assert search.kept and search.gain > 0
    timed = extract_stage(data, chosen, None, times)
    assert timed.dropped == []
    after = plan_cost(data, timed)
    assert after < before
    assert abs((before - after) - search.gain) <= 1e-6 * max(1.0, abs(before))
    assert verify_plan(data.case, timed.plan) == []
    assert np.bincount(data.pairs["p"].to_numpy()[chosen]).max() <= 1
    again = improve(data, rel, mask, starts, 4.0, Work(4.0, float("inf")), 1, 0)
    assert np.array_equal(again[0], chosen)


def test_no_time_no_search(tmp_path):
    data = _case(tmp_path)
    rel = relaxation(data)
    order = priced_order(data.priority, data.case.waitlist["duration_min"].to_numpy(float))
    mask, starts = timed_repair(data, greedy_assignment(data, order, allow_overtime=True), order)
    chosen, _, search = improve(data, rel, mask, starts, 0.5, Work(0.5, float("inf")), 1, 0)
    assert search.tried == [] and np.array_equal(chosen, mask)


def test_a_plan_behind_the_floors_is_brought_level_first(tmp_path):
    """With the planner's rule's counts as floors, a plan short of them gets no further behind,
    and closer where a neighbourhood can bring it level."""
    from orplan.dominance import clinical_counts

    data = _case(tmp_path)
    rel = relaxation(data)
    order = priced_order(data.priority, data.case.waitlist["duration_min"].to_numpy(float))
    full, full_starts = timed_repair(data, greedy_assignment(data, order, allow_overtime=True),
                                     order)
    floors = clinical_counts(data, extract_stage(data, full, None, full_starts).plan)
    poor = full.copy()
    poor[np.flatnonzero(full)[::2]] = False
    mask, starts = timed_repair(data, poor, order)

    def behind(plan):
        counts = clinical_counts(data, plan)
        return sum(max(0, n - counts.get(k, 0)) for k, n in floors.items())

    before = behind(extract_stage(data, mask, None, starts).plan)
    assert before > 0
    chosen, times, search = improve(data, rel, mask, starts, 6.0, Work(6.0, float("inf")),
                                    1, 0, floors)
    timed = extract_stage(data, chosen, None, times)
    assert search.behind_before == before
    assert behind(timed.plan) == search.behind_after < before
    assert verify_plan(data.case, timed.plan) == []
