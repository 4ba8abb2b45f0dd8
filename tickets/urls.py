from django.urls import path
from rest_framework.routers import SimpleRouter

from tickets.views import ComplianceReportView, TicketViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")

urlpatterns = [
    *router.urls,
    path("reports/compliance/", ComplianceReportView.as_view(), name="reports-compliance"),
]
