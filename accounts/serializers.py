from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

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
