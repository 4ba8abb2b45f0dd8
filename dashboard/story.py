"""A ticket's SLA story: the explanation of GET /api/tickets/<id>/sla/ laid out in time.

One list, oldest first, of what set or moved a deadline (the timeline), the warning
thresholds and deadlines of both metrics, and now, so a reader sees what has passed and
what is ahead; and the same drawn on one time axis (`chart`), rendered by the template as
an SVG (positions in attributes, colours in the stylesheet: no inline style).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.board import METRIC_LABELS
from sla.business_time import Calendar
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
    SlaEventKind.ACKNOWLEDGED: "Breach acknowledged",
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


# --- the chart: both metrics over time, closed hours and pauses shaded ------------------

CHART_WIDTH = 1000
LANE_TOP = 8
LANE_HEIGHT = 30
LANE_GAP = 14
AXIS_HEIGHT = 26
TICKS = 5
# Closed stretches beyond this many (a ticket open for months) are not shaded: the chart
# would be all stripes, and the page would carry thousands of rectangles.
MAX_CLOSED_SPANS = 300


@dataclass(frozen=True)
class Span:
    x: float
    width: float
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Marker:
    x: float
    # "threshold", "deadline" or "met" (a CSS class), or "tick" on the axis.
    kind: str
    label: str
    at: datetime


@dataclass(frozen=True)
class Lane:
    label: str
    y: int
    pauses: list[Span]
    markers: list[Marker]

    @property
    def label_y(self) -> int:
        return self.y + LANE_HEIGHT // 2 + 4


@dataclass(frozen=True)
class Chart:
    start: datetime
    end: datetime
    closed: list[Span]
    # False when there were too many closed stretches to shade (MAX_CLOSED_SPANS).
    shaded: bool
    lanes: list[Lane]
    now_x: float
    ticks: list[Marker]
    height: int
    lanes_bottom: int
    width: int = CHART_WIDTH


def chart(
    explained: dict[str, Any], *, calendar: Calendar, started_at: datetime, now: datetime
) -> Chart:
    """Both metrics on one time axis from the ticket's creation to past its last deadline:
    the calendar's closed hours and the resolution's pauses shaded, each warning threshold,
    deadline and first response or resolution marked, and now."""
    metrics = [
        (METRIC_LABELS[metric], explained[metric.value])
        for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION)
        if explained[metric.value]["deadline"] is not None
    ]
    instants = [_utc(started_at), _utc(now)]
    for _, found in metrics:
        instants.append(_utc(found["deadline"]))
        if found["met_at"] is not None:
            instants.append(_utc(found["met_at"]))
    first, last = min(instants), max(instants)
    margin = max((last - first) * 0.04, timedelta(minutes=5))
    start, end = first - margin, last + margin
    length = end - start

    def x(at: datetime) -> float:
        return round(min(max((_utc(at) - start) / length, 0.0), 1.0) * CHART_WIDTH, 2)

    def span(opens: datetime, closes: datetime) -> Span:
        return Span(x(opens), round(x(closes) - x(opens), 2), opens, closes)

    open_spans = calendar.open_spans(start, end)
    closed: list[Span] = []
    edge = start
    for opens, closes in [*open_spans, (end, end)]:
        if _utc(opens) > edge:
            closed.append(span(edge, _utc(opens)))
        edge = max(edge, _utc(closes))
    shaded = len(closed) <= MAX_CLOSED_SPANS
    lanes = []
    for index, (label, found) in enumerate(metrics):
        markers = [
            Marker(x(threshold["at"]), "threshold", f"{label}: warning threshold", threshold["at"])
            for threshold in found["thresholds"]
        ]
        markers.append(
            Marker(x(found["deadline"]), "deadline", f"{label}: deadline", found["deadline"])
        )
        if found["met_at"] is not None:
            markers.append(Marker(x(found["met_at"]), "met", f"{label}: met", found["met_at"]))
        pauses = [
            span(_utc(pause["started_at"]), _utc(pause["ended_at"] or now))
            for pause in found.get("pauses", [])
        ]
        lanes.append(Lane(label, LANE_TOP + index * (LANE_HEIGHT + LANE_GAP), pauses, markers))
    lanes_bottom = LANE_TOP + len(lanes) * (LANE_HEIGHT + LANE_GAP) - LANE_GAP
    ticks = [
        Marker(
            x(start + length * step / (TICKS - 1)), "tick", "", start + length * step / (TICKS - 1)
        )
        for step in range(TICKS)
    ]
    return Chart(
        start=start,
        end=end,
        closed=closed if shaded else [],
        shaded=shaded,
        lanes=lanes,
        now_x=x(now),
        ticks=ticks,
        height=lanes_bottom + AXIS_HEIGHT,
        lanes_bottom=lanes_bottom,
    )


def _utc(at: datetime) -> datetime:
    # Two datetimes of one zone subtract as wall clocks (an hour off across DST): UTC.
    return at.astimezone(UTC)
