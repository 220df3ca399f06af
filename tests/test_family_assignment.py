"""Assignment and eligibility: each patient at most once, in a session that may take them."""

from conftest import make_case, planned, solve


def test_each_patient_at_most_once(case_dir):
    make_case(case_dir, [{"duration_min": 60}], [{}, {}])
    outcome = solve(case_dir)
    assert len(outcome.tables["plan"]) == 1


def test_specialty_block_takes_only_its_specialty(case_dir):
    make_case(case_dir, [{"specialty": "GYN"}, {"specialty": "ORTH"}], [{"specialty": "ORTH"}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P2": "S1"}
    assert outcome.tables["unscheduled"]["reason"].tolist() == ["no-eligible-session"]


def test_open_session_takes_any_specialty(case_dir):
    make_case(case_dir, [{"specialty": "GYN"}, {"specialty": "ORTH"}], [{"specialty": ""}])
    assert planned(solve(case_dir)) == {"P1": "S1", "P2": "S1"}


def test_site_and_earliest_date_eligibility(case_dir):
    make_case(case_dir, [{"site": "B"}, {"earliest_date": "2026-01-06"}, {}],
              [{"site": "A", "date": "2026-01-05"}, {"site": "B", "date": "2026-01-05"},
               {"site": "A", "date": "2026-01-06"}])
    plan = planned(solve(case_dir))
    assert plan["P1"] == "S2"
    assert plan["P2"] == "S3"
