"""The SSRF guard: a webhook URL may only reach public addresses, unless allowed.

A webhook URL is typed by whoever manages endpoints; without a guard, the server would
POST wherever it points: its own admin on 127.0.0.1, a database on the private network,
the cloud metadata service at 169.254.169.254. So an address that is not public (loopback,
private, link-local, shared, reserved, multicast, unspecified, and IPv4 addresses written
as IPv6) is refused unless a network of WEBHOOK_ALLOWED_NETWORKS holds it.

Checked twice: when the URL is saved (`check_url`, for a clear 400), and when connecting
(`GuardedBackend`), on the addresses the name resolves to *then*, connecting to the very
address checked. A name that resolved to a public address at save time and to 127.0.0.1
at send time (DNS rebinding) is refused before any packet leaves.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses the name stands for (socket.getaddrinfo, normally).
Resolver = Callable[[str, int], list[Address]]


class UnsafeAddress(Exception):
    """The URL leads, or may lead, somewhere a webhook must not reach."""


def networks(names: Iterable[str]) -> list[Network]:
    """WEBHOOK_ALLOWED_NETWORKS as networks (the settings already refused malformed ones)."""
    return [ipaddress.ip_network(name, strict=False) for name in names]


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to now (an IP literal: itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeAddress(f"cannot resolve {host!r}: {error}") from error
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def check_address(address: Address, allowed: Sequence[Network]) -> None:
    """Refuse `address` unless it is public, or within an allowed network."""
    if any(address in network for network in allowed if network.version == address.version):
        return
    mapped = getattr(address, "ipv4_mapped", None) or getattr(address, "sixtofour", None)
    if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1, judged as such
        check_address(mapped, allowed)
        return
    if not address.is_global or address.is_multicast:
        raise UnsafeAddress(f"{address} is not a public address")


def check_url(url: str, *, allowed: Sequence[Network], resolver: Resolver = resolve) -> None:
    """Refuse a webhook URL that is not http(s) with a host, or leads to any non-public
    address (save time; connect time checks again)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise UnsafeAddress(f"not a URL: {error}") from error
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeAddress("the URL must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeAddress("the URL must not carry credentials; the secret signs instead")
    for address in _addresses(parts.hostname, port, resolver):
        check_address(address, allowed)


def _addresses(host: str, port: int, resolver: Resolver) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]  # a literal is not looked up
    except ValueError:
        pass
    found = resolver(host, port)
    if not found:
        raise UnsafeAddress(f"{host!r} resolves to no address")
    return found


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to checked addresses.

    The name is resolved here, each address checked, and the socket connected to a checked
    address (the first that answers): never resolved a second time by anyone, so what was
    checked is what is reached. TLS still verifies the certificate against the URL's host
    name, which httpcore passes to start_tls separately.
    """

    def __init__(self, *, allowed: Sequence[Network], resolver: Resolver = resolve) -> None:
        self.allowed = list(allowed)
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _addresses(host, port, self.resolver)
            for address in addresses:  # all of them: a name mixing good and bad is refused
                check_address(address, self.allowed)
        except UnsafeAddress as error:
            raise RefusedConnect(str(error)) from error
        last: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return CoalescingStream(
                    super().connect_tcp(str(address), port, timeout, local_address, socket_options)
                )
            except httpcore.ConnectError as error:
                last = error
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


class CoalescingStream(httpcore.NetworkStream):
    """A connection that sends a request's pieces together, when the answer is awaited.

    httpcore writes a request's headers and its body with one system call each: two
    segments, two wake-ups of the receiver, per webhook. Held until the first read (or
    the TLS handshake), they leave in one. Nothing is read before the request is
    complete, so nothing waits longer than it did.
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._timeout: float | None = None

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._pending.append(buffer)
            self._timeout = timeout

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._stream.write(data, self._timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._flush()
        return self._stream.read(max_bytes, timeout)

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        self._flush()
        return CoalescingStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def close(self) -> None:
        self._pending.clear()
        self._stream.close()

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class RefusedConnect(httpcore.ConnectError):
    """GuardedBackend's refusal, told apart from a connection that failed (no retry helps)."""


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every webhook client shares, made once per process.

    Loading certifi's CA bundle takes tens of milliseconds: made per client, and twice
    (httpx's default and ours), it cost more than the POSTs of a small batch. A context
    is safe to share between connections and threads; nothing changes it after this.
    """
    return ssl.create_default_context(cafile=certifi.where())


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over GuardedBackend: the pool httpx builds, with our backend."""

    def __init__(
        self,
        *,
        allowed: Sequence[Network],
        resolver: Resolver = resolve,
        limits: httpx.Limits = httpx.Limits(max_connections=10, max_keepalive_connections=10),  # noqa: B008
    ) -> None:
        super().__init__(verify=tls_context(), limits=limits, trust_env=False)
        # httpx 0.28 has no parameter for the network backend: the pool it built is
        # replaced by the same one over ours (httpx is pinned; the tests would notice).
        self._pool = httpcore.ConnectionPool(
            ssl_context=tls_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(allowed=allowed, resolver=resolver),
        )
