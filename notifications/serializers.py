from typing import Any

from django.conf import settings
from rest_framework import serializers

from notifications.models import Endpoint, EndpointKind, Notification, new_secret
from notifications.transports.addresses import UnsafeAddress, check_url, networks


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "metric",
            # 0: the owner's email and the team endpoints' copies; 1, 2, ...: an escalation
            # level's, `repeat` counting its re-notifications while unacknowledged.
            "level",
            "repeat",
            # null: the email to the owner; otherwise the webhook or Slack endpoint's id.
            "endpoint",
            # An escalation email's person (user id); null for the owner's and endpoints'.
            "recipient_user",
            "deadline",
            "status",
            # Held for the recipient's quiet hours until then (status held), then sent.
            "held_until",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class EndpointSerializer(serializers.ModelSerializer[Endpoint]):
    """A team's webhook or Slack endpoint. The secret is never shown here (see
    EndpointCreatedSerializer); `kind` is fixed once created."""

    class Meta:
        model = Endpoint
        fields = ["id", "kind", "url", "team", "enabled", "disabled_reason", "created_at"]
        read_only_fields = ["id", "disabled_reason", "created_at"]

    def validate_url(self, url: str) -> str:
        """The SSRF guard at save time, for a clear 400 (delivery checks again)."""
        try:
            check_url(url, allowed=networks(settings.WEBHOOK_ALLOWED_NETWORKS))
        except UnsafeAddress as error:
            raise serializers.ValidationError(f"refused: {error}") from error
        return url

    def validate_kind(self, kind: str) -> str:
        if self.instance is not None and kind != self.instance.kind:
            raise serializers.ValidationError("cannot be changed; create another endpoint")
        return kind

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("enabled"):
            attrs["disabled_reason"] = ""  # enabled again by staff: the old reason is void
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Endpoint:
        # Webhooks sign with a secret; a Slack URL is its own secret and signs nothing.
        secret = new_secret() if validated_data["kind"] == EndpointKind.WEBHOOK else ""
        return Endpoint.objects.create(secret=secret, **validated_data)


class EndpointCreatedSerializer(EndpointSerializer):
    """The answer to a create, the one time the secret is shown."""

    secret = serializers.CharField(read_only=True)

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
