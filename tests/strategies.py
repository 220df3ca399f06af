"""Random small planning cases for property tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from conftest import make_case

DATES = ["2026-01-05", "2026-01-06"]
SURGEONS = ["", "DR1", "DR2"]


def write_small_case(folder: Path, data: dict[str, Any]) -> Path:
    """Write a case drawn by small_cases() to folder."""
    return make_case(folder, data["waitlist"], data["sessions"], config=data["config"],
                     surgeons=data["surgeons"], equipment=data["equipment"], beds=data["beds"])


@st.composite
def small_cases(draw: st.DrawFn, max_patients: int = 10, max_sessions: int = 4
                ) -> dict[str, Any]:
    n_sessions = draw(st.integers(1, max_sessions))
    sessions = []
    used_slots: set[tuple[str, str]] = set()
    for i in range(n_sessions):
        date = draw(st.sampled_from(DATES))
        room = draw(st.sampled_from(["R1", "R2"]))
        if (date, room) in used_slots:
            room = f"R{i + 3}"
        used_slots.add((date, room))
        start = draw(st.sampled_from(["08:00", "09:00"]))
        end = draw(st.sampled_from(["11:00", "12:00", "15:30"]))
        sessions.append({"session_id": f"S{i + 1}", "site": draw(st.sampled_from(["A", "B"])),
                         "room": room, "date": date, "start": start, "end": end,
                         "specialty": draw(st.sampled_from(["ORTH", "GYN", ""])),
                         "max_overtime_min": draw(st.sampled_from(["", 0, 20])),
                         "equipment": draw(st.sampled_from(["", "", "robot"])),
                         "open_cost": draw(st.sampled_from(["", 0, 50]))})
    n_patients = draw(st.integers(1, max_patients))
    waitlist = []
    for i in range(n_patients):
        waitlist.append({
            "patient_id": f"P{i + 1}",
            "specialty": draw(st.sampled_from(["ORTH", "GYN"])),
            # mostly on 5 minutes, some to the minute (session knapsacks then round them)
            "duration_min": draw(st.integers(3, 40)) * 5 + draw(st.sampled_from([0, 0, 0, 1, 3])),
            "surgeon_id": draw(st.sampled_from(SURGEONS)),
            "urgency": draw(st.sampled_from(["A", "B", "C", "D"])),
            "referral_date": draw(st.sampled_from(["", "2025-06-01", "2025-12-20"])),
            "earliest_date": draw(st.sampled_from(["", "", "2026-01-06"])),
            "deadline": draw(st.sampled_from(["", "", "2026-01-05", "2025-12-01"])),
            "site": draw(st.sampled_from(["", "", "", "A"])),
            "equipment": draw(st.sampled_from(["", "", "robot"])),
            "los_days": draw(st.sampled_from([0, 0, 1, 3])),
            "first_case": draw(st.sampled_from(["", "", "true"])),
            "last_case": draw(st.sampled_from(["", "", "true"])),
        })
    surgeons = [{"surgeon_id": s, "date": d, "max_minutes": draw(st.sampled_from(["", 120, 240]))}
                for s in SURGEONS[1:] for d in DATES if draw(st.booleans()) or d == DATES[0]]
    equipment = [{"equipment": "robot", "site": site, "date": "", "units": draw(st.integers(0, 1))}
                 for site in ("A", "B")]
    beds = [{"ward": site, "date": d, "capacity": draw(st.integers(0, 2))}
            for site in ("A", "B") for d in DATES]
    turnover = draw(st.sampled_from([0, 15, 30]))
    return {"waitlist": waitlist, "sessions": sessions, "surgeons": surgeons,
            "equipment": equipment, "beds": beds,
            "config": f"[rules]\nturnover_min = {turnover}\nmax_overtime_min = 15\n"}
