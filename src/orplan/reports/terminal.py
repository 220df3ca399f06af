"""Terminal rendering with rich. No arithmetic here: figures come from the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from orplan.verify import Violation


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def render_summary(console: Console, outcome: Any, output: Path) -> None:
    summary = outcome.summary
    k = summary["kpis"]
    status = summary["status"]
    gap = summary["gap"]
    console.print(f"orplan {outcome.case.folder} -> {output}", style="bold")
    bound = summary["best_bound"]
    bound_text = "-" if bound is None else f"{bound:,.1f}"
    console.print(f"status: {status}  gap: {_pct(gap)}  objective: "
                  f"{summary['objective']:,.1f}  bound: {bound_text}")
    table = Table(title="Plan", show_header=True, header_style="bold")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    rows = [
        ("patients planned / waiting", f"{k['patients_planned']} / {k['patients_waiting']}"),
        ("deadlines due in horizon kept", f"{k['deadline_kept']} / {k['deadline_due_in_horizon']}"),
        ("overdue patients planned", f"{k['overdue_planned']} / {k['overdue_waiting']}"),
        ("deadline breaches (listed)", str(k["deadline_breaches"])),
        ("sessions open / released", f"{k['sessions_open']} / {k['sessions_released']}"),
        ("utilisation of staffed time", _pct(k["utilisation_staffed"])),
        ("utilisation of open sessions", _pct(k["utilisation_open"])),
        ("overtime minutes", f"{k['overtime_min']:,.0f}"),
        ("idle minutes (open sessions)", f"{k['idle_min']:,.0f}"),
        ("surgeon room switches", str(k["room_switches"])),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    reasons = ", ".join(f"{code} {n}" for code, n in summary["unscheduled_reasons"].items())
    if reasons:
        console.print(f"left out by reason: {reasons}")
    times = summary["times_s"]
    console.print("time (s): " + "  ".join(f"{stage} {seconds:.2f}"
                                            for stage, seconds in times.items()))
    if summary["warnings"]:
        console.print(f"{summary['warnings']} input warning(s): run `orplan validate` to see them")
    if summary["plan_repairs"]:
        console.print(f"{summary['plan_repairs']} case(s) given up while timing the plan "
                      "(reason `sequencing` in unscheduled)")


def render_violations(console: Console, violations: list[Violation], show_ids: bool) -> None:
    for v in violations:
        who = f" patient {v.patient_id}" if (show_ids and v.patient_id) else ""
        where = f" at {v.where}" if v.where else ""
        console.print(f"violation [{v.code}]{who}{where}: {v.message}")
