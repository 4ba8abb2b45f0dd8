"""sla.histograms: percentiles estimated from bucket counts stay within 1% (or 1 second)
of percentile_cont over the durations themselves. Pure."""

import math

from hypothesis import given
from hypothesis import strategies as st

from sla import histograms
from tickets.business_durations import percentile_cont

durations = st.floats(min_value=0, max_value=3e8, allow_nan=False, allow_infinity=False)


def histogram_of(values):
    counts: dict[int, int] = {}
    for value in values:
        bucket = histograms.bucket_of(value)
        counts[bucket] = counts.get(bucket, 0) + 1
    return counts


def close(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= max(histograms.RELATIVE_ERROR * abs(exact), 1.0) + 1e-6


@given(st.floats(min_value=1, max_value=3e8, allow_nan=False))
def test_a_bucket_estimates_every_duration_in_it_within_one_percent(seconds):
    estimate = histograms.estimate(histograms.bucket_of(seconds))

    assert abs(estimate - seconds) <= histograms.RELATIVE_ERROR * seconds * (1 + 1e-9)


def test_under_a_second_is_zero_and_buckets_grow_with_the_duration():
    assert histograms.bucket_of(0) == histograms.bucket_of(0.999) == 0
    assert histograms.bucket_of(-5) == 0
    assert histograms.estimate(0) == 0.0
    assert histograms.bucket_of(1) == 1
    assert histograms.bucket_of(3600) < histograms.bucket_of(3700) < histograms.bucket_of(7200)


@given(st.lists(durations, min_size=1, max_size=300), st.sampled_from([0.0, 0.5, 0.9, 1.0]))
def test_percentiles_are_within_one_percent_or_a_second_of_percentile_cont(values, fraction):
    exact = percentile_cont(sorted(values), fraction)
    (estimate,) = histograms.percentiles(histogram_of(values), [fraction])

    assert exact is not None
    assert estimate is not None
    assert close(estimate, exact), (estimate, exact)


@given(st.lists(durations, max_size=100), st.lists(durations, max_size=100))
def test_merged_histograms_give_the_percentiles_of_all_durations(first, second):
    merged = histogram_of(first)
    histograms.merge(merged, histogram_of(second))

    assert merged == histogram_of(first + second)
    estimates = histograms.percentiles(merged, [0.5, 0.9])
    if not first + second:
        assert estimates == [None, None]
        return
    exact = [percentile_cont(sorted(first + second), f) for f in (0.5, 0.9)]
    for estimate, value in zip(estimates, exact, strict=True):
        assert estimate is not None
        assert value is not None
        assert close(estimate, value)


def test_interpolates_between_the_two_ranks_around_the_position():
    # 100 and 200 seconds: the median is halfway, the 90th percentile nine tenths of the way.
    median, p90 = histograms.percentiles(histogram_of([100, 200]), [0.5, 0.9])

    assert median is not None
    assert p90 is not None
    assert math.isclose(median, 150, rel_tol=0.01)
    assert math.isclose(p90, 190, rel_tol=0.01)
