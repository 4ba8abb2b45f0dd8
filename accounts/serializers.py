from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers

from accounts.confirmation import email_taken
from accounts.usernames import lookalike_of
from notifications.addresses import validate_deliverable

EMAIL_TAKEN = "A user with that email address already exists."


class RegistrationSerializer(serializers.Serializer[Any]):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @/./+/-/_ only."},
    )
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)

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


class ConfirmationSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(max_length=500)


class ConfirmationStateSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    email = serializers.EmailField()
    confirmed = serializers.BooleanField()
