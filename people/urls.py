from django.urls import path
from rest_framework.routers import SimpleRouter

from people.views import EscalationPolicyViewSet, MeView, TeamViewSet

router = SimpleRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("escalation-policies", EscalationPolicyViewSet, basename="escalation-policy")

urlpatterns = [path("me/", MeView.as_view(), name="me"), *router.urls]
