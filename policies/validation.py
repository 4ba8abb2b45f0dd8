"""Rules for business calendars and SLA policies, shared by the models, the admin and the API.

Each rule raises django.core.exceptions.ValidationError, which the API answers with a 400
and the admin shows beside the field. Rules about a calendar's set of opening hours (no
overlaps, not empty) take the whole set, because only the caller knows which rows are
about to be saved: the API's payload, the admin's inline forms, or the rows in the database.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from holidays import country_holidays, list_supported_countries

HoursRow = tuple[int, time, time]
"""Weekday (0 = Monday), opening and closing wall-clock time; closing at 00:00 is midnight."""

_DAY_S = 86_400
# A target or lead time beyond a year is a typo (days for hours), not an SLA.
MAX_TARGET = timedelta(days=366)
MAX_THRESHOLDS = 10


def validate_time_zone(name: str) -> None:
    # ZoneInfo also opens relative paths ("../etc/x"); only plain IANA keys are zones here.
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise ValidationError(f"{name!r} is not an IANA time zone.", code="time_zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationError(
            f"{name!r} is not an IANA time zone (e.g. Europe/Berlin).", code="time_zone"
        ) from exc


def validate_holiday_region(country: str, subdivision: str) -> None:
    """A country (and subdivision) the `holidays` package knows; both may be empty."""
    if not country:
        if subdivision:
            raise ValidationError(
                {"holiday_subdivision": "A holiday subdivision needs a holiday country."}
            )
        return
    try:
        # Only a listed code reaches country_holidays(), which looks the name up as an
        # attribute of the package: "__dict__" would find something that is no country.
        if country not in list_supported_countries():
            raise NotImplementedError(country)
        country_holidays(country)
    except NotImplementedError as exc:  # how `holidays` says "unknown country"
        raise ValidationError(
            {"holiday_country": f"No public holidays are known for country {country!r}."}
        ) from exc
    if subdivision:
        try:
            country_holidays(country, subdiv=subdivision)
        except NotImplementedError as exc:
            raise ValidationError(
                {
                    "holiday_subdivision": (
                        f"No public holidays are known for subdivision {subdivision!r} "
                        f"of {country!r}."
                    )
                }
            ) from exc


def validate_interval(opens: time, closes: time) -> None:
    """One opening interval: closes after it opens, or at 00:00 meaning midnight."""
    for value in (opens, closes):
        if value.tzinfo is not None or value.microsecond:
            raise ValidationError("Opening hours are wall-clock times to the second.")
    if _seconds(opens) >= _end_seconds(closes):
        raise ValidationError(
            f"{opens:%H:%M:%S}-{closes:%H:%M:%S}: closing must be after opening (00:00 as "
            "closing time means midnight; split intervals that run over midnight)."
        )


def validate_week(*, is_24x7: bool, hours: Iterable[HoursRow]) -> None:
    """A calendar's whole set of opening hours: valid intervals, no overlaps, some open time."""
    rows = list(hours)
    for _, opens, closes in rows:
        validate_interval(opens, closes)
    by_day: dict[int, list[tuple[int, int]]] = {}
    for weekday, opens, closes in rows:
        if not 0 <= weekday <= 6:
            raise ValidationError(f"Weekday {weekday} is not 0 (Monday) to 6 (Sunday).")
        by_day.setdefault(weekday, []).append((_seconds(opens), _end_seconds(closes)))
    for weekday, intervals in sorted(by_day.items()):
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            if start < end:
                raise ValidationError(
                    f"Opening hours overlap on weekday {weekday} (0 = Monday).", code="overlap"
                )
    if not is_24x7 and not rows:
        raise ValidationError(
            "A calendar needs opening hours on at least one weekday, or is_24x7.", code="empty"
        )


def validate_target(value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValidationError("A target must be longer than zero.")
    if value > MAX_TARGET:
        raise ValidationError(f"A target can be at most {MAX_TARGET.days} days.")


def validate_lead_times(value: Any) -> None:
    """Warning lead times: a list of distinct whole seconds before the deadline."""
    items = _short_list(value)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValidationError("Lead times are whole numbers of seconds.")
        if not 0 < item <= MAX_TARGET.total_seconds():
            raise ValidationError(f"A lead time is 1 to {int(MAX_TARGET.total_seconds())} seconds.")
    _distinct(items)


def validate_percentages(value: Any) -> None:
    """Warning percentages: distinct numbers of the target elapsed, strictly between 0 and 100."""
    items = _short_list(value)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ValidationError("Percentages are numbers.")
        if not 0 < item < 100:
            raise ValidationError("A percentage is strictly between 0 and 100.")
    _distinct(items)


def _short_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError("Expected a list.")
    if len(value) > MAX_THRESHOLDS:
        raise ValidationError(f"At most {MAX_THRESHOLDS} thresholds.")
    return value


def _distinct(items: list[Any]) -> None:
    if len(set(items)) != len(items):
        raise ValidationError("Thresholds must be distinct.")


def _seconds(wall: time) -> int:
    return wall.hour * 3600 + wall.minute * 60 + wall.second


def _end_seconds(wall: time) -> int:
    return _seconds(wall) or _DAY_S
