"""The report page as a person sees it: opened from disk in headless Chromium (issue #10).

Uses Debian's `chromium` (never a browser `playwright install` downloads): `.ci/run` installs it when
missing, and the test is skipped, saying so, on a machine without it. The page is loaded from a
file:// URL with every other request refused and recorded, so a chart or style that reached for the
network would fail here. A full-page screenshot lands in `test-artifacts/report.png`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.report_data import HOSTILE, sample_report
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

from healthsync.report.render_html import write_html

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "no Chromium binary (`chromium` on PATH or /usr/bin/chromium): install Debian's package with "
            "`apt-get install chromium` (.ci/run does) to run the report's browser test"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def test_report_renders_in_chromium_with_charts_and_no_console_errors(browser, tmp_path):
    report = sample_report()
    path = write_html(report, tmp_path / "report.html")
    charts = [c for s in report.sections for c in s.charts]

    page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    console: list[ConsoleMessage] = []
    errors: list[Exception] = []
    outside: list[str] = []
    # lambdas: playwright tags each handler with an attribute, which a bound builtin cannot take
    page.on("console", lambda message: console.append(message))
    page.on("pageerror", lambda error: errors.append(error))

    def only_the_file(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_file)
    try:
        page.goto(path.as_uri(), wait_until="load")

        assert [f"{m.type}: {m.text}" for m in console if m.type == "error"] == []
        assert [str(e) for e in errors] == []
        assert outside == []  # nothing but the file itself was requested

        svgs = page.locator("figure.chart svg")
        assert svgs.count() == len(charts)
        for i, chart in enumerate(charts):
            svg = svgs.nth(i)
            svg.scroll_into_view_if_needed()
            box = svg.bounding_box()
            assert box is not None, chart.key
            assert box["width"] > 50, (chart.key, box)
            assert box["height"] > 50, (chart.key, box)
            drawn = svg.evaluate(
                """svg => [...svg.querySelectorAll('path, rect')].filter(el => {
                       const b = el.getBBox();
                       return b.width > 0 && b.height > 0;
                   }).length"""
            )
            assert drawn > 2, chart.key  # the axes' background, and the bars or lines on it
            assert svg.get_attribute("aria-label") == chart.title

        cards = page.locator("li.card")
        assert cards.count() == len(report.metrics)
        for i in range(cards.count()):
            assert cards.nth(i).is_visible()
        assert page.locator('li.card[data-metric="nps"]').inner_text().count("not enough data since") == 1

        # the hostile account name is shown as text in its table and nothing of it ran
        assert page.locator("script").count() == 0
        assert page.locator('table[data-table="at_risk"] td', has_text=HOSTILE).count() == 1

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.close()


def test_the_demos_own_report_renders_every_chart(browser, tmp_path):
    """The page `healthsync demo` writes, from fifteen weeks of real syncs, renders as the sample does."""
    from rich.console import Console

    from healthsync.demo import run_demo

    with open(os.devnull, "w") as quiet:
        demo = run_demo(tmp_path / "demo", accounts=80, weeks=15, console=Console(file=quiet))
    assert demo.report_path is not None
    page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(demo.report_path.as_uri(), wait_until="load")
        assert problems == []
        svgs = page.locator("figure.chart svg")
        assert svgs.count() >= 12  # every view has data after fifteen weeks
        for i in range(svgs.count()):
            svg = svgs.nth(i)
            svg.scroll_into_view_if_needed()
            box = svg.bounding_box()
            assert box is not None
            assert box["width"] > 50
            assert box["height"] > 50
        values = page.locator("li.card .value").all_inner_texts()
        assert len(values) == 8
        assert sum(1 for v in values if v.strip() not in ("", "—")) >= 6  # only LTV/CAC (no CAC) may be empty
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-report.png"), full_page=True)
    finally:
        page.close()
