"""One self-contained HTML report of a plan, made from an output folder alone.

Everything is inline (CSS and SVG; no script, no fonts, no files beside it), so the file opens
offline and can be mailed. Figures come from the output tables and summary.json; the few sums
here are group totals of those tables, with the KPI definitions of orplan.reports.kpi.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orplan.io.read import read_raw_table
from orplan.issues import Issue

# Colour-blind-safe palette (Okabe-Ito and Tol's muted), repeated when there are more specialties.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
           "#882255", "#AA4499"]
# Reasons whose message in `unscheduled` is about one patient; the others' messages are general.
GENERAL_REASONS = {"capacity": "suitable sessions are used for patients of higher priority, or "
                               "limited by surgeon time, equipment or beds"}
LEFT_OUT_ROWS = 500  # the left-out list shows the most pressing; unscheduled.csv has them all
ROW_H, LABEL_W, PX_PER_MIN = 20, 90, 1.3

DEFINITIONS = [
    ("booked minutes", "minutes of the cases themselves, without turnover."),
    ("turnover", "minutes between two cases of a session (cases - 1) x the turnover setting."),
    ("overtime", "minutes the last case of a session ends after the staffed end."),
    ("idle minutes", "staffed minutes of a used session with neither a case nor a turnover in "
                     "them; a released session has no idle minutes (its time is unused)."),
    ("session utilisation", "(staffed minutes - idle minutes) / staffed minutes of a used "
                            "session; 0 for a released session."),
    ("utilisation of staffed time", "used staffed minutes / all staffed minutes of the horizon; "
                                    "released sessions count as unused (the hospital's measure)."),
    ("utilisation of open sessions", "the same over the sessions the plan uses."),
    ("released session", "a staffed session the plan gives no case: it can be handed back."),
    ("deadline due in the horizon", "a patient whose deadline (or mandatory flag) falls inside "
                                    "the planning horizon."),
    ("deadline kept", "such a patient planned on or before the deadline."),
    ("overdue", "a patient whose deadline had already passed when the horizon starts."),
    ("deadline breach", "a patient due in the horizon left out or planned late, or an overdue "
                        "patient (listed in breaches)."),
    ("days waited", "days from referral to the start of the horizon."),
    ("objective", "the weighted sum of the priced terms below; lower is better."),
    ("gap", "(objective - best bound) / objective: how far, at most, the plan can be from the "
            "best possible plan under these rules and weights."),
    ("room switch", "for each surgeon and day, each room beyond the first."),
    ("P(overtime), P(past allowed)", "from `orplan simulate`: the share of replays (case "
                                      "minutes and turnovers drawn from their distributions, the "
                                      "list run in the plan's order) in which the session's last "
                                      "case ends after its staffed end, or after its end plus "
                                      "allowed overtime."),
    ("not started in time", "from `orplan simulate`: cases that would start at or after the "
                            "session's end plus allowed overtime (day-of cancellations), expected "
                            "per replay."),
    ("session risk (Fenton-Wilkinson)", "with `solve --risk`: the chance of running past the "
                                        "allowed overtime by the log-normal with the session's "
                                        "mean and variance, the approximation the plan was made "
                                        "with."),
    ("kept, moved, dropped, added", "against the previous plan: a booking kept in its session (or "
                                    "on its day when it had no session), moved to another "
                                    "session that day or to another day, left out, or a patient "
                                    "newly planned."),
    ("cause", "why a booking could not be kept as it was: left-waitlist, session-closed, the rule "
              "the booked session now breaks (e.g. surgeon-unavailable), pin-released, or the "
              "reason a dropped patient is left out; empty when the plan chose the change."),
]


@dataclass
class Outputs:
    plan: pd.DataFrame
    sessions: pd.DataFrame
    unscheduled: pd.DataFrame
    summary: dict[str, Any]
    changes: pd.DataFrame | None = None  # against a previous plan, when there was one
    simulation: pd.DataFrame | None = None  # from `orplan simulate --write`, when there was one


class ReportError(Exception):
    """The output folder cannot be reported on (missing or unreadable files)."""


# The columns the report reads from each output table (orplan's own outputs have them all).
NEEDED = {"plan": ("patient_id", "session_id", "date", "start", "end", "specialty"),
          "sessions": ("session_id", "site", "room", "date", "start", "end", "specialty",
                       "capacity_min", "booked_min", "turnover_min", "overtime_min", "idle_min",
                       "utilisation", "cases", "status"),
          "unscheduled": ("patient_id", "urgency", "deadline", "reason", "message"),
          "changes": ("patient_id", "change", "status", "session_old", "date_old",
                      "session_new", "date_new", "days_moved", "cause"),
          "simulation": ("session_id", "cases", "p_overtime", "p_over_allowed",
                         "expected_overtime_min", "expected_cancelled")}


def _table(folder: Path, name: str) -> pd.DataFrame:
    """An output table as text cells (orplan.io.read: CSV or Parquet alike)."""
    issues: list[Issue] = []
    raw = read_raw_table(folder, name, issues)
    if issues:
        raise ReportError("; ".join(f"{i.file}: {i.message}" for i in issues))
    if raw is None:
        raise ReportError(f"{folder}: no {name}.csv or {name}.parquet; give the folder "
                          "`orplan solve -o` wrote")
    missing = [c for c in NEEDED[name] if c not in raw.frame.columns]
    if missing:
        raise ReportError(f"{raw.file} lacks column(s) {', '.join(missing)}; give the folder "
                          "`orplan solve -o` wrote")
    return raw.frame


def read_outputs(folder: Path) -> Outputs:
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a folder; give the folder `orplan solve -o` wrote")
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ReportError(f"{folder}: no summary.json; give the folder `orplan solve -o` wrote") \
            from error
    except (OSError, ValueError) as error:
        raise ReportError(f"{folder / 'summary.json'}: cannot be read ({error})") from error
    plan, sessions = _table(folder, "plan"), _table(folder, "sessions")
    unscheduled = _table(folder, "unscheduled")
    for frame, columns in ((plan, ("start", "end")), (sessions, ("start", "end"))):
        for column in columns:
            frame[column] = _minutes(frame[column])
    for column in ("capacity_min", "booked_min", "turnover_min", "overtime_min", "idle_min",
                   "utilisation", "cases"):
        sessions[column] = pd.to_numeric(sessions[column])
    for frame, column in ((plan, "days_waited"), (unscheduled, "days_waited"),
                          (unscheduled, "days_overdue")):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    changes = _table(folder, "changes") if "changes" in summary else None
    simulation = None
    if "simulation" in summary:
        simulation = _table(folder, "simulation")
        for column in NEEDED["simulation"][1:]:
            simulation[column] = pd.to_numeric(simulation[column])
    return Outputs(plan, sessions, unscheduled, summary, changes, simulation)


def _minutes(clock: pd.Series) -> pd.Series:
    parts = clock.str.extract(r"^(\d{1,2}):(\d{2})").astype(float)
    return parts[0] * 60 + parts[1]


def _e(value: object) -> str:
    return html.escape(str(value))


def _hhmm(minutes: float) -> str:
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}"


def _pct(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{100 * value:.1f} %"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _cell(text: str) -> str:
    """A table cell as text: a number written the same way whether the table was CSV ("20.0")
    or Parquet (20), to three decimals at most; any other text as it is."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return str(text)
    if not np.isfinite(value):
        return str(text)
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _colours(specialties: list[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(specialties))}


