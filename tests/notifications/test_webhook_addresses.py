"""The SSRF guard: webhook URLs reach public addresses only, at save and at connect time.

Name resolution is real (localhost from the system's hosts file) except where a test
needs a name to change its answer (DNS rebinding): there a resolver function stands in
for a hostile DNS server, which cannot run here.
"""

import ipaddress
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from notifications.models import Notification
from notifications.transports import addresses
from notifications.transports.addresses import UnsafeAddress, check_url
from notifications.transports.base import TransportError
from notifications.transports.webhook import WebhookTransport
from tests.webhook_receiver import LOOPBACK, Endpoint, Receiver, _handler, send

PUBLIC = ipaddress.ip_address("93.184.215.14")
LOOPBACK_ONLY = [ipaddress.ip_network("127.0.0.1/32")]


@pytest.fixture
def notification(clock, make_ticket) -> Notification:
    make_ticket()
    return Notification.objects.get()


@pytest.fixture
def connects(monkeypatch) -> list[Any]:
    """Every TCP connect this process makes, recorded, then made for real.

    socket.socket.connect is where any connection (httpcore's create_connection among
    them) leaves: nothing recorded here means no SYN was sent, to any address.
    """
    made: list[Any] = []
    real = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        made.append(address)
        real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return made


@pytest.fixture
def listeners() -> Iterator[dict[str, socket.socket]]:
    """Listening sockets on 127.0.0.1 and [::1]: a connection to either would be queued."""
    opened = {}
    for family, host in [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")]:
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.bind((host, 0))
        listener.listen(8)
        listener.setblocking(False)
        opened[host] = listener
    yield opened
    for listener in opened.values():
        listener.close()


def nobody_connected(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


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


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{v4}/hook",  # the system's resolver: /etc/hosts
        "http://127.0.0.1:{v4}/hook",
        "http://[::1]:{v6}/hook",
        "http://[::ffff:127.0.0.1]:{v4}/hook",
        "http://10.0.0.5/hook",
        "http://10.255.1.2:8443/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
    ],
)
def test_an_ssrf_attempt_at_send_time_sends_no_packet(notification, connects, listeners, url):
    url = url.format(
        v4=listeners["127.0.0.1"].getsockname()[1], v6=listeners["::1"].getsockname()[1]
    )
    transport = WebhookTransport(endpoint_for=lambda n: Endpoint(url), allowed=[])

    with pytest.raises(TransportError) as refusal:
        send(transport, notification)

    assert refusal.value.permanent
    assert "not a public address" in str(refusal.value)
    assert connects == []  # not a connect, to any address
    assert all(nobody_connected(listener) for listener in listeners.values())


def test_a_name_resolving_to_loopback_is_looked_up_but_never_connected_to(
    notification, connects, listeners
):
    port = listeners["127.0.0.1"].getsockname()[1]
    lookups = []

    def resolver(host, port):
        lookups.append((host, port))
        return [ipaddress.ip_address("127.0.0.1")]

    transport = WebhookTransport(
        endpoint_for=lambda n: Endpoint(f"http://hooks.internal.example:{port}/hook"),
        allowed=[],
        resolver=resolver,
    )

    with pytest.raises(TransportError) as refusal:
        send(transport, notification)

    assert refusal.value.permanent
    assert lookups == [("hooks.internal.example", port)]  # consulted at send time...
    assert connects == []  # ...and nothing sent
    assert nobody_connected(listeners["127.0.0.1"])


def test_rebinding_connects_to_the_address_checked_at_send_not_to_another_lookup(
    receiver, notification, connects
):
    # Public at save time; at send time one lookup, checked, and the connection made to
    # exactly that address (loopback, allowed here): a second answer is never asked for.
    answers = iter([[PUBLIC], [ipaddress.ip_address("127.0.0.1")], [PUBLIC]])

    def rebinding(host, port):
        return next(answers)

    url = f"http://rebind.example:{receiver.port}/hook"
    check_url(url, allowed=[], resolver=rebinding)
    transport = WebhookTransport(
        endpoint_for=lambda n: Endpoint(url), allowed=LOOPBACK_ONLY, resolver=rebinding
    )

    send(transport, notification)

    assert connects == [("127.0.0.1", receiver.port)]
    assert len(receiver.received) == 1
    assert next(answers) == [PUBLIC]  # the third answer was never consumed


# --- TLS: the certificate is checked against the URL's name, at the checked address -----------


@pytest.fixture
def tls_receiver(tmp_path) -> Iterator[tuple[Receiver, ssl.SSLContext]]:
    """An HTTPS receiver on loopback with a certificate for receiver.test (made here by
    openssl), and a client context that trusts that certificate alone."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=receiver.test",
            "-addext",
            "subjectAltName=DNS:receiver.test",
        ],
        check=True,
        capture_output=True,
    )
    state = Receiver()
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(state))
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    server.socket = server_side.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, ssl.create_default_context(cafile=str(cert))
    server.shutdown()
    server.server_close()


def to_loopback(host, port):
    return [ipaddress.ip_address(LOOPBACK)]


def test_https_reaches_the_checked_address_with_the_certificate_checked_for_the_name(
    tls_receiver, notification, connects, monkeypatch
):
    receiver, trusted = tls_receiver
    monkeypatch.setattr(addresses, "tls_context", lambda: trusted)
    transport = WebhookTransport(
        endpoint_for=lambda n: Endpoint(f"https://receiver.test:{receiver.port}/hook"),
        allowed=LOOPBACK_ONLY,
        resolver=to_loopback,
    )

    send(transport, notification)

    assert connects == [(LOOPBACK, receiver.port)]
    [got] = receiver.received
    assert got.headers["Host"] == f"receiver.test:{receiver.port}"
    assert got.headers["X-Watchdog-Event-Id"] == str(notification.message_key)


@pytest.mark.parametrize("trust", ["ours", "public CAs only"])
def test_https_to_a_name_the_certificate_is_not_for_sends_nothing(
    tls_receiver, notification, monkeypatch, trust
):
    receiver, trusted = tls_receiver
    if trust == "ours":
        monkeypatch.setattr(addresses, "tls_context", lambda: trusted)
        url = f"https://impostor.test:{receiver.port}/hook"  # the certificate is another's
    else:
        url = f"https://receiver.test:{receiver.port}/hook"  # no public CA signed it
    transport = WebhookTransport(
        endpoint_for=lambda n: Endpoint(url), allowed=LOOPBACK_ONLY, resolver=to_loopback
    )

    with pytest.raises(TransportError) as refusal:
        send(transport, notification)

    assert "CERTIFICATE_VERIFY_FAILED" in str(refusal.value)
    assert receiver.received == []
