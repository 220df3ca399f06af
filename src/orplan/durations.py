"""Case durations learnt from the hospital's history: a log-normal per procedure and surgeon,
shrunk towards the procedure and the specialty where the history is thin.

Log minutes y of a case are modelled as N(mu, sigma^2) (the log-normal is the standard model of
surgical case durations). Estimates are empirical Bayes, level by level:
- specialty: mean and standard deviation of y over the specialty's cases (the spread of a case
  whose procedure is unknown, so between procedures too);
- procedure: the mean of its cases shrunk towards its specialty's mean with the weight
  s_w^2 / tau_p^2 of a pseudo-case count (s_w^2: the spread of cases around their procedure's
  mean, pooled; tau_p^2: the spread of the procedures' true means around their specialty's, by
  moments); its sigma^2 shrunk towards s_w^2 with PRIOR_CASES pseudo-cases;
- surgeon (one surgeon's cases of one procedure): the mean shrunk towards the procedure's mean
  with the weight sigma_p^2 / tau_s^2 (tau_s^2: the spread of surgeons' true means), its sigma^2
  towards the procedure's with PRIOR_CASES pseudo-cases;
- all: the pooled within-procedure sigma s_w, used around a case's own planned minutes when the
  history knows neither its procedure nor its specialty.
A case takes the most specific level the history has: surgeon, else procedure, else specialty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from orplan.case import Case
from orplan.issues import Issue
from orplan.schema import DURATIONS, HISTORY

LEVELS = ("surgeon", "procedure", "specialty", "all")
# The columns that name a row of each level (the most specific first; "all" is one row).
LEVEL_KEYS: dict[str, tuple[str, ...]] = {"surgeon": ("procedure", "surgeon_id"),
                                          "procedure": ("procedure",),
                                          "specialty": ("specialty",), "all": ()}
# Pseudo-cases of the level above that every sigma is shrunk with (a surgeon with 3 cases keeps
# mostly the procedure's spread; one with 100 mostly their own).
PRIOR_CASES = 10.0
# A recorded case longer than this is taken for a data error (a missing end time), not a case.
MAX_CASE_MIN = 24 * 60.0
# Floors of the between-group variances of log means (a group of identical means would make
# shrinking infinitely strong).
MIN_TAU2 = 1e-4
Z90 = 1.2815515655446004
# Minutes set from a fit or a quantile are rounded to this booking grid (hospitals book in 5
# minutes; a common grid also keeps the solver's session knapsacks small: measured on the
# hospital week, whole-minute durations made the solver miss its deadline).
GRID_MIN = 5.0


@dataclass(frozen=True)
class DurationFit:
    """The fitted table (schema.DURATIONS), from `fit` or `read_fit`."""

    table: pd.DataFrame
    source: str = ""  # the file it was read from, for messages

    @property
    def pooled_sigma(self) -> float:
        row = self.table[self.table["level"] == "all"]
        return float(row["sigma"].iloc[0]) if len(row) else 0.3

    def lookup(self, specialty: pd.Series, procedure: pd.Series,
               surgeon: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per case: mu, sigma and the level used ("" and NaN where the history knows neither
        the procedure nor the specialty)."""
        n = len(specialty)
        mu, sigma = np.full(n, np.nan), np.full(n, np.nan)
        level = np.full(n, "", dtype=object)
        cases = pd.DataFrame({"specialty": _text(specialty), "procedure": _text(procedure),
                              "surgeon_id": _text(surgeon)})
        for name in LEVELS[:3]:
            key = list(LEVEL_KEYS[name])
            rows = self.table[self.table["level"] == name].drop_duplicates(key)
            found = cases[key].merge(rows[[*key, "mu", "sigma"]], on=key, how="left")
            usable = ((cases[key] != "").all(axis=1).to_numpy() & found["mu"].notna().to_numpy()
                      & (level == ""))
            mu[usable] = found["mu"].to_numpy()[usable]
            sigma[usable] = found["sigma"].to_numpy()[usable]
            level[usable] = name
        return mu, sigma, level


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip().reset_index(drop=True)


def read_history(path: Path) -> tuple[pd.DataFrame | None, list[Issue]]:
    """The typed history from a history file or a folder holding one; cases longer than
    MAX_CASE_MIN are a warning each and left out."""
    from orplan.validate import read_typed

    issues: list[Issue] = []
    file, frame = read_typed(path, HISTORY, issues)
    if frame is None:
        return None, issues
    if frame.empty:
        issues.append(Issue("empty-table", file, None, None,
                            "the history has no rows; export the past operations"))
        return None, issues
    long = frame["actual_min"] > MAX_CASE_MIN
    for row in frame.loc[long, "_row"]:
        issues.append(Issue("implausible-duration", file, int(row), "actual_min",
                            f"a case of more than {MAX_CASE_MIN:g} minutes is taken for a data "
                            "error and left out of the fit; check the row", "warning"))
    return frame[~long].reset_index(drop=True), issues


