"""Objective terms: deadlines, overdue, waiting; every term reported and equal to the solver's."""

import pytest

from conftest import make_case, planned, solve


def test_deadline_patient_planned_before_deadline(case_dir):
    # Room for one case a day; P1 (urgency D) has a deadline on Jan 5, P2 (urgency A) none.
    # Breach price dominates: P1 goes on Jan 5, P2 on Jan 6.
    make_case(case_dir, [{"duration_min": 200, "urgency": "D", "deadline": "2026-01-05"},
                         {"duration_min": 200, "urgency": "A"}],
              [{"date": "2026-01-05"}, {"date": "2026-01-06"}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S1", "P2": "S2"}
    assert outcome.summary["terms"]["deadline_breach"]["value"] == 0.0
    assert outcome.tables["breaches"].empty


@pytest.mark.parametrize("tiers", [False, True])
def test_missed_deadline_is_priced_and_listed(case_dir, tiers):
    # with the [weights] alone a breach costs deadline_breach; with tiers, the due tier's price
    # of the patient's class weight (urgency C: 2)
    config = "[rules]\nturnover_min = 0\nmax_overtime_min = 0\n" + (
        "" if tiers else "[priority]\ntiers = []\n")
    make_case(case_dir, [{"duration_min": 200, "deadline": "2026-01-05"},
                         {"duration_min": 200, "deadline": "2026-01-05"}], [{}], config=config)
    outcome = solve(case_dir)
    breaches = outcome.tables["breaches"]
    assert breaches["status"].tolist() == ["left-out"]
    value = outcome.summary["terms"]["deadline_breach"]["value"]
    if tiers:
        due = outcome.summary["tiers"][0]
        assert due["name"] == "mandatory+due"
        assert value == pytest.approx(2 * due["scale"], rel=1e-6)
        assert due["cost"] == pytest.approx(value)
    else:
        assert value == 20000.0
    assert outcome.summary["kpis"]["deadline_breaches"] == 1


def test_overdue_patient_most_pressing(case_dir):
    # Both urgency C; P2's deadline passed 30 days ago; only one fits.
    make_case(case_dir, [{"duration_min": 200}, {"duration_min": 200, "deadline": "2025-12-06"}],
              [{}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P2": "S1"}
    row = outcome.tables["breaches"].iloc[0]
    assert (row["status"], row["days_late"]) == ("planned-late", 30)


def test_implied_deadline_from_urgency_class(case_dir):
    # Urgency A allows 14 days: referred Dec 20 -> due Jan 3 -> 2 days overdue on Jan 5.
    make_case(case_dir, [{"duration_min": 300, "urgency": "A", "referral_date": "2025-12-20"}],
              [{"max_overtime_min": 0}], config="[rules]\nturnover_min = 0\nmax_overtime_min = 0\n")
    outcome = solve(case_dir)
    row = outcome.tables["unscheduled"].iloc[0]
    assert (row["reason"], row["deadline"], row["days_overdue"]) == ("too-long", "2026-01-03", 2)


def test_waiting_days_push_urgent_patients_earlier(case_dir):
    make_case(case_dir, [{"duration_min": 200, "urgency": "D"},
                         {"duration_min": 200, "urgency": "A"}],
              [{"date": "2026-01-05"}, {"date": "2026-01-06"}])
    assert planned(solve(case_dir)) == {"P2": "S1", "P1": "S2"}


def test_reported_terms_sum_to_solver_objective(case_dir):
    make_case(case_dir, [{"duration_min": 90, "surgeon_id": "DR1", "urgency": "B"},
                         {"duration_min": 120, "urgency": "A", "deadline": "2026-01-06"},
                         {"duration_min": 150, "referral_date": "2025-06-01"},
                         {"duration_min": 45, "surgeon_id": "DR1"}],
              [{"date": "2026-01-05"}, {"date": "2026-01-06", "open_cost": 25}],
              config="[rules]\nturnover_min = 20\nmax_overtime_min = 15\n")
    outcome = solve(case_dir)
    summary = outcome.summary
    assert set(summary["terms"]) == {"unscheduled", "mandatory", "deadline_breach", "overdue",
                                     "waiting",
                                     "idle", "overtime", "open_sessions", "room_switches",
                                     "dropped", "moved_date", "moved_room"}
    assert summary["status"] == "optimal"
    assert summary["objective"] == pytest.approx(summary["model_objective"], rel=1e-6)


def test_mandatory_patient_left_out_is_a_breach_at_horizon_end(case_dir):
    make_case(case_dir, [{"duration_min": 300, "mandatory": "true", "referral_date": "2026-01-01"}],
              [{}])
    outcome = solve(case_dir)
    row = outcome.tables["breaches"].iloc[0]
    assert (row["deadline"], row["status"], row["days_late"]) == ("2026-01-05", "left-out", 1)
    assert outcome.summary["kpis"]["deadline_due_in_horizon"] == 1
    assert outcome.summary["kpis"]["deadline_kept"] == 0
