from collections.abc import Mapping
from typing import Any, cast

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import live_login_of
from accounts.confirmation import email_taken
from accounts.logins import RefreshTokenUsed, refresh_jwt_login, start_jwt_login
from accounts.usernames import lookalike_of
from notifications.addresses import validate_deliverable

EMAIL_TAKEN = "A user with that email address already exists."

_TEXT_FIELDS = ("username", "email", "password")


class RegistrationSerializer(serializers.Serializer[Any]):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @/./+/-/_ only."},
    )
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # DRF's CharField and RegexField quietly take 42 as "42"; the schema says strings.
        if isinstance(data, Mapping):
            wrong = [name for name in _TEXT_FIELDS if not isinstance(data.get(name, ""), str)]
            if wrong:
                raise serializers.ValidationError({name: ["Not a valid string."] for name in wrong})
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        if lookalike_of(value) is not None:
            raise serializers.ValidationError("This username looks too much like an existing one.")
        return value

    def validate_email(self, value: str) -> str:
        # Refused here if no mail could be sent to it: the same check delivery makes.
        try:
            validate_deliverable(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(list(error.messages)) from None
        if email_taken(email=value, now=timezone.now()):
            raise serializers.ValidationError(EMAIL_TAKEN)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(read_only=True)


class RegisteredSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    token = serializers.CharField(read_only=True)


class JwtPairSerializer(serializers.Serializer[Any]):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class RefreshTokenSerializer(serializers.Serializer[Any]):
    refresh = serializers.CharField(write_only=True)


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of a 401 or 429 (simplejwt adds `code`, and `messages` on a bad token)."""

    detail = serializers.CharField(read_only=True)
    # Not read-only, so that the schema does not call it required.
    code = serializers.CharField(required=False)


class JwtObtainSerializer(TokenObtainPairSerializer):
    """Username and password in; a new JWT login's access and refresh tokens out (or 401)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        TokenObtainSerializer.validate(self, attrs)  # authenticates: self.user, or 401
        pair = start_jwt_login(user=cast(User, self.user), now=timezone.now())
        return {"access": pair.access, "refresh": pair.refresh}


class JwtRefreshSerializer(TokenRefreshSerializer):
    """A refresh token in; a new access token and the next refresh token out (or 401).

    Each refresh token works once and never outlives its login (JWT_REFRESH_LIFETIME from
    sign-in, however often it is rotated).
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        now = timezone.now()
        refresh = RefreshToken(attrs["refresh"])  # TokenError: the view answers 401
        login = live_login_of(refresh.payload, now=now)
        try:
            pair = refresh_jwt_login(
                login=login, refresh_jti=str(refresh.payload.get(jwt_settings.JTI_CLAIM)), now=now
            )
        except RefreshTokenUsed:
            raise AuthenticationFailed(
                "Token has already been used.", code="token_not_valid"
            ) from None
        return {"access": pair.access, "refresh": pair.refresh}


class ConfirmationSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=500)


class ConfirmationStateSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    email = serializers.EmailField()
    confirmed = serializers.BooleanField()
