"""The IANA time zone names this server knows, for checking a name before using it."""

from functools import lru_cache
from zoneinfo import available_timezones


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """The names zoneinfo knows here, read from the system's database once: only these are
    accepted, so no name a client sends reaches ZoneInfo's file lookup unchecked."""
    return frozenset(available_timezones())
