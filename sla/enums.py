"""The values a ticket's SLA is spoken of in, as stored in the database and shown in the API.

Plain `StrEnum`s, so that the domain needs no Django: a member is its value ("on_track"),
compares and hashes as that string, and is stored as it. Model fields and filters take
their `choices` from `choices()`, labelled as Django labels TextChoices.
"""

from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Metric(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SlaState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    PAUSED = "paused"
    BREACHED = "breached"
    ACHIEVED = "achieved"


class Announcement(StrEnum):
    """The emails a ticket can cause; also the notification kinds."""

    CREATED = "created"
    WARNING = "warning"
    MISSED = "missed"


# Priorities ordered by urgency, for "ordering=priority".
PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}

# A metric the ticket has no deadline for (first response without a policy target).
UNTRACKED = ""
# States in which a metric's deadline is still ahead of it, and can be breached.
RUNNING_STATES = frozenset({SlaState.ON_TRACK, SlaState.AT_RISK})
# Statuses in which a ticket's clocks run: it is neither resolved nor closed.
ACTIVE_STATUSES = frozenset({Status.OPEN, Status.PENDING})


def choices(values: type[StrEnum]) -> list[tuple[str, str]]:
    """(value, label) pairs for a model field or a filter, labelled as TextChoices would be
    ("on_track" is "On Track"), so that the migrations see the choices they always had."""
    return [(member.value, member.name.replace("_", " ").title()) for member in values]
