"""The analyst console in a real headless browser (Debian's chromium and chromedriver): open the
queue, open a case, resolve it, and see the state change; plus a screenshot that is looked at."""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.error
import urllib.request

import pytest

from securebank.cases.model import case_from_alert
from securebank.cases.service import Operations
from securebank.console.app import ConsoleServer
from tests.ops.helpers import alert_json


def _put_decision(db, table, tid, card, when, action, score):
    db.put_item(
        TableName=table,
        Item={
            "transaction_id": {"S": tid},
            "card_id": {"S": card},
            "merchant_id": {"S": "m-1"},
            "event_time": {"S": when},
            "amount": {"S": "40.00"},
            "currency": {"S": "USD"},
            "action": {"S": action},
            "score": {"S": str(score)},
        },
    )


@pytest.fixture
def console(aws):
    operations = Operations.build(aws, aws.names)
    db = aws.client("dynamodb")
    for i, when in enumerate(("2026-09-01T09:00:00+00:00", "2026-09-01T09:40:00+00:00")):
        _put_decision(db, aws.names.decisions_table, f"h-{i}", "card-1", when, "approve", 0.1)
    _put_decision(
        db, aws.names.decisions_table, "t-1", "card-1", "2026-09-01T10:00:00+00:00", "review", 0.91
    )
    operations.cases.create(case_from_alert(alert_json("t-1"), "2026-09-01T10:00:01Z"))
    operations.cases.create(
        case_from_alert(alert_json("t-2", action="decline", score=0.99), "2026-09-01T10:01:00Z")
    )
    lake_rows = [
        {
            "transaction_id": f"old-{i}",
            "event_time": "2026-08-01T10:00:00+00:00",
            "action": "review" if i < 3 else "approve",
            "score": 0.9 - i / 10,
            "amount": "20.00",
            "currency": "USD",
            "model_version": "3",
            "decided_at_ms": 1_785_000_000_000 + i,
        }
        for i in range(6)
    ]
    aws.client("s3").put_object(
        Bucket=aws.names.lake_bucket,
        Key="decisions/date=2026-08-01/shard-1-2.jsonl",
        Body="".join(json.dumps(r) + "\n" for r in lake_rows).encode(),
    )
    operations.import_outcomes([{"transaction_id": "old-0", "reported_at": "2026-08-05"}], "bank")
    server = ConsoleServer(("127.0.0.1", 0), operations, aws.client("s3"), aws.names, "alice")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, operations
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser():
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.fail("chromium and chromedriver are needed: `make test` installs them (apt-get)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _until(browser, check, timeout: float = 30.0):
    """Wait for `check(browser)` to hold: a click returns before the next page has loaded, and an
    element found on the old page goes stale under the reader."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, timeout, ignored_exceptions=ignored).until(check)


def test_open_the_queue_resolve_a_case_and_see_the_state_change(console, browser, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By

    server, operations = console
    browser.get(f"{server.url}/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-case]")
    assert [r.get_attribute("data-case") for r in rows] == ["t-1", "t-2"]
    assert "card_count_1h" in rows[0].text and "125.50 USD" in rows[0].text

    rows[0].find_element(By.LINK_TEXT, "t-1").click()
    _until(browser, lambda b: b.find_element(By.ID, "status").text == "open")
    timeline = browser.find_element(By.ID, "timeline").text
    assert timeline.count("approve") == 2 and "review" in timeline
    browser.find_element(By.NAME, "note").send_keys("customer denied the payment")
    browser.find_element(By.ID, "resolve-fraud").click()

    _until(browser, lambda b: b.find_element(By.ID, "status").text == "resolved")
    assert "fraud" in browser.find_element(By.ID, "outcome").text
    audit = browser.find_element(By.ID, "audit").text
    assert "alice" in audit and "resolved" in audit
    shot = tmp_path / "case.png"
    browser.save_screenshot(str(shot))
    if os.environ.get("SECUREBANK_SCREENSHOTS"):
        shutil.copy(shot, os.environ["SECUREBANK_SCREENSHOTS"])
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900) or image.size[0] >= 1000
    header = image.getpixel((10, 10))
    assert header[2] > header[0]  # the dark blue header bar rendered: the page has its style
    assert len(image.resize((64, 64)).getcolors(64 * 64)) > 8  # not a blank page

    assert operations.cases.get("t-1").outcome.value == "fraud"
    assert operations.labels.get("t-1").is_fraud is True
    browser.find_element(By.LINK_TEXT, "Queue").click()
    _until(
        browser,
        lambda b: (
            [
                r.get_attribute("data-case")
                for r in b.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-case]")
            ]
            == ["t-2"]
        ),
    )

    browser.get(f"{server.url}/models")
    models = browser.find_element(By.ID, "models").text
    assert "3 6 3 1 0.333 1.000" in " ".join(models.split())  # version 3: its live metrics


def test_forms_need_the_console_token(console):
    server, operations = console
    request = urllib.request.Request(
        f"{server.url}/cases/t-2/resolve", data=b"outcome=legit&token=guess", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert operations.cases.get("t-2").status.value == "open"
