"""django-ratelimit, answered the way an API client expects: 429 with Retry-After.

django-ratelimit's decorator answers a limited request with 403. The views call
`enforce()` instead, after DRF has authenticated the request (so per-user keys see the
real user), and a limited request becomes DRF's `Throttled`, a 429 with Retry-After.
"""

import ipaddress
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import Request

log = logging.getLogger(__name__)

KeyFunction = Callable[[str, HttpRequest], str]


class RateLimiterUnavailable(APIException):
    status_code = 503
    default_detail = "Rate limiter unavailable, try again shortly."
    default_code = "rate_limiter_unavailable"


def user_key(group: str, request: HttpRequest) -> str:
    return str(request.user.pk)


def client_address(request: HttpRequest) -> str:
    """The client's address, past TRUSTED_PROXY_COUNT reverse proxies.

    Each proxy appends the address it was reached from to X-Forwarded-For, so with N
    trusted proxies in front, the N-th entry from the right is the one the outermost of
    them saw: the client. Entries further left are the client's to write, and are never
    read. With no trusted proxies (the default) the header is ignored altogether, and
    with fewer entries than proxies (a request that bypassed one) the peer's own address
    counts.
    """
    peer = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies == 0:
        return peer
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < proxies:
        return peer
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:
        return peer


def ip_key(group: str, request: HttpRequest) -> str:
    return client_address(request)


def enforce(
    request: Request | HttpRequest,
    *,
    group: str,
    key: KeyFunction,
    rate: str,
    fail_open: bool = True,
) -> None:
    """Count this request against `rate` for `key`; raise Throttled (429) past the limit.

    When the cache cannot be reached, ordinary endpoints stay available (`fail_open`),
    while the login endpoints refuse (503) rather than allow unlimited password guesses.
    """
    try:
        usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    except Exception:
        log.exception("rate limit cache unavailable for %s", group)
        if fail_open:
            return
        raise RateLimiterUnavailable() from None
    if usage is None:  # RATELIMIT_ENABLE=false
        return
    if usage["limit"] == 0 and usage["count"] == 0:  # the counter could not be read
        if fail_open:
            return
        raise RateLimiterUnavailable()
    if usage["should_limit"]:
        # time_left is 0 during the window's last second: the new window starts one
        # second after it, and a client waiting exactly Retry-After must find it open.
        raise Throttled(wait=int(usage["time_left"]) + 1)
