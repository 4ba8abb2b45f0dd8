"""Quiet hours: when a person does not want to be woken, and when that ends. Pure Python.

Either a daily span of wall-clock time in the person's time zone (22:00-07:00 runs past
midnight; DST moves the instants, never the wall times) or "whenever this business
calendar is closed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sla.business_time import Calendar


@dataclass(frozen=True)
class QuietHours:
    zone: ZoneInfo
    start: time | None = None
    end: time | None = None
    calendar: Calendar | None = None  # quiet whenever it is closed

    def until(self, now: datetime) -> datetime | None:
        """When the quiet that `now` falls in ends; None when `now` is not quiet."""
        ends = [self._span_end(now), self._calendar_end(now)]
        found = [end for end in ends if end is not None]
        return max(found) if found else None

    def _span_end(self, now: datetime) -> datetime | None:
        if self.start is None or self.end is None:
            return None
        local = now.astimezone(self.zone)
        wall = local.time().replace(tzinfo=None)
        today = local.date()
        if self.start < self.end:  # within one day: 13:00-14:00
            if not self.start <= wall < self.end:
                return None
            day = today
        elif wall >= self.start:  # past midnight: 22:00-07:00, now in the evening
            day = today + timedelta(days=1)
        elif wall < self.end:  # ... now in the early morning
            day = today
        else:
            return None
        # The wall time on that day, as an instant (a time DST skips maps past the gap).
        return datetime.combine(day, self.end, tzinfo=self.zone).astimezone(now.tzinfo)

    def _calendar_end(self, now: datetime) -> datetime | None:
        if self.calendar is None or self.calendar.is_open(now):
            return None
        return self.calendar.next_open(now)
