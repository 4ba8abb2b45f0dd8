"""JSON answers for errors raised outside DRF views (unknown URLs, crashes)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


# Exempt, as DRF's views are: this view changes nothing, and without it CSRF's check runs
# first, so `DELETE /api/nope/` answered an HTML 403 page instead of this JSON 404.
@csrf_exempt
def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Permission denied."}, status=403)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error."}, status=500)
