"""The pages: sign-in and sign-out (Django's auth views), the at-risk board, a ticket's
SLA story, responding from the board, and the compliance report with its CSV.
Server-rendered; what a user may see is the API's rule, Ticket.objects.visible_to, and a
ticket beyond it is a 404."""

import csv
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, LogoutView
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import Throttled

from dashboard.access import signed_in, strict_styles
from dashboard.board import BoardFilters, build_board
from dashboard.board_rows import rows_html
from dashboard.report_chart import achieved_chart
from dashboard.signin import enforce_sign_in_limits
from dashboard.story import chart, timeline
from dashboard.timezones import display_zone
from notifications.models import Notification
from tickets import reports, services
from tickets.clocks import Clocks
from tickets.explain import explain_ticket
from tickets.models import Ticket
from watchdog.ratelimits import RateLimiterUnavailable, enforce, user_key

# A story lists the ticket's latest notifications, at most this many.
STORY_NOTIFICATIONS = 200


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("board" if request.user.is_authenticated else settings.LOGIN_URL)


@method_decorator(strict_styles, name="dispatch")
class SignInView(LoginView):
    template_name = "dashboard/sign_in.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            enforce_sign_in_limits(request)
        except Throttled as exc:
            response = self.render_to_response(
                self.get_context_data(limited=True, form=self.get_form_class()(request)),
                status=429,
            )
            wait = getattr(exc, "wait", None)
            if wait is not None:
                response["Retry-After"] = str(int(wait))
            return response
        except RateLimiterUnavailable:
            return self.render_to_response(
                self.get_context_data(unavailable=True, form=self.get_form_class()(request)),
                status=503,
            )
        return super().post(request, *args, **kwargs)


class SignOutView(LogoutView):
    """POST only (Django's LogoutView refuses GET): a link cannot sign anyone out."""


@strict_styles
@require_GET
@signed_in
def board(request: HttpRequest) -> HttpResponse:
    filters = BoardFilters(request.GET)
    valid = filters.is_valid()
    now = timezone.now()
    found = build_board(request.user, filters.cleaned_data, now=now) if valid else None
    refresh_url = request.get_full_path()
    # One reverse() per page instead of two per row (story and respond), which cost a
    # sixth of the board's render time.
    tickets_url = reverse("story", kwargs={"pk": "0"}).removesuffix("0/")
    context: dict[str, Any] = {
        "filters": filters,
        "board": found,
        "now": now,
        "refresh_url": refresh_url,
        "refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS,
    }
    partial = getattr(request, "htmx", False)
    with timezone.override(display_zone(request)):
        if found is not None:
            context["rows_html"] = rows_html(
                found.rows,
                tickets_url=tickets_url,
                refresh_url=refresh_url,
                csrf_token=get_token(request),
                show_owner=request.user.is_staff,
            )
        response = render(
            request,
            "dashboard/_board_table.html" if partial else "dashboard/board.html",
            context,
            status=200 if valid else 400,
        )
    patch_vary_headers(response, ["HX-Request"])
    return response


@strict_styles
@require_GET
@signed_in
def story(request: HttpRequest, pk: str) -> HttpResponse:
    ticket = Ticket.objects.visible_to(request.user).select_related("owner").filter(pk=pk).first()
    if ticket is None:
        # The same page whether the ticket does not exist or is someone else's. HTML, for
        # a person: the project's handler404 answers JSON, for API clients.
        return render(request, "dashboard/not_found.html", status=404)
    now = timezone.now()
    explained = explain_ticket(ticket, now=now)
    notifications = list(
        Notification.objects.filter(ticket=ticket).order_by("-created_at", "-id")[
            :STORY_NOTIFICATIONS
        ]
    )
    with timezone.override(display_zone(request)):
        return render(
            request,
            "dashboard/story.html",
            {
                "ticket": ticket,
                "explained": explained,
                "first_response": explained["first_response"],
                "resolution": explained["resolution"],
                "entries": timeline(explained, now=now),
                "chart": chart(
                    explained,
                    calendar=Clocks().for_policy(ticket.policy_id).calendar,
                    started_at=ticket.created_at,
                    now=now,
                ),
                "notifications": reversed(notifications),
                "now": now,
            },
        )


