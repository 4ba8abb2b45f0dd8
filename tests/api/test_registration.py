"""Open registration cannot make the service mail a stranger (accounts, confirmation).

The confirmation link goes through Django's locmem backend (mail.outbox); SLA emails go
to the real SMTP server on loopback.
"""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import EmailConfirmation
from notifications.models import DeliveryStatus, Notification
from notifications.transports.email import HELD_REASON
from sla.enums import Status
from tests.conftest import T0, client_for
from tests.durations import DAY, HOUR
from tests.smtp_server import ReceivedMessage, SmtpServer
from tickets.checker import deliver_due, run_check

PASSWORD = "a long and unusual phrase"
UNSENDABLE = ['"NL\x1d~F:"@example.com', '"a\x1cb"@example.com', '"\x0c"@example.com']


@pytest.fixture(autouse=True)
def _open(settings, no_rate_limits):
    settings.REGISTRATION_OPEN = True


def register(username="dave", email="dave@example.com", password=PASSWORD):
    return APIClient().post(
        "/register/",
        {"username": username, "email": email, "password": password},
        format="json",
    )


def link(server: SmtpServer | None = None) -> str:
    """The confirmation link of the last email sent (to `server`, or to mail.outbox)."""
    if server is None:
        body = str(mail.outbox[-1].body)
    else:
        body = [m for m in server.received() if "Confirm" in m.subject][-1].body("plain")
    url: str
    [url] = re.findall(r"'(http://testserver/api/confirm-email/\?token=[^']+)'", body)
    return url


def sla_emails(server: SmtpServer) -> list[ReceivedMessage]:
    return [m for m in server.received() if m.parsed["X-SLA-Watchdog-Kind"]]


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def confirm(url: str):
    return APIClient().post(url, format="json")


