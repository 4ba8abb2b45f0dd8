"""The business calendar of the worked example in docs/sla.md, shared by the policy tests."""

from datetime import time

from policies import services as policy_services
from policies.models import BusinessCalendar


def berlin_office() -> BusinessCalendar:
    """Monday to Friday 9:00-17:00 in Europe/Berlin, closed on German public holidays."""
    return policy_services.create_calendar(
        name="Berlin office",
        time_zone="Europe/Berlin",
        holiday_country="DE",
        opening_hours=[(weekday, time(9), time(17)) for weekday in range(5)],
    )
