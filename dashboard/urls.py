from django.urls import path, re_path

from dashboard import policy_pages, views

urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.SignInView.as_view(), name="sign-in"),
    path("sign-out/", views.SignOutView.as_view(), name="sign-out"),
    path("board/", views.board, name="board"),
    path("reports/compliance/", views.compliance_report, name="compliance-report"),
    path("calendars/", policy_pages.calendar_list, name="calendars"),
    re_path(r"^calendars/(?P<pk>[0-9]{1,18})/$", policy_pages.calendar_detail, name="calendar"),
    path("policies/", policy_pages.policy_list, name="policies"),
    re_path(r"^policies/(?P<pk>[0-9]{1,18})/$", policy_pages.policy_detail, name="policy"),
    # Ids are numbers of at most 18 digits (as the API's): anything else is a 404, never
    # a database error.
    re_path(r"^tickets/(?P<pk>[0-9]{1,18})/$", views.story, name="story"),
    re_path(r"^tickets/(?P<pk>[0-9]{1,18})/respond/$", views.respond, name="respond"),
    re_path(r"^tickets/(?P<pk>[0-9]{1,18})/acknowledge/$", views.acknowledge, name="acknowledge"),
]
