"""Serializer fields any app's API uses."""

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """Text, and only text: DRF's CharField would quietly store 42 as "42"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
