"""Authentication endpoints: DRF token, JWT, logout and registration, all rate limited."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import confirmation
from accounts.authentication import login_of_request
from accounts.logins import end_login, start_token_login
from accounts.serializers import (
    EMAIL_TAKEN,
    ConfirmationSerializer,
    ConfirmationStateSerializer,
    ErrorSerializer,
    JwtObtainSerializer,
    JwtPairSerializer,
    JwtRefreshSerializer,
    RefreshTokenSerializer,
    RegisteredSerializer,
    RegistrationSerializer,
    TokenSerializer,
)
from accounts.services import EmailTaken, UsernameTaken, register_user
from watchdog.authentication import request_user
from watchdog.parsers import JSONBodyParser
from watchdog.ratelimits import enforce, ip_key, user_key


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
    429: OpenApiResponse(ErrorSerializer, description="Too many attempts; see Retry-After."),
    # Fail closed: without its counters, the limiter refuses rather than allow unlimited
    # password guesses (watchdog.ratelimits.enforce).
    503: OpenApiResponse(description="The rate limiter's cache is unreachable."),
}
_BAD_REQUEST = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Malformed body, or a field missing or invalid: one list of messages "
        "per field, or a `detail`.",
    )
}
_UNAUTHENTICATED = {
    401: OpenApiResponse(
        ErrorSerializer,
        description="Wrong credentials, or a token that is invalid, expired or of an ended login.",
    )
}


class ObtainTokenView(APIView):
    """`POST /api-token-auth/` with username and password; answers `{"token": ...}`.

    Each call signs in anew: a new token, valid for API_TOKEN_LIFETIME, ended by logout.
    """

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []
    # As DRF's ObtainAuthToken, which this endpoint replaced: forms are still accepted,
    # and JSON through the API's parser (a 400 for JSON nested too deeply).
    parser_classes = [FormParser, MultiPartParser, JSONBodyParser]

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Wrong username or password (`non_field_errors`), a field "
                "missing, or a malformed body.",
            ),
            **_LIMITED,
        },
    )
    def post(self, request: Request) -> Response:
        enforce_login_limits(request)
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token = start_token_login(user=serializer.validated_data["user"], now=timezone.now())
        return Response({"token": token})


class RateLimitedTokenObtainPairView(TokenObtainPairView):
    """`POST /api/token/`: a new JWT login, as an access and a refresh token."""

    serializer_class = JwtObtainSerializer

    @extend_schema(
        responses={200: JwtPairSerializer, **_BAD_REQUEST, **_UNAUTHENTICATED, **_LIMITED}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enforce_login_limits(request)
        return super().post(request, *args, **kwargs)


class RateLimitedTokenRefreshView(TokenRefreshView):
    """`POST /api/token/refresh/`: a refresh token for a new pair; the old one stops working."""

    serializer_class = JwtRefreshSerializer

    @extend_schema(
        request=RefreshTokenSerializer,
        responses={
            200: JwtPairSerializer,
            **_BAD_REQUEST,
            **_UNAUTHENTICATED,
            429: _LIMITED[429],  # fails open: no 503
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enforce(request, group="jwt-refresh-ip", key=ip_key, rate=settings.RATELIMIT_LOGIN_PER_IP)
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    """End the login of the credential used: its API token, or all its JWTs.

    With a JWT, the access token's login ends, so its refresh tokens stop working too.
    """

    @extend_schema(
        request=None,
        responses={
            204: OpenApiResponse(description="Signed out."),
            401: OpenApiResponse(ErrorSerializer, description="No credentials, or not valid ones."),
        },
    )
    def post(self, request: Request) -> Response:
        request_user(request)  # 401 without credentials
        login = login_of_request(request.auth)
        if login is not None:
            end_login(login=login)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegisterView(APIView):
    """Self-service sign-up, when REGISTRATION_OPEN is true. Answers 201 with a token."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        request=RegistrationSerializer,
        responses={
            201: RegisteredSerializer,
            **_BAD_REQUEST,
            404: OpenApiResponse(ErrorSerializer, description="Registration is closed."),
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
        except EmailTaken:
            raise ValidationError({"email": [EMAIL_TAKEN]}) from None
        confirmation.send_link(user=user, confirm_url=_confirm_url(request))
        return Response(
            {"id": user.pk, "username": user.get_username(), "token": token},
            status=status.HTTP_201_CREATED,
        )


def _confirm_url(request: Request) -> str:
    return request.build_absolute_uri(reverse("confirm-email"))


RESEND_RATE = "3/d"
_TOKEN = OpenApiParameter("token", str, description="The token of the confirmation link.")
_BAD_LINK = {
    400: OpenApiResponse(description="The link is not valid, expired, or was used already.")
}


class ConfirmEmailView(APIView):
    """The link a registration mails: GET says whether it is valid, POST confirms.

    Confirming takes a POST, so that a mail scanner or a browser prefetching the link (GET)
    cannot confirm an address on its owner's behalf.
    """

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(parameters=[_TOKEN], responses={200: ConfirmationStateSerializer, **_BAD_LINK})
    def get(self, request: Request) -> Response:
        try:
            pending = confirmation.pending(token=request.query_params.get("token", ""))
        except confirmation.InvalidLink as error:
            raise ValidationError({"token": [str(error)]}) from None
        return Response(
            {"username": pending.user.get_username(), "email": pending.email, "confirmed": False}
        )

    @extend_schema(
        parameters=[_TOKEN],
        request=ConfirmationSerializer,
        responses={200: ConfirmationStateSerializer, **_BAD_LINK},
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        token = data.get("token") or request.query_params.get("token", "")
        serializer = ConfirmationSerializer(data={"token": token})
        serializer.is_valid(raise_exception=True)
        try:
            user = confirmation.confirm(
                token=serializer.validated_data["token"], now=timezone.now()
            )
        except confirmation.InvalidLink as error:
            raise ValidationError({"token": [str(error)]}) from None
        return Response({"username": user.get_username(), "email": user.email, "confirmed": True})


class ResendConfirmationView(APIView):
    """A new confirmation link for the caller's unconfirmed address (the first was lost)."""

    @extend_schema(
        request=None,
        responses={202: None, 400: OpenApiResponse(), 401: OpenApiResponse(), **_LIMITED},
    )
    def post(self, request: Request) -> Response:
        user = request_user(request)
        # Each link is an email to an address nobody has vouched for yet: a few a day.
        enforce(request, group="confirm-resend", key=user_key, rate=RESEND_RATE, fail_open=False)
        if not hasattr(user, "email_confirmation"):
            raise ValidationError({"email": ["This email address is confirmed already."]})
        confirmation.request_confirmation(user=user, now=timezone.now())
        confirmation.send_link(user=user, confirm_url=_confirm_url(request))
        return Response(status=status.HTTP_202_ACCEPTED)
