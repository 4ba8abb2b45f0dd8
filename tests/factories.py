"""factory_boy factories: users, teams, tickets, business calendars and SLA policies.

Tickets, calendars and policies are made through their services, as the API makes them,
so their deadlines, SLA state and timeline are what production would store. Pass a
field to set it; `TicketFactory(deadline=None)` lets the ticket's policy set its deadline.
"""

from typing import Any

import factory.django
from django.contrib.auth.models import User
from django.utils import timezone
from factory.declarations import LazyAttribute, LazyFunction, Sequence, SubFactory

from people import services as people_services
from people.models import Team
from policies import services as policy_services
from policies.models import BusinessCalendar, SlaPolicy
from sla.enums import Priority
from tests.durations import HOUR
from tickets import services
from tickets.models import Ticket

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = Sequence(lambda n: f"user{n}")
    email = LazyAttribute(lambda user: f"{user.username}@example.com")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> Any:
        # As registration does: the username and email normalised, the password hashed.
        return model_class.objects.create_user(*args, **kwargs)


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    """A team, made by people.services; pass `members=[...]` and `lead=`."""

    class Meta:
        model = Team

    name = Sequence(lambda n: f"Team {n}")

    @classmethod
    def _create(cls, model_class: type[Team], *args: Any, **kwargs: Any) -> Any:
        return people_services.create_team(**kwargs)


class CalendarFactory(factory.django.DjangoModelFactory[BusinessCalendar]):
    """Open around the clock, in UTC, unless told otherwise."""

    class Meta:
        model = BusinessCalendar

    name = Sequence(lambda n: f"Calendar {n}")
    time_zone = "UTC"
    is_24x7 = True

    @classmethod
    def _create(cls, model_class: type[BusinessCalendar], *args: Any, **kwargs: Any) -> Any:
        return policy_services.create_calendar(**kwargs)


class PolicyFactory(factory.django.DjangoModelFactory[SlaPolicy]):
    """The default policy (no priority of its own): 4 hours to resolution, around the clock."""

    class Meta:
        model = SlaPolicy

    name = Sequence(lambda n: f"Policy {n}")
    calendar = SubFactory(CalendarFactory)
    priority = None
    resolution_target = 4 * HOUR

    @classmethod
    def _create(cls, model_class: type[SlaPolicy], *args: Any, **kwargs: Any) -> Any:
        return policy_services.create_policy(**kwargs)


def urgent_policy(calendar: BusinessCalendar, **extra: Any) -> SlaPolicy:
    """The tests' urgent policy: PolicyFactory's 4 hours to resolution, on `calendar`, for
    urgent tickets; `extra` sets the targets and warnings a test is about."""
    return PolicyFactory.create(name="Urgent", calendar=calendar, priority=Priority.URGENT, **extra)


class TicketFactory(factory.django.DjangoModelFactory[Ticket]):
    """A ticket due in 2 hours, made by tickets.services.create_ticket."""

    class Meta:
        model = Ticket

    owner = SubFactory(UserFactory)
    title = "Printer on fire"
    deadline = LazyFunction(lambda: timezone.now() + 2 * HOUR)

    @classmethod
    def _create(cls, model_class: type[Ticket], *args: Any, **kwargs: Any) -> Any:
        return services.create_ticket(**kwargs)