def fit(history: pd.DataFrame) -> DurationFit:
    """Fit the levels (see the module's docstring) to a typed history without errors."""
    cases = pd.DataFrame({
        "specialty": _text(history["specialty"]), "procedure": _text(history["procedure"]),
        "surgeon_id": _text(history["surgeon_id"]),
        "y": np.log(history["actual_min"].to_numpy(dtype=float))})
    # a procedure belongs to the specialty most of its cases were recorded under
    home = (cases.groupby(["procedure", "specialty"]).size().rename("n").reset_index()
            .sort_values(["procedure", "n", "specialty"], ascending=[True, False, True])
            .drop_duplicates("procedure").set_index("procedure")["specialty"])
    overall_var = float(cases["y"].var(ddof=1)) if len(cases) > 1 else 0.09
    overall_var = overall_var if math.isfinite(overall_var) and overall_var > 0 else 0.09

    spec = cases.groupby("specialty")["y"].agg(["size", "mean", "var"])
    spec["var"] = _shrunk_var(spec["size"], spec["var"], overall_var)

    proc = cases.groupby("procedure")["y"].agg(["size", "mean", "var"])
    proc["specialty"] = home.reindex(proc.index)
    residual = cases["y"] - cases["procedure"].map(proc["mean"])
    dof = len(cases) - len(proc)
    within = float((residual ** 2).sum() / dof) if dof > 0 else overall_var
    within = within if within > 0 else overall_var
    spec_mean = proc["specialty"].map(spec["mean"])
    tau_p = _between(proc["size"].to_numpy(), (proc["mean"] - spec_mean).to_numpy(),
                     np.full(len(proc), within))
    weight = within / tau_p
    proc["mu"] = (proc["size"] * proc["mean"] + weight * spec_mean) / (proc["size"] + weight)
    proc["var_s"] = _shrunk_var(proc["size"], proc["var"], within)

    named = cases[cases["surgeon_id"] != ""]
    cell = named.groupby(["procedure", "surgeon_id"])["y"].agg(["size", "mean", "var"])
    proc_of = cell.index.get_level_values("procedure")
    cell_mu = proc["mu"].reindex(proc_of).to_numpy()
    cell_var = proc["var_s"].reindex(proc_of).to_numpy()
    tau_s = _between(cell["size"].to_numpy(), cell["mean"].to_numpy() - cell_mu, cell_var)
    weight_s = cell_var / tau_s
    cell["mu"] = (cell["size"] * cell["mean"] + weight_s * cell_mu) / (cell["size"] + weight_s)
    cell["var_s"] = _shrunk_var(cell["size"], cell["var"], pd.Series(cell_var, index=cell.index))
    cell["specialty"] = home.reindex(proc_of).to_numpy()

    parts = [
        pd.DataFrame({"level": "surgeon", "specialty": cell["specialty"].to_numpy(),
                      "procedure": proc_of, "surgeon_id": cell.index.get_level_values(1),
                      "cases": cell["size"].to_numpy(), "mu": cell["mu"].to_numpy(),
                      "var": cell["var_s"].to_numpy()}),
        pd.DataFrame({"level": "procedure", "specialty": proc["specialty"].to_numpy(),
                      "procedure": proc.index, "surgeon_id": "", "cases": proc["size"].to_numpy(),
                      "mu": proc["mu"].to_numpy(), "var": proc["var_s"].to_numpy()}),
        pd.DataFrame({"level": "specialty", "specialty": spec.index, "procedure": "",
                      "surgeon_id": "", "cases": spec["size"].to_numpy(),
                      "mu": spec["mean"].to_numpy(), "var": spec["var"].to_numpy()}),
        pd.DataFrame({"level": ["all"], "specialty": [""], "procedure": [""], "surgeon_id": [""],
                      "cases": [len(cases)], "mu": [float(cases["y"].mean())], "var": [within]}),
    ]
    table = pd.concat(parts, ignore_index=True)
    table["sigma"] = np.sqrt(table.pop("var"))
    table["level"] = pd.Categorical(table["level"], LEVELS, ordered=True)
    table = table.sort_values(["level", "specialty", "procedure", "surgeon_id"],
                              ignore_index=True)
    table["level"] = table["level"].astype(str)
    return DurationFit(_with_minutes(table))


