from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from watchdog.health import healthz
from watchdog.metrics import metrics
from watchdog.views import not_found

urlpatterns = [
    # The pages: / is the at-risk board when signed in, the sign-in form otherwise.
    path("", include("dashboard.urls")),
    path("admin/", admin.site.urls),
    # Operations: unauthenticated health for probes, protected metrics for Prometheus.
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("", include("accounts.urls")),
    path("api/", include("tickets.urls")),
    path("api/", include("policies.urls")),
    path("api/", include("people.urls")),
    path("api/", include("notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start script as a file (?script), not inline, so
    # the Content-Security-Policy needs no 'unsafe-inline' for scripts.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    # Any other API path is a JSON 404, also with DEBUG on (Django's is an HTML page).
    re_path(r"^api/", not_found),
]

handler400 = "watchdog.views.bad_request"
handler403 = "watchdog.views.permission_denied"
handler404 = "watchdog.views.not_found"
handler500 = "watchdog.views.server_error"
