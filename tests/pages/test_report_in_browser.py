"""The compliance report in a real headless Chromium: sign in, open it from the nav, pick
the period, download the CSV and find the API's numbers in it; no serious or critical
axe-core violation on the page, and nothing the CSP refused (no console error)."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sla.enums import Status
from tests.conftest import client_for
from tests.pages.test_accessibility import serious_violations
from tests.pages.test_board_in_browser import assert_nothing_ran, sign_in
from tests.reports.march import at, build_march
from tests.reports.test_report_page import assert_csv_equals_api
from tickets import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_downloaded_csv_has_the_apis_numbers(watched, alice, bob):
    march = build_march(alice, bob)
    # No pause left running: the numbers stand still between the API call and the CSV.
    services.update_ticket(ticket=march["pending"], now=at(10, 12), status=Status.OPEN)
    sign_in(watched, alice)
    page = watched.page

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compliance").click()
    expect(page.get_by_role("heading", name="Compliance")).to_be_visible()
    page.get_by_label("Period").select_option("custom")
    page.get_by_label("From").fill("2026-03-01")
    page.get_by_label("Until (excluded)").fill("2026-04-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('tr[data-key="normal"] th')).to_have_text("Normal")
    expect(page.locator(".report-chart svg")).to_be_visible()
    assert serious_violations(page) == []

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")

    api = client_for(alice).get(
        "/api/reports/compliance/?period=custom&start=2026-03-01&end=2026-04-01"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert_csv_equals_api(rows, api.json())
    assert rows[-1]["tickets"] == "6"
    assert_nothing_ran(watched)
