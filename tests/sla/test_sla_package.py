"""sla/: the pure domain imports no Django, and its enums stay what the database stores."""

import subprocess
import sys
from pathlib import Path

from sla.enums import Announcement, Metric, Priority, SlaState, Status, choices

ROOT = Path(__file__).resolve().parents[2]


def test_the_sla_package_imports_no_django_and_no_app():
    code = (
        "import sys, sla.business_time, sla.deadlines, sla.enums, sla.rules\n"
        "apps = ('django', 'tickets', 'policies', 'notifications', 'accounts', 'watchdog')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in apps))\n"
    )
    found = subprocess.run(  # noqa: S603 -- our own interpreter, our own code
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"


def test_choices_are_labelled_as_django_labels_text_choices():
    # What the TextChoices these enums replaced gave, and the migrations recorded.
    assert choices(SlaState) == [
        ("on_track", "On Track"),
        ("at_risk", "At Risk"),
        ("paused", "Paused"),
        ("breached", "Breached"),
        ("achieved", "Achieved"),
    ]
    assert choices(Priority) == [
        ("low", "Low"),
        ("normal", "Normal"),
        ("high", "High"),
        ("urgent", "Urgent"),
    ]
    assert choices(Metric) == [("first_response", "First Response"), ("resolution", "Resolution")]
    assert [value for value, _ in choices(Status)] == ["open", "pending", "resolved", "closed"]
    assert [value for value, _ in choices(Announcement)] == ["created", "warning", "missed"]


def test_a_member_is_its_stored_value():
    assert str(SlaState.ON_TRACK) == "on_track"
    assert f"{Announcement.WARNING}" == "warning"
    assert SlaState("breached") is SlaState.BREACHED
    assert {str(Metric.FIRST_RESPONSE)} == {"first_response"}
