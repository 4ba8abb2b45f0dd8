"""Slack-compatible incoming webhooks: a Block Kit message POSTed to the channel's URL.

Mattermost and Rocket.Chat accept the same payload. Such URLs are secrets in themselves
and their receivers verify no signature, so none is sent; everything else (the guard,
timeouts, reused connections, what is retried) is the webhook transport's.
"""

from __future__ import annotations

from typing import Any

from notifications.emails import escalation_note, headline
from notifications.models import Notification
from notifications.transports.webhook import WebhookTransport

_EMOJI = {"created": ":new:", "warning": ":warning:", "missed": ":rotating_light:"}


def blocks(notification: Notification) -> dict[str, Any]:
    """The message: a header, the ticket's facts as fields, the event id as context."""
    ticket = notification.ticket
    title = f"{headline(notification)}{escalation_note(notification)}: #{ticket.pk} {ticket.title}"
    fields = [
        ("Priority", ticket.priority),
        ("Status", ticket.status),
        ("Deadline", notification.deadline.isoformat()),
        ("Owner", ticket.owner.get_username()),
    ]
    return {
        # Shown where blocks are not (notifications, older clients).
        "text": _escape(title[:3000]),
        "blocks": [
            {
                "type": "header",
                # Slack's limit for a header's text: 150 characters.
                "text": {"type": "plain_text", "text": title[:150], "emoji": True},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{_escape(value)}"}
                    for name, value in fields
                ],
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{_EMOJI.get(notification.kind, '')} SLA Watchdog · "
                        f"event {notification.message_key}",
                    }
                ],
            },
        ],
    }


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn: a title cannot ping @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackTransport(WebhookTransport):
    signed = False

    def body(self, notification: Notification) -> dict[str, Any]:
        return blocks(notification)
