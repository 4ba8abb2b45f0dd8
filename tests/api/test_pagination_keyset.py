"""Keyset conditions: the rows after a cursor's key, as Q objects. No database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import models
from django.db.models import Q

from watchdog.pagination.cursors import InvalidCursor
from watchdog.pagination.keyset import after, beyond, parts, typed_key

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RANKS = {"rank": (1, 2, 3, 4)}


def aware(value: datetime) -> bool:
    return value.utcoffset() is not None


def test_a_key_that_cannot_be_null_is_a_plain_comparison():
    assert beyond("deadline", AT, up=True, nullable=False) == Q(deadline__gt=AT)
    assert beyond("deadline", AT, up=False, nullable=False, inclusive=True) == Q(deadline__lte=AT)


def test_null_lies_above_every_value():
    null = Q(next_breach_at__isnull=True)
    assert beyond("next_breach_at", AT, up=True, nullable=True) == Q(next_breach_at__gt=AT) | null
    assert beyond("next_breach_at", AT, up=False, nullable=True) == Q(next_breach_at__lt=AT)
    assert beyond("next_breach_at", None, up=True, nullable=True, inclusive=True) == null
    assert beyond("next_breach_at", None, up=True, nullable=True) == Q(pk__in=[])
    assert beyond("next_breach_at", None, up=False, nullable=True) == ~null
    assert beyond("next_breach_at", None, up=False, nullable=True, inclusive=True) == Q()


def test_after_is_lexicographic_with_an_index_bound_on_the_first_key():
    ordering = [("deadline", False), ("id", False)]

    assert after(ordering, [AT, 7], backwards=False, nullable=[False, False]) == Q(
        deadline__gte=AT
    ) & (Q() | Q(deadline__gt=AT) | (Q(deadline=AT) & Q(id__gt=7)))


def test_going_backwards_turns_every_comparison():
    ordering = [("deadline", True), ("id", False)]

    assert after(ordering, [AT, 7], backwards=True, nullable=[False, False]) == Q(
        deadline__gte=AT
    ) & (Q() | Q(deadline__gt=AT) | (Q(deadline=AT) & Q(id__lt=7)))


def test_a_list_without_a_cursor_is_one_part_of_every_row():
    assert parts(
        [("deadline", False), ("id", False)], None, backwards=False, nullable=[], split_keys=RANKS
    ) == [Q()]


@pytest.mark.parametrize(("descending", "ranks"), [(False, [1, 2, 3, 4]), (True, [4, 3, 2, 1])])
def test_a_first_page_by_a_split_key_reads_value_by_value_in_list_order(descending, ranks):
    ordering = [("rank", descending), ("deadline", False), ("id", False)]

    assert parts(ordering, None, backwards=False, nullable=[], split_keys=RANKS) == [
        Q(rank=rank) for rank in ranks
    ]


def test_a_cursor_in_a_split_key_reads_the_rest_of_its_value_then_the_values_beyond():
    ordering = [("rank", True), ("deadline", False), ("id", False)]
    nullable = [False, False, False]

    found = parts(ordering, [3, AT, 7], backwards=False, nullable=nullable, split_keys=RANKS)

    rest = after(ordering[1:], [AT, 7], backwards=False, nullable=nullable[1:])
    assert found == [Q(rank=3) & rest, Q(rank=2), Q(rank=1)]


def test_going_backwards_from_a_split_key_reads_the_values_before_it():
    ordering = [("rank", True), ("deadline", False), ("id", False)]
    nullable = [False, False, False]

    found = parts(ordering, [3, AT, 7], backwards=True, nullable=nullable, split_keys=RANKS)

    rest = after(ordering[1:], [AT, 7], backwards=True, nullable=nullable[1:])
    assert found == [Q(rank=3) & rest, Q(rank=4)]


def test_a_key_not_split_is_read_in_one_part():
    ordering = [("deadline", False), ("id", False)]

    found = parts(ordering, [AT, 7], backwards=False, nullable=[False, False], split_keys=RANKS)

    assert found == [after(ordering, [AT, 7], backwards=False, nullable=[False, False])]


def test_a_cursor_key_is_typed_by_its_field():
    assert typed_key(models.DateTimeField(), AT.isoformat(), datetime_ok=aware) == AT
    assert typed_key(models.BigIntegerField(), 41, datetime_ok=aware) == 41
    assert typed_key(models.DateTimeField(null=True), None, datetime_ok=aware) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (models.DateTimeField(), None),  # NULL where the column has none
        (models.BigIntegerField(), True),
        (models.BigIntegerField(), [1]),
        (models.BigIntegerField(), {"a": 1}),
        (models.BigIntegerField(), "one"),
        (models.BigIntegerField(), 2**63),
        (models.BigIntegerField(), -(2**63) - 1),
        (models.DateTimeField(), "2026-03-10T12:00:00"),  # naive
        (models.DateTimeField(), "yesterday"),
        (models.DecimalField(max_digits=5, decimal_places=2), "1.5"),  # not a key type
    ],
)
def test_it_refuses_a_cursor_key_the_database_could_not_compare(field, value):
    with pytest.raises(InvalidCursor):
        typed_key(field, value, datetime_ok=aware)


def test_the_list_decides_which_datetimes_its_database_takes():
    def within_an_hour(value: datetime) -> bool:
        offset = value.utcoffset()
        return offset is not None and abs(offset) <= timedelta(hours=1)

    assert typed_key(models.DateTimeField(), AT.isoformat(), datetime_ok=within_an_hour) == AT
    with pytest.raises(InvalidCursor):
        typed_key(models.DateTimeField(), "2026-03-10T12:00:00+02:00", datetime_ok=within_an_hour)
