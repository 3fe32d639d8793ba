"""The rep's journey map and the admin console in a real browser (headless Chromium through Selenium).

Data comes from the sandbox CRM through the whole pipeline (signed webhooks -> queue -> worker -> analysis),
so the pages show what the engine made of the demo customers. Screenshots are saved as test artifacts in
$CEM_TEST_ARTIFACTS (default: .artifacts/browser). Skips, saying why, only where Chromium or its driver
is missing (`make test` installs Debian's chromium and chromium-driver when it runs as root).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connector.app import create_app
from connector.config import Settings
from connector.runtime import Runtime, set_runtime
from connector.store import ContactAnalysis, DeadLetter
from connector.web.auth import sign_journey
from connector.web.words import CHANNELS, EMOTIONS, REASONS, SIGNALS, STAGES
from sandbox.dataset import demo_records
from tests.conftest import make_env
from tests.pipeline_harness import Pipeline, start_pipeline

CHROMIUM = os.environ.get("CEM_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("CEM_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("CEM_TEST_ARTIFACTS", ".artifacts/browser"))
CONTACTS = 12
# every code the engine emits; none may reach a page as such
CODES = {c for c in (*STAGES, *EMOTIONS, *REASONS, *SIGNALS, *CHANNELS) if "_" in c} | {
    "negative_emotion (+", "new_business", "closedwon"}

pytestmark = pytest.mark.redis_server


def _browser_missing() -> str | None:
    for path, package in ((CHROMIUM, "chromium"), (DRIVER, "chromium-driver")):
        if not (Path(path).exists() or shutil.which(path)):
            return (f"{path} not found: install Debian's {package} (`make test` does so when run as root; "
                    f"apt-get install chromium chromium-driver)")
    return None


@dataclass
class Site:
    pipeline: Pipeline
    runtime: Runtime
    base: str
    ids: list[str]

    def journey_url(self, contact_id: str) -> str:
        with create_app(self.runtime).app_context():
            token = sign_journey(self.pipeline.connection_id, contact_id)
        return f"{self.base}/journey/{self.pipeline.connection_id}/{contact_id}?token={token}"

    def profile(self, contact_id: str) -> dict[str, Any]:
        with self.runtime.store.session() as session:
            state = session.get(ContactAnalysis, (self.pipeline.connection_id, contact_id))
            assert state is not None
            return state.profile


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_server_url: str) -> Iterator[Site]:
    runtime = Runtime(Settings.from_env(make_env(tmp_path_factory.mktemp("browser"), redis_url=redis_server_url)))
    set_runtime(runtime)
    pipeline = start_pipeline(runtime, "hubspot", demo_records(CONTACTS))
    ids = pipeline.sandbox.contact_ids()
    pipeline.sandbox.emit_contact_changes(ids)
    pipeline.drain(until=lambda: pipeline.written_contacts() == CONTACTS)
    pipeline.drain()
    yield Site(pipeline, runtime, runtime.settings.public_url, ids)
    pipeline.stop()
    set_runtime(None)
    runtime.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 "--window-size=1280,900", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _width(driver: Any, width: int) -> None:
    driver.set_window_size(width, 900)


def _screenshot(driver: Any, name: str) -> Path:
    """A full-page screenshot: the window grows to the page's height first."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(driver.get_window_size()["width"], min(max(height, 600), 6000))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def _submit(driver: Any, element: Any) -> None:
    """Click something that loads a new page, and wait for that page (not the old one's text)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html").id

    # The new document's root, not the old root's staleness: asked about the old node mid-navigation,
    # Chromium sometimes answers "Node with given id does not belong to the document" as an unknown
    # error instead of a stale element, which staleness_of lets through (a CI failure).
    def new_page(d: Any) -> bool:
        try:
            return bool(d.find_element(By.TAG_NAME, "html").id != old)
        except WebDriverException:  # between documents: ask again
            return False

    element.click()
    WebDriverWait(driver, 15).until(new_page)


def _visible_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _assert_words_not_codes(text: str, where: str) -> None:
    assert "{'" not in text and "':" not in text, f"raw dict on {where}"
    leaked = sorted(code for code in CODES if re.search(rf"(?<![\w@.]){re.escape(code)}", text))
    assert not leaked, f"codes shown on {where}: {leaked}"


def test_journey_maps_show_the_customer_in_words(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    _width(browser, 1280)
    checked_evidence = customer_points = crm_links = 0
    for contact_id in site.ids:
        profile = site.profile(contact_id)
        browser.get(site.journey_url(contact_id))
        text = _visible_text(browser)
        name = profile["display"]["contact"]["name"]
        assert browser.find_element(By.CSS_SELECTOR, "[data-test=name]").text == name
        assert browser.find_element(By.CSS_SELECTOR, "[data-test=stage]").text == STAGES[profile["journey_stage"]][0]
        assert "since" in text or profile["journey_stage_since"] is None
        # every interaction is a point on the curve, with its quote in the point's title
        points = browser.find_elements(By.CSS_SELECTOR, "svg.curve-wide [data-test=point]")
        assert len(points) == len(profile["display"]["timeline"]) > 0, contact_id
        titles = [p.find_element(By.TAG_NAME, "title").get_attribute("textContent") for p in points]
        assert all(re.match(r"\d{1,2} \w{3} \d{4} · ", t) for t in titles), titles[:3]
        customer = [t for t in titles if "· Customer · feeling" in t]
        assert all("“" in t for t in customer), customer
        customer_points += len(customer)
        # the reason's evidence quotes are on the page
        for item in profile["explanation"].get("reason_evidence") or []:
            assert item["quote"] in text, (contact_id, item["quote"])
            checked_evidence += 1
        assert "Journey" in text and "Why:" in text
        for link in browser.find_elements(By.LINK_TEXT, "open in CRM"):  # back to that record in HubSpot
            assert re.match(r"https://app\.hubspot\.com/contacts/\d+/record/0-[15]/\d+$", link.get_attribute("href"))
            crm_links += 1
        _assert_words_not_codes(text, f"journey map of {contact_id}")
        if contact_id == site.ids[0]:
            # tapping a point (no JavaScript needed) jumps to that message in the list below
            points[-1].find_element(By.XPATH, "..").click()
            target = browser.execute_script("return location.hash")
            assert target.startswith("#i-")
            assert browser.find_element(By.CSS_SELECTOR, target.replace(":", "\\:")).is_displayed()
    assert checked_evidence >= 5 and customer_points >= 20 and crm_links >= 20


def test_journey_map_fits_a_400px_crm_side_panel(site: Site, browser: Any) -> None:
    for index, contact_id in enumerate(site.ids[:4]):
        _width(browser, 1280)
        browser.get(site.journey_url(contact_id))
        _screenshot(browser, f"journey-{contact_id}-1280")
        _width(browser, 400)
        browser.get(site.journey_url(contact_id))
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the page scrolls sideways by {overflow}px at 400px"
        if index == 0:
            _screenshot(browser, f"journey-{contact_id}-400")
    _width(browser, 1280)


def test_expired_and_unknown_links_get_pages_not_json(site: Site, browser: Any) -> None:
    contact_id = site.ids[0]
    good = site.journey_url(contact_id)
    browser.get(good.replace("token=", "token=x"))
    assert "This link is not valid" in _visible_text(browser)
    browser.get(site.journey_url("no-such-contact"))
    text = _visible_text(browser)
    assert "No journey for this contact yet" in text and "{" not in text
    _screenshot(browser, "journey-not-found")


def test_console_signs_in_searches_and_replays(site: Site, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    contact_id = site.ids[1]
    with site.runtime.store.session() as session:
        letter = DeadLetter(connection_id=site.pipeline.connection_id, contact_id=contact_id, job="write",
                            payload={"contact_id": contact_id}, attempts=6,
                            error="TransientError: HubSpot did not answer (ReadTimeout); will retry.")
        session.add(letter)
        session.flush()
        letter_id = letter.id
    _width(browser, 1280)
    browser.get(f"{site.base}/admin/")
    assert "Admin token" in _visible_text(browser)  # not signed in: the sign-in page
    browser.find_element(By.ID, "token").send_keys("not-the-token")
    _submit(browser, browser.find_element(By.CSS_SELECTOR, "form button"))
    assert "not right" in _visible_text(browser)
    browser.find_element(By.ID, "token").send_keys(site.runtime.settings.admin_token)
    _submit(browser, browser.find_element(By.CSS_SELECTOR, "form button"))
    text = _visible_text(browser)
    assert ("HubSpot · test" in text and "Healthy" in text) or "Dead letters waiting" in text or "failure" in text
    assert re.search(r"Last webhook\s+(just now|\d+ (min|h) ago)", text), "last webhook in words"
    assert "Re-run field install" in text
    assert re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+", text) is None, "raw timestamps on the console"
    assert "/?" not in browser.find_element(By.CSS_SELECTOR, "[data-test=backfill]").text
    assert "HubSpot did not answer" in text and "Replay" in text
    _assert_words_not_codes(text, "console")
    _screenshot(browser, "console-1280")
    _width(browser, 1280)
    _submit(browser, browser.find_element(By.CSS_SELECTOR, "[data-test=install]"))
    assert "Field install finished" in _visible_text(browser)
    assert "unchanged" in browser.find_element(By.CSS_SELECTOR, f"#connection-{site.pipeline.connection_id}").text
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-test=dead-letter]")
    assert len(rows) == 1
    _submit(browser, rows[0].find_element(By.CSS_SELECTOR, "[data-test=replay]"))
    assert "Replayed 1 job(s)" in _visible_text(browser)
    with site.runtime.store.session() as session:
        assert session.get(DeadLetter, letter_id).replayed_at is not None
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-test=dead-letter]")
    site.pipeline.drain()  # the replayed job runs: the contact is refreshed again, nothing fails

    # contact search links to the journey map
    name = site.profile(contact_id)["display"]["contact"]["name"]
    browser.get(f"{site.base}/admin/contacts?q={name.split()[0]}")
    links = browser.find_elements(By.CSS_SELECTOR, "[data-test=journey-link]")
    assert any(link.text == name for link in links)
    _submit(browser, next(link for link in links if link.text == name))
    assert browser.find_element(By.CSS_SELECTOR, "[data-test=name]").text == name

    # the aggregate map
    browser.get(f"{site.base}/admin/map")
    text = _visible_text(browser)
    assert f"{CONTACTS} contact(s)" in text and "Top pain points" in text and "Churn reasons" in text
    assert browser.find_elements(By.CSS_SELECTOR, "[data-test=pain]")
    _assert_words_not_codes(text, "aggregate map")
    _screenshot(browser, "aggregate-1280")
    _width(browser, 400)
    for path in ("/admin/", "/admin/map", f"/admin/contacts?q={name.split()[0]}"):
        browser.get(site.base + path)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 400px"
    browser.get(f"{site.base}/admin/")
    _screenshot(browser, "console-400")
    _width(browser, 1280)


def test_pages_read_without_javascript(site: Site, tmp_path: Path) -> None:
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        contact_id = site.ids[2]
        driver.get(site.journey_url(contact_id))
        assert driver.find_element(By.CSS_SELECTOR, "[data-test=name]").text
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg.curve-wide [data-test=point]")) == len(
            site.profile(contact_id)["display"]["timeline"])
    finally:
        driver.quit()


@pytest.fixture(scope="module", params=["salesforce", "dynamics"])
def other_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               redis_server_url: str) -> Iterator[Site]:
    runtime = Runtime(Settings.from_env(make_env(tmp_path_factory.mktemp(request.param), redis_url=redis_server_url)))
    set_runtime(runtime)
    pipeline = start_pipeline(runtime, request.param, demo_records(3))
    ids = pipeline.sandbox.contact_ids()
    pipeline.sandbox.emit_contact_changes(ids)
    pipeline.drain(until=lambda: pipeline.written_contacts() == len(ids))
    pipeline.drain()
    yield Site(pipeline, runtime, runtime.settings.public_url, ids)
    pipeline.stop()
    set_runtime(None)
    runtime.close()


def test_journey_maps_from_salesforce_and_dynamics(other_site: Site, browser: Any) -> None:
    """The same page from the other CRMs' data, with links in their own record-URL format."""
    from selenium.webdriver.common.by import By

    platform = other_site.pipeline.runtime.adapter(other_site.pipeline.connection_id).platform
    link_format = {"salesforce": r"https?://[^/]+/\w{15,18}$",
                   "dynamics": r"https?://[^/]+(/[^?]*)?/main\.aspx\?pagetype=entityrecord&etn=\w+&id=[\w-]+$"}
    _width(browser, 1280)
    links = 0
    for contact_id in other_site.ids:
        profile = other_site.profile(contact_id)
        browser.get(other_site.journey_url(contact_id))
        assert browser.find_element(By.CSS_SELECTOR, "[data-test=name]").text == profile["display"]["contact"]["name"]
        assert browser.find_element(By.CSS_SELECTOR, "[data-test=stage]").text == STAGES[profile["journey_stage"]][0]
        points = browser.find_elements(By.CSS_SELECTOR, "svg.curve-wide [data-test=point]")
        assert len(points) == len(profile["display"]["timeline"]) > 0
        _assert_words_not_codes(_visible_text(browser), f"{platform} journey map of {contact_id}")
        for link in browser.find_elements(By.LINK_TEXT, "open in CRM"):
            assert re.match(link_format[platform], link.get_attribute("href")), link.get_attribute("href")
            links += 1
    assert links > 0
    _screenshot(browser, f"journey-{platform}-{other_site.ids[0]}-1280")
