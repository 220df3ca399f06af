"""Build the MILP: eligible pairs once, then each constraint family in a fixed order."""

from __future__ import annotations

import numpy as np
import pulp

from orplan.case import Case
from orplan.model.assignment import define_assignment_constraints
from orplan.model.beds import define_bed_constraints
from orplan.model.capacity import define_capacity_constraints, define_session_variables
from orplan.model.common import Model, PlanningData, binaries
from orplan.model.equipment import define_equipment_constraints
from orplan.model.floors import define_planner_floors
from orplan.model.objective import define_objective
from orplan.model.pairs import eligibility, pair_details
from orplan.model.priority import patient_priority
from orplan.model.surgeons import (
    define_room_switch_constraints,
    define_surgeon_day_limit,
    define_surgeon_overlap_constraints,
)


def planning_data(case: Case) -> PlanningData:
    """Eligible pairs, sessions, priorities and ineligibility reasons: deterministic for a case."""
    eligible = eligibility(case)
    return PlanningData(case, eligible.pairs, eligible.sessions, patient_priority(case),
                        eligible.ineligible, eligible.released)


def build_model(case: Case, data: PlanningData | None = None,
                keep: np.ndarray | None = None, floors: dict[str, int] | None = None) -> Model:
    """The MILP over all eligible pairs, or over the pairs of `keep` (a mask over data.pairs: a
    restricted model, whose plans are plans of the full model but whose bound is not a bound).
    `floors`: never behind the planner's rule's plan (orplan.model.floors; over all pairs only,
    where that plan is a solution)."""
    if data is None:
        data = planning_data(case)
    selected = data.pairs if keep is None else data.pairs.loc[keep].reset_index(drop=True)
    pairs = pair_details(data.case, data.sessions, selected)
    model = Model(data.case, pairs, data.sessions, data.priority, data.ineligible,
                  data.released, pulp.LpProblem("orplan", pulp.LpMinimize))
    model.pairs["x"] = binaries(model, "x", len(model.pairs))
    define_session_variables(model)
    define_assignment_constraints(model)
    define_capacity_constraints(model)
    define_surgeon_day_limit(model)
    define_surgeon_overlap_constraints(model)
    define_room_switch_constraints(model)
    define_equipment_constraints(model)
    define_bed_constraints(model)
    define_planner_floors(model, floors)
    define_objective(model)
    return model
