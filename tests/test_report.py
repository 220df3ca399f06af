"""The HTML report and the Excel workbook, as a planner gets them: written by `solve --report
--format xlsx` and by `orplan report`, read back, and the report opened in headless Chromium."""

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from orplan.cli import app
from orplan.generate import generate_case, write_case
from orplan.pipeline import SolveOptions, run_solve

from conftest import config_of

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
ARTEFACTS = Path(os.environ.get("ORPLAN_TEST_ARTEFACTS", ROOT / "test-artefacts"))
SECTIONS = ("kpis", "timeline", "utilisation", "waitlist", "objective", "definitions")


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> Path:
    """A small generated case, solved with the report and the workbook."""
    root = tmp_path_factory.mktemp("report")
    tables, config = generate_case("small", 3)
    write_case(root / "case", tables, config)
    options = SolveOptions(time_limit=20, gap=0.0, threads=1, seed=0, isolate=False,
                           report=True, workbook=True)
    run_solve(root / "case", root / "out", config_of(root / "case"), options)
    return root / "out"


def test_report_is_self_contained_with_every_section(solved):
    text = (solved / "report.html").read_text(encoding="utf-8")
    for key in SECTIONS:
        assert f'<section id="{key}"' in text
    # nothing fetched from anywhere: no scripts, links, images or addresses
    assert not re.search(r"<script|<link|<img|<iframe|https?://|url\(", text)
    assert text.count('<svg class="gantt"') >= 3  # a timeline per site and day
    # the title names the output folder, not the staging folder it was written in
    assert "<title>orplan plan - out</title>" in text


def test_report_figures_match_the_outputs(solved):
    import json

    import pandas as pd

    text = (solved / "report.html").read_text(encoding="utf-8")
    summary = json.loads((solved / "summary.json").read_text())
    plan = pd.read_csv(solved / "plan.csv")
    k = summary["kpis"]
    assert f"{k['patients_planned']:,} of {k['patients_waiting']:,}" in text
    assert f"{100 * k['utilisation_staffed']:.1f} %" in text
    # one bar per planned case in the timelines (bars carry a fill colour)
    assert len(re.findall(r'<rect [^>]*fill="#', text)) == len(plan)
    # each term of the objective, with its value
    for name, term in summary["terms"].items():
        assert f"<th>{name}</th><td>{term['weight']:,g}</td><td>{term['value']:,.0f}</td>" in text


def test_urgency_table_adds_up_to_the_kpis(solved):
    import json

    text = (solved / "report.html").read_text(encoding="utf-8")
    k = json.loads((solved / "summary.json").read_text())["kpis"]
    table = text[text.index('<table class="num" id="urgency">'):]
    table = table[:table.index("</table>")]
    pairs = re.findall(r"<td>([\d,]+) of ([\d,]+)</td>", table)
    kept = [tuple(int(n.replace(",", "")) for n in pair) for pair in pairs[0::2]]
    overdue = [tuple(int(n.replace(",", "")) for n in pair) for pair in pairs[1::2]]
    assert len(kept) == len(k["by_urgency"])
    assert sum(a for a, _ in kept) == k["deadline_kept"]
    assert sum(b for _, b in kept) == k["deadline_due_in_horizon"]
    assert sum(a for a, _ in overdue) == k["overdue_planned"]
    assert sum(b for _, b in overdue) == k["overdue_waiting"]


def test_report_command_writes_where_asked(solved, tmp_path):
    target = tmp_path / "week.html"
    copy = tmp_path / "out"
    shutil.copytree(solved, copy)
    (copy / "plan.xlsx").unlink()
    result = runner.invoke(app, ["report", str(copy), "--to", str(target), "--xlsx"])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert openpyxl.load_workbook(copy / "plan.xlsx").sheetnames[0] == "Summary"
    assert not list(tmp_path.glob(".*.part")) and not list(copy.glob(".*.part"))


