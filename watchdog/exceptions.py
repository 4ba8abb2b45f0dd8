"""Every error the API gives is JSON with a `detail`, and bad input is never a 500."""

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        # Services refuse bad requests with Django's ValidationError (the admin shows it
        # beside the field); the API answers it as a 400, like a serializer's.
        exc = ValidationError(_detail_of(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        # Found by the view, then deleted by another request before a service locked it
        # (a PATCH beside a DELETE): gone, as far as this request can tell.
        exc = NotFound()
    return exception_handler(exc, context)


def _detail_of(exc: DjangoValidationError) -> dict[str, list[str]]:
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    return {
        api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field: messages
        for field, messages in exc.message_dict.items()
    }
