"""What drf-spectacular cannot read from the views and serializers, added to the schema."""

from typing import Any

from watchdog.serializer_fields import EARLIEST_YEAR, LATEST_YEAR

# The deadline's year as written (watchdog.serializer_fields.AwareDateTimeField). Requests only:
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


# gunicorn answers a request line over limit_request_line (4094 bytes by default) itself,
# before Django sees it: any operation, given a long enough path or query string.
_URI_TOO_LONG = {"description": "The request line is too long (gunicorn's limit_request_line)."}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def state_server_answers(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A POSTPROCESSING_HOOKS entry: the 414 any operation may get from the server."""
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method in _METHODS:
                operation.setdefault("responses", {}).setdefault("414", _URI_TOO_LONG)
    return result
