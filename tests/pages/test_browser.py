"""The browser harness itself: Chromium loads a page of the live server and reports on it."""

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_render_in_chromium_without_a_console_error(watched):
    response = watched.page.goto("/api/docs/")

    assert response is not None
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI is drawn by its scripts: the page ran them, from this origin only.
    watched.page.locator(".swagger-ui .info .title").wait_for()
    assert "SLA Watchdog API" in watched.page.locator(".swagger-ui .info .title").inner_text()
    assert watched.errors == []
    assert watched.dialogs == []
