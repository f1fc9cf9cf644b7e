"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium), one browser for the whole test session.

The browser has no network: host names resolve nowhere and every request goes to a proxy
that refuses it. Chrome's own DevTools network events (the ``performance`` log) record every
request the page makes, and its console log every error. Both detectors are first shown to
catch what they look for, so a page passing them passes for a reason.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from reference import load_events
from report_data import dirty_logs
from report_reference import expected_report

from cowrieprocessor.reporting.html import render_html

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("COWRIE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("COWRIE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
SKIP = os.environ.get("COWRIE_TEST_SKIP_BROWSER") == "1"
WEEK = "2024-W09"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # No network: names resolve nowhere, and whatever is left goes to a refusing proxy.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--window-size=1280,900",
]


class Browser:
    """One Chromium for the session; ``open`` loads a file and returns what it did."""

    def __init__(self, profile: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in [*FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))

    def open(self, path: Path) -> tuple[list[str], list[str]]:
        """Load ``path``; the URLs it requested (besides itself and data: URLs) and the
        console errors it logged."""
        self.driver.get_log("performance")  # drop what earlier pages left
        self.driver.get_log("browser")
        url = path.resolve().as_uri()
        self.driver.get(url)
        requests = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            params = message["params"]
            # Requests of our page's document (the browser's own start page is not ours).
            if message["method"] == "Network.requestWillBeSent" and params["documentURL"] == url:
                requested = params["request"]["url"]
                if requested != url and not requested.startswith("data:"):
                    requests.append(requested)
        errors = [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        return requests, errors

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def cdp(self, command: str, **params: Any) -> Any:
        return self.driver.execute_cdp_cmd(command, params)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if SKIP:
        pytest.skip("COWRIE_TEST_SKIP_BROWSER=1")
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(binary):
            pytest.fail(f"{binary} is missing: apt-get install chromium chromium-driver")
    chrome = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.driver.quit()


def test_the_detectors_catch_requests_and_errors(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        "<!DOCTYPE html><html><body><img src='http://198.51.100.1/x.png'>"
        "<script>console.error('boom')</script></body></html>"
    )
    requests, errors = browser.open(page)
    assert requests == ["http://198.51.100.1/x.png"]
    assert any("boom" in e for e in errors)


@pytest.fixture(scope="module")
def weekly_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], list[dict]]:
    """The weekly all-sensors page of the report test logs, its documents and events."""
    from click.testing import CliRunner

    from cowrieprocessor.cli.main import cli

    tmp = tmp_path_factory.mktemp("weekly")
    files = dirty_logs(tmp / "logs")
    db = ["--db", f"sqlite:///{tmp / 'c.sqlite'}", "--status-dir", str(tmp / "status")]
    runner = CliRunner()
    assert runner.invoke(cli, [*db, "ingest", *map(str, files)]).exit_code == 0
    out = tmp / "week.html"
    args = ["show", "weekly", WEEK, "--all-sensors", "--format"]
    assert runner.invoke(cli, [*db, *args, "html", "--output", str(out)]).exit_code == 0
    documents = json.loads(runner.invoke(cli, [*db, *args, "json"]).stdout)
    return out, documents, load_events(files)


LABELS = (
    "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute('aria-label'))"
)


def _marks(browser: Browser, section: str, chart: str) -> list[dict[str, str]]:
    """The ``Title: value`` pairs of every mark of one chart, read from the DOM."""
    labels = browser.js(
        LABELS,
        f'section[data-sensor="{section}"] figure[data-chart="{chart}"] '
        "g[aria-roledescription] > path[aria-label]",
    )
    return [dict(pair.split(": ", 1) for pair in label.split("; ")) for label in labels]


def test_weekly_report_in_chromium(
    browser: Browser, weekly_page: tuple[Path, list[dict], list[dict]], tmp_path: Path
) -> None:
    path, documents, events = weekly_page
    requests, errors = browser.open(path)
    assert requests == [] and errors == []
    sensors = [d["sensor"] for d in documents]
    assert (
        browser.js(
            "return [...document.querySelectorAll('section[data-sensor]')]"
            ".map(s => s.dataset.sensor)"
        )
        == sensors
    )
    for doc in documents:
        sensor = None if doc["sensor"] == "aggregate" else doc["sensor"]
        want = expected_report(events, "weekly", date(2024, 2, 26), date(2024, 3, 3), sensor)
        per_day = _marks(browser, doc["sensor"], "sessions-per-day")
        assert [(m["Day"], int(m["Sessions"])) for m in per_day] == [
            (d["date"], d["sessions"]) for d in want["daily"]
        ]
        downloads = _marks(browser, doc["sensor"], "downloads-per-day")
        assert [int(m["Downloads"]) for m in downloads] == [d["downloads"] for d in want["daily"]]
        heat = _marks(browser, doc["sensor"], "day-hour-heatmap")
        assert len(heat) == 7 * 24
        by_day: dict[str, int] = {}
        for m in heat:
            by_day[m["Day"]] = by_day.get(m["Day"], 0) + int(m["Sessions"])
        assert by_day == {d["date"]: d["sessions"] for d in want["daily"]}
        logins = _marks(browser, doc["sensor"], "logins-per-day")
        assert (
            sum(int(m["Logins"]) for m in logins if m["Kind"] == "attempts")
            == want["sessions"]["login_attempts"]
        )
        assert (
            sum(int(m["Logins"]) for m in logins if m["Kind"] == "successes")
            == want["sessions"]["login_successes"]
        )
        protocols = _marks(browser, doc["sensor"], "protocols")
        assert {m["Protocol"]: int(m["Sessions"]) for m in protocols} == want["sessions"][
            "protocols"
        ]
        credentials = _marks(browser, doc["sensor"], "top-credentials")
        assert [int(m["Logins"]) for m in credentials] == [
            e["count"] for e in want["sessions"]["top_combinations"]
        ]
        cards = browser.js(
            "return [...document.querySelectorAll(arguments[0])].map(c => c.textContent)",
            f'section[data-sensor="{doc["sensor"]}"] .figure-card .figure-value',
        )
        assert cards[0] == f"{want['sessions']['total']:,}"
    per_sensor = browser.js(
        LABELS,
        'figure[data-chart="sessions-per-sensor"] g[aria-roledescription] > path[aria-label]',
    )
    assert per_sensor == [
        f"Sessions: {d['sessions']['total']}; Sensor: {d['sensor']}" for d in documents[1:]
    ]
    shot = tmp_path / "weekly.png"
    png = browser.cdp("Page.captureScreenshot", captureBeyondViewport=True)["data"]
    shot.write_bytes(base64.b64decode(png))
    assert shot.stat().st_size > 10_000


