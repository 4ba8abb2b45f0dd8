from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notifications.delivery import retry_failed
from notifications.models import DeliveryStatus, Endpoint, Notification
from notifications.transports.addresses import UnsafeAddress, check_url, networks


class EndpointForm(forms.ModelForm[Endpoint]):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    def clean_url(self) -> str:
        """The SSRF guard at save time, as the API's (delivery checks again)."""
        url: str = self.cleaned_data["url"]
        try:
            check_url(url, allowed=networks(settings.WEBHOOK_ALLOWED_NETWORKS))
        except UnsafeAddress as error:
            raise forms.ValidationError(f"refused: {error}") from error
        return url


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin[Endpoint]):
    """The secret is neither shown nor edited here (generated once, shown by the API)."""

    list_display = ["id", "kind", "url", "team", "enabled", "disabled_reason", "created_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["url", "team__name"]
    list_select_related = ["team"]
    form = EndpointForm
    readonly_fields = ["disabled_reason", "created_at"]
    exclude = ["secret"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = [
        "id",
        "ticket",
        "kind",
        "level",
        "repeat",
        "recipient_user",
        "endpoint",
        "status",
        "held_until",
        "attempts",
        "deadline",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "kind", "level", "endpoint__kind"]
    search_fields = ["ticket__title", "recipient", "=ticket__id"]
    list_select_related = ["ticket", "recipient_user", "endpoint"]
    ordering = ["-created_at"]
    actions = ["retry"]
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    @admin.action(description="Retry delivery of the selected failed notifications")
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        ids = list(queryset.filter(status=DeliveryStatus.FAILED).values_list("pk", flat=True))
        count = retry_failed(notification_ids=ids)
        self.message_user(
            request, f"{count} notification(s) queued for another delivery.", messages.SUCCESS
        )
