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
    deadlines = summary.get("deadlines") or {}
    keepable = (f" (at most {deadlines['keepable_at_most']} keepable)"
                if "keepable_at_most" in deadlines else "")
    rows = [
        ("patients planned / waiting", f"{k['patients_planned']} / {k['patients_waiting']}"),
        ("deadlines due in horizon kept",
         f"{k['deadline_kept']} / {k['deadline_due_in_horizon']}{keepable}"),
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
    tiers = summary.get("tiers") or []
    if tiers:
        console.print("priority tiers (highest first): " + "; ".join(
            f"{t['name']} {t['cost']:,.0f}" + (
                f" (bound {t['bound']:,.0f}, gap {_pct(t['gap'])})" if t.get("bound") is not None
                else "") for t in tiers))
    source = summary.get("plan_source")
    if source:
        console.print(f"plan written: {source} (summary.json `candidates`: every plan compared)")
    reasons = ", ".join(f"{code} {n}" for code, n in summary["unscheduled_reasons"].items())
    if reasons:
        console.print(f"left out by reason: {reasons}")
    if "changes" in summary:
        from orplan.reports.diff import render_churn

        console.print("against the previous plan: " + render_churn(summary["changes"]))
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


def render_comparison(console: Console, table: Any, changes: Any, a: Any, b: Any, path_a: Path,
                      path_b: Path, show_ids: bool) -> None:
    """The KPI table of orplan.reports.compare, the rules each plan breaks and the patients that
    differ (counts; identifiers only with show_ids)."""
    console.print(f"A: {path_a}\nB: {path_b}", style="bold")
    out = Table(show_header=True, header_style="bold")
    for column, justify in (("figure", "left"), ("A", "right"), ("B", "right"),
                            ("B - A", "right"), ("better", "center")):
        out.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in table.itertuples():
        share = "utilisation" in row.figure
        shown = [_pct(v) if share else f"{v:,.0f}" for v in (row.a, row.b)]
        diff = (f"{100 * row.difference:+.1f} pt" if share else f"{row.difference:+,.0f}")
        out.add_row(row.figure, *shown, diff, row.better.upper())
    console.print(out)
    for name, figures in (("A", a), ("B", b)):
        if figures.ignored:
            console.print(f"plan {name}: {figures.ignored} row(s) left out of the figures "
                          "(unknown patient or session, or a patient planned twice)")
        if figures.violations:
            console.print(f"plan {name} breaks {len(figures.violations)} rule(s):")
            render_violations(console, figures.violations[:20], show_ids)
            if len(figures.violations) > 20:
                console.print(f"  ... and {len(figures.violations) - 20} more (-o writes "
                              "them all)")
        else:
            console.print(f"plan {name} keeps every rule")
    counts = changes["change"].value_counts()
    labels = {"same": "same session", "room": "same day, other session",
              "date": "other day", "only-a": "only in A", "only-b": "only in B"}
    console.print("patients: " + ", ".join(f"{labels[k]} {int(counts.get(k, 0))}"
                                           for k in labels))
    if show_ids:
        for row in changes[changes["change"] != "same"].itertuples():
            console.print(f"  {row.patient_id}: {labels[row.change]} "
                          f"({row.session_a or '-'} -> {row.session_b or '-'})")


def render_accuracy(console: Console, accuracy: Any, share: float) -> None:
    """The held-out accuracy of a duration fit (orplan.durations.holdout)."""
    if accuracy is None:
        console.print("accuracy not measured: the history is too short to hold out "
                      f"{100 * share:.0f} % of it (30 cases over more than one date needed)")
        return
    table = Table(title=f"Accuracy on the latest {accuracy.test:,} cases (from "
                  f"{accuracy.cutoff}; fitted on the {accuracy.train:,} before)",
                  show_header=True, header_style="bold")
    for name in ("predicted by", "cases", "mean abs. error (min)", "bias (min)"):
        table.add_column(name, justify="left" if name == "predicted by" else "right")
    for row in accuracy.rows:
        table.add_row(row["method"], f"{row['cases']:,}", f"{row['mae_min']:.1f}",
                      f"{row['bias_min']:+.1f}")
    console.print(table)
    console.print("bias: predicted minus actual (negative: cases run longer than predicted)")
    levels = ", ".join(f"{name} {count:,}" for name, count in accuracy.levels.items())
    cover = ", ".join(f"{100 * value:.1f} % at or below {name}"
                      for name, value in accuracy.coverage.items())
    console.print(f"fitted level used: {levels}")
    console.print(f"calibration: {cover}")


def render_simulation(console: Console, totals: dict[str, Any], sessions: Any,
                      worst: int = 10) -> None:
    """The figures of orplan.simulate: totals, then the sessions most likely to run over."""
    sessions_text = f"{totals['sessions']:,} session" + ("s" if totals["sessions"] != 1 else "")
    console.print(f"{totals['runs']:,} replays of {totals['cases']:,} cases in "
                  f"{sessions_text} (seed {totals['seed']}; case minutes from: "
                  + ", ".join(f"{k} {v:,}" for k, v in totals["duration_source"].items()) + ")",
                  style="bold")
    table = Table(title="Per plan (expected per week of replays)", show_header=True,
                  header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("overtime minutes (mean / 90th percentile)",
                  f"{totals['expected_overtime_min']:,.0f} / {totals['p90_overtime_min']:,.0f}")
    table.add_row("cases not started in time (mean / 90th percentile)",
                  f"{totals['expected_cancelled']:,.1f} / {totals['p90_cancelled']:,.0f}")
    table.add_row("sessions running past their end", f"{totals['expected_sessions_overtime']:,.1f}")
    table.add_row("sessions past end + allowed overtime",
                  f"{totals['expected_sessions_over_allowed']:,.1f}")
    table.add_row("sessions with over 10 % risk of that",
                  f"{totals['sessions_over_allowed_risk_above_10pct']:,}")
    console.print(table)
    if sessions.empty:
        return
    top = sessions.sort_values(["p_over_allowed", "expected_overtime_min"],
                               ascending=False).head(worst)
    table = Table(title=f"The {len(top)} sessions most at risk", show_header=True,
                  header_style="bold")
    table.add_column("session", no_wrap=True)
    for name in ("cases", "P(overtime)", "P(past allowed)", "overtime (min)", "not started"):
        table.add_column(name, justify="right")
    for _, row in top.iterrows():
        table.add_row(str(row["session_id"]), str(int(row["cases"])),
                      f"{100 * row['p_overtime']:.0f} %", f"{100 * row['p_over_allowed']:.0f} %",
                      f"{row['expected_overtime_min']:.0f}", f"{row['expected_cancelled']:.2f}")
    console.print(table)