def test_dark_phone_and_print(
    browser: Browser, weekly_page: tuple[Path, list[dict], list[dict]]
) -> None:
    path, _, _ = weekly_page
    browser.open(path)
    background = "return getComputedStyle(document.body).backgroundColor"
    assert browser.js(background) == "rgb(255, 255, 255)"
    browser.cdp(
        "Emulation.setEmulatedMedia",
        features=[{"name": "prefers-color-scheme", "value": "dark"}],
    )
    try:
        assert browser.js(background) == "rgb(18, 22, 29)"
        label = "return getComputedStyle(document.querySelector('figure.chart svg text')).fill"
        assert browser.js(label) != "rgb(0, 0, 0)"  # chart text follows the page, not black
    finally:
        browser.cdp("Emulation.setEmulatedMedia", features=[])
    browser.cdp(
        "Emulation.setDeviceMetricsOverride",
        width=390,
        height=844,
        deviceScaleFactor=1,
        mobile=True,
    )
    try:
        widths = browser.js(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths  # nothing wider than a phone
    finally:
        browser.cdp("Emulation.clearDeviceMetricsOverride")
    pdf = base64.b64decode(browser.cdp("Page.printToPDF", printBackground=False)["data"])
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 3


def test_hostile_page_runs_no_script(browser: Browser, tmp_path: Path) -> None:
    from test_html_report import HOSTILE, hostile_document

    from cowrieprocessor.db.engine import create_engine_for_url, create_session_maker
    from cowrieprocessor.reporting.builders import builder_for
    from cowrieprocessor.reporting.page import ReportPage, build_page
    from cowrieprocessor.reporting.periods import parse_period

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    from click.testing import CliRunner

    from cowrieprocessor.cli.main import cli

    log = tmp_path / "cowrie.json"
    events = []
    for i, text in enumerate(HOSTILE):
        base = {"session": f"{i:012x}", "sensor": text, "src_ip": "198.51.100.7"}
        ts = f"2024-03-07T10:00:{i:02d}.000000Z"
        events += [
            {**base, "eventid": "cowrie.session.connect", "timestamp": ts, "protocol": "ssh"},
            {**base, "eventid": "cowrie.login.failed", "timestamp": ts, "username": text,
             "password": text},
            {**base, "eventid": "cowrie.command.input", "timestamp": ts, "input": text},
            {**base, "eventid": "cowrie.session.file_download", "timestamp": ts,
             "url": text, "shasum": f"{i:064x}"},
        ]  # fmt: skip
    log.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    assert CliRunner().invoke(cli, ["--db", url, "ingest", str(log)]).exit_code == 0
    engine = create_engine_for_url(url)
    try:
        builder = builder_for("daily")(create_session_maker(engine))
        sensors: list[str | None] = [None, *sorted(HOSTILE)]
        page = build_page(builder, parse_period("daily", "2024-03-07"), sensors)
    finally:
        engine.dispose()
    # Enrichment lists and alerts carry hostile values too, as the schema shapes them.
    sections = [type(s)(hostile_document(s.document), s.trends, s.hours) for s in page.sections]
    out = tmp_path / "hostile.html"
    out.write_text(render_html(ReportPage(page.period, sections, page.data_span)), encoding="utf-8")
    requests, errors = browser.open(out)
    assert requests == [] and errors == []
    assert browser.js("return [window.__pwned, document.title]") == [
        None,
        "Cowrie daily report 2024-03-07",
    ]
    assert browser.js("return document.querySelectorAll('script, img, a, iframe').length") == 0
    text = browser.js("return document.body.innerText")
    for value in HOSTILE:
        shown = value.replace("\u202e", "\\u202e").replace("\x1b", "\\x1b")
        assert shown in text, value
