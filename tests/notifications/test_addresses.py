"""notifications.addresses: what Django's validator accepts but no mail can carry.

The property test sends generated addresses, every one accepted by Django's
EmailValidator, through deliver_due to the real SMTP server on loopback
(tests/smtp_server.py), between ordinary ones.
"""

import string
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from notifications.addresses import validate_deliverable
from notifications.models import DeliveryStatus, Notification
from tests.smtp_server import SmtpServer
from tickets import services
from tickets.checker import deliver_due
from tickets.models import Ticket

# What Django's quoted-string pattern allows: every ASCII character but NUL, TAB, LF, CR,
# the quote and the backslash bare, and all but NUL, LF and CR after a backslash.
QTEXT = [chr(c) for c in range(1, 128) if chr(c) not in '\t\n\r"\\ ']
QUOTED_PAIR = [f"\\{chr(c)}" for c in range(1, 128) if chr(c) not in "\n\r"]
CONTROLS = [chr(c) for c in (*range(1, 9), 11, 12, *range(14, 32), 127)]
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"

quoted_local_parts = st.lists(
    st.one_of(st.sampled_from(QTEXT), st.sampled_from(QUOTED_PAIR), st.sampled_from(CONTROLS)),
    min_size=1,
    max_size=12,
).map(lambda parts: '"' + "".join(parts) + '"')
dot_atoms = st.lists(st.text(ATEXT, min_size=1, max_size=8), min_size=1, max_size=3).map(".".join)
domains = st.sampled_from(["example.com", "example.org", "mail.example.net", "bücher.example"])
accepted_addresses = st.builds(
    lambda local, domain: f"{local}@{domain}", st.one_of(quoted_local_parts, dot_atoms), domains
)


def accepted_by_django(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def deliverable(address: str) -> bool:
    try:
        validate_deliverable(address)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "address",
    [
        '"NL\x1d~F:"@example.com',  # formatting raises HeaderParseError
        '"a\x1cb"@example.com',  # splits the To header in two
        '"a\x0cb"@example.com',
        '"\x0b"@example.com',
        '"a\x7fb"@example.com',  # reaches the envelope raw
        '"a\\\x01b"@example.com',
    ],
)
def test_it_refuses_what_django_accepts_but_no_mail_can_carry(address):
    assert accepted_by_django(address)
    with pytest.raises(ValidationError) as refused:
        validate_deliverable(address)
    assert refused.value.code == "undeliverable"


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.com",
        "first.last+tag@example.co.uk",
        '"john doe"@example.com',
        '"a\\"b"@example.com',
        "user@bücher.example",
    ],
)
def test_it_accepts_ordinary_addresses(address):
    validate_deliverable(address)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(addresses=st.lists(accepted_addresses.filter(accepted_by_django), min_size=1, max_size=4))
@example(addresses=['"NL\x1d~F:"@example.com'])  # the one whose formatting raises
def test_no_address_django_accepts_stops_delivery_or_anyone_elses_email(
    clock: object,
    smtp_settings: SmtpServer,
    make_user: Callable[..., User],
    addresses: list[str],
) -> None:
    assume(len({a.lower() for a in addresses}) == len(addresses))
    Notification.objects.all().delete()
    Ticket.objects.all().delete()
    User.objects.all().delete()
    already = len(smtp_settings.received())
    good = []
    for index, address in enumerate(addresses):
        ordinary = make_user(f"good{index}", email=f"good{index}@example.com")
        services.create_ticket(owner=ordinary, title="Fine", deadline=_later())
        good.append(ordinary.email)
        odd = make_user(f"odd{index}", email=address)
        services.create_ticket(owner=odd, title="Odd", deadline=_later())

    report = deliver_due()  # nothing escapes: an exception fails the test here

    rows = list(Notification.objects.select_related("ticket__owner"))
    assert {row.status for row in rows} <= {DeliveryStatus.SENT, DeliveryStatus.FAILED}
    assert report.sent + report.failed == len(rows)
    received = smtp_settings.received()[already:]
    for row in rows:
        if row.ticket.owner.email in good:
            assert row.status == DeliveryStatus.SENT
        if not deliverable(row.ticket.owner.email):
            assert row.status == DeliveryStatus.FAILED, "refused before any server saw it"
        if row.status == DeliveryStatus.FAILED:
            assert row.last_error
    assert sorted(r for m in received for r in m.rcpt_tos if r in good) == sorted(good)
    for message in received:
        # One To header, holding one address: nothing split it or added to it.
        assert len(message.parsed.get_all("To") or []) == 1
        assert len(message.parsed["To"].addresses) == 1


def _later() -> datetime:
    return timezone.now() + timedelta(hours=2)
