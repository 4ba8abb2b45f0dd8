from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notifications.delivery import retry_failed
from notifications.models import DeliveryStatus, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = [
        "id",
        "ticket",
        "kind",
        "status",
        "attempts",
        "deadline",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["ticket__title", "recipient", "=ticket__id"]
    list_select_related = ["ticket"]
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
