from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from policies.models import BusinessCalendar, Holiday, OpeningHours, SlaPolicy
from policies.services import request_recompute
from policies.validation import validate_week


class CalendarForm(ModelForm[BusinessCalendar]):
    def clean(self) -> dict[str, Any]:
        # The week is checked by the opening hours formset, with the rows being submitted.
        self.instance.check_saved_hours = False
        return super().clean() or self.cleaned_data


class OpeningHoursFormSet(BaseInlineFormSet[OpeningHours, BusinessCalendar, Any]):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = [
            (form.cleaned_data["weekday"], form.cleaned_data["opens"], form.cleaned_data["closes"])
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            validate_week(is_24x7=self.instance.is_24x7, hours=rows)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


class OpeningHoursInline(admin.TabularInline[OpeningHours, BusinessCalendar]):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 1


class HolidayInline(admin.TabularInline[Holiday, BusinessCalendar]):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin[BusinessCalendar]):
    form = CalendarForm
    list_display = ["name", "time_zone", "is_24x7", "holiday_country", "holiday_subdivision"]
    search_fields = ["name"]
    inlines = [OpeningHoursInline, HolidayInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The admin saves through its forms (validated above, as policies.services does);
        # open tickets must follow the edit all the same.
        super().save_related(request, form, formsets, change)
        if change:
            request_recompute(form.instance.policies.all(), reason="calendar_edited")


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin[SlaPolicy]):
    list_display = ["name", "priority", "calendar", "resolution_target", "first_response_target"]
    list_filter = ["priority", "calendar"]
    list_select_related = ["calendar"]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: SlaPolicy, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            request_recompute(SlaPolicy.objects.filter(pk=obj.pk), reason="policy_edited")