def render_report(outputs: Outputs, title: str) -> str:
    plan, sessions, summary = outputs.plan, outputs.sessions, outputs.summary
    colours = _colours(sorted(set(plan["specialty"]) | set(sessions["specialty"]) - {""}))
    parts = [
        _header(summary, title),
        _kpi_cards(summary),
        _section("timeline", "Timeline per site and day", _timelines(plan, sessions, colours)),
        _section("utilisation", "Utilisation", _heatmap(sessions) + _specialty_table(sessions)),
        _section("waitlist", "Waitlist", _waitlist(outputs)),
        *([_section("changes", "Changes to the previous plan", _changes(outputs))]
          if outputs.changes is not None else []),
        *([_section("risk", "Risk of overtime and cancellations", _risk(outputs))]
          if outputs.simulation is not None or "durations" in summary else []),
        _section("objective", "Objective and solver", _objective(summary)),
        _section("definitions", "What the figures mean", _definitions()),
    ]
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            + "".join(parts) + "</body></html>\n")


def write_report(folder: Path, target: Path | None = None, name: str | None = None) -> Path:
    """Write folder/report.html (or `target`) atomically; return its path. `name`: the plan's
    name in the title (default: the folder's)."""
    outputs = read_outputs(folder)
    target = target or folder / "report.html"
    text = render_report(outputs, f"orplan plan - {name or folder.resolve().name}")
    staging = target.with_name(f".{target.name}.part")
    staging.write_text(text, encoding="utf-8")
    staging.replace(target)
    return target