def registered() -> APIClient:
    """A client signed in as a freshly registered (unconfirmed) dave."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {register().json()['token']}")
    return client


def new_ticket(client: APIClient, *, title: str = "Locked?", due_in: timedelta = 2 * HOUR):
    response = client.post(
        "/api/tickets/", {"title": title, "deadline": (T0 + due_in).isoformat()}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


# --- The link ---------------------------------------------------------------------------


def test_registration_mails_a_confirmation_link_and_nothing_else(clock, db):
    response = register()

    assert response.status_code == 201
    [message] = mail.outbox
    assert message.to == ["dave@example.com"]
    assert message.subject == "[SLA Watchdog] Confirm your email address"
    assert "curl -X POST" in message.body
    assert EmailConfirmation.objects.filter(user__username="dave").exists()


def test_with_the_console_backend_the_link_is_printed(clock, db, settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # make run's

    register()

    out = capsys.readouterr().out
    assert "To: dave@example.com" in out
    assert "curl -X POST 'http://testserver/api/confirm-email/?token=" in out


def test_opening_the_link_confirms_nothing(clock, db):
    register()

    response = APIClient().get(link())

    assert response.status_code == 200
    assert response.json() == {"username": "dave", "email": "dave@example.com", "confirmed": False}
    assert EmailConfirmation.objects.filter(user__username="dave").exists()


def test_a_post_to_the_link_confirms_the_address_once(clock, db):
    register()
    url = link()

    first = confirm(url)
    again = confirm(url)

    assert first.status_code == 200
    assert first.json() == {"username": "dave", "email": "dave@example.com", "confirmed": True}
    assert not EmailConfirmation.objects.exists()
    assert again.status_code == 400
    assert "used already" in again.json()["token"][0]


def test_the_token_may_come_in_the_body(clock, db):
    register()

    response = APIClient().post("/api/confirm-email/", {"token": token_of(link())}, format="json")

    assert response.status_code == 200


def test_an_expired_link_is_refused_with_400(clock, db, settings):
    settings.EMAIL_CONFIRMATION_MAX_AGE_SECONDS = 3600
    register()
    clock.shift(HOUR + timedelta(seconds=1))

    response = confirm(link())

    assert response.status_code == 400
    assert response.json() == {"token": ["This confirmation link has expired."]}
    assert EmailConfirmation.objects.exists()


@pytest.mark.parametrize(
    "mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "", lambda t: "x:y:z"]
)
def test_a_forged_or_damaged_link_is_refused_with_400(clock, db, mangle):
    register()

    response = APIClient().post(
        "/api/confirm-email/", {"token": mangle(token_of(link()))}, format="json"
    )

    assert response.status_code == 400
    assert "token" in response.json()
    assert EmailConfirmation.objects.exists()


def test_a_link_for_an_address_since_changed_is_refused(clock, db):
    register()
    url = link()
    User.objects.filter(username="dave").update(email="other@example.com")

    assert confirm(url).status_code == 400


def test_registration_succeeds_when_the_link_cannot_be_sent_and_a_new_one_can_be_asked_for(
    clock, db, settings, smtp_settings
):
    smtp_settings.stop()
    response = register()
    assert response.status_code == 201
    assert EmailConfirmation.objects.exists()

    smtp_settings.start()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    resent = client.post("/api/confirm-email/resend/")

    assert resent.status_code == 202
    [message] = smtp_settings.received()
    assert message.rcpt_tos == ("dave@example.com",)


def test_a_new_link_is_limited_to_a_few_a_day(clock, db, settings):
    settings.RATELIMIT_ENABLE = True
    token = register().json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    answers = [client.post("/api/confirm-email/resend/").status_code for _ in range(4)]

    assert answers == [202, 202, 202, 429]
    assert len(mail.outbox) == 4  # the registration's and three more


def test_a_confirmed_user_gets_no_new_link(clock, alice):
    response = client_for(alice).post("/api/confirm-email/resend/")

    assert response.status_code == 400
    assert mail.outbox == []


# --- Nothing is mailed before the owner confirms ------------------------------------------


def test_an_unconfirmed_users_emails_are_held_and_go_out_once_confirmed(
    clock, alice, smtp_settings
):
    new_ticket(registered())
    new_ticket(client_for(alice))

    report = deliver_due()

    assert (report.sent, report.held) == (1, 1)
    assert [m.rcpt_tos for m in sla_emails(smtp_settings)] == [("alice@example.com",)]
    held = Notification.objects.get(ticket__owner__username="dave")
    assert (held.status, held.attempts, held.last_error) == (DeliveryStatus.HELD, 0, HELD_REASON)
    clock.shift(DAY)
    assert deliver_due().held == 0, "held rows are not claimed again"

    assert confirm(link(smtp_settings)).status_code == 200
    report = deliver_due()

    assert report.sent == 1
    assert sla_emails(smtp_settings)[-1].rcpt_tos == ("dave@example.com",)
    assert Notification.objects.get(pk=held.pk).status == DeliveryStatus.SENT


def test_a_held_warning_that_stopped_being_true_is_never_sent(clock, db, smtp_settings):
    dave = registered()
    ticket = new_ticket(dave, due_in=timedelta(minutes=30))
    run_check()  # the creation email and the warning: both held
    assert sorted(Notification.objects.values_list("kind", "status")) == [
        ("created", DeliveryStatus.HELD),
        ("warning", DeliveryStatus.HELD),
    ]
    response = dave.patch(
        f"/api/tickets/{ticket['id']}/", {"status": Status.RESOLVED}, format="json"
    )
    assert response.status_code == 200

    assert confirm(link(smtp_settings)).status_code == 200
    run_check()

    assert [m.kind for m in sla_emails(smtp_settings)] == ["created"]
    assert Notification.objects.get(kind="warning").status == DeliveryStatus.CANCELLED


# --- What registration refuses ------------------------------------------------------------


@pytest.mark.parametrize("address", UNSENDABLE)
def test_an_address_no_mail_can_be_sent_to_is_refused_with_400_on_email(clock, db, address):
    response = register(email=address)

    assert response.status_code == 400
    assert response.json() == {"email": ["This email address cannot be used to send mail."]}
    assert not User.objects.filter(username="dave").exists()


@pytest.mark.parametrize("address", ["alice@example.com", "ALICE@Example.COM"])
def test_an_address_another_account_has_is_refused_in_any_case(clock, alice, address):
    response = register(email=address)

    assert response.status_code == 400
    assert response.json() == {"email": ["A user with that email address already exists."]}


def test_an_inactive_accounts_address_may_be_registered_again(clock, make_user):
    make_user("gone", email="dave@example.com", is_active=False)

    assert register().status_code == 201


def test_an_unconfirmed_registration_keeps_its_address_only_while_its_link_lives(
    clock, db, settings
):
    settings.EMAIL_CONFIRMATION_MAX_AGE_SECONDS = 3600
    register(username="mallory")

    assert register().status_code == 400
    clock.shift(HOUR + timedelta(seconds=1))
    assert register().status_code == 201


@pytest.mark.parametrize("password", [" " * 12, "\t \u3000 \n" * 3])
def test_a_password_of_whitespace_alone_is_refused(clock, db, password):
    response = register(password=password)

    assert response.status_code == 400
    assert "This password is only whitespace." in response.json()["password"]


@pytest.mark.parametrize(
    "username",
    [
        "\u0430lice",  # Cyrillic a
        "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth
        "aIice",  # capital i for l
        "a1ice",
        "al\u0456ce",  # Cyrillic i
    ],
)
def test_a_username_that_looks_like_an_existing_one_is_refused(clock, alice, username):
    response = register(username=username)

    assert response.status_code == 400
    assert response.json() == {"username": ["This username looks too much like an existing one."]}


def test_an_existing_cyrillic_username_is_not_imitated_in_latin(clock, make_user):
    make_user("\u0430\u0440\u0435")  # Cyrillic "ape"

    assert register(username="ape").status_code == 400
    assert register(username="apex", email="apex@example.com").status_code == 201


# --- The user admin -----------------------------------------------------------------------


@pytest.fixture
def admin(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def add_user(admin: Client, email: str):
    return admin.post(
        "/admin/auth/user/add/",
        {
            "username": "erin",
            "email": email,
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


@pytest.mark.parametrize("address", UNSENDABLE[:2])
def test_the_admin_refuses_an_address_no_mail_can_be_sent_to(clock, admin, address):
    response = add_user(admin, address)

    assert response.status_code == 200  # the form again, with its error
    assert "This email address cannot be used to send mail." in response.content.decode()
    assert not User.objects.filter(username="erin").exists()


def test_the_admin_refuses_an_address_another_active_account_has(clock, admin, alice):
    response = add_user(admin, "Alice@example.com")

    assert "Another active account has this email address." in response.content.decode()
    assert not User.objects.filter(username="erin").exists()


def test_the_admin_adds_a_user_with_an_ordinary_address(clock, admin):
    response = add_user(admin, "erin@example.com")

    assert response.status_code == 302
    assert User.objects.get(username="erin").email == "erin@example.com"


def test_an_address_set_by_staff_counts_as_confirmed(clock, admin, smtp_settings):
    new_ticket(registered())
    assert deliver_due().held == 1
    user = User.objects.get(username="dave")
    form = admin.get(f"/admin/auth/user/{user.pk}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        email="dave@example.org",
        date_joined_0=user.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=user.date_joined.strftime("%H:%M:%S"),
        groups=[],
        user_permissions=[],
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)

    response = admin.post(f"/admin/auth/user/{user.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not EmailConfirmation.objects.exists()
    assert deliver_due().sent == 1
    assert sla_emails(smtp_settings)[-1].rcpt_tos == ("dave@example.org",)
