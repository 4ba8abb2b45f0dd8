"""Signed webhooks: a notification POSTed as JSON to an endpoint's URL.

Delivery drives it through transports/endpoints.py, which gives each row its Endpoint
model (notifications.models) and disables an endpoint on 410.

What a receiver gets (docs/webhooks.md):

- the body, JSON (`payload`), the same bytes on every attempt;
- `X-Watchdog-Event-Id`: the notification's message key, stable across retries, to drop
  a repeat;
- `X-Watchdog-Timestamp`: Unix seconds when this attempt was signed;
- `X-Watchdog-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the endpoint's
  secret, of the timestamp, a dot and the body: the scheme of GitHub and Stripe, which a
  receiver checks in five lines and uses to refuse replays of old timestamps.

Outcomes: 2xx accepted; 410 Gone is permanent and disables the endpoint (`on_gone`);
408, 425, 429, 5xx, timeouts and refused connections are transient (retried with
backoff); any other 4xx is permanent (the receiver refuses this request as it is); an
address the guard refuses (transports/addresses.py) is permanent.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from django.conf import settings
from django.utils import timezone

from notifications.emails import escalation_note, headline
from notifications.models import Notification
from notifications.transports.addresses import (
    GuardedTransport,
    Network,
    RefusedConnect,
    Resolver,
    networks,
    resolve,
)
from notifications.transports.base import SetAside, Transport, TransportError

EVENT_ID_HEADER = "X-Watchdog-Event-Id"
TIMESTAMP_HEADER = "X-Watchdog-Timestamp"
SIGNATURE_HEADER = "X-Watchdog-Signature"
NO_ENDPOINT = "no webhook endpoint for this notification"
# Transient refusals: the receiver asks to be tried again later.
_TRANSIENT_4XX = frozenset({408, 425, 429})


class Endpoint(Protocol):
    """Where a webhook goes (notifications.models.Endpoint has these)."""

    @property
    def url(self) -> str: ...

    @property
    def secret(self) -> str: ...


@dataclass(frozen=True)
class WebhookMessage:
    endpoint: Endpoint
    event_id: str
    body: bytes


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 of "timestamp.body" with the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def payload(notification: Notification) -> dict[str, Any]:
    """The JSON a receiver gets: the event, and the ticket it is about."""
    ticket = notification.ticket
    return {
        "id": str(notification.message_key),
        "type": f"sla.{notification.kind}",
        "headline": headline(notification) + escalation_note(notification),
        "metric": notification.metric,
        "deadline": notification.deadline.isoformat(),
        # A warning's threshold, in business seconds before the deadline; null otherwise.
        "threshold_seconds": notification.threshold or None,
        "created_at": notification.created_at.isoformat() if notification.created_at else None,
        # 0: the team's copy of the owner's announcement; 1, 2, ...: an escalation level's
        # (docs/escalation.md), `repeat` counting its re-notifications.
        "level": notification.level,
        "repeat": notification.repeat,
        "ticket": {
            "id": ticket.pk,
            "title": ticket.title,
            "status": ticket.status,
            "priority": ticket.priority,
            "owner": ticket.owner.get_username(),
        },
    }


class WebhookTransport(Transport[WebhookMessage]):
    """One httpx transport (a connection pool) for a batch: connections to each receiver
    are kept and reused.

    Requests go straight to the transport, not through an httpx.Client: a client's
    cookies, auth, redirects, event hooks and header merging are nothing a webhook needs
    (no redirect is followed anyway), and skipping them halved what a POST costs the
    sender (bench/README.md, "Fan-out to channels"). What the client did that matters is
    done here: the timeout, the User-Agent, no proxy from the environment.
    """

    signed = True
    user_agent = "SLA-Watchdog-Webhook/1"

    def __init__(
        self,
        *,
        endpoint_for: Callable[[Notification], Endpoint | None],
        on_gone: Callable[[Endpoint], None] = lambda endpoint: None,
        timeout: float | None = None,
        allowed: Sequence[Network] | None = None,
        resolver: Resolver = resolve,
        clock: Callable[[], datetime] = timezone.now,
    ) -> None:
        self.endpoint_for = endpoint_for
        self.on_gone = on_gone
        self.timeout = settings.WEBHOOK_TIMEOUT if timeout is None else timeout
        self.allowed = (
            networks(settings.WEBHOOK_ALLOWED_NETWORKS) if allowed is None else list(allowed)
        )
        self.resolver = resolver
        self.clock = clock
        self.pool: GuardedTransport | None = None
        # Connect, write, read and pool wait: each at most the timeout, as a client sets.
        self._extensions = {"timeout": httpx.Timeout(self.timeout).as_dict()}
        # recipient() finds the endpoint, prepare() needs its secret: kept in between.
        self._endpoints: dict[int, Endpoint] = {}

    def recipient(self, notification: Notification) -> str | SetAside:
        endpoint = self.endpoint_for(notification)
        if endpoint is None:
            return SetAside(NO_ENDPOINT)
        self._endpoints[notification.pk] = endpoint
        return endpoint.url

    def prepare(self, notification: Notification, *, recipient: str) -> WebhookMessage:
        endpoint = self._endpoints.pop(notification.pk)
        try:
            body = json.dumps(self.body(notification), separators=(",", ":")).encode()
        except (TypeError, ValueError) as error:
            raise TransportError(f"cannot build the payload: {error}", permanent=True) from error
        return WebhookMessage(endpoint=endpoint, event_id=str(notification.message_key), body=body)

    def body(self, notification: Notification) -> dict[str, Any]:
        return payload(notification)

    def open(self) -> None:
        self._pool()

    def _pool(self) -> GuardedTransport:
        # No connection yet: each receiver is connected to on its first POST, and kept.
        # Redirects are never followed (a redirect could lead past the guard's first
        # check), and no proxy is taken from the environment.
        if self.pool is None:
            self.pool = GuardedTransport(allowed=self.allowed, resolver=self.resolver)
        return self.pool

    def headers(self, message: WebhookMessage) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            EVENT_ID_HEADER: message.event_id,
        }
        if self.signed:
            timestamp = int(self.clock().timestamp())
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(message.endpoint.secret, timestamp, message.body)
        return headers

    def send(self, message: WebhookMessage, *, recipient: str) -> None:
        try:
            request = httpx.Request(
                "POST",
                recipient,
                content=message.body,
                headers=self.headers(message),
                extensions=self._extensions,
            )
            response = self._pool().handle_request(request)
            try:
                response.read()  # the answer's body, so the connection can serve the next
            finally:
                response.close()
        except httpx.ConnectError as error:
            if isinstance(error.__cause__, RefusedConnect):  # the guard's: no retry helps
                raise TransportError(f"refused: {error}", permanent=True) from error
            raise TransportError(f"cannot connect: {error}", permanent=False) from error
        except httpx.TimeoutException as error:
            raise TransportError(f"timed out: {type(error).__name__}", permanent=False) from error
        except httpx.InvalidURL as error:
            raise TransportError(f"not a valid URL: {error}", permanent=True) from error
        except httpx.HTTPError as error:
            raise TransportError(f"{type(error).__name__}: {error}", permanent=False) from error
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 410:
            self.on_gone(message.endpoint)
            raise TransportError("HTTP 410 Gone: endpoint disabled", permanent=True)
        permanent = 400 <= status < 500 and status not in _TRANSIENT_4XX
        raise TransportError(f"HTTP {status}", permanent=permanent)

    def close(self) -> None:
        if self.pool is not None:
            with contextlib.suppress(Exception):
                self.pool.close()
            self.pool = None