def _section(key: str, heading: str, body: str) -> str:
    return f"<section id=\"{key}\"><h2>{_e(heading)}</h2>{body}</section>"


def _header(summary: dict[str, Any], title: str) -> str:
    horizon = summary.get("horizon", {})
    return (f"<header><h1>{_e(title)}</h1><p>Horizon from {_e(horizon.get('start', '?'))}, "
            f"{_e(horizon.get('days', '?'))} days. Status <b>{_e(summary['status'])}</b>, "
            f"plan from {_e(summary.get('plan_source', '-'))}. orplan "
            f"{_e(summary.get('versions', {}).get('orplan', '?'))}.</p></header>")


def _kpi_cards(summary: dict[str, Any]) -> str:
    k = summary["kpis"]
    cards = [
        ("patients planned", f"{k['patients_planned']:,} of {k['patients_waiting']:,}"),
        ("deadlines due kept", f"{k['deadline_kept']:,} of {k['deadline_due_in_horizon']:,}"),
        ("deadlines keepable at most",
         _num((summary.get("deadlines") or {}).get("keepable_at_most"))),
        ("overdue planned", f"{k['overdue_planned']:,} of {k['overdue_waiting']:,}"),
        ("utilisation of staffed time", _pct(k["utilisation_staffed"])),
        ("overtime minutes", _num(k["overtime_min"])),
        ("idle minutes", _num(k["idle_min"])),
        ("sessions released", f"{k['sessions_released']:,} of {k['sessions']:,}"),
        ("gap", _pct(summary.get("gap"))),
    ]
    return "<section id=\"kpis\" class=\"cards\">" + "".join(
        f"<div class=\"card\"><div class=\"v\">{_e(v)}</div><div class=\"l\">{_e(label)}</div>"
        "</div>" for label, v in cards) + "</section>"


def _timelines(plan: pd.DataFrame, sessions: pd.DataFrame, colours: dict[str, str]) -> str:
    if sessions.empty:
        return "<p>No sessions.</p>"
    legend = "<p class=\"legend\">" + " ".join(
        f"<span><i style=\"background:{c}\"></i>{_e(name)}</span>"
        for name, c in colours.items()) + ("<span><i class=\"ot\"></i>overtime</span>"
                                           "<span><i class=\"to\"></i>turnover</span>"
                                           "<span><i class=\"rel\"></i>released</span></p>")
    cases_of: dict[str, list[dict[Any, Any]]] = {}
    for case in plan.sort_values(["session_id", "start"]).to_dict("records"):
        cases_of.setdefault(str(case["session_id"]), []).append(case)
    blocks: list[str] = []
    links: list[str] = []
    rows = sorted(sessions.to_dict("records"), key=lambda r: (r["site"], r["date"],
                                                             _natural(r["room"]), r["start"]))
    day: list[dict[Any, Any]] = []
    for i, session in enumerate(rows):
        day.append(session)
        following = rows[i + 1] if i + 1 < len(rows) else None
        if following is None or (following["site"], following["date"]) != (session["site"],
                                                                            session["date"]):
            anchor = f"day-{len(blocks)}"
            label = f"{session['site']}, {session['date']}"
            links.append(f"<a href=\"#{anchor}\">{_e(label)}</a>")
            blocks.append(f"<h3 id=\"{anchor}\">{_e(label)}</h3>"
                          + _day_svg(day, cases_of, colours))
            day = []
    return legend + "<p class=\"toc\">" + " &middot; ".join(links) + "</p>" + "".join(blocks)


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting OR2 before OR10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"(\d+)", str(text)) if part)


