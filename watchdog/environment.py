"""Strict readers for settings taken from the environment.

Each reader raises ImproperlyConfigured naming the variable when its value is malformed,
so a typo in a deployment stops start-up instead of silently becoming a default.
"""

import math
import os
import re
from collections.abc import Callable, Collection
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_RATE = re.compile(r"(?P<count>[0-9]+)/(?P<multiple>[0-9]*)[smhd]")


def _read(name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not valid: expected {expected}.") from None


def env_str(name: str, default: str = "") -> str:
    return _read(name, default, str, "a string")


def env_bool(name: str, default: bool) -> bool:
    def parse(value: str) -> bool:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ValueError(value)

    return _read(name, default, parse, "true or false")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum or (maximum is not None and number > maximum):
            raise ValueError(value)
        return number

    expected = (
        f"a whole number from {minimum} to {maximum}"
        if maximum is not None
        else (f"a whole number >= {minimum}")
    )
    return _read(name, default, parse, expected)


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    def parse(value: str) -> float:
        number = float(value)
        if not (number >= minimum and math.isfinite(number)):  # refuses NaN and inf too
            raise ValueError(value)
        return number

    return _read(name, default, parse, f"a number >= {minimum}")


def env_list(name: str, default: list[str]) -> list[str]:
    return _read(
        name,
        default,
        lambda value: [item.strip() for item in value.split(",") if item.strip()],
        "a comma-separated list",
    )


def env_rate(name: str, default: str) -> str:
    """A django-ratelimit rate such as "10/m" or "100/5m"."""

    def parse(value: str) -> str:
        # int() alone would let "1_0", "-5" and "10 " through, and "10/0m" is a period
        # of zero seconds: django-ratelimit fails on each at request time, not here.
        match = _RATE.fullmatch(value)
        if match is None or int(match["count"]) < 1 or int(match["multiple"] or 1) < 1:
            raise ValueError(value)
        return value

    return _read(name, default, parse, 'a rate like "10/m" (count/[n]s|m|h|d)')


def env_choice(name: str, default: str, choices: Collection[str]) -> str:
    """One of a fixed set of words, compared without regard to case."""

    def parse(value: str) -> str:
        if value.lower() not in choices:
            raise ValueError(value)
        return value.lower()

    return _read(name, default, parse, " or ".join(sorted(choices)))
