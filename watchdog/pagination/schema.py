"""The OpenAPI description of a keyset page: its capped `count`, and `cursor`."""

from typing import Any

from watchdog.pagination.cursors import MAX_CURSOR_LENGTH


def describe_page(described: dict[str, Any], *, items: str) -> dict[str, Any]:
    """DRF's page schema (`described`, changed in place) with `count_exact` and what
    `count`, `next` and `previous` hold on numbered and cursor pages of `items`."""
    described["properties"]["count"] = {
        "type": "integer",
        "nullable": True,
        "example": 123,
        "description": (
            f"Matching {items}, on page-numbered pages (the first page included), counted "
            "up to API_COUNT_LIMIT (10,000 by default) or to the end of the page asked "
            "for if deeper: when `count_exact` is false there are more than `count`. "
            "Null on pages reached by `cursor`, which skip the count."
        ),
    }
    described["properties"]["count_exact"] = {
        "type": "boolean",
        "nullable": True,
        "example": True,
        "description": (
            f"True when `count` is the number of matching {items}; false when there are "
            "more (the count stopped at its limit); null on `cursor` pages."
        ),
    }
    described["required"] = [*described.get("required", []), "count_exact"]
    described["properties"]["next"]["description"] = (
        "The following page, by `cursor`: cheap at any depth."
    )
    described["properties"]["previous"]["description"] = (
        "The page before: by `cursor` on cursor pages, by `page` on numbered ones."
    )
    return described


def cursor_parameter(name: str) -> dict[str, Any]:
    """The query parameter `name` holding a cursor."""
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": (
            "Opaque position from a `next` or `previous` link; takes precedence over "
            "`page`. Keep the same `ordering` as the link it came from. Such pages "
            "have `count` null."
        ),
        # Unpadded base64url, as cursors.encode_cursor writes it.
        "schema": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]+$",
            "minLength": 1,
            "maxLength": MAX_CURSOR_LENGTH,
        },
    }
