"""The time zone a page shows its times in.

The reader's profile's time zone (people.models.Profile, GET/PATCH /api/me/) when they
chose one other than the profile's default; else the browser's own zone, which
dashboard/static/dashboard/pages.js writes into the `tz` cookie; settings.TIME_ZONE
until it has. A profile left at its default (UTC) cannot be told from one set to UTC on
purpose: both follow the browser.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest

from people.models import Profile
from watchdog.zones import known_zones

COOKIE = "tz"
# What Profile.time_zone holds until its user picks a zone.
PROFILE_DEFAULT = Profile._meta.get_field("time_zone").get_default()


def display_zone(request: HttpRequest) -> ZoneInfo:
    """The zone `request`'s pages are shown in: the profile's chosen zone, else a known
    IANA name from the cookie, else the server's TIME_ZONE. Anything else in the cookie
    is ignored, never an error."""
    chosen = _profile_zone(request)
    if chosen is not None:
        return chosen
    name = request.COOKIES.get(COOKIE, "")
    if name in known_zones():
        return ZoneInfo(name)
    return ZoneInfo(settings.TIME_ZONE)


def _profile_zone(request: HttpRequest) -> ZoneInfo | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    name = Profile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    if not name or name == PROFILE_DEFAULT or name not in known_zones():
        return None
    return ZoneInfo(name)
