"""`Cache-Control: no-store` on every answer given to an authenticated caller."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreForCredentialsMiddleware:
    """A ticket list or a token is for its user only: no browser, proxy or CDN may keep a
    copy. Applies when the request carried credentials (an Authorization header, whatever
    its scheme, or a session) or DRF authenticated it, whatever the answer's status; and
    to every answer to a write, such as the token a login answers with."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        authenticated = user is not None and user.is_authenticated
        written = request.method not in {"GET", "HEAD", "OPTIONS"}
        if authenticated or written or "Authorization" in request.headers:
            add_never_cache_headers(response)
        return response
