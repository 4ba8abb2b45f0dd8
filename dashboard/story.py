"""A ticket's SLA story: the explanation of GET /api/tickets/<id>/sla/ laid out in time.

One list, oldest first, of what set or moved a deadline (the timeline), the warning
thresholds and deadlines of both metrics, and now, so a reader sees what has passed and
what is ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.board import METRIC_LABELS
from sla.enums import Metric
from tickets.models import SlaEventKind

EVENT_LABELS = {
    SlaEventKind.POLICY_APPLIED: "Policy deadline set",
    SlaEventKind.MANUAL_DEADLINE: "Deadline set by hand",
    SlaEventKind.PRIORITY_CHANGED: "Priority changed",
    SlaEventKind.PAUSED: "Paused (waiting on the customer)",
    SlaEventKind.RESUMED: "Resumed",
    SlaEventKind.POLICY_EDITED: "Policy edited",
    SlaEventKind.CALENDAR_EDITED: "Calendar edited",
    SlaEventKind.RESPONDED: "First response",
    SlaEventKind.RESOLVED: "Resolved",
    SlaEventKind.REOPENED: "Reopened",
}

# Of entries at one instant: events, then thresholds, then the deadline, then now.
_ORDER = {"event": 0, "threshold": 1, "deadline": 2, "now": 3}


@dataclass(frozen=True)
class Entry:
    at: datetime
    # "event", "threshold", "deadline" or "now": what the entry marks (a CSS class too).
    kind: str
    text: str
    metric_label: str = ""
    # For events: the deadline after it, and before it when it moved one.
    deadline: datetime | None = None
    previous_deadline: datetime | None = None
    # For a threshold or deadline: the time left it stands for, and whether it is behind.
    seconds_left: int | None = None
    passed: bool = False


def timeline(explained: dict[str, Any], *, now: datetime) -> list[Entry]:
    entries = [
        Entry(
            at=event["at"],
            kind="event",
            text=EVENT_LABELS.get(event["kind"], event["kind"]) + _detail(event["detail"]),
            metric_label=METRIC_LABELS.get(event["metric"], "") if event["metric"] else "",
            deadline=event["deadline"],
            previous_deadline=event["previous_deadline"],
        )
        for event in explained["timeline"]
    ]
    for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
        found = explained[metric.value]
        if found["deadline"] is None:
            continue
        label = METRIC_LABELS[metric]
        reading = found["met_at"] or now
        entries.extend(
            Entry(
                at=threshold["at"],
                kind="threshold",
                text="Warning threshold",
                metric_label=label,
                seconds_left=threshold["seconds_left"],
                passed=threshold["passed"],
            )
            for threshold in found["thresholds"]
        )
        entries.append(
            Entry(
                at=found["deadline"],
                kind="deadline",
                text="Deadline",
                metric_label=label,
                passed=found["deadline"] <= reading,
            )
        )
    entries.append(Entry(at=now, kind="now", text="Now", passed=True))
    return sorted(entries, key=lambda entry: (entry.at, _ORDER[entry.kind]))


def _detail(detail: str) -> str:
    return f": {detail}" if detail else ""
