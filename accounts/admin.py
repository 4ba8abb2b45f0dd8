"""Accounts in the admin: users (with the same address rules as registration) and logins.

An address no mail can be sent to is a form error on the email field (the check
delivery makes, notifications.addresses), and so is one another active account has, in
any case. An address set by staff counts as confirmed: saving it releases the emails held
for the user (accounts.confirmation).
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm, UsernameField
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken

from accounts.confirmation import email_taken, mark_confirmed
from accounts.logins import end_login
from accounts.models import Login
from notifications.addresses import validate_deliverable

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


def _clean_email(form: forms.ModelForm[User]) -> str:
    email: str = form.cleaned_data.get("email", "")
    if not email or "email" not in form.changed_data:
        return email  # no address, or one already saved: leave existing data alone
    validate_deliverable(email)
    if email_taken(email=email, now=timezone.now(), exclude_user_id=form.instance.pk):
        raise forms.ValidationError("Another active account has this email address.")
    return email


class UserCreationForm(AdminUserCreationForm):
    def clean_email(self) -> str:
        return _clean_email(self)

    class Meta:
        model = User
        fields = ("username", "email")
        field_classes = {"username": UsernameField}


class UserEditForm(UserChangeForm[User]):
    def clean_email(self) -> str:
        return _clean_email(self)


class UserAdmin(DjangoUserAdmin[User]):
    form = UserEditForm
    add_form = UserCreationForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "email" in form.changed_data and obj.email:
            mark_confirmed(user=obj, now=timezone.now())


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
