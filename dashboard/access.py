"""Who may open a page, and the pages' Content-Security-Policy."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

# The pages need no inline style at all (htmx's indicator styles are switched off in
# base.html), so their policy is stricter than the API docs' and the admin's.
strict_styles = csp_replace({"style-src": ["'self'"]})

View = Callable[..., HttpResponseBase]


def signed_in(view: View) -> View:
    """Like login_required; an htmx refresh after the session ended reloads the whole
    page onto the sign-in form instead of swapping the form into the table."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(reverse(settings.LOGIN_URL))
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped
