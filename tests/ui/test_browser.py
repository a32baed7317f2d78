"""The inspection page in a real browser: Debian's headless Chromium driven by Selenium through Debian's
chromedriver, against the real app served by uvicorn on the real small corpus.

Nothing is downloaded: the driver and the browser are given by path (so Selenium Manager never
runs, and it is told to stay offline too). Skipped, saying why, where either is not installed;
`.ci/run` installs both with apt-get. With `MULTIVEC_INSPECT_SCREENSHOT=<png>` set, the test also
saves the playground's explain picture there (`scripts/screenshot_inspect` regenerates the README's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.container import Services

CHROMIUM = Path(os.environ.get("MULTIVEC_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("MULTIVEC_CHROMEDRIVER", "/usr/bin/chromedriver"))
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions")
QUERY = "gene editing with guide RNA"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium with a fresh profile; skipped where Chromium, chromedriver or Selenium is missing."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.skip(f"no {path} here: install Debian's {package} (apt-get install -y chromium chromium-driver; "
                        ".ci/run does) to run the browser test")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # belt and braces: the explicit paths already keep Selenium Manager out
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    if os.environ.get("MULTIVEC_INSPECT_SCREENSHOT"):  # a sharp picture for the README, no wider than the charts
        options.add_argument("--force-device-scale-factor=2")
        options.add_argument("--window-size=860,1200")
    else:
        options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, css: str, *, at_least: int = 1) -> list[Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # checked every 50 ms (selenium's default: every 500 ms, so each wait took at least half a second)
    return WebDriverWait(driver, 30, poll_frequency=0.05).until(  # type: ignore[no-any-return]
        lambda d: (found := d.find_elements(By.CSS_SELECTOR, css)) and len(found) >= at_least and found)


def test_inspect_page_shows_the_store_and_the_playground_draws_explain(
        browser: Any, seeded: TestClient, live_url: str, app_services: Services) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{live_url}/inspect/")
    collections = wait_for(browser, "#collections tr.collection")
    physical = app_services.registry.physical()
    assert any(physical in row.text and "11" in row.text for row in collections)
    assert app_services.registry.alias in browser.find_element(By.ID, "aliases").text
    registry = browser.find_element(By.ID, "registry").text
    reg = app_services.registry.get()
    for space in reg.spaces.values():
        assert space.live in registry
    assert registry.count("11/11 (100.0 %)") == len(reg.spaces)

    browser.find_element(By.LINK_TEXT, "Points").click()
    points = wait_for(browser, ".point")
    assert len(points) == 10 and "dense · 384 dims" in points[0].text and "sparse · nnz" in points[0].text

    browser.find_element(By.LINK_TEXT, "Search playground").click()
    box = wait_for(browser, "input[name=q]")[0]
    box.send_keys(QUERY)
    hits_box = browser.find_element(By.CSS_SELECTOR, "input[name=limit]")
    hits_box.clear()
    hits_box.send_keys("3")
    browser.find_element(By.ID, "run").click()

    charts = wait_for(browser, "svg.explain", at_least=3)
    results = browser.find_element(By.ID, "results")
    assert "3 hit(s)" in results.text and "bio-1" in results.find_elements(By.CSS_SELECTOR, ".result h3")[0].text
    legend = [el.text.split(" ")[0] for el in browser.find_elements(By.CSS_SELECTOR, "#explain-legend > span")]
    default = app_services.settings.search.plans[app_services.settings.search.plan]  # the cascade
    assert set(legend) == {*(default.fields or ()), *default.rerank}  # the spaces the default plan searched
    for chart in charts:
        bars = chart.find_elements(By.CSS_SELECTOR, "rect.bar")
        assert sorted(b.get_attribute("data-space") for b in bars) == sorted(legend)  # one bar per space
        assert "rank" in chart.text
    top = {b.get_attribute("data-space"): b for b in charts[0].find_elements(By.CSS_SELECTOR, "rect.bar")}
    drawn = [name for name, bar in top.items() if bar.rect["width"] > 1]  # really painted, not just in the DOM
    assert drawn and set(drawn) <= {n for n, w in app_services.settings.search.weights.items() if w > 0}

    target = os.environ.get("MULTIVEC_INSPECT_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        assert results.screenshot(str(Path(target).resolve())), "Chromium did not write the screenshot"
