"""The planning configuration (`orplan.toml`): every key, its default and meaning, in one place."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from orplan.issues import Issue


@dataclass(frozen=True)
class UrgencyClass:
    max_days: int  # maximum acceptable days waiting from referral; sets the implied deadline
    weight: float  # priority multiplier


DEFAULT_URGENCY = {
    "A": UrgencyClass(14, 8.0),
    "B": UrgencyClass(60, 4.0),
    "C": UrgencyClass(180, 2.0),
    "D": UrgencyClass(365, 1.0),
}


@dataclass(frozen=True)
class Weights:
    """Objective weights; every objective term is its weight times a measured quantity."""

    unscheduled: float = 1000.0  # per patient left out, times the patient's priority
    deadline_breach: float = 20000.0  # per patient whose deadline in the horizon is missed
    overdue_per_day: float = 500.0  # extra, per day already overdue, for a patient left out
    waiting_day: float = 20.0  # per day between earliest possible and planned date, x urgency
    idle_min: float = 1.0  # per idle staffed minute in an opened session
    overtime_min: float = 4.0  # per minute past the staffed end
    open_session: float = 0.0  # default cost of opening a session (sessions.open_cost overrides)
    room_switch: float = 150.0  # per extra room a surgeon works in on one day
    # changes to the previous plan (previous_plan table), per confirmed patient; a tentative
    # booking costs tentative_share of these
    move_date: float = 5000.0  # planned on another date than booked
    move_room: float = 500.0  # planned on the booked date, in another session
    drop_booked: float = 30000.0  # booked, now left out (on top of the price of leaving out)
    tentative_share: float = 0.1


@dataclass(frozen=True)
class SolverSettings:
    time_limit: float = 60.0  # seconds for the whole run, reading to writing
    gap: float = 0.01  # relative MIP gap at which to stop
    threads: int = 1
    seed: int = 0
    # stages share the time by counted work, so the same input and seed give the same plan
    # (orplan.work); off: by the wall clock (each run uses all its time, plans vary)
    deterministic: bool = True


@dataclass(frozen=True)
class DurationSettings:
    """How uncertain durations are (orplan.durations, orplan.simulate, `solve --risk`)."""

    # spread (sigma of log minutes) of a case the duration fit does not know, or of every case
    # when there is no fit: around its planned minutes, as their mean
    sigma: float = 0.3
    # spread (sigma of log minutes) of each turnover around the configured turnover_min
    turnover_sigma: float = 0.3
    # a case may start as soon as the room is ready (the list runs on); off: never before its
    # planned start (the patient is called for that time)
    early_start: bool = True


# The terms of the objective each priority tier name stands for (see PriorityPolicy).
TIER_TERMS: dict[str, tuple[str, ...]] = {
    "mandatory": ("mandatory",),
    "due": ("deadline_breach",),
    "overdue": ("overdue",),
    "others": ("unscheduled",),
    "efficiency": ("waiting", "idle", "overtime", "open_sessions", "room_switches", "dropped",
                   "moved_date", "moved_room"),
}
DEFAULT_TIERS: tuple[tuple[str, ...], ...] = (("mandatory", "due"), ("overdue",),
                                              ("others", "efficiency"))


@dataclass(frozen=True)
class PriorityPolicy:
    """Clinical policy as ordered tiers (orplan.model.priority.tier_prices), highest first; each
    tier names one or more of TIER_TERMS' groups. `tiers` empty: the [weights] as they are."""

    tiers: tuple[tuple[str, ...], ...] = DEFAULT_TIERS
    # days overdue after which an overdue patient's weight in the overdue tier stops growing
    overdue_cap_days: float = 180.0
    # weights of the urgency classes within the due and overdue tiers (default: the classes')
    class_weight: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    horizon_start: dt.date | None = None  # default: first session date
    horizon_days: int | None = None  # default: through the last session date
    turnover_min: float = 30.0  # cleaning/changeover minutes between two cases in a room
    max_overtime_min: float = 30.0  # default allowed minutes past a session's end
    default_urgency: str = "C"  # class of patients with no urgency given
    # nightly re-planning (previous_plan): the first freeze_days of the horizon keep their
    # confirmed bookings and take no new patient but those of the freeze_admit urgency classes
    freeze_days: int = 0
    freeze_admit: tuple[str, ...] = ()
    urgency: dict[str, UrgencyClass] = field(default_factory=lambda: dict(DEFAULT_URGENCY))
    weights: Weights = field(default_factory=Weights)
    solver: SolverSettings = field(default_factory=SolverSettings)
    durations: DurationSettings = field(default_factory=DurationSettings)
    priority: PriorityPolicy = field(default_factory=PriorityPolicy)