def _between(size: np.ndarray, gap: np.ndarray, var: np.ndarray) -> float:
    """The variance of groups' true means around the level above, by moments weighted by cases:
    E[n (mean - above)^2] = n tau^2 + var, so a group of one case moves it little."""
    if len(size) == 0:
        return MIN_TAU2
    return max(float((size * gap ** 2 - var).sum() / size.sum()), MIN_TAU2)


def _shrunk_var(size: pd.Series, var: pd.Series, prior: pd.Series | float) -> pd.Series:
    """Sample variances pooled with PRIOR_CASES pseudo-cases of `prior` (a group of one case has
    no variance of its own)."""
    dof = (size - 1).clip(lower=0)
    own = var.fillna(0.0)
    return (dof * own + PRIOR_CASES * prior) / (dof + PRIOR_CASES)


def _with_minutes(table: pd.DataFrame) -> pd.DataFrame:
    mu, sigma = table["mu"].to_numpy(dtype=float), table["sigma"].to_numpy(dtype=float)
    table = table.copy()
    table["mean_min"] = np.exp(mu + sigma ** 2 / 2)
    table["median_min"] = np.exp(mu)
    table["p90_min"] = np.exp(mu + Z90 * sigma)
    return table


def lognormal_mean(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return np.exp(mu + sigma ** 2 / 2)


@dataclass(frozen=True)
class Accuracy:
    train: int
    test: int
    cutoff: str  # first date held out
    rows: list[dict[str, object]]  # method, cases, mae_min, bias_min
    coverage: dict[str, float]  # share of held-out cases at or below the fitted p50/p80/p90
    levels: dict[str, int]  # held-out cases predicted at each level


def holdout(history: pd.DataFrame, share: float) -> Accuracy | None:
    """Fit on the older cases and predict the latest `share` (by date): mean absolute error and
    bias (predicted minus actual) of the fit's mean and median, and of what hospitals use today:
    each procedure's average (its specialty's when it is new) and the booked minutes. None when
    the history is too short to split (fewer than 30 cases, or a single date)."""
    ordered = history.sort_values("date", kind="stable").reset_index(drop=True)
    if len(ordered) < 30:
        return None
    cutoff = ordered["date"].iloc[min(len(ordered) - 1, int((1 - share) * len(ordered)))]
    train, test = ordered[ordered["date"] < cutoff], ordered[ordered["date"] >= cutoff]
    if len(train) < 20 or len(test) < 10:
        return None
    fitted = fit(train)
    mu, sigma, level = fitted.lookup(test["specialty"], test["procedure"], test["surgeon_id"])
    known = level != ""
    actual = test["actual_min"].to_numpy(dtype=float)
    proc_avg = train.groupby("procedure")["actual_min"].mean()
    spec_avg = train.groupby("specialty")["actual_min"].mean()
    average = test["procedure"].map(proc_avg).fillna(test["specialty"].map(spec_avg)).to_numpy()
    rows = []
    predictions = {"fit: mean": lognormal_mean(mu, sigma), "fit: median": np.exp(mu),
                   "procedure average": average,
                   "booked minutes": test["booked_min"].to_numpy(dtype=float)}
    for method, predicted in predictions.items():
        ok = known & np.isfinite(predicted)
        if not ok.any():
            continue
        error = predicted[ok] - actual[ok]
        rows.append({"method": method, "cases": int(ok.sum()),
                     "mae_min": float(np.abs(error).mean()), "bias_min": float(error.mean())})
    z = (np.log(actual[known]) - mu[known]) / sigma[known]
    coverage = {f"p{q}": float((z <= norm_ppf(q / 100)).mean()) for q in (50, 80, 90)}
    levels = {name: int((level == name).sum()) for name in LEVELS[:3]}
    return Accuracy(len(train), len(test), str(pd.Timestamp(cutoff).date()), rows, coverage,
                    levels)


def norm_ppf(p: float) -> float:
    """The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - 0.02425:
        return -norm_ppf(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def write_fit(durations: DurationFit, path: Path) -> None:
    """Write the fit as CSV or Parquet (by the suffix), atomically."""
    from orplan.io.write import replace_files

    table = durations.table.copy()
    for column, digits in (("mu", 6), ("sigma", 6), ("mean_min", 1), ("median_min", 1),
                           ("p90_min", 1)):
        table[column] = table[column].round(digits)

    def write(staging: Path) -> None:
        if path.suffix == ".parquet":
            table.to_parquet(staging, index=False)
        else:
            table.to_csv(staging, index=False)

    replace_files({path.resolve(): write})


def read_fit(path: Path) -> tuple[DurationFit | None, list[Issue]]:
    """A fit written by `orplan durations fit` (or made elsewhere in its columns), checked: a
    known level on every row with the keys it needs, each key once."""
    from orplan.validate import read_typed

    issues: list[Issue] = []
    file, frame = read_typed(path, DURATIONS, issues)
    if frame is None:
        return None, issues
    for _, row in frame.iterrows():
        if row["level"] not in LEVEL_KEYS:
            issues.append(Issue("bad-level", file, int(row["_row"]), "level",
                                f"'{row['level']}' is not one of {', '.join(LEVELS)}"))
            continue
        for column in LEVEL_KEYS[row["level"]]:
            if row[column] == "":
                issues.append(Issue("missing-value", file, int(row["_row"]), column,
                                    f"a row of level {row['level']} needs its {column}"))
    for name, names in LEVEL_KEYS.items():
        key = list(names)
        rows = frame[frame["level"] == name]
        dup = rows[rows.duplicated(key)] if key else rows.iloc[1:]
        for row in dup["_row"]:
            issues.append(Issue("duplicate-id", file, int(row), "level",
                                f"a second row of level {name} for the same "
                                f"{' and '.join(key) or 'whole history'}; keep one"))
    if frame.empty:
        issues.append(Issue("empty-table", file, None, None,
                            "the durations file has no rows; fit it again with `orplan "
                            "durations fit`"))
    if any(i.severity == "error" for i in issues):
        return None, issues
    table = _with_minutes(frame[[c.name for c in DURATIONS.columns[:7]]])
    return DurationFit(table, file), issues


@dataclass(frozen=True)
class DurationPlan:
    """How `orplan solve --durations` sets each case's planned minutes.

    With a fit, a case's minutes become its fitted mean (or its `quantile`), rounded to GRID_MIN;
    with `keep`, only
    cases without duration_min are set. Cases the fit does not know keep their duration_min (a
    case with neither is an input error). `quantile` without a fit: each case's quantile around
    its duration_min as the mean, spread [durations] sigma. `risk` (orplan.risk) plans at the
    means and keeps each session's chance of running past its allowed overtime under it."""

    fit: DurationFit | None = None
    quantile: float | None = None
    risk: float | None = None
    keep: bool = False
    source: str = ""  # the fit's path, for the summary

    def apply(self, case: Case, issues: list[Issue]) -> None:
        """Set case.waitlist's duration_min, and per case the log-normal the risk is taken
        from (`_dur_sigma`, and `_dur_source`: the fit's level, or waitlist)."""
        waitlist = case.waitlist
        given = waitlist["duration_min"].notna().to_numpy()
        n = len(waitlist)
        if self.fit is not None:
            mu, sigma, level = self.fit.lookup(waitlist["specialty"], waitlist["procedure"],
                                               waitlist["surgeon_id"])
            spread = self.fit.pooled_sigma
        else:
            mu, sigma, level = np.full(n, np.nan), np.full(n, np.nan), np.full(n, "", object)
            spread = case.config.durations.sigma
        known = level != ""
        change = ~given | (not self.keep)
        from_fit = known & change
        minutes = waitlist["duration_min"].to_numpy(dtype=float)
        mean = np.where(from_fit, lognormal_mean(mu, sigma), minutes)
        sigma = np.where(known, sigma, spread)
        if self.quantile is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                planned = np.exp(np.log(mean) - sigma ** 2 / 2 + norm_ppf(self.quantile) * sigma)
            setting = change & np.isfinite(planned)
        else:
            planned, setting = mean, from_fit
        on_grid = np.maximum(GRID_MIN, np.round(planned / GRID_MIN) * GRID_MIN)
        waitlist["duration_min"] = np.where(setting, on_grid, minutes)
        waitlist["_dur_sigma"] = sigma
        waitlist["_dur_source"] = np.where(from_fit, level, "waitlist")
        file = case.file("waitlist")
        for _, row in waitlist[waitlist["duration_min"].isna()].iterrows():
            issues.append(Issue("missing-value", file, int(row["_row"]), "duration_min",
                                f"no duration_min, and the durations fit knows neither procedure "
                                f"'{row['procedure']}' nor specialty '{row['specialty']}'; give "
                                "the case's minutes"))