def _day_svg(day: list[dict[Any, Any]], cases_of: dict[str, list[dict[Any, Any]]],
             colours: dict[str, str]) -> str:
    """One site's day: `day` its sessions by room and start, `cases_of` cases by start."""
    first = int(min(s["start"] for s in day)) // 60 * 60
    ends = [float(c["end"]) for s in day for c in cases_of.get(s["session_id"], [])]
    last = -(-int(max([float(s["end"]) for s in day] + ends)) // 60) * 60
    rooms = list(dict.fromkeys(s["room"] for s in day))
    width = LABEL_W + (last - first) * PX_PER_MIN + 24
    height = 18 + ROW_H * len(rooms)

    def x(minutes: float) -> float:
        return LABEL_W + (minutes - first) * PX_PER_MIN

    out = [f"<svg class=\"gantt\" width=\"{width:.0f}\" height=\"{height}\" "
           f"viewBox=\"0 0 {width:.0f} {height}\" role=\"img\">"]
    for hour in range(first, last + 1, 60):
        out.append(f"<line x1=\"{x(hour):.1f}\" y1=\"14\" x2=\"{x(hour):.1f}\" y2=\"{height}\" "
                   f"class=\"grid\"/><text x=\"{x(hour):.1f}\" y=\"11\" class=\"tick\">"
                   f"{_hhmm(hour)}</text>")
    row_of = {room: row for row, room in enumerate(rooms)}
    for room, row in row_of.items():
        out.append(f"<text x=\"4\" y=\"{18 + row * ROW_H + 14}\" class=\"room\">{_e(room)}"
                   "</text>")
    for session in day:
        y = 18 + row_of[session["room"]] * ROW_H
        s0, s1 = float(session["start"]), float(session["end"])
        released = session["status"] == "released"
        tip = (f"{session['session_id']}: {session['specialty'] or 'open'}, {_hhmm(s0)}-"
               f"{_hhmm(s1)}, {_pct(session['utilisation'])}" + (", released" if released else ""))
        out.append(f"<rect x=\"{x(s0):.1f}\" y=\"{y + 1}\" width=\"{(s1 - s0) * PX_PER_MIN:.1f}"
                   f"\" height=\"{ROW_H - 2}\" class=\"{'rel' if released else 'staffed'}\">"
                   f"<title>{_e(tip)}</title></rect>")
        cases = cases_of.get(session["session_id"], [])
        for before, after in zip(cases[:-1], cases[1:], strict=False):
            gap_start, gap_end = float(before["end"]), float(after["start"])
            if gap_end > gap_start:
                out.append(f"<rect x=\"{x(gap_start):.1f}\" y=\"{y + 6}\" width=\""
                           f"{(gap_end - gap_start) * PX_PER_MIN:.1f}\" height=\""
                           f"{ROW_H - 12}\" class=\"to\"/>")
        for case in cases:
            c0, c1 = float(case["start"]), float(case["end"])
            tip = (f"{case['procedure'] or case['specialty']} {_hhmm(c0)}-{_hhmm(c1)}"
                   + (f", {case['surgeon_id']}" if case["surgeon_id"] else ""))
            out.append(f"<rect x=\"{x(c0):.1f}\" y=\"{y + 3}\" width=\""
                       f"{max((c1 - c0) * PX_PER_MIN, 1):.1f}\" height=\"{ROW_H - 6}\" "
                       f"fill=\"{colours.get(case['specialty'], '#777')}\"><title>{_e(tip)}"
                       "</title></rect>")
        last_end = max((float(c["end"]) for c in cases), default=s1)
        if last_end > s1:
            out.append(f"<rect x=\"{x(s1):.1f}\" y=\"{y + ROW_H - 4}\" width=\""
                       f"{(last_end - s1) * PX_PER_MIN:.1f}\" height=\"3\" class=\"ot\">"
                       f"<title>overtime {last_end - s1:.0f} min</title></rect>")
    out.append("</svg>")
    return "".join(out)


def _heat(value: float) -> str:
    """Orange (50 % or less) through white (75 %) to blue (100 %, overtime counts as used), so
    the underused sessions stand out (a diverging scale readable with colour-blindness)."""
    low, mid, high = (244, 165, 130), (247, 247, 247), (33, 102, 172)
    v = float(np.clip((value - 0.5) / 0.5, 0.0, 1.0))
    a, b, t = (low, mid, v * 2) if v < 0.5 else (mid, high, v * 2 - 1)
    r, g, bl = (int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))
    return f"rgb({r},{g},{bl})"


