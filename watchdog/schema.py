"""Rules of request bodies that drf-spectacular cannot read from the serializers."""

from typing import Any

from tickets.serializers import EARLIEST_YEAR, LATEST_YEAR

# The deadline's year as written (tickets.serializers.AwareDateTimeField). Requests only:
# an answer is in UTC, where 2000-01-01T05:00:00+14:00 is in 1999.
if (EARLIEST_YEAR, LATEST_YEAR) != (2000, 2100):
    raise AssertionError("DEADLINE_YEAR_PATTERN assumes the years 2000 to 2100")
DEADLINE_YEAR_PATTERN = r"^(20[0-9][0-9]|2100)-"
_TICKET_REQUESTS = ("TicketRequest", "PatchedTicketRequest")


def state_request_rules(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A POSTPROCESSING_HOOKS entry: the deadline's year range, as a pattern."""
    components = result.get("components", {}).get("schemas", {})
    for name in _TICKET_REQUESTS:
        deadline = components.get(name, {}).get("properties", {}).get("deadline")
        if deadline is not None:
            deadline["pattern"] = DEADLINE_YEAR_PATTERN
            deadline["description"] = (
                f"ISO 8601 with a UTC offset, in the years {EARLIEST_YEAR} to {LATEST_YEAR} "
                "as written. Optional when an SLA policy applies to the ticket's priority."
            )
    return result
