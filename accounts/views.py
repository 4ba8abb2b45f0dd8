"""Authentication endpoints: DRF token, JWT, logout and registration, all rate limited."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.serializers import RegistrationSerializer, TokenSerializer
from accounts.services import UsernameTaken, register_user, revoke_token
from watchdog.authentication import request_user
from watchdog.parsers import JSONBodyParser
from watchdog.ratelimits import enforce, ip_key


def _username(request: HttpRequest) -> str:
    data = getattr(request, "data", {})
    username = data.get("username", "") if isinstance(data, dict) else ""
    key = str(username).strip().lower()[:150]
    # A lone surrogate cannot go into a cache key (the limiter would answer 503); escaped,
    # it is counted, and the serializer then refuses the username with a 400.
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _username_key(group: str, request: HttpRequest) -> str:
    # Per username *from one address*: keyed by the username alone, five bad passwords
    # from anywhere locked the account's owner out everywhere. Guesses spread over many
    # addresses are bounded by each address's own limits instead.
    return f"{ip_key(group, request)} {_username(request)}"


def enforce_login_limits(request: Request) -> None:
    """Brute-force guard: limit attempts per client IP and per targeted username."""
    enforce(
        request,
        group="login-ip",
        key=ip_key,
        rate=settings.RATELIMIT_LOGIN_PER_IP,
        fail_open=False,
    )
    if _username(request):
        enforce(
            request,
            group="login-username",
            key=_username_key,
            rate=settings.RATELIMIT_LOGIN_PER_USERNAME,
            fail_open=False,
        )


_LIMITED = {
    429: OpenApiResponse(description="Too many attempts; see Retry-After."),
    # Fail closed: without its counters, the limiter refuses rather than allow unlimited
    # password guesses (watchdog.ratelimits.enforce).
    503: OpenApiResponse(description="The rate limiter's cache is unreachable."),
}


class ObtainTokenView(ObtainAuthToken):
    """`POST /api-token-auth/` with username and password; answers `{"token": ...}`."""

    # DRF's form parsers as ObtainAuthToken has them, and the API's JSON parser.
    parser_classes = (FormParser, MultiPartParser, JSONBodyParser)

    @extend_schema(responses={200: TokenSerializer, 400: OpenApiResponse(), **_LIMITED})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enforce_login_limits(request)
        return super().post(request, *args, **kwargs)


class RateLimitedTokenObtainPairView(TokenObtainPairView):
    @extend_schema(
        responses={
            200: OpenApiResponse(description="access and refresh JWTs"),
            400: OpenApiResponse(description="username or password missing."),
            401: OpenApiResponse(description="No active account with these credentials."),
            **_LIMITED,
        }
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enforce_login_limits(request)
        return super().post(request, *args, **kwargs)


class RateLimitedTokenRefreshView(TokenRefreshView):
    @extend_schema(
        responses={
            200: OpenApiResponse(description="a new access JWT"),
            400: OpenApiResponse(description="refresh missing."),
            401: OpenApiResponse(description="The refresh token is invalid or expired."),
            429: _LIMITED[429],  # fails open: no 503
        }
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enforce(request, group="jwt-refresh-ip", key=ip_key, rate=settings.RATELIMIT_LOGIN_PER_IP)
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    """Revoke the caller's API token; the next request with it answers 401."""

    @extend_schema(request=None, responses={204: None, 401: OpenApiResponse()})
    def post(self, request: Request) -> Response:
        revoke_token(user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegisterView(APIView):
    """Self-service sign-up, when REGISTRATION_OPEN is true. Answers 201 with a token."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        request=RegistrationSerializer,
        responses={
            201: TokenSerializer,
            400: OpenApiResponse(),
            404: OpenApiResponse(),
            **_LIMITED,
        },
    )
    def post(self, request: Request) -> Response:
        if not settings.REGISTRATION_OPEN:
            raise NotFound("Registration is closed.")
        enforce(
            request,
            group="register-ip",
            key=ip_key,
            rate=settings.RATELIMIT_REGISTER_PER_IP,
            fail_open=False,
        )
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user, token = register_user(**serializer.validated_data)
        except UsernameTaken:
            raise ValidationError(
                {"username": ["A user with that username already exists."]}
            ) from None
        return Response(
            {"id": user.pk, "username": user.get_username(), "token": token.key},
            status=status.HTTP_201_CREATED,
        )
