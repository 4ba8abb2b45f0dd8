"""The webhook and Slack transports as delivery uses them: each row to its own Endpoint.

A row's endpoint comes with it from the claim (notifications.delivery). An endpoint that
is disabled, by staff or by a 410 earlier in the batch, gets nothing: its rows are set
aside (skipped) with the reason. A 410 Gone disables the endpoint at once, recording why,
and skips its other pending rows: the row that got the 410 fails (permanent error).
"""

from __future__ import annotations

from notifications.models import DeliveryStatus, Endpoint, EndpointKind, Notification
from notifications.transports.base import SetAside
from notifications.transports.slack import SlackTransport
from notifications.transports.webhook import (
    NO_ENDPOINT,
    WebhookMessage,
    WebhookTransport,
)
from notifications.transports.webhook import Endpoint as Target

GONE_REASON = "the receiver answered 410 Gone"


def disabled(reason: str) -> str:
    """The last_error of a row not sent because its endpoint is disabled."""
    return f"endpoint disabled: {reason or 'by staff'}"


class _Routed(WebhookTransport):
    def __init__(self) -> None:
        super().__init__(endpoint_for=self._endpoint_for, on_gone=self._gone)
        self._gone_reason: dict[int, str] = {}
        self._in_flight = ""

    def recipient(self, notification: Notification) -> str | SetAside:
        endpoint = notification.endpoint
        if endpoint is None:
            return SetAside(NO_ENDPOINT)
        if endpoint.pk in self._gone_reason:
            return SetAside(disabled(self._gone_reason[endpoint.pk]))
        if not endpoint.enabled:
            return SetAside(disabled(endpoint.disabled_reason))
        return super().recipient(notification)

    def _endpoint_for(self, notification: Notification) -> Target | None:
        return notification.endpoint

    def send(self, message: WebhookMessage, *, recipient: str) -> None:
        self._in_flight = message.event_id
        super().send(message, recipient=recipient)

    def _gone(self, target: Target) -> None:
        if not isinstance(target, Endpoint):  # pragma: no cover - always ours here
            return
        disable_gone(target, in_flight=self._in_flight)
        self._gone_reason[target.pk] = GONE_REASON


def disable_gone(endpoint: Endpoint, *, in_flight: str = "") -> int:
    """Disable an endpoint whose receiver is gone; skip its other pending rows."""
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=GONE_REASON)
    endpoint.enabled = False
    endpoint.disabled_reason = GONE_REASON
    pending = Notification.objects.filter(endpoint_id=endpoint.pk, status=DeliveryStatus.PENDING)
    if in_flight:
        pending = pending.exclude(message_key=in_flight)
    return pending.update(
        status=DeliveryStatus.SKIPPED, next_attempt_at=None, last_error=disabled(GONE_REASON)
    )


class EndpointWebhookTransport(_Routed):
    """Signed JSON to the row's webhook endpoint."""


class EndpointSlackTransport(SlackTransport, _Routed):
    """A Block Kit message to the row's Slack endpoint."""


TRANSPORTS: dict[str, type[_Routed]] = {
    EndpointKind.WEBHOOK: EndpointWebhookTransport,
    EndpointKind.SLACK: EndpointSlackTransport,
}
