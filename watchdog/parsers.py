"""The API's JSON parser: DRF's, with nesting too deep for Python's parser a 400."""

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    """DRF's JSONParser turns only ValueError into a 400. Python's json module raises
    RecursionError for arrays or objects nested about a thousand deep: a 2 KB body of
    `[` characters, no credentials needed, would otherwise be a 500."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
