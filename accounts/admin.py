"""The user admin, with the same address rules as registration.

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
from django.http import HttpRequest
from django.utils import timezone

from accounts.confirmation import email_taken, mark_confirmed
from notifications.addresses import validate_deliverable


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
