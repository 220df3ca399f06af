"""How heavy is a report? Prints the time to make report.html and plan.xlsx from OUT (in this
process, into a temporary folder), the size of OUT/report.html and its load time in headless
Chromium (navigation start to the end of the load event, then to the first paint of the whole
page as a screenshot), median of RUNS loads, and keeps a screenshot of the top of the page.

Usage (after `./dev test`, which installs chromium and chromedriver when it can):
  ./dev orplan solve benchmarks/cases/hospital-s1 -o OUT --report
  .venv/bin/python benchmarks/report_load.py OUT [RUNS] [SCREENSHOT.png]
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from orplan.io.excel import write_workbook
from orplan.reports.html import write_report

folder = Path(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
shot = Path(sys.argv[3]) if len(sys.argv) > 3 else None
report = folder / "report.html"
with tempfile.TemporaryDirectory() as scratch:
    t = time.perf_counter()
    write_report(folder, Path(scratch) / "report.html")
    made = time.perf_counter() - t
    t = time.perf_counter()
    write_workbook(folder, Path(scratch) / "plan.xlsx")
    print(f"made from {folder}: report.html in {made:.2f} s, plan.xlsx in "
          f"{time.perf_counter() - t:.2f} s")
os.environ.setdefault("SE_OFFLINE", "true")
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--window-size=1400,1800"):
    options.add_argument(flag)
driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
loads, walls = [], []
try:
    for _ in range(runs):
        started = time.perf_counter()
        driver.get(report.as_uri())
        timing = driver.execute_script(
            "const t = performance.getEntriesByType('navigation')[0];"
            "return [t.loadEventEnd, document.querySelectorAll('rect').length];")
        driver.get_screenshot_as_png()
        walls.append(time.perf_counter() - started)
        loads.append(timing[0] / 1000)
        rects = timing[1]
    if shot is not None:
        driver.save_screenshot(str(shot))
finally:
    driver.quit()
print(f"{report}: {report.stat().st_size / 1024:,.0f} KB, {rects:,} SVG rectangles; "
      f"load event {statistics.median(loads):.2f} s, load and first screenshot "
      f"{statistics.median(walls):.2f} s (median of {runs})")
