"""The model without solving: each constraint family adds rows only where it can bind."""

from orplan.model.build import build_model

from conftest import loaded, make_case


def rows(case_dir, family: str) -> int:
    return build_model(loaded(case_dir)).family_rows.get(family, 0)


def test_assignment_rows_only_for_patients_with_choices(case_dir):
    make_case(case_dir, [{"specialty": "ORTH"}, {"specialty": "GYN"}],
              [{"specialty": "ORTH"}, {"specialty": "ORTH"}, {"specialty": "GYN"}])
    assert rows(case_dir, "assign") == 1


def test_capacity_rows_one_per_session(case_dir):
    make_case(case_dir, [{}], [{}, {}, {}])
    model = build_model(loaded(case_dir))
    assert model.family_rows["capacity"] == 3
    assert model.family_rows["overtime_limit"] == 3
    assert model.family_rows["open_link"] == 3  # one per eligible pair


def test_surgeon_limit_rows_only_when_the_limit_can_bind(case_dir):
    surgeons = [{"surgeon_id": "DR1", "date": "2026-01-05", "max_minutes": 150}]
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 100}] * 2, [{}], surgeons=surgeons)
    assert rows(case_dir, "surgeon_day_limit") == 1
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 70}] * 2, [{}], surgeons=surgeons)
    assert rows(case_dir, "surgeon_day_limit") == 0


def test_overlap_rows_only_for_parallel_sessions(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 150}] * 2, [{}, {}])
    assert rows(case_dir, "surgeon_overlap") == 1
    # morning and afternoon sessions do not overlap: no row
    make_case(case_dir, [{"surgeon_id": "DR1", "duration_min": 150}] * 2,
              [{"start": "08:00", "end": "12:00"}, {"start": "12:30", "end": "16:00"}])
    assert rows(case_dir, "surgeon_overlap") == 0


def test_room_switch_rows_only_for_surgeons_with_two_rooms(case_dir):
    make_case(case_dir, [{"surgeon_id": "DR1"}, {"surgeon_id": "DR1"}], [{}, {}])
    assert rows(case_dir, "room_switch") == 1
    assert rows(case_dir, "room_use") == 4
    make_case(case_dir, [{"surgeon_id": "DR1"}, {"surgeon_id": "DR1"}], [{}])
    assert rows(case_dir, "room_switch") == 0


def test_equipment_rows_only_when_units_can_bind(case_dir):
    units = [{"equipment": "robot", "site": "A", "date": "", "units": 1}]
    make_case(case_dir, [{"equipment": "robot"}], [{}, {}], equipment=units)
    assert rows(case_dir, "equipment_units") == 1
    make_case(case_dir, [{"equipment": "robot"}], [{}], equipment=units)
    assert rows(case_dir, "equipment_units") == 0
    make_case(case_dir, [{"equipment": "robot"}], [{"equipment": "robot"}, {"equipment": "robot"}],
              equipment=units)
    assert rows(case_dir, "equipment_units") == 0  # installed everywhere


def test_bed_rows_only_when_capacity_can_bind(case_dir):
    beds = [{"ward": "A", "date": "2026-01-05", "capacity": 1}]
    make_case(case_dir, [{"los_days": 1}, {"los_days": 2}], [{}], beds=beds)
    assert rows(case_dir, "beds") == 1
    make_case(case_dir, [{"los_days": 1}, {"los_days": 0}], [{}], beds=beds)
    assert rows(case_dir, "beds") == 0


def test_no_eligible_pairs_builds_an_empty_but_valid_model(case_dir):
    make_case(case_dir, [{"specialty": "GYN"}], [{"specialty": "ORTH"}])
    model = build_model(loaded(case_dir))
    assert len(model.pairs) == 0
    assert model.ineligible == {"P1": ("no-eligible-session", "no session of this specialty (or "
                                       "open session) in the horizon")}