@require_POST
@signed_in
def respond(request: HttpRequest, pk: str) -> HttpResponseRedirect:
    """The board's Respond button: tickets.services.respond, as POST /api/tickets/<id>/respond/."""
    ticket = get_object_or_404(Ticket.objects.visible_to(request.user), pk=int(pk))
    try:
        services.respond(ticket=ticket)
    except services.AlreadyResponded as exc:
        messages.info(request, f"“{ticket.title}”: {exc}")
    else:
        messages.success(request, f"First response recorded for “{ticket.title}”.")
    return _back(request)


@require_POST
@signed_in
def acknowledge(request: HttpRequest, pk: str) -> HttpResponseRedirect:
    """The board's Acknowledge button: tickets.services.acknowledge, as
    POST /api/tickets/<id>/acknowledge/ (docs/escalation.md)."""
    ticket = get_object_or_404(Ticket.objects.visible_to(request.user), pk=int(pk))
    user = request.user
    if not isinstance(user, User):  # signed_in let nobody else through
        raise PermissionDenied
    try:
        services.acknowledge(ticket=ticket, user=user)
    except services.NothingToAcknowledge as exc:
        messages.info(request, f"“{ticket.title}”: {exc}")
    else:
        messages.success(request, f"Breach of “{ticket.title}” acknowledged: escalation stops.")
    return _back(request)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """To the board page the button was on (its `next`), never to another site."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("board")
    return HttpResponseRedirect(target)


@strict_styles
@require_GET
@signed_in
def compliance_report(request: HttpRequest) -> HttpResponseBase:
    """The compliance report (tickets.reports, as GET /api/reports/compliance/): the
    table, achieved % over time as a chart, and a link to the same numbers as CSV.

    The page and the CSV count against the API's budget (RATELIMIT_REPORTS): each
    computes the whole report."""
    try:
        enforce(
            request, group=reports.RATELIMIT_GROUP, key=user_key, rate=settings.RATELIMIT_REPORTS
        )
    except Throttled as exc:
        response = render(
            request, "dashboard/compliance_report.html", {"limited": True}, status=429
        )
        wait = getattr(exc, "wait", None)
        if wait is not None:
            response["Retry-After"] = str(int(wait))
        return response
    filters = reports.ComplianceFilters(request.GET)
    if not filters.is_valid():
        return render(request, "dashboard/compliance_report.html", {"filters": filters}, status=400)
    # The reader's days: their display zone, as every other time on the pages.
    zone = display_zone(request)
    report = reports.compliance_for(
        request.user, filters.cleaned_data, now=timezone.now(), zone=zone
    )
    if request.GET.get("format") == "csv":
        return _csv_response(report)
    query = request.GET.copy()
    query["format"] = "csv"
    context = {
        "filters": filters,
        "report": report,
        "group_label": reports.GROUPINGS[report.group_by].label,
        "last_day": (report.end - timedelta(days=1)).date(),
        "chart": achieved_chart(
            report.over_time, bucket=report.bucket, title=f"Achieved % per {report.bucket}"
        ),
        "csv_url": f"{reverse('compliance-report')}?{query.urlencode()}",
        "time_zone": report.time_zone,
    }
    with timezone.override(zone):
        return render(request, "dashboard/compliance_report.html", context)


class _Echo:
    """A file that hands back what is written: csv.writer formats a line, the response
    streams it."""

    def write(self, value: str) -> str:
        return value


def _csv_response(report: reports.ComplianceReport) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        for line in reports.csv_lines(report):
            yield writer.writerow(line)

    day = report.start.date().isoformat()
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="compliance-{report.group_by}-{day}.csv"'
    )
    return response
