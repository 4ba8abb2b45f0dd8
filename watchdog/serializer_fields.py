"""Serializer fields for any app's API: text that is text, datetimes with an offset."""

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

# Deadlines outside this range are typos (year 20266) or test junk (year 1). The schema
# states the range for request bodies (watchdog.schema.state_request_rules).
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an explicit UTC offset. A naive time would be a guess, so it is refused."""

    default_error_messages = {
        "naive": "Include a UTC offset, e.g. 2026-11-27T17:00:00Z or 2026-11-27T18:00:00+01:00.",
        "range": f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            if "\x00" in value:  # CPython's fromisoformat stops reading at a NUL
                self.fail("invalid", format="ISO 8601 with a UTC offset")
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
            # The year as written, which the schema's pattern can state, not after the
            # conversion to UTC (2100-12-31T23:00:00-05:00 is in 2101 in UTC).
            if parsed is not None and not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
                self.fail("range")
        result = super().to_internal_value(value)
        if not isinstance(value, str) and not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
            self.fail("range")
        return result


class StrictCharField(serializers.CharField):
    """Text, and only text: DRF's CharField would quietly store 42 as "42"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        # The schema's maxLength is of the text as sent; DRF would count it only after
        # trimming whitespace, and so accept 256 characters that begin with a space.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)