def _heatmap(sessions: pd.DataFrame) -> str:
    if sessions.empty:
        return ""
    used = sessions["capacity_min"] - sessions["idle_min"]
    frame = sessions.assign(place=sessions["site"] + " " + sessions["room"],
                            used=np.where(sessions["status"] == "open", used, 0.0))
    cells = frame.groupby(["place", "date"]).agg(used=("used", "sum"),
                                                 staffed=("capacity_min", "sum"),
                                                 released=("status",
                                                           lambda s: bool((s == "released").all())))
    dates = sorted(frame["date"].unique())
    head = "<tr><th>room</th>" + "".join(f"<th>{_e(d)}</th>" for d in dates) + "</tr>"
    rows = []
    for place in sorted(frame["place"].unique(), key=_natural):
        tds = []
        for date in dates:
            if (place, date) not in cells.index:
                tds.append("<td class=\"none\"></td>")
                continue
            cell = cells.loc[(place, date)]
            if cell["released"]:
                tds.append("<td class=\"relcell\" title=\"released\">rel.</td>")
                continue
            share = float(cell["used"]) / float(cell["staffed"]) if cell["staffed"] else 0.0
            dark = share > 0.9
            tds.append(f"<td style=\"background:{_heat(share)};color:"
                       f"{'#fff' if dark else '#000'}\">{100 * share:.0f}</td>")
        rows.append(f"<tr><th>{_e(place)}</th>" + "".join(tds) + "</tr>")
    return ("<h3>Room x day: utilisation of staffed time, % (orange: under 75 %, blue: full)"
            "</h3><div class=\"scroll\">"
            f"<table class=\"heat\">{head}{''.join(rows)}</table></div>")


def _specialty_table(sessions: pd.DataFrame) -> str:
    opened = sessions["status"] == "open"
    frame = sessions.assign(
        specialty=sessions["specialty"].replace("", "(open sessions)"),
        used=np.where(opened, sessions["capacity_min"] - sessions["idle_min"], 0.0),
        released=~opened)
    table = frame.groupby("specialty").agg(
        sessions=("session_id", "size"), released=("released", "sum"),
        staffed=("capacity_min", "sum"), booked=("booked_min", "sum"),
        idle=("idle_min", "sum"), overtime=("overtime_min", "sum"), used=("used", "sum"),
        cases=("cases", "sum"))
    rows = "".join(
        f"<tr><th>{_e(name)}</th><td>{r.sessions:,.0f}</td><td>{r.released:,.0f}</td>"
        f"<td>{r.cases:,.0f}"
        f"</td><td>{r.staffed:,.0f}</td><td>{r.booked:,.0f}</td><td>{r.idle:,.0f}</td>"
        f"<td>{r.overtime:,.0f}</td><td>{_pct(r.used / r.staffed if r.staffed else 0.0)}</td>"
        "</tr>" for name, r in table.iterrows())
    return ("<h3>Per specialty (sessions by block owner)</h3><table class=\"num\" "
            "id=\"specialties\"><tr><th>specialty</th><th>sessions</th><th>released</th>"
            "<th>cases</th><th>staffed min</th><th>booked min</th><th>idle min</th>"
            f"<th>overtime min</th><th>utilisation</th></tr>{rows}</table>")


