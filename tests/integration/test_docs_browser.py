"""GET /docs in a real browser: Debian's headless chromium, driven by selenium.

The browser and its driver are the machine's own (/usr/bin/chromium,
/usr/bin/chromedriver; `make test` installs them), so nothing is downloaded.
Every wait is for a condition on the page, with a deadline.
"""

import json
import logging
import os
import signal
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from local_kafka.stack import LocalStack

logger = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Without the background-networking flags chromium keeps dialling Google's hosts.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
]
DEADLINE_SECONDS = 20

T = TypeVar("T")

# One call, so that a re-render between two lookups cannot fail the test.
SHOWN_OPERATIONS = """
return Array.from(document.querySelectorAll('#swagger-ui .opblock')).map(block => [
  block.querySelector('.opblock-summary-method').textContent,
  block.querySelector('.opblock-summary-path').dataset.path,
  block.querySelector('.opblock-summary-operation-id').textContent,
]);
"""
LOADED_URLS = "return performance.getEntriesByType('resource').map(entry => entry.name);"


def kill_leftovers(user_data_dir: Path) -> list[int]:
    """SIGKILL what is still running of this fixture's chromium (found by its profile folder)."""
    killed = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or gone meanwhile
            continue
        if f"--user-data-dir={user_data_dir}".encode() in cmdline:
            os.kill(int(proc.name), signal.SIGKILL)
            killed.append(int(proc.name))
    return killed


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless chromium with a fresh profile; stopped, and its leftovers killed, on the way out."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail(f"needs {CHROMIUM} and {CHROMEDRIVER}: `make browser` installs them")
    workdir = tmp_path_factory.mktemp("chromium")
    profile = workdir / "profile"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(str(CHROMEDRIVER), log_output=str(workdir / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(DEADLINE_SECONDS)
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            if leftovers := kill_leftovers(profile):
                logger.warning("chromium outlived driver.quit(); killed %s", leftovers)


@pytest.fixture
def page(browser: WebDriver, tmp_path: Path) -> Iterator[WebDriver]:
    """The browser, with a screenshot of the page kept in the test's tmp_path."""
    browser.get_log("browser")  # start with an empty console
    try:
        yield browser
    finally:
        try:
            browser.save_screenshot(str(tmp_path / "page.png"))
            logger.info("screenshot: %s", tmp_path / "page.png")
        except WebDriverException as exc:  # the test's own failure says more
            logger.warning("no screenshot: %s", exc.msg)


def wait_for(driver: WebDriver, probe: Callable[[WebDriver], T], accept: Callable[[T], bool]) -> T:
    """Poll ``probe`` until ``accept`` holds; fail with the last value at the deadline."""
    seen: list[T] = []

    def accepted(d: WebDriver) -> bool:
        seen[:] = [probe(d)]
        return accept(seen[0])

    try:
        WebDriverWait(driver, DEADLINE_SECONDS, poll_frequency=0.1).until(accepted)
    except WebDriverException as exc:  # TimeoutException included
        raise AssertionError(f"not within {DEADLINE_SECONDS} s; last: {seen!r:.800}") from exc
    return seen[0]


def visible(driver: WebDriver, within: WebElement | WebDriver, css: str) -> WebElement:
    """The element at ``css`` under ``within``, once it is displayed."""

    def displayed(_: WebDriver) -> WebElement | None:
        element = within.find_element(By.CSS_SELECTOR, css)
        return element if element.is_displayed() else None

    wait = WebDriverWait(
        driver,
        DEADLINE_SECONDS,
        poll_frequency=0.1,
        ignored_exceptions=[NoSuchElementException, StaleElementReferenceException],
    )
    return wait.until(displayed)


def documented_operations(base_url: str) -> set[tuple[str, str, str]]:
    with urllib.request.urlopen(f"{base_url}/openapi.json", timeout=10) as response:
        document = json.load(response)
    return {
        (method.upper(), path, operation["operationId"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


@pytest.mark.parametrize("service", ["cart", "orders"])
def test_docs_should_list_every_operation_of_the_services_document(
    platform: LocalStack, page: WebDriver, service: str
):
    base_url = getattr(platform, service).base_url
    documented = documented_operations(base_url)

    page.get(f"{base_url}/docs")

    shown = wait_for(
        page,
        lambda d: [tuple(op) for op in d.execute_script(SHOWN_OPERATIONS)],
        lambda ops: set(ops) == documented,
    )
    assert sorted(shown) == sorted(documented)  # each once
    loaded = page.execute_script(LOADED_URLS)
    assert f"{base_url}/docs/swagger-ui-bundle.js" in loaded
    assert f"{base_url}/openapi.json" in loaded
    assert [url for url in loaded if not url.startswith(f"{base_url}/")] == []  # no CDN
    assert [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_try_it_out_on_create_order_should_show_201(
    platform: LocalStack, page: WebDriver, order_id: str
):
    page.get(f"{platform.cart.base_url}/docs")
    operation = visible(page, page, "#operations-default-createOrder")

    operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    visible(page, operation, "button.try-out__btn").click()
    body = visible(page, operation, "textarea.body-param__text")
    body.send_keys(Keys.CONTROL, "a")
    body.send_keys(Keys.DELETE)
    body.send_keys(request := json.dumps({"orderId": order_id, "numItems": 2}))
    wait_for(page, lambda _: body.get_attribute("value"), lambda text: text == request)
    visible(page, operation, "button.execute").click()

    response = ".live-responses-table tbody .response"
    status = wait_for(
        page,
        lambda _: [
            cell.get_attribute("textContent")
            for cell in operation.find_elements(By.CSS_SELECTOR, f"{response} .response-col_status")
        ],
        bool,
    )
    assert status == ["201"]
    shown_body = operation.find_element(By.CSS_SELECTOR, f"{response} .highlight-code code")
    assert json.loads(shown_body.get_attribute("textContent"))["orderId"] == order_id
