"""The orplan command line: parse, call the library, render, map errors to exit codes.

Exit codes (stable): 0 success; 1 `check` found rule violations (or `solve` wrote a plan that
fails its own check); 2 usage error; 3 invalid input; 4 no plan found within the time limit;
5 internal error (a bug: rerun with --debug and report the traceback).
"""

from __future__ import annotations

import dataclasses
import sys
import traceback
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orplan import BEGUN, __version__, wall
from orplan.config import Config, ConfigError, load_config
from orplan.issues import Issue, has_errors

console = Console(highlight=False, markup=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


class Exit(IntEnum):
    OK = 0
    VIOLATIONS = 1
    USAGE = 2
    INVALID_INPUT = 3
    NO_PLAN = 4
    INTERNAL = 5


app = typer.Typer(
    name="orplan",
    help="Operating-room planner: waitlist + staffed sessions -> optimised weekly theatre plan.\n\n"
    "Exit codes: 0 success, 1 plan breaks rules (check), 2 usage, 3 invalid input, 4 no plan, "
    "5 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

CaseArg = Annotated[Path, typer.Argument(help="Case folder with waitlist and sessions tables.",
                                         show_default=False)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="orplan.toml to use (default: CASE/orplan.toml if present).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")]
DurationsOpt = Annotated[Path | None, typer.Option(
    "--durations", "-d", help="A fit of `orplan durations fit`: cases are planned at their "
    "fitted mean minutes (blank duration_min allowed), see --quantile, --risk, "
    "--keep-durations.")]
QuantileOpt = Annotated[float | None, typer.Option(
    "--quantile", min=0.5, max=0.99, help="Plan each case at this quantile of its duration "
    "(with --durations: the fit's; without: around duration_min, spread [durations] sigma).")]
KeepOpt = Annotated[bool, typer.Option(
    "--keep-durations", help="With --durations: keep the waitlist's duration_min where given; "
    "the fit fills only blanks.")]
MAX_ISSUES_SHOWN = 50


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"orplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version_callback,
                                                is_eager=True, help="Show the version.")] = False
          ) -> None:
    pass


def _config_path(case: Path, path: Path | None) -> Path | None:
    """The config file in use: --config, else CASE/orplan.toml when it exists."""
    if path is not None:
        return path
    default = case / "orplan.toml"
    return default if default.exists() else None


def _config(case: Path, path: Path | None) -> Config:
    return load_config(_config_path(case, path))


def _duration_plan(durations: Path | None, quantile: float | None, risk: float | None,
                   keep: bool):  # type: ignore[no-untyped-def]
    """The DurationPlan of the options (None without any); reads the fit (InvalidInput when it is
    bad, so call it under _guard). Usage errors exit."""
    from orplan.durations import DurationPlan
    from orplan.pipeline import read_durations

    if quantile is not None and risk is not None:
        err.print("give --quantile or --risk, not both")
        raise typer.Exit(Exit.USAGE)
    if keep and durations is None:
        err.print("--keep-durations needs --durations")
        raise typer.Exit(Exit.USAGE)
    if durations is None and quantile is None and risk is None:
        return None
    fit = read_durations(durations) if durations is not None else None
    return DurationPlan(fit, quantile, risk, keep, str(durations) if durations else "")


def _print_issues(issues: list[Issue], limit: int = MAX_ISSUES_SHOWN) -> None:
    errors = [i for i in issues if i.severity == "error"]
    warnings = [i for i in issues if i.severity == "warning"]
    for label, group in (("error", errors), ("warning", warnings)):
        for issue in group[:limit]:
            err.print(f"{label} [{issue.code}] {issue.location()}: {issue.message}")
        if len(group) > limit:
            err.print(f"... and {len(group) - limit} more {label}s (see `orplan validate --all`)")


