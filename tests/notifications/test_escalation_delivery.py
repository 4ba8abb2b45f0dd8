"""Issue 13's walkthrough with real parts: a real SMTP server and a real HTTP receiver on
loopback, which verifies each webhook's signature with its own few lines of hmac.

Team "Support", lead bob; alice is the assignee of an urgent ticket (2 hours, warned 30
minutes before). At the warning alice gets an email and the team's Slack-style channel a
message; at the breach bob gets an email and a signed webhook reaches the receiver; 30
minutes later, unacknowledged, the manager is told; bob's acknowledgement stops the
repeats. Each arrives once, and /sla/ tells the story.
"""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from notifications.models import Endpoint, EndpointKind
from people.models import EscalationLevel, EscalationPolicy
from sla.enums import Priority
from tests.conftest import client_for
from tests.factories import CalendarFactory, TeamFactory, urgent_policy
from tickets.checker import run_check

MINUTE = timedelta(minutes=1)


def verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver writes: HMAC-SHA256 over "timestamp.body", compared in constant time."""
    signed = headers["X-Watchdog-Timestamp"].encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={digest}", headers["X-Watchdog-Signature"])


@pytest.fixture
def desk(settings, make_user, alice, receiver):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    bob, manager = make_user("bob"), make_user("manager")
    team = TeamFactory.create(name="Support", members=[alice], lead=bob, escalation_contact=manager)
    slack = Endpoint.objects.create(
        kind=EndpointKind.SLACK, url=receiver.url("/slack"), team=team, secret=""
    )
    webhook = Endpoint.objects.create(
        kind=EndpointKind.WEBHOOK, url=receiver.url("/hook"), team=team
    )
    escalation = EscalationPolicy.objects.create(name="Urgent escalation")
    EscalationLevel.objects.create(
        policy=escalation, position=1, trigger="warning", roles=["assignee"], endpoint=slack
    )
    EscalationLevel.objects.create(
        policy=escalation,
        position=2,
        trigger="breach",
        roles=["team_lead"],
        endpoint=webhook,
        repeat_every=10 * MINUTE,
        repeat_limit=5,
    )
    EscalationLevel.objects.create(
        policy=escalation,
        position=3,
        trigger="breach",
        delay=30 * MINUTE,
        roles=["escalation_contact"],
        breaks_quiet_hours=True,
    )
    urgent_policy(
        CalendarFactory.create(),
        resolution_target=120 * MINUTE,
        warning_lead_times=[30 * 60],
        escalation_policy=escalation,
    )
    return {"team": team, "bob": bob, "manager": manager, "webhook": webhook}


def inbox(smtp, username):
    return [m for m in smtp.messages if m.rcpt_tos == (f"{username}@example.com",)]


@pytest.mark.slow
def test_the_walkthrough_arrives_once_each_and_the_timeline_tells_it(
    clock, smtp_settings, receiver, desk, alice, make_ticket
):
    smtp = smtp_settings
    ticket = make_ticket(
        owner=desk["manager"],
        priority=Priority.URGENT,
        team=desk["team"],
        assignee=alice,
        deadline=None,
    )
    run_check()

    clock.shift(90 * MINUTE)  # the warning
    run_check()
    run_check()
    assert [m.kind for m in inbox(smtp, "alice")] == ["warning"]
    [chat] = [r for r in receiver.received if r.path == "/slack"]
    assert "SLA at risk (escalation level 1)" in json.loads(chat.body)["text"]

    clock.shift(30 * MINUTE)  # the breach
    run_check()
    run_check()
    [bob_mail] = inbox(smtp, "bob")
    assert bob_mail.kind == "missed"
    assert bob_mail.parsed["X-SLA-Watchdog-Level"] == "2"
    [hook] = [r for r in receiver.received if r.path == "/hook"]
    assert verified(desk["webhook"].secret, hook.headers, hook.body)
    body = json.loads(hook.body)
    assert (body["type"], body["level"], body["repeat"]) == ("sla.missed", 2, 0)
    assert body["headline"] == "SLA missed (escalation level 2)"

    clock.shift(10 * MINUTE)  # the first repeat, to bob and the webhook
    run_check()
    clock.shift(20 * MINUTE)  # 30 minutes after the breach: the manager
    run_check()
    assert len(inbox(smtp, "bob")) == 4  # the breach and the repeats at +10, +20, +30
    escalated = [m for m in inbox(smtp, "manager") if m.parsed["X-SLA-Watchdog-Level"] == "3"]
    assert len(escalated) == 1

    assert client_for(desk["bob"]).post(f"/api/tickets/{ticket.pk}/acknowledge/").status_code == 200
    for _ in range(6):
        clock.shift(10 * MINUTE)
        run_check()

    assert len(inbox(smtp, "bob")) == 4  # no repeat after the acknowledgement
    hooks = [r for r in receiver.received if r.path == "/hook"]
    assert len(hooks) == 4
    assert len({r.headers["X-Watchdog-Event-Id"] for r in hooks}) == 4  # four events, once each
    assert all(verified(desk["webhook"].secret, r.headers, r.body) for r in hooks)
    message_ids = [m.message_id for m in smtp.messages]
    assert len(message_ids) == len(set(message_ids))
    timeline = client_for(alice).get(f"/api/tickets/{ticket.pk}/sla/").json()["timeline"]
    assert ("acknowledged", "by bob") in [(e["kind"], e["detail"]) for e in timeline]