def _waitlist(outputs: Outputs) -> str:
    plan, left, summary = outputs.plan, outputs.unscheduled, outputs.summary
    horizon = summary.get("horizon", {})
    start = pd.Timestamp(horizon["start"]) if horizon.get("start") else None
    rows = []
    urgencies = sorted(set(plan.get("urgency", pd.Series(dtype=str)))
                       | set(left.get("urgency", pd.Series(dtype=str))))
    for urgency in urgencies:
        mine = plan[plan["urgency"] == urgency] if "urgency" in plan else plan.iloc[:0]
        theirs = left[left["urgency"] == urgency]
        due_p = kept = due_l = overdue_p = overdue_l = 0
        if start is not None and "deadline" in plan:
            end = start + pd.Timedelta(days=int(horizon.get("days", 1)) - 1)
            deadline = pd.to_datetime(mine["deadline"], errors="coerce")
            left_deadline = pd.to_datetime(theirs["deadline"], errors="coerce")
            # the date to keep: due_by (deadline in the horizon, or its end for a mandatory
            # patient), else, for outputs without it, a deadline in the horizon
            due = _due_by(mine, deadline, start, end)
            due_p = int(due.notna().sum())
            kept = int((pd.to_datetime(mine["date"]) <= due).sum())
            due_l = int(_due_by(theirs, left_deadline, start, end).notna().sum())
            overdue_p = int((deadline < start).sum())
            overdue_l = int((left_deadline < start).sum())
        wait_p = mine["days_waited"] if "days_waited" in mine else pd.Series(dtype=float)
        wait_l = theirs["days_waited"] if "days_waited" in theirs else pd.Series(dtype=float)
        rows.append(
            f"<tr><th>{_e(urgency)}</th><td>{len(mine) + len(theirs):,}</td><td>{len(mine):,}"
            f"</td><td>{kept:,} of {due_p + due_l:,}</td><td>{overdue_p:,} of "
            f"{overdue_p + overdue_l:,}</td><td>{_quartiles(wait_p)}</td>"
            f"<td>{_quartiles(wait_l)}</td></tr>")
    table = ("<h3>Per urgency class</h3><table class=\"num\" id=\"urgency\"><tr><th>urgency</th>"
             "<th>waiting</th><th>planned</th><th>deadlines due kept</th><th>overdue planned"
             "</th><th>days waited, planned (median, quartiles)</th><th>days waited, left "
             f"out</th></tr>{''.join(rows)}</table>")
    reasons = left["reason"].value_counts() if "reason" in left else pd.Series(dtype=int)
    reason_table = ("<h3>Left out, by reason</h3><table class=\"num\" id=\"reasons\">"
                    "<tr><th>reason</th><th>patients</th><th>what it means</th></tr>"
                    + "".join(
                        f"<tr><th>{_e(code)}</th><td>{n:,}</td><td class=\"text\">"
                        f"{_e(_meaning(left, str(code)))}</td></tr>"
                        for code, n in reasons.items()) + "</table>")
    shown = left.head(LEFT_OUT_ROWS)
    columns = [c for c in ("patient_id", "urgency", "deadline", "days_overdue", "days_waited",
                           "priority", "reason") if c in shown]
    numbers = {"days_overdue", "days_waited", "priority"}  # identifiers stay as written
    body = "".join("<tr>" + "".join(
        f"<td>{_e(_cell(row[c]) if c in numbers else row[c])}</td>" for c in columns)
        + "</tr>" for _, row in shown.iterrows())
    more = (f"<p>The {len(shown):,} most pressing of {len(left):,} left out; unscheduled.csv "
            "lists them all.</p>" if len(left) > len(shown) else "")
    listing = ("<h3>Left out, most pressing first</h3>" + more + "<div class=\"scroll tall\">"
               "<table id=\"leftout\"><tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns)
               + f"</tr>{body}</table></div>")
    return table + reason_table + listing


def _due_by(rows: pd.DataFrame, deadline: pd.Series, start: pd.Timestamp,
            end: pd.Timestamp) -> pd.Series:
    if "due_by" in rows:
        return pd.to_datetime(rows["due_by"], errors="coerce")
    return deadline.where((deadline >= start) & (deadline <= end))


def _meaning(left: pd.DataFrame, code: str) -> str:
    return GENERAL_REASONS.get(code, str(left.loc[left["reason"] == code, "message"].iloc[0]))


def _changes(outputs: Outputs) -> str:
    """Churn against the previous plan, and the changed bookings (whom to call, and why)."""
    figures, changes = outputs.summary["changes"], outputs.changes
    assert changes is not None
    cards = [("bookings kept", f"{figures['kept']:,} of {figures['bookings']:,}"),
             ("moved, same day", f"{figures['moved-room']:,}"),
             ("moved to another day", f"{figures['moved-date']:,}"),
             ("dropped", f"{figures['dropped']:,}"), ("added", f"{figures['added']:,}"),
             ("confirmed bookings changed", _pct(figures["confirmed_changed_share"])),
             ("days moved (confirmed)", f"{figures['confirmed_days_moved']:,}")]
    changed = changes[~changes["change"].isin(["kept", "added"])]
    shown = changed.head(LEFT_OUT_ROWS)
    columns = ["patient_id", "change", "status", "session_old", "date_old", "session_new",
               "date_new", "days_moved", "cause"]
    numbers = {"days_overdue", "days_waited", "priority"}  # identifiers stay as written
    body = "".join("<tr>" + "".join(
        f"<td>{_e(_cell(row[c]) if c in numbers else row[c])}</td>" for c in columns)
        + "</tr>" for _, row in shown.iterrows())
    more = (f"<p>The first {len(shown):,} of {len(changed):,}; changes.csv lists them all.</p>"
            if len(changed) > len(shown) else "")
    return ("<div class=\"cards\">" + "".join(
        f"<div class=\"card\"><div class=\"v\">{_e(v)}</div><div class=\"l\">{_e(label)}</div>"
        "</div>" for label, v in cards) + "</div><h3>Bookings changed (whom to tell)</h3>" + more
        + "<div class=\"scroll tall\"><table id=\"changed\"><tr>"
        + "".join(f"<th>{_e(c)}</th>" for c in columns) + f"</tr>{body}</table></div>")


