"""Page sizes as every paged list takes them: a bad `page_size` is a 400, not ignored."""

import re
from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

_DIGITS = re.compile(r"[0-9]+")


class StrictPageNumberPagination(PageNumberPagination):
    """DRF's page numbers, with `page_size` checked instead of silently falling back.

    DRF answers `page_size=abc` (or 0, or -5) with a page of the default size, so a
    client's typo goes unnoticed. A size above max_page_size still gets max_page_size
    rows: the schema says so.
    """

    page_size_query_param = "page_size"
    max_page_size: int

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _DIGITS.fullmatch(raw) or int(raw[:19]) < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number, at least 1."]})
        # More than 18 digits is past any maximum (and int() refuses 4,300 or more).
        return min(int(raw[:19]), self.max_page_size)

    def get_page_number(self, request: Request, paginator: Paginator[Any]) -> Any:
        # DRF reads `page=` as page 1; the schema says a page is a number, so an empty one
        # is refused like `page=abc`: the paginator finds no such page, a 404.
        if request.query_params.get(self.page_query_param) == "":
            return ""
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    "A page number; past the last page, or not a number, is a 404."
                )
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Results per page, {self.page_size} by default; a larger number than "
                    f"{self.max_page_size} gets {self.max_page_size}."
                )
        return parameters
