"""Durations counted in logarithmic buckets, and percentiles estimated from the counts.

The compliance report's daily roll-up (tickets.rollup) keeps, per day and group, how
many durations fell in each bucket instead of the durations themselves: counts add up
across days, so a year's percentile is read from 365 small histograms rather than from
every ticket of the year.

Bucket 0 holds durations under one second (estimated as 0); bucket b >= 1 holds
[GAMMA ** (b - 1), GAMMA ** b) seconds and is estimated by its midpoint, which is
within (GAMMA - 1) / 2 = 1% of any duration in it. A percentile is
interpolated between the estimates of the two ranks around its position, as
percentile_cont interpolates between the values themselves, so the estimate is within
1% (or 1 second) of the exact percentile. A year needs about 850 buckets; a day's
histogram holds only those its tickets fell in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

K = TypeVar("K")

GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)
# The largest error of a bucket's estimate, relative to a duration in it.
RELATIVE_ERROR = (GAMMA - 1) / 2


def bucket_of(seconds: float) -> int:
    """The bucket of a duration (negative ones, which only hand-written rows have, in 0)."""
    if seconds < 1:
        return 0
    return 1 + int(math.log(seconds) / _LOG_GAMMA)


def estimate(bucket: int) -> float:
    """The value every duration of `bucket` is counted as."""
    if bucket <= 0:
        return 0.0
    return GAMMA ** (bucket - 1) * (1 + GAMMA) / 2


def merge(into: dict[K, int], other: Mapping[K, int]) -> None:
    """Add the counts of `other` to `into`."""
    for bucket, count in other.items():
        into[bucket] = into.get(bucket, 0) + count


def percentiles(histogram: Mapping[int, int], fractions: Iterable[float]) -> list[float | None]:
    """Each fraction's percentile (percentile_cont's), estimated; None for no durations."""
    wanted = list(fractions)
    total = sum(histogram.values())
    if total == 0:
        return [None for _ in wanted]
    # The 0-based ranks to find, and the bucket each falls in.
    ranks: dict[int, float] = {}
    for fraction in wanted:
        position = fraction * (total - 1)
        ranks[math.floor(position)] = 0.0
        ranks[math.ceil(position)] = 0.0
    pending = sorted(ranks)
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        while pending and pending[0] < seen:
            ranks[pending.pop(0)] = estimate(bucket)
        if not pending:
            break
    result: list[float | None] = []
    for fraction in wanted:
        position = fraction * (total - 1)
        low, high = math.floor(position), math.ceil(position)
        result.append(ranks[low] + (ranks[high] - ranks[low]) * (position - low))
    return result