# Documented keys of orplan.toml: (section, key, description). The README lists these.
CONFIG_KEYS: list[tuple[str, str, str]] = [
    ("horizon", "start", "first planning date (default: first session date)"),
    ("horizon", "days", "number of days planned (default: through the last session date)"),
    ("rules", "turnover_min", "minutes between two cases in a room (default 30)"),
    ("rules", "max_overtime_min", "default minutes allowed past a session's end (default 30)"),
    ("rules", "default_urgency", "urgency class of patients without one (default C)"),
    ("rules", "freeze_days", "days from the horizon start whose confirmed bookings never move "
     "(default 0)"),
    ("rules", "freeze_admit", "urgency classes that may still be added in the frozen days "
     "(default none)"),
    ("urgency.<KEY>", "max_days / weight", "urgency classes (default A 14/8, B 60/4, C 180/2, "
     "D 365/1)"),
    ("priority", "tiers", "ordered tiers of the objective, highest first, each a name or names "
     "joined by + (mandatory, due, overdue, others, efficiency); [] for the [weights] alone "
     "(default [\"mandatory+due\", \"overdue\", \"others+efficiency\"])"),
    ("priority", "overdue_cap_days", "days overdue after which the overdue tier's weight stops "
     "growing (default 180)"),
    ("priority", "class_weight", "weights of the urgency classes within the due and overdue "
     "tiers, e.g. {A = 8, B = 4} (default: the classes' weights)"),
    *[("weights", f.name, f"objective weight (default {f.default})") for f in fields(Weights)],
    *[("solver", f.name, f"solver setting (default {f.default})") for f in fields(SolverSettings)],
    *[("durations", f.name, f"duration uncertainty (default {f.default})")
      for f in fields(DurationSettings)],
]


class ConfigError(Exception):
    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(i.message for i in issues))
        self.issues = issues


def _coerce_section(cls: Any, data: dict[str, Any], section: str, file: str,
                    issues: list[Issue]) -> Any:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            issues.append(Issue("config-unknown-key", file, None, f"{section}.{key}",
                                f"unknown key '{section}.{key}'; known keys: "
                                f"{', '.join(sorted(known))}"))
            continue
        if isinstance(known[key].default, bool):
            if isinstance(value, bool):
                values[key] = value
            else:
                issues.append(Issue("config-type", file, None, f"{section}.{key}",
                                    f"'{section}.{key}' must be true or false, got {value!r}"))
            continue
        cast = int if isinstance(known[key].default, int) else float
        try:
            if isinstance(value, bool):
                raise TypeError
            values[key] = cast(value)
            if values[key] < 0:
                raise ValueError
        except (TypeError, ValueError):
            issues.append(Issue("config-type", file, None, f"{section}.{key}",
                                f"'{section}.{key}' must be a non-negative number, got {value!r}"))
    return cls(**{**{f.name: f.default for f in fields(cls)}, **values})


