"""The time zone a page shows its times in.

The browser's own zone, which dashboard/static/dashboard/pages.js writes into the `tz`
cookie (no personal setting exists yet); settings.TIME_ZONE until it has. A user profile
with a time zone would be read here, and nowhere else.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest

from watchdog.zones import known_zones

COOKIE = "tz"


def display_zone(request: HttpRequest) -> ZoneInfo:
    """The zone `request`'s pages are shown in: a known IANA name from the cookie, or the
    server's TIME_ZONE. Anything else in the cookie is ignored, never an error."""
    name = request.COOKIES.get(COOKIE, "")
    if name in known_zones():
        return ZoneInfo(name)
    return ZoneInfo(settings.TIME_ZONE)