def _cards(cards: list[tuple[str, str]]) -> str:
    return "<div class=\"cards\">" + "".join(
        f"<div class=\"card\"><div class=\"v\">{_e(v)}</div><div class=\"l\">{_e(label)}</div>"
        "</div>" for label, v in cards) + "</div>"


def _risk(outputs: Outputs) -> str:
    """How the durations were planned (summary's `durations`) and the replayed risk (simulation
    table and summary's `simulation`), sessions most at risk first."""
    parts = []
    planned = outputs.summary.get("durations")
    if planned:
        source = ", ".join(f"{k} {v:,}" for k, v in planned.get("source", {}).items())
        rule = (f"risk target {planned['risk_target']:g}" if planned.get("risk_target")
                else f"{planned['quantile']:g} quantile" if planned.get("quantile")
                else "mean minutes")
        origin = planned.get("fit") or "the waitlist"
        parts.append(f"<p>Planned minutes: {_e(rule)}, from {_e(origin)} (cases by source: "
                     f"{_e(source)}).</p>")
        if "session_risk" in planned:
            risk = planned["session_risk"]
            parts.append(_cards([
                ("session risk, mean (Fenton-Wilkinson)", _pct(risk["mean"])),
                ("session risk, highest", _pct(risk["max"])),
                ("sessions above target", f"{risk['sessions_above_target']:,}")]))
    if outputs.simulation is not None:
        figures = outputs.summary["simulation"]
        parts.append(f"<h3>{figures['runs']:,} replays (seed {figures['seed']})</h3>")
        parts.append(_cards([
            ("overtime minutes, mean", _num(figures["expected_overtime_min"])),
            ("overtime minutes, 90th percentile", _num(figures["p90_overtime_min"])),
            ("cases not started in time, mean", f"{figures['expected_cancelled']:,.1f}"),
            ("sessions past end + allowed", f"{figures['expected_sessions_over_allowed']:,.1f}"),
            ("sessions with over 10 % risk",
             f"{figures['sessions_over_allowed_risk_above_10pct']:,}"),
        ]))
        top = outputs.simulation.sort_values(["p_over_allowed", "expected_overtime_min"],
                                             ascending=False).head(LEFT_OUT_ROWS)
        rows = "".join(
            f"<tr><td class=\"text\">{_e(r['session_id'])}</td><td>{int(r['cases'])}</td>"
            f"<td>{_pct(r['p_overtime'])}</td><td>{_pct(r['p_over_allowed'])}</td>"
            f"<td>{r['expected_overtime_min']:.0f}</td><td>{r['expected_cancelled']:.2f}</td></tr>"
            for _, r in top.iterrows())
        parts.append("<h3>Sessions, most at risk first</h3><div class=\"scroll tall\"><table "
                     "class=\"num\" id=\"simulated\"><tr><th>session</th><th>cases</th>"
                     "<th>P(overtime)</th><th>P(past allowed)</th><th>overtime, min</th>"
                     f"<th>not started in time</th></tr>{rows}</table></div>")
    return "".join(parts)


def _quartiles(days: pd.Series) -> str:
    days = days.dropna()
    if days.empty:
        return "-"
    q1, q2, q3 = np.percentile(days.to_numpy(float), [25, 50, 75])
    return f"{q2:.0f} ({q1:.0f}-{q3:.0f})"


