from django.contrib.auth.models import User
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request


def request_user(request: Request) -> User:
    """The authenticated user of a request whose view requires authentication."""
    if not isinstance(request.user, User):
        raise NotAuthenticated()
    return request.user
