"""Clinical policy as ordered tiers ([priority]): prices derived so that a lower tier never
outweighs a higher one, config errors naming the key, and each tier's figures in the summary."""

import pytest

from orplan.config import ConfigError, load_config
from orplan.model.priority import patient_priority

from conftest import loaded, make_case, planned, solve

# a class-D patient 100 days past the deadline, and a class-A patient due this week; the
# session takes one of them
INVERSION = [{"urgency": "D", "referral_date": "2024-09-27", "duration_min": 200},
             {"urgency": "A", "referral_date": "2025-12-22", "duration_min": 200}]


def test_the_weights_alone_put_the_overdue_class_d_first(case_dir):
    # the old default prices: 1000 x 2.27 + 500 x 100 days = 52,274 against 1000 x 16 + 20,000
    make_case(case_dir, INVERSION, [{}],
              config="[rules]\nturnover_min = 0\nmax_overtime_min = 0\n[priority]\ntiers = []\n")
    priority = patient_priority(loaded(case_dir))
    price = priority["leave_out_cost"] + priority["breach_cost"] + priority["overdue_cost"]
    assert price.tolist() == pytest.approx([52273.97, 36000.0], abs=0.01)
    # and the weights alone (no dominance over the planner's rule either) plan the class-D one
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S1"}
    assert outcome.summary["tiers"] == []


def test_tiers_put_the_due_class_a_first(case_dir):
    make_case(case_dir, INVERSION, [{}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P2": "S1"}
    tiers = outcome.summary["tiers"]
    assert [t["name"] for t in tiers] == ["mandatory+due", "overdue", "others+efficiency"]
    assert tiers[0]["cost"] == 0 and tiers[1]["cost"] > 0
    assert outcome.summary["deadlines"] == {"due": 1, "keepable_at_most": 1, "found": 1,
                                            "exact": True, "seconds": pytest.approx(
                                                outcome.summary["deadlines"]["seconds"]),
                                            "kept": 1}


def test_one_due_patient_outweighs_every_overdue_patient_it_displaces(case_dir):
    # four overdue patients fill the session exactly; the due one needs all of it
    waitlist = [{"urgency": "D", "referral_date": "2024-06-01", "duration_min": 60}
                for _ in range(4)]
    waitlist.append({"urgency": "A", "referral_date": "2025-12-22", "duration_min": 240})
    make_case(case_dir, waitlist, [{}])
    case = loaded(case_dir)
    priority = patient_priority(case)
    due = priority["deadline_in_horizon"].to_numpy()
    assert due.tolist() == [False] * 4 + [True]
    overdue_worth = (priority["leave_out_cost"] + priority["overdue_cost"])[~due].sum()
    assert priority["breach_cost"][due].iloc[0] > overdue_worth
    assert planned(solve(case_dir)) == {"P5": "S1"}


@pytest.mark.parametrize(("text", "key", "words"), [
    ('tiers = ["mandatory", "due", "urgent", "overdue", "others+efficiency"]', "priority.tiers",
     "unknown tier 'urgent'"),
    ('tiers = ["due", "overdue"]', "priority.tiers", "leaves out mandatory, others, efficiency"),
    ('tiers = ["mandatory", "due", "due", "overdue", "others+efficiency"]', "priority.tiers",
     "appears more than once"),
    ('tiers = ["mandatory", "due", "efficiency", "overdue", "others"]', "priority.tiers",
     "must be in the last tier"),
    ('tiers = "due"', "priority.tiers", "must be a list"),
    ("overdue_cap_days = 0", "priority.overdue_cap_days", "must be a number > 0"),
    ("class_weight = {X = 3}", "priority.class_weight.X", "not a defined urgency class"),
    ("order = 1", "priority.order", "unknown key"),
])
def test_config_errors_name_the_key(tmp_path, text, key, words):
    path = tmp_path / "orplan.toml"
    path.write_text(f"[priority]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert [i.column for i in error.value.issues] == [key]
    assert words in error.value.issues[0].message


def test_class_weights_and_tier_order_from_the_config(tmp_path):
    path = tmp_path / "orplan.toml"
    path.write_text('[priority]\ntiers = ["overdue", "due+mandatory", "others", "efficiency"]\n'
                    "overdue_cap_days = 30\nclass_weight = {A = 20}\n", encoding="utf-8")
    policy = load_config(path).priority
    assert policy.tiers == (("overdue",), ("due", "mandatory"), ("others",), ("efficiency",))
    assert policy.overdue_cap_days == 30 and policy.class_weight == {"A": 20.0}


def test_mandatory_patients_come_before_every_deadline(case_dir):
    # one session: a class-D mandatory patient, or a class-A patient due this week
    make_case(case_dir, [{"urgency": "D", "mandatory": "true", "duration_min": 200},
                         {"urgency": "A", "referral_date": "2025-12-22", "duration_min": 200}],
              [{}])
    outcome = solve(case_dir)
    assert planned(outcome) == {"P1": "S1"}
    assert outcome.summary["terms"]["mandatory"]["value"] == 0
    assert outcome.summary["terms"]["deadline_breach"]["value"] > 0
