"""The SSRF guard: webhook URLs reach public addresses only, at save and at connect time.

Name resolution is real (localhost from the system's hosts file) except where a test
needs a name to change its answer (DNS rebinding): there a resolver function stands in
for a hostile DNS server, which cannot run here.
"""

import ipaddress

import pytest

from notifications.models import Notification
from notifications.transports.addresses import UnsafeAddress, check_url
from notifications.transports.base import TransportError
from notifications.transports.webhook import WebhookTransport
from tests.webhook_receiver import Endpoint, send

PUBLIC = ipaddress.ip_address("93.184.215.14")
LOOPBACK_ONLY = [ipaddress.ip_network("127.0.0.1/32")]


@pytest.fixture
def notification(clock, make_ticket) -> Notification:
    make_ticket()
    return Notification.objects.get()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.8.9.10:8000/admin/",
        "http://localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://[ff02::1]/",
    ],
)
def test_a_url_that_leads_to_a_non_public_address_is_refused_at_save(url):
    with pytest.raises(UnsafeAddress, match="not a public address"):
        check_url(url, allowed=[])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/",
        "http:///path",
        "not a url",
        "http://[::1",
        "http://u:p@93.184.215.14/",
    ],
)
def test_a_url_that_is_no_http_url_with_a_host_is_refused(url):
    with pytest.raises(UnsafeAddress):
        check_url(url, allowed=[])


def test_a_public_address_is_accepted():
    check_url("https://93.184.215.14/hooks/sla", allowed=[])
    check_url("https://hooks.example/x", allowed=[], resolver=lambda host, port: [PUBLIC])


def test_a_name_with_one_non_public_address_among_public_ones_is_refused():
    loopback = ipaddress.ip_address("127.0.0.1")

    with pytest.raises(UnsafeAddress):
        check_url("https://mixed.example/", allowed=[], resolver=lambda h, p: [PUBLIC, loopback])


def test_an_allowed_network_may_be_reached():
    check_url("http://127.0.0.1:8080/hook", allowed=LOOPBACK_ONLY)

    with pytest.raises(UnsafeAddress):
        check_url("http://127.0.0.2:8080/hook", allowed=LOOPBACK_ONLY)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_the_transport_refuses_loopback_before_connecting(receiver, notification, host):
    transport = WebhookTransport(
        endpoint_for=lambda n: Endpoint(f"http://{host}:{receiver.port}/hook"), allowed=[]
    )

    with pytest.raises(TransportError) as refusal:
        send(transport, notification)

    assert refusal.value.permanent
    assert "not a public address" in str(refusal.value)
    assert receiver.connections == 0


def test_a_name_rebound_to_loopback_after_the_check_is_refused_at_connect(receiver, notification):
    answers = iter([[PUBLIC], [ipaddress.ip_address("127.0.0.1")]])

    def rebinding(host, port):
        return next(answers)

    url = f"http://rebind.example:{receiver.port}/hook"
    check_url(url, allowed=[], resolver=rebinding)  # at save: a public address
    transport = WebhookTransport(
        endpoint_for=lambda n: Endpoint(url), allowed=[], resolver=rebinding
    )

    with pytest.raises(TransportError) as refusal:
        send(transport, notification)  # at send: loopback

    assert refusal.value.permanent
    assert receiver.connections == 0


def test_the_address_checked_is_the_address_connected_to(receiver, notification):
    # The name resolves (once) to the allowed loopback address; the connection goes to that
    # address, never to a second lookup's answer.
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    transport = WebhookTransport(
        endpoint_for=lambda n: Endpoint(f"http://receiver.test:{receiver.port}/hook"),
        allowed=LOOPBACK_ONLY,
        resolver=resolver,
    )

    send(transport, notification)

    assert lookups == ["receiver.test"]
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["Host"] == f"receiver.test:{receiver.port}"
