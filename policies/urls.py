from rest_framework.routers import SimpleRouter

from policies.views import CalendarViewSet, PolicyViewSet

router = SimpleRouter()
router.register("calendars", CalendarViewSet, basename="calendar")
router.register("policies", PolicyViewSet, basename="policy")

urlpatterns = router.urls