def _objective(summary: dict[str, Any]) -> str:
    terms = summary.get("terms", {})
    total = sum(t["value"] for t in terms.values()) or 1.0
    top = max((t["value"] for t in terms.values()), default=1.0) or 1.0
    rows = "".join(
        f"<tr><th>{_e(name)}</th><td>{t['weight']:,g}</td><td>{t['value']:,.0f}</td>"
        f"<td>{_pct(t['value'] / total)}</td><td class=\"barcell\"><span class=\"bar\" "
        f"style=\"width:{200 * t['value'] / top:.0f}px\"></span></td></tr>"
        for name, t in terms.items())
    tiers = summary.get("tiers") or []
    tier_rows = "".join(
        f"<tr><th>{_e(t['name'])}</th><td class=\"text\">{_e(', '.join(t['terms']))}</td>"
        f"<td>{_num(t.get('scale'))}</td><td>{_num(t['cost'])}</td><td>{_num(t.get('bound'))}"
        f"</td><td>{_pct(t.get('gap'))}</td></tr>" for t in tiers)
    tier_table = ("<h3>Priority tiers, highest first</h3><table class=\"num\" id=\"tiers\">"
                  "<tr><th>tier</th><th>terms</th><th>scale</th><th>cost</th><th>bound</th>"
                  f"<th>gap</th></tr>{tier_rows}</table>") if tiers else ""
    times = summary.get("times_s", {})
    solver = [("objective", _num(summary.get("objective"))),
              ("best bound", _num(summary.get("best_bound"))),
              ("gap", _pct(summary.get("gap"))),
              ("solver status", summary.get("solver_status", "-")),
              ("plan from", summary.get("plan_source", "-")),
              ("time limit, s", summary.get("time_limit_s", "-")),
              ("solver", summary.get("versions", {}).get("solver", "-"))]
    return ("<table class=\"num\" id=\"terms\"><tr><th>term</th><th>weight</th><th>value</th>"
            f"<th>share</th><th></th></tr>{rows}</table>{tier_table}<h3>Solver</h3>"
            "<table class=\"num\">"
            + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in solver)
            + "</table><h3>Time per stage, s</h3><table class=\"num\">"
            + "".join(f"<tr><th>{_e(k)}</th><td>{v:.2f}</td></tr>" for k, v in times.items())
            + "</table>")


def _definitions() -> str:
    return "<dl>" + "".join(f"<dt>{_e(term)}</dt><dd>{_e(text)}</dd>"
                            for term, text in DEFINITIONS) + "</dl>"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{border-bottom:2px solid #08519c;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1em;margin:1.2em 0 .4em}
.cards{display:flex;flex-wrap:wrap;gap:.6em}
.card{border:1px solid #ccc;border-radius:6px;padding:.5em .8em;min-width:9em}
.card .v{font-size:1.3em;font-weight:600}.card .l{font-size:.8em;color:#555}
table{border-collapse:collapse;font-size:.85em}th,td{border:1px solid #ddd;padding:2px 6px}
th{background:#f4f4f4;text-align:left}table.num td{text-align:right}
table.num td.text{text-align:left}
.heat td{text-align:center;min-width:3.2em}.heat td.none{background:#fafafa}
.relcell{background:repeating-linear-gradient(45deg,#eee,#eee 4px,#ccc 4px,#ccc 8px)}
.scroll{overflow:auto;max-width:100%}.tall{max-height:30em}
svg.gantt{display:block;margin-bottom:.5em;font-size:11px}
.grid{stroke:#e4e4e4}.tick{fill:#666;font-size:10px;text-anchor:middle}.room{fill:#333}
.staffed{fill:#eef3f8;stroke:#9ab}.rel{fill:#e6e6e6;stroke:#bbb;stroke-dasharray:3 2}
.to{fill:#c8c8c8}.ot{fill:#d62728}
.legend span{margin-right:1em;white-space:nowrap}.legend i{display:inline-block;width:.9em;
height:.9em;margin-right:.3em;vertical-align:middle;border:1px solid #999}
.legend i.ot{background:#d62728}.legend i.to{background:#c8c8c8}.legend i.rel{background:#e6e6e6}
.toc{font-size:.85em;line-height:1.6}.toc a{color:#08519c;white-space:nowrap}
.bar{display:inline-block;height:.8em;background:#08519c}.barcell{text-align:left!important}
dt{font-weight:600;margin-top:.4em}dd{margin-left:1.2em}
"""
