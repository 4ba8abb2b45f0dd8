"""How far a numbered page counts, and what it reports. No database."""

import pytest
from django.core.paginator import Paginator

from watchdog.pagination.counts import (
    BIGINT_MAX,
    CappedCountPaginator,
    count_limit,
    reported_count,
)


def test_a_limit_of_zero_counts_exactly():
    assert count_limit("1", 25, limit=0) is None


@pytest.mark.parametrize(("page", "expected"), [("1", 10_000), ("400", 10_000), ("401", 10_025)])
def test_a_page_counts_to_the_limit_or_to_its_own_end_if_deeper(page, expected):
    assert count_limit(page, 25, limit=10_000) == expected


@pytest.mark.parametrize("page", ["abc", "", "1.5"])
def test_a_page_that_is_no_number_counts_as_page_one(page):
    assert count_limit(page, 25, limit=10_000) == 10_000


def test_a_page_beyond_any_bigint_counts_no_further_than_a_bigint():
    assert count_limit(str(2**70), 100, limit=10_000) == BIGINT_MAX - 1


def test_an_uncapped_paginator_reports_its_count_as_exact():
    assert reported_count(Paginator(list(range(7)), 5)) == (7, True)


def counted(total: int, *, limit: int) -> CappedCountPaginator:
    paginator = CappedCountPaginator([], 5)
    paginator.limit = limit
    paginator.count = total  # what its capped query would have found
    return paginator


def test_a_count_that_stopped_at_its_limit_reports_the_limit_as_inexact():
    assert reported_count(counted(11, limit=10)) == (10, False)


def test_a_count_up_to_its_limit_is_exact():
    assert reported_count(counted(10, limit=10)) == (10, True)
    assert reported_count(counted(3, limit=10)) == (3, True)