def test_report_from_parquet_outputs_is_the_same(solved, tmp_path):
    import pandas as pd

    from orplan.reports.html import write_report

    copy = tmp_path / "out"
    copy.mkdir()
    shutil.copy(solved / "summary.json", copy)
    for name in ("plan", "sessions", "unscheduled"):
        frame = pd.read_csv(solved / f"{name}.csv", keep_default_na=False)  # numbers typed
        frame.to_parquet(copy / f"{name}.parquet", index=False)
    assert write_report(copy).read_text() == (solved / "report.html").read_text()


def test_report_of_a_folder_without_outputs_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["report", str(tmp_path / "empty")])
    assert result.exit_code == 3
    assert "no summary.json" in result.output and "orplan solve -o" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 3
    assert "is not a folder" in result.output


def test_damaged_outputs_are_clear_errors_and_an_empty_plan_reports(solved, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(solved, copy)
    header = (copy / "plan.csv").read_text().splitlines()[0]
    (copy / "plan.csv").write_text(header + "\n")  # a plan with no case
    result = runner.invoke(app, ["report", str(copy), "--xlsx"])
    assert result.exit_code == 0, result.output
    (copy / "sessions.csv").write_text("session_id,site\nS1,A\n")
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 3
    assert "sessions.csv lacks column(s) room, date" in result.output
    (copy / "sessions.csv").write_text("")
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 3 and "sessions.csv" in result.output and "empty" in result.output


def test_workbook_reads_back_with_real_dates_and_times(solved):
    book = openpyxl.load_workbook(solved / "plan.xlsx")
    assert book.sheetnames == ["Summary", "Plan", "Sessions", "Left out"]
    plan = book["Plan"]
    header = [cell.value for cell in plan[1]]
    assert header[:6] == ["date", "site", "room", "order", "start", "end"]
    assert plan.freeze_panes == "A2"
    first = [cell.value for cell in plan[2]]
    assert isinstance(first[0], dt.datetime)
    assert isinstance(first[4], dt.time) and isinstance(first[5], dt.time)
    assert first[4] < first[5]
    assert plan.column_dimensions["A"].width >= 10
    sessions = book["Sessions"]
    utilisation = [c.value for c in sessions[1]].index("utilisation") + 1
    assert sessions.cell(row=2, column=utilisation).number_format == "0.0%"
    import pandas as pd

    assert plan.max_row - 1 == len(pd.read_csv(solved / "plan.csv"))


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def test_report_opens_in_a_headless_browser(solved, monkeypatch):
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium must not look for drivers online
    found = _chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are needed in CI (./dev test installs them)")
        pytest.skip("chromium and chromedriver not installed (./dev test installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(found[1]))
    try:
        driver.get((solved / "report.html").as_uri())
        assert driver.title == "orplan plan - out"
        for key in SECTIONS:
            section = driver.find_element(By.ID, key)
            assert section.is_displayed() and section.size["height"] > 0
        gantt = driver.find_elements(By.CSS_SELECTOR, "svg.gantt")
        assert gantt and all(g.size["width"] > 100 for g in gantt)
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(ARTEFACTS / "report.png"))
    finally:
        driver.quit()


def test_report_and_workbook_show_changes_to_the_previous_plan(solved, tmp_path):
    import pandas as pd

    tables, config = generate_case("small", 3)
    write_case(tmp_path / "case", tables, config)
    previous = pd.read_csv(solved / "plan.csv", dtype=str)
    previous.loc[0, "session_id"] = "CLOSED"  # its session closed overnight
    previous.to_csv(tmp_path / "case" / "previous_plan.csv", index=False)
    options = SolveOptions(time_limit=20, gap=0.0, threads=1, seed=0, isolate=False,
                           report=True, workbook=True)
    run_solve(tmp_path / "case", tmp_path / "out", config_of(tmp_path / "case"), options)
    text = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '<section id="changes"' in text and "session-closed" in text
    book = openpyxl.load_workbook(tmp_path / "out" / "plan.xlsx")
    assert book.sheetnames[-1] == "Changes"
    sheet = book["Changes"]
    header = [cell.value for cell in sheet[1]]
    assert "cause" in header and "date_before" in header
    column = header.index("date_before")
    assert any(isinstance(row[column].value, dt.datetime) for row in sheet.iter_rows(min_row=2))
