"""Take docs/screenshots/board.png, story.png and report.png: demo tickets on a throwaway SQLite
database, the development server, and Debian's Chromium (as tests/pages drives it).

    .venv/bin/python scripts/screenshots.py
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PORT = 8765
# The browser's zone: the pages' display zone once its cookie is set.
READER_ZONE = ZoneInfo("Europe/Berlin")
PASSWORD = "demo password 1234"  # noqa: S105 (a throwaway demo user)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def demo_data() -> int:
    """The demo tickets; returns the id of the one whose story is shown."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.utils import timezone

    from policies import services as policy_services
    from sla.enums import Priority, Status
    from tickets import services
    from tickets.checker import run_check

    call_command("migrate", verbosity=0)
    lead = User.objects.create_user("lead", "lead@example.com", PASSWORD, is_staff=True)
    agent = User.objects.create_user("agent", "agent@example.com", PASSWORD)
    office = policy_services.create_calendar(
        name="Berlin office",
        time_zone="Europe/Berlin",
        holiday_country="DE",
        opening_hours=[(weekday, clock_time(9), clock_time(17)) for weekday in range(5)],
    )
    policy_services.create_policy(
        name="Urgent",
        calendar=office,
        priority=Priority.URGENT,
        resolution_target=timedelta(hours=4),
        first_response_target=timedelta(hours=1),
        warning_lead_times=[1800],
        warning_percentages=[75],
    )
    now = timezone.now()
    story = services.create_ticket(
        owner=agent, title="VPN down for the Munich office", priority=Priority.URGENT, now=now
    )
    services.create_ticket(
        owner=lead,
        title="Invoice PDF shows the wrong VAT rate",
        deadline=now + timedelta(minutes=25),
    )
    services.create_ticket(
        owner=agent,
        title="Password reset e-mail never arrives",
        priority=Priority.HIGH,
        deadline=now - timedelta(minutes=40),
    )
    services.create_ticket(
        owner=lead,
        title="<img src=x onerror=alert(1)> shows as text",
        deadline=now + 6 * timedelta(hours=1),
    )
    waiting = services.create_ticket(
        owner=agent,
        title="Waiting on the customer's logs",
        priority=Priority.URGENT,
        status=Status.PENDING,
        now=now - timedelta(minutes=30),
    )
    services.respond(ticket=waiting, now=now - timedelta(minutes=20))
    past_fortnight(lead, agent, now=now)
    run_check()  # the creation emails: the story shows them delivered
    return story.pk


def past_fortnight(lead: Any, agent: Any, *, now: datetime) -> None:
    """Tickets of the last two weeks, resolved on time or late, in two teams and to two
    assignees: the compliance report's rows and chart (resolved, so off the board)."""
    from people import services as people_services
    from sla.enums import Status
    from tickets import services

    support = people_services.create_team(name="Support", members=[lead, agent])
    billing = people_services.create_team(name="Billing", members=[lead])
    for day in range(1, 14):
        for number in range(3):
            created = now - timedelta(days=day, hours=3 * number)
            team = billing if number == 2 else support
            ticket = services.create_ticket(
                owner=lead,
                title=f"Demo ticket {day}-{number}",
                deadline=created + timedelta(hours=4),
                team=team,
                assignee=agent if team == support and number == 0 else lead,
                now=created,
            )
            services.respond(ticket=ticket, now=created + timedelta(minutes=10 + 7 * day))
            # Every fourth ticket (and Billing's on odd days) resolved after its deadline.
            late = (day + number) % 4 == 0 or (number == 2 and day % 2 == 1)
            resolved = created + timedelta(hours=5 if late else 1 + number)
            services.update_ticket(ticket=ticket, now=resolved, status=Status.RESOLVED)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="watchdog-shots-"))
    os.environ.update(
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        SECRET_KEY_FILE=str(workdir / "secret_key"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        DEBUG="true",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchdog.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    story = demo_data()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{PORT}"], cwd=ROOT
    )
    try:
        base = f"http://127.0.0.1:{PORT}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)  # the server starting, not a clock
        shoot(base, story)
    finally:
        server.terminate()
        server.wait()


def shoot(base: str, story: int) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_context(
            base_url=base, viewport={"width": 1180, "height": 520}, timezone_id=READER_ZONE.key
        ).new_page()
        page.goto("/")
        page.get_by_label("Username").fill("lead")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="At risk").wait_for()
        page.reload()  # now with the browser's time zone cookie
        page.screenshot(path=OUT / "board.png")
        page.goto(f"/tickets/{story}/")
        page.set_viewport_size({"width": 1180, "height": 900})
        page.screenshot(path=OUT / "story.png", full_page=True)
        today = datetime.now(READER_ZONE).date()  # the report's days are the reader's
        start, end = today - timedelta(days=14), today + timedelta(days=1)
        page.goto(f"/reports/compliance/?period=custom&start={start}&end={end}&group_by=team")
        page.screenshot(path=OUT / "report.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
