from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet, ModelForm

from policies.models import BusinessCalendar, Holiday, OpeningHours, SlaPolicy
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


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin[SlaPolicy]):
    list_display = ["name", "priority", "calendar", "resolution_target", "first_response_target"]
    list_filter = ["priority", "calendar"]
    list_select_related = ["calendar"]
    search_fields = ["name"]