def load_config(path: Path | None) -> Config:
    """Read orplan.toml (or return the defaults when path is None); raise ConfigError listing all
    problems at once."""
    if path is None:
        return Config()
    file = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError([Issue("missing-file", file, None, None,
                                 f"config file {path} does not exist")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([Issue("config-syntax", file, None, None,
                                 f"{path} is not valid TOML: {exc}")]) from None
    issues: list[Issue] = []
    config = Config()
    for section in raw:
        if section not in ("horizon", "rules", "urgency", "weights", "solver", "durations",
                           "priority"):
            issues.append(Issue("config-unknown-key", file, None, section,
                                f"unknown section [{section}]; known: horizon, rules, urgency, "
                                "weights, solver, durations, priority"))
    horizon = raw.get("horizon", {})
    start = horizon.get("start")
    if start is not None:
        if isinstance(start, str):
            try:
                start = dt.date.fromisoformat(start)
            except ValueError:
                start = None
                issues.append(Issue("config-type", file, None, "horizon.start",
                                    "'horizon.start' must be a date YYYY-MM-DD"))
        elif not isinstance(start, dt.date):
            start = None
            issues.append(Issue("config-type", file, None, "horizon.start",
                                "'horizon.start' must be a date YYYY-MM-DD"))
        config = replace(config, horizon_start=start)
    days = horizon.get("days")
    if days is not None:
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            issues.append(Issue("config-type", file, None, "horizon.days",
                                "'horizon.days' must be a whole number >= 1"))
        else:
            config = replace(config, horizon_days=days)
    rules = raw.get("rules", {})
    for key in ("turnover_min", "max_overtime_min"):
        if key in rules:
            value = rules[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                issues.append(Issue("config-type", file, None, f"rules.{key}",
                                    f"'rules.{key}' must be a number >= 0"))
            elif key == "turnover_min":
                config = replace(config, turnover_min=float(value))
            else:
                config = replace(config, max_overtime_min=float(value))
    if "freeze_days" in rules:
        value = rules["freeze_days"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            issues.append(Issue("config-type", file, None, "rules.freeze_days",
                                "'rules.freeze_days' must be a whole number >= 0"))
        else:
            config = replace(config, freeze_days=value)
    if "freeze_admit" in rules:
        value = rules["freeze_admit"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            issues.append(Issue("config-type", file, None, "rules.freeze_admit",
                                "'rules.freeze_admit' must be a list of urgency classes, such "
                                "as [\"A\"]"))
        else:
            config = replace(config, freeze_admit=tuple(value))
    unknown_rules = set(rules) - {"turnover_min", "max_overtime_min", "default_urgency",
                                  "freeze_days", "freeze_admit"}
    for key in sorted(unknown_rules):
        issues.append(Issue("config-unknown-key", file, None, f"rules.{key}",
                            f"unknown key 'rules.{key}'"))
    if "urgency" in raw:
        classes: dict[str, UrgencyClass] = {}
        for key, spec in raw["urgency"].items():
            try:
                max_days, weight = int(spec["max_days"]), float(spec["weight"])
                if max_days < 0 or weight < 0:
                    raise ValueError
                classes[str(key)] = UrgencyClass(max_days, weight)
            except (KeyError, TypeError, ValueError):
                issues.append(Issue("config-type", file, None, f"urgency.{key}",
                                    f"urgency class '{key}' needs max_days (whole number >= 0) and"
                                    " weight (number >= 0)"))
        config = replace(config, urgency=classes)
    default_urgency = str(rules.get("default_urgency", config.default_urgency))
    if default_urgency not in config.urgency:
        issues.append(Issue("config-type", file, None, "rules.default_urgency",
                            f"default urgency '{default_urgency}' is not a defined class "
                            f"({', '.join(config.urgency)})"))
    config = replace(config, default_urgency=default_urgency)
    for key in config.freeze_admit:
        if key not in config.urgency:
            issues.append(Issue("config-type", file, None, "rules.freeze_admit",
                                f"'{key}' in rules.freeze_admit is not a defined urgency class "
                                f"({', '.join(config.urgency)})"))
    config = replace(
        config,
        weights=_coerce_section(Weights, raw.get("weights", {}), "weights", file, issues),
        solver=_coerce_section(SolverSettings, raw.get("solver", {}), "solver", file, issues),
        durations=_coerce_section(DurationSettings, raw.get("durations", {}), "durations", file,
                                  issues),
    )
    config = replace(config, priority=_priority(raw.get("priority", {}), config, file, issues))
    if issues:
        raise ConfigError(issues)
    return config


def _priority(data: dict[str, Any], config: Config, file: str,
              issues: list[Issue]) -> PriorityPolicy:
    """The [priority] section: every tier name known and used once, class weights of defined
    classes."""
    policy = PriorityPolicy()
    for key in sorted(set(data) - {"tiers", "overdue_cap_days", "class_weight"}):
        issues.append(Issue("config-unknown-key", file, None, f"priority.{key}",
                            f"unknown key 'priority.{key}'; known keys: class_weight, "
                            "overdue_cap_days, tiers"))
    if "tiers" in data:
        value = data["tiers"]
        names = ", ".join(TIER_TERMS)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            issues.append(Issue("config-type", file, None, "priority.tiers",
                                "'priority.tiers' must be a list of tier names, highest first, "
                                "such as [\"mandatory\", \"due\", \"overdue\", "
                                f"\"others+efficiency\"] ({names})"))
        else:
            tiers = tuple(tuple(part.strip() for part in tier.split("+")) for tier in value)
            used = [name for tier in tiers for name in tier]
            unknown = [name for name in used if name not in TIER_TERMS]
            for name in unknown:
                issues.append(Issue("config-type", file, None, "priority.tiers",
                                    f"unknown tier '{name}' in priority.tiers; known: {names}"))
            twice = sorted({name for name in used if used.count(name) > 1})
            for name in twice:
                issues.append(Issue("config-type", file, None, "priority.tiers",
                                    f"tier '{name}' appears more than once in priority.tiers"))
            missing = [name for name in TIER_TERMS if name not in used]
            if tiers and missing and not unknown:
                issues.append(Issue("config-type", file, None, "priority.tiers",
                                    f"priority.tiers leaves out {', '.join(missing)}: name every "
                                    f"tier once ({names}), or [] to use the [weights] alone"))
            if tiers and "efficiency" in used and "efficiency" not in tiers[-1]:
                issues.append(Issue("config-type", file, None, "priority.tiers",
                                    "'efficiency' must be in the last tier of priority.tiers (its"
                                    " terms are priced by [weights])"))
            policy = replace(policy, tiers=tiers)
    if "overdue_cap_days" in data:
        value = data["overdue_cap_days"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            issues.append(Issue("config-type", file, None, "priority.overdue_cap_days",
                                "'priority.overdue_cap_days' must be a number > 0"))
        else:
            policy = replace(policy, overdue_cap_days=float(value))
    if "class_weight" in data:
        value = data["class_weight"]
        if not isinstance(value, dict):
            issues.append(Issue("config-type", file, None, "priority.class_weight",
                                "'priority.class_weight' must be a table of class = weight, such"
                                " as {A = 8, B = 4}"))
        else:
            weights: dict[str, float] = {}
            for key, weight in value.items():
                if key not in config.urgency:
                    issues.append(Issue("config-type", file, None, f"priority.class_weight.{key}",
                                        f"'{key}' in priority.class_weight is not a defined "
                                        f"urgency class ({', '.join(config.urgency)})"))
                elif isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                    issues.append(Issue("config-type", file, None, f"priority.class_weight.{key}",
                                        f"'priority.class_weight.{key}' must be a number > 0"))
                else:
                    weights[str(key)] = float(weight)
            policy = replace(policy, class_weight=weights)
    return policy
