from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from knox.models import AuthToken

from accounts.logins import end_login
from accounts.models import Login

# knox's own admin makes tokens that belong to no login, which the API refuses: sign-ins
# are made through the API, and ended (deleted) here.
admin.site.unregister(AuthToken)


@admin.register(Login)
class LoginAdmin(admin.ModelAdmin[Login]):
    list_display = ["user", "kind", "created_at", "expires_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "kind", "created_at", "expires_at"]
    readonly_fields = ["user", "kind", "created_at", "expires_at"]

    @admin.display(description="kind")
    def kind(self, login: Login) -> str:
        return "API token" if login.api_token_id else "JWT"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Login | None = None) -> bool:
        return False

    # Deleting a login here is a logout: its API token goes with it.
    def delete_model(self, request: HttpRequest, obj: Login) -> None:
        end_login(login=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Login]) -> None:
        for login in queryset:
            end_login(login=login)