def _guard(debug: bool, action):  # type: ignore[no-untyped-def]
    """Run action; turn known failures into messages and exit codes, unexpected ones into a one-line
    message (a traceback with --debug)."""
    from orplan.pipeline import InvalidInput

    try:
        return action()
    except ConfigError as exc:
        _print_issues(exc.issues)
        err.print("invalid configuration: nothing was planned")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    except InvalidInput as exc:
        _print_issues(exc.issues)
        n = sum(i.severity == "error" for i in exc.issues)
        if exc.what:
            err.print(f"{n} error(s) in {exc.what}: nothing was done. Fix them and run again.")
        else:
            err.print(f"{n} input error(s): nothing was planned. Fix them and run again "
                      "(`orplan validate CASE` lists them all).")
        raise typer.Exit(Exit.INVALID_INPUT) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            err.print(f"orplan failed: {type(exc).__name__}: {exc} (run with --debug for details)")
        raise typer.Exit(Exit.INVALID_INPUT if isinstance(exc, OSError) else Exit.INTERNAL
                         ) from None


@app.command()
def validate(
    case: CaseArg,
    config: ConfigOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="List every issue, not the first 50 "
                                           "of each kind.")] = False,
    durations: DurationsOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Check a case's tables and report every problem at once (with --durations, as `solve
    --durations` reads them: duration_min may be blank where the fit knows the case).

    Examples:
      orplan validate examples/demo-week
      orplan validate exports/week47 --config orplan.toml
    """
    from orplan.validate import validate_case

    def run() -> list[Issue]:
        cfg = _config(case, config)
        _, issues = validate_case(case, cfg, _duration_plan(durations, None, None, False))
        return issues

    issues = _guard(debug, run)
    _print_issues(issues, sys.maxsize if show_all else MAX_ISSUES_SHOWN)
    errors = sum(i.severity == "error" for i in issues)
    warnings = len(issues) - errors
    if has_errors(issues):
        err.print(f"invalid: {errors} error(s), {warnings} warning(s)")
        raise typer.Exit(Exit.INVALID_INPUT)
    console.print(f"valid: 0 errors, {warnings} warning(s)")


@app.command()
def solve(
    case: CaseArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder (replaced "
                                         "atomically).")],
    config: ConfigOpt = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", "-t", min=1.0, help="Seconds for the whole run [config: 60].")] = None,
    gap: Annotated[float | None, typer.Option(
        "--gap", min=0.0, max=1.0, help="Relative gap at which to stop [config: 0.01].")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1,
                                                help="Solver threads [config: 1].")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0,
                                             help="Solver random seed [config: 0].")] = None,
    deterministic: Annotated[bool | None, typer.Option(
        "--deterministic/--wall-clock", help="Share the time between the solver's steps by "
        "counted work, so the same input and seed give the same plan (summary.json "
        "`reproducible` says whether it held), or by the wall clock (uses all the time; plans "
        "vary from run to run) [config: deterministic].")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Output format: csv, parquet, or "
                                     "xlsx (the tables as csv plus plan.xlsx, a workbook).")
                   ] = "csv",
    method: Annotated[str, typer.Option(
        "--method", "-m", help="milp (optimise) or greedy (a careful planner's rule, as a "
        "baseline).")] = "milp",
    solver_log: Annotated[Path | None, typer.Option("--solver-log",
                                                    help="Write HiGHS's log to this file.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html (see "
                                         "`orplan report`).")] = False,
    freeze_days: Annotated[int | None, typer.Option(
        "--freeze-days", min=0, help="Days from the horizon start whose confirmed bookings (in "
        "previous_plan) never move and that take no new patient [config: 0].")] = None,
    freeze_admit: Annotated[list[str] | None, typer.Option(
        "--freeze-admit", help="An urgency class that may still be added in the frozen days "
        "(repeat for more) [config: none].")] = None,
    durations: DurationsOpt = None,
    quantile: QuantileOpt = None,
    risk: Annotated[float | None, typer.Option(
        "--risk", min=0.01, max=0.5, help="Plan cases at their mean minutes and keep each "
        "session's chance of running past its end plus allowed overtime under this (e.g. 0.1); "
        "with --durations the fit's spread, else [durations] sigma.")] = None,
    keep_durations: KeepOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Plan the case and write plan, unscheduled, sessions, breaches and summary.json.

    Examples:
      orplan solve examples/demo-week -o out/hospital
      orplan solve exports/week47 -o plans/week47 --time-limit 120 --format parquet
      orplan solve exports/week47 -o plans/baseline --method greedy
      orplan solve exports/week47 -o plans/week47 --report
      orplan solve exports/tonight -o plans/tonight --freeze-days 2 --freeze-admit A
      orplan solve exports/week47 -o plans/week47 --durations durations.csv --risk 0.1
    """
    from orplan.pipeline import SolveOptions, run_solve
    from orplan.reports.terminal import render_summary

    if fmt not in ("csv", "parquet", "xlsx"):
        err.print(f"--format must be csv, parquet or xlsx, not '{fmt}'")
        raise typer.Exit(Exit.USAGE)
    if method not in ("milp", "greedy"):
        err.print(f"--method must be milp or greedy, not '{method}'")
        raise typer.Exit(Exit.USAGE)

    def run():  # type: ignore[no-untyped-def]
        cfg = _config(case, config)
        if freeze_days is not None:
            cfg = dataclasses.replace(cfg, freeze_days=freeze_days)
        if freeze_admit:
            unknown = [key for key in freeze_admit if key not in cfg.urgency]
            if unknown:
                err.print(f"--freeze-admit: {', '.join(unknown)} is not an urgency class "
                          f"({', '.join(cfg.urgency)})")
                raise typer.Exit(Exit.USAGE)
            cfg = dataclasses.replace(cfg, freeze_admit=tuple(freeze_admit))
        settings = dataclasses.replace(
            cfg.solver,
            **{k: v for k, v in {"time_limit": time_limit, "gap": gap, "threads": threads,
                                 "seed": seed, "deterministic": deterministic}.items()
               if v is not None})
        options = SolveOptions(settings.time_limit, settings.gap, settings.threads, settings.seed,
                               "csv" if fmt == "xlsx" else fmt,  # type: ignore[arg-type]
                               solver_log,
                               config_path=_config_path(case, config),
                               method=method, report=report,  # type: ignore[arg-type]
                               workbook=fmt == "xlsx", deterministic=settings.deterministic,
                               durations=_duration_plan(durations, quantile, risk,
                                                        keep_durations),
                               spent_before=0.0 if _began is None
                               else wall.perf_counter() - _began)
        return run_solve(case, output, cfg, options)

    outcome = _guard(debug, run)
    if not quiet:
        render_summary(console, outcome, output)
    cut = outcome.summary.get("work", {}).get("cut_by_clock", [])
    if cut and outcome.summary.get("work", {}).get("deterministic"):
        err.print(f"warning: the time limit stopped {', '.join(cut)} before its counted work: "
                  "another run may write a different plan (summary.json `reproducible`: false). "
                  "Give more time (--time-limit).")
    if outcome.summary["plan_source"] == "greedy start" and method != "greedy":
        err.print(f"warning: the solver found no better plan ({outcome.summary['solver_status']})")
    if outcome.summary["status"] == "no-plan":
        err.print("no plan found within the time limit; nothing was written. "
                  "Give more time (--time-limit).")
        raise typer.Exit(Exit.NO_PLAN)
    if outcome.violations:
        err.print(f"the plan breaks {len(outcome.violations)} rule(s); see `orplan check`")
        raise typer.Exit(Exit.VIOLATIONS)


@app.command()
def check(
    case: CaseArg,
    plan: Annotated[Path, typer.Argument(help="A plan file (plan.csv / plan.parquet) or an "
                                         "output folder holding one.", show_default=False)],
    config: ConfigOpt = None,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="Print patient identifiers.")
                        ] = False,
    durations: DurationsOpt = None,
    quantile: QuantileOpt = None,
    keep_durations: KeepOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Re-check a plan against every hard rule, without the solver. A plan made with
    --durations (and --quantile, --keep-durations) is checked with the same options.

    Examples:
      orplan check examples/demo-week out/hospital
      orplan check exports/week47 manual_plan.csv
    """
    from orplan.reports.terminal import render_violations
    from orplan.verify import verify_plan

    def run():  # type: ignore[no-untyped-def]
        from orplan.io.plan_file import read_plan
        from orplan.pipeline import InvalidInput, load_stage

        cfg = _config(case, config)
        loaded, _ = load_stage(case, cfg, _duration_plan(durations, quantile, None,
                                                         keep_durations))
        frame, issues = read_plan(plan)
        if frame is None or has_errors(issues):
            raise InvalidInput(issues, f"the plan {plan}")
        return verify_plan(loaded, frame), len(frame)

    violations, planned = _guard(debug, run)
    if violations:
        render_violations(err, violations, show_ids)
        err.print(f"plan breaks {len(violations)} rule(s) ({planned} cases checked)")
        raise typer.Exit(Exit.VIOLATIONS)
    console.print(f"plan keeps every rule ({planned} cases checked)")


@app.command()
def compare(
    case: CaseArg,
    plan_a: Annotated[Path, typer.Argument(help="The first plan (A): a plan file or an output "
                                           "folder holding one.", show_default=False)],
    plan_b: Annotated[Path, typer.Argument(help="The second plan (B).", show_default=False)],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also write comparison.csv, patients.csv and violations.csv "
        "here (replaced atomically).")] = None,
    config: ConfigOpt = None,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="Print patient identifiers.")
                        ] = False,
    durations: DurationsOpt = None,
    quantile: QuantileOpt = None,
    keep_durations: KeepOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Put two plans for one case side by side: every KPI and objective term of both, the
    difference, the rules each breaks, and which patients differ. Either plan may be made
    anywhere (for instance by hand), as long as it is in orplan's plan format. Plans made with
    --durations (and --quantile, --keep-durations) are compared with the same options.

    Examples:
      orplan compare exports/week47 manual/week47.csv plans/week47
      orplan compare exports/week47 plans/monday plans/tuesday -o compare/week47
    """
    from orplan.reports.compare import kpi_table, patient_changes, plan_figures

    def run():  # type: ignore[no-untyped-def]
        from orplan.io.plan_file import read_plan
        from orplan.pipeline import InvalidInput, load_stage

        cfg = _config(case, config)
        loaded, _ = load_stage(case, cfg, _duration_plan(durations, quantile, None,
                                                         keep_durations))
        frames = []
        for path in (plan_a, plan_b):
            frame, issues = read_plan(path)
            if frame is None or has_errors(issues):
                raise InvalidInput(issues, f"the plan {path}")
            frames.append(frame)
        a, b = plan_figures(loaded, frames[0]), plan_figures(loaded, frames[1])
        return a, b, kpi_table(a, b), patient_changes(loaded, frames[0], frames[1])

    a, b, table, changes = _guard(debug, run)
    from orplan.reports.terminal import render_comparison

    render_comparison(console, table, changes, a, b, plan_a, plan_b, show_ids)
    if output is not None:
        _write_comparison(output, table, changes, a, b, plan_a, plan_b, debug)
        console.print(f"wrote {output}")
    if a.violations or b.violations:
        raise typer.Exit(Exit.VIOLATIONS)


def _write_comparison(output: Path, table, changes, a, b, plan_a: Path,  # type: ignore[no-untyped-def]
                      plan_b: Path, debug: bool) -> None:
    import pandas as pd

    from orplan.io.write import write_outputs

    violations = pd.DataFrame(
        [(name, v.code, v.patient_id, v.where, v.message)
         for name, figures in (("a", a), ("b", b)) for v in figures.violations],
        columns=["plan", "code", "patient_id", "where", "message"])
    tables = {"comparison": table, "patients": changes, "violations": violations}

    def summary() -> dict[str, object]:
        return {"a": str(plan_a), "b": str(plan_b),
                "changes": changes["change"].value_counts().to_dict(),
                "violations": {"a": len(a.violations), "b": len(b.violations)}}

    _guard(debug, lambda: write_outputs(output, tables, summary, "csv"))


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The earlier plan: a plan or previous_plan file, or "
                                        "an output folder.", show_default=False)],
    new: Annotated[Path, typer.Argument(help="The later plan.", show_default=False)],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also write changes.csv and summary.json (churn) here (replaced "
        "atomically).")] = None,
    show_ids: Annotated[bool, typer.Option("--show-ids", help="List the patients who changed.")
                        ] = False,
    debug: DebugOpt = False,
) -> None:
    """What changed between two plans: bookings kept, moved (another session that day, or
    another day), dropped, and patients added, with churn figures (share of confirmed bookings
    changed, days moved). Bookings without a status count as confirmed.

    Examples:
      orplan diff plans/monday plans/tuesday
      orplan diff exports/week47/previous_plan.csv plans/week47 -o churn/week47
    """
    from orplan.reports.diff import churn, plan_diff, read_bookings, render_churn, write_diff

    def run():  # type: ignore[no-untyped-def]
        from orplan.pipeline import InvalidInput

        frames = []
        for path in (old, new):
            frame, issues = read_bookings(path)
            if frame is None or has_errors(issues):
                raise InvalidInput(issues, f"the plan {path}")
            frames.append(frame)
        changes = plan_diff(frames[0], frames[1])
        figures = churn(changes)
        if output is not None:
            write_diff(output, changes, figures)
        return changes, figures

    changes, figures = _guard(debug, run)
    console.print(render_churn(figures))
    if show_ids:
        for row in changes[changes["change"] != "kept"].itertuples():
            where = (f"{row.session_old or row.date_old or '-'} -> "
                     f"{row.session_new or row.date_new or '-'}")
            console.print(f"  {row.patient_id}: {row.change} ({where})")
    if output is not None:
        console.print(f"wrote {output}")


@app.command("report")
def report_command(
    output: Annotated[Path, typer.Argument(help="An output folder of `orplan solve`.",
                                           show_default=False)],
    to: Annotated[Path | None, typer.Option("--to", help="Where to write the report "
                                            "(default: OUTPUT/report.html).")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="Also write the workbook "
                                       "OUTPUT/plan.xlsx (as `solve --format xlsx`).")] = False,
    debug: DebugOpt = False,
) -> None:
    """Write one self-contained HTML report of a plan: timelines, utilisation, waitlist,
    objective, and what each figure means. It opens offline, with no files beside it.

    Examples:
      orplan report out/hospital
      orplan report plans/week47 --to week47.html --xlsx
    """
    from orplan.reports.html import ReportError, write_report

    def run() -> list[Path]:
        try:
            written = [write_report(output, to)]
            if xlsx:
                from orplan.io.excel import write_workbook

                written.append(write_workbook(output))
            return written
        except ReportError as exc:
            err.print(f"cannot report: {exc}")
            raise typer.Exit(Exit.INVALID_INPUT) from None

    for path in _guard(debug, run):
        console.print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KB)")


@app.command()
def generate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the case to.")],
    profile: Annotated[str, typer.Option("--profile", "-p", help="Case size: tiny, small, "
                                         "example, clinic, hospital or region.")] = "small",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (same seed, same "
                                      "case).")] = 1,
    patients: Annotated[int | None, typer.Option("--patients", min=1, help="Waitlist size "
                                                 "instead of the profile's.")] = None,
    weeks: Annotated[int | None, typer.Option("--weeks", min=1, max=8, help="Weeks of sessions "
                                              "instead of the profile's.")] = None,
    split_lists: Annotated[float, typer.Option(
        "--split-lists", min=0.0, max=1.0, help="Share of full room-days split into a morning "
        "list 08:00-11:45 and an afternoon list 12:15-15:30 of another specialty.")] = 0.0,
    overdue: Annotated[float | None, typer.Option(
        "--overdue", min=0.0, max=1.0, help="Share of patients already past their deadline "
        "(default: as drawn, about a quarter).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or parquet.")] = "csv",
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that is not "
                                        "empty.")] = False,
) -> None:
    """Write a realistic, valid planning case (all tables and orplan.toml).

    Examples:
      orplan generate --profile example --seed 7 -o cases/demo
      orplan generate --profile small -o /tmp/small --format parquet
      orplan generate --profile hospital --patients 20000 --weeks 2 -o /tmp/h20k2w
      orplan generate --profile hospital --split-lists 0.15 --overdue 0.18 -o /tmp/split
    """
    from orplan.generate import PROFILES, generate_case, write_case

    if profile not in PROFILES:
        err.print(f"unknown profile '{profile}'; choose one of {', '.join(PROFILES)}")
        raise typer.Exit(Exit.USAGE)
    if fmt not in ("csv", "parquet", "xlsx"):
        err.print(f"--format must be csv, parquet or xlsx, not '{fmt}'")
        raise typer.Exit(Exit.USAGE)
    if output.exists() and any(output.iterdir()) and not force:
        err.print(f"{output} is not empty; choose another folder or pass --force")
        raise typer.Exit(Exit.USAGE)
    tables, config = generate_case(profile, seed, patients, weeks, split_lists, overdue)
    write_case(output, tables, config, fmt)
    console.print(f"wrote {profile} case (seed {seed}) to {output}: "
                  f"{len(tables['waitlist'])} patients, {len(tables['sessions'])} sessions")


@app.command()
def bench(
    cases: Annotated[list[Path], typer.Argument(help="Case folders to run.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Table path without suffix; "
                                         ".csv and .md are written.")],
    methods: Annotated[list[str] | None, typer.Option("--method", "-m", help="milp and/or "
                                                      "greedy (repeat the option).")] = None,
    time_limits: Annotated[list[float] | None, typer.Option(
        "--time-limit", "-t", help="Seconds per run (repeat the option for several).")] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Solver threads.")] = 1,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Solver random seed.")] = 0,
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Runs per setting (quote "
                                        "medians).")] = 1,
) -> None:
    """Run `orplan solve` for every case x method x time limit, each in its own process, and
    write one table: times per stage, peak memory, objective, bound, gap, plan KPIs.

    Examples:
      orplan bench cases/hospital -m greedy -m milp -t 60 -o benchmarks/results/hospital
      orplan bench cases/a cases/b -t 30 -t 120 --repeat 3 -o /tmp/bench
    """
    from orplan.bench import COLUMNS, plan_runs, run_one, write_table

    methods = methods or ["milp"]
    for method in methods:
        if method not in ("milp", "greedy"):
            err.print(f"--method must be milp or greedy, not '{method}'")
            raise typer.Exit(Exit.USAGE)
    for case in cases:
        if not case.is_dir():
            err.print(f"case folder {case} does not exist")
            raise typer.Exit(Exit.INVALID_INPUT)
    import pandas as pd

    rows = []
    runs = plan_runs(cases, methods, time_limits or [60.0], threads, seed, repeat)
    for i, spec in enumerate(runs, 1):
        console.print(f"[{i}/{len(runs)}] {spec.case.name} {spec.method} "
                      f"{spec.time_limit:g} s run {spec.run}")
        row = run_one(spec)
        console.print(f"  {row['status']}: total {row.get('total_s', '-')} s, gap "
                      f"{row.get('gap', '-')}, planned {row.get('planned', '-')}")
        rows.append(row)
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    write_table(frame, output, "orplan " + " ".join(sys.argv[1:]))
    console.print(f"wrote {output.with_suffix('.csv')} and {output.with_suffix('.md')}")


@app.command("simulate")
def simulate_command(
    case: CaseArg,
    plan: Annotated[Path, typer.Argument(help="A plan file (plan.csv / plan.parquet) or an "
                                         "output folder holding one.", show_default=False)],
    runs: Annotated[int, typer.Option("--runs", "-n", min=1, max=1_000_000,
                                      help="Replays of the plan.")] = 10_000,
    durations: Annotated[Path | None, typer.Option(
        "--durations", "-d", help="A fit of `orplan durations fit` to draw case minutes from "
        "(default: each case's planned minutes as its mean, spread [durations] sigma).")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (same seed, same "
                                      "figures).")] = 0,
    write: Annotated[bool, typer.Option("--write", help="Add simulation.csv and summary.json's "
                                        "`simulation` to PLAN (an output folder), and refresh "
                                        "its report.html when there is one.")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Replay a plan with sampled case durations and turnovers: per session the probability of
    overtime, the expected overtime minutes and the expected cases that could not start before
    the session's end plus its allowed overtime (day-of cancellations); totals for the plan.

    Examples:
      orplan simulate examples/demo-week out/example --durations durations.csv
      orplan simulate exports/week47 plans/week47 -d durations.csv --runs 20000 --write
    """
    from orplan.reports.terminal import render_simulation

    if write and not plan.is_dir():
        err.print("--write needs PLAN to be an output folder of `orplan solve`")
        raise typer.Exit(Exit.USAGE)

    def run():  # type: ignore[no-untyped-def]
        from orplan.pipeline import simulate_plan

        return simulate_plan(case, _config(case, config), plan, runs, durations, seed, write)

    result = _guard(debug, run)
    render_simulation(console, result.totals, result.sessions)
    if write:
        console.print(f"wrote {plan / 'simulation.csv'} and the summary's `simulation`")


durations_app = typer.Typer(
    help="Case durations learnt from the hospital's history (see `orplan durations fit`).",
    no_args_is_help=True, rich_markup_mode=None)
app.add_typer(durations_app, name="durations")


@durations_app.command("fit")
def durations_fit(
    history: Annotated[Path, typer.Argument(help="The history table (history.csv / "
                                            "history.parquet) or a folder holding one.",
                                            show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The fit to write: a .csv or "
                                         ".parquet file (replaced atomically).")],
    holdout: Annotated[float, typer.Option("--holdout", min=0.05, max=0.5, help="Share of the "
                                           "latest cases held out to measure accuracy.")] = 0.2,
    debug: DebugOpt = False,
) -> None:
    """Fit a log-normal duration per procedure and surgeon, shrunk towards the procedure and the
    specialty where the history is thin, and report its accuracy on the latest cases (held out)
    against each procedure's average and the booked minutes.

    Examples:
      orplan durations fit examples/demo-week/history.csv -o durations.csv
      orplan durations fit exports/history.parquet -o models/durations.parquet --holdout 0.3
    """
    from orplan.durations import fit, read_history, write_fit
    from orplan.durations import holdout as measure
    from orplan.pipeline import InvalidInput
    from orplan.reports.terminal import render_accuracy

    if output.suffix not in (".csv", ".parquet"):
        err.print(f"--output must end in .csv or .parquet, not '{output.name}'")
        raise typer.Exit(Exit.USAGE)

    def run():  # type: ignore[no-untyped-def]
        frame, issues = read_history(history)
        if frame is None or has_errors(issues):
            raise InvalidInput(issues, f"the history {history}")
        _print_issues(issues)
        fitted = fit(frame)
        write_fit(fitted, output)
        return fitted, measure(frame, holdout)

    fitted, accuracy = _guard(debug, run)
    counts = fitted.table["level"].value_counts()
    cases = int(fitted.table.loc[fitted.table["level"] == "all", "cases"].sum())
    console.print(f"wrote {output}: {cases:,} past cases; {counts.get('surgeon', 0)} surgeon x "
                  f"procedure, {counts.get('procedure', 0)} procedure, "
                  f"{counts.get('specialty', 0)} specialty rows")
    render_accuracy(console, accuracy, holdout)


# when this process began (set by main, the `orplan` command: the time its libraries take to
# import counts against `solve`'s time limit); None when the app is called some other way
_began: float | None = None


def main() -> None:
    global _began
    _began = BEGUN
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
