"""The sign-in form's brute-force guard: the API login's limits, on the same counters.

The form and `POST /api-token-auth/` count against one budget per address and per
(address, username), with the same cache keys as accounts.views, so that guessing through
the page gives no attempts beyond the API's. Like the API, it fails closed: without its
counters the form refuses (503) rather than allow unlimited guesses.
"""

from django.conf import settings
from django.http import HttpRequest

from watchdog.ratelimits import enforce, ip_key


def _username(request: HttpRequest) -> str:
    # As accounts.views reads a JSON body's username: trimmed, lower case, bounded.
    key = str(request.POST.get("username", "")).strip().lower()[:150]
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _username_key(group: str, request: HttpRequest) -> str:
    return f"{ip_key(group, request)} {_username(request)}"


def enforce_sign_in_limits(request: HttpRequest) -> None:
    """Count one attempt; raise rest_framework's Throttled past a limit (the view answers)."""
    enforce(
        request, group="login-ip", key=ip_key, rate=settings.RATELIMIT_LOGIN_PER_IP, fail_open=False
    )
    if _username(request):
        enforce(
            request,
            group="login-username",
            key=_username_key,
            rate=settings.RATELIMIT_LOGIN_PER_USERNAME,
            fail_open=False,
        )
