"""A cursor's text: the ordering key of a row, for "the page after (or before) it".

A cursor is unpadded base64url of compact JSON: `o` the list's ordering (`-name` for a
descending key), `k` the row's key values (datetimes in ISO 8601), `r` true for "the page
before". Clients treat it as opaque; decoding refuses anything this list did not make.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

INVALID = "Invalid cursor."
# Ours are under 200 characters; a long one is nothing we made (and "[[[[..." would
# otherwise reach json's recursion limit).
MAX_CURSOR_LENGTH = 1000


class InvalidCursor(ValueError):
    """A cursor this list did not make; the message is what the client is told."""


def signature(ordering: Sequence[tuple[str, bool]]) -> list[str]:
    """The ordering as a cursor records it: names, `-` before descending ones."""
    return [f"{'-' if descending else ''}{name}" for name, descending in ordering]


def encode_cursor(
    ordering: Sequence[tuple[str, bool]], keys: Sequence[Any], *, backwards: bool
) -> str:
    payload = {
        "o": signature(ordering),
        "k": [k.isoformat() if isinstance(k, datetime) else k for k in keys],
        "r": backwards,
    }
    text = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str, ordering: Sequence[tuple[str, bool]]) -> tuple[list[Any], bool]:
    """The cursor's key values, as JSON has them, and whether it goes backwards.

    Raises InvalidCursor for anything not made by encode_cursor for this `ordering`.
    """
    if len(raw) > MAX_CURSOR_LENGTH:
        raise InvalidCursor(INVALID)
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        payload = json.loads(text)
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidCursor(INVALID) from None
    if not isinstance(payload, dict) or payload.get("o") != signature(ordering):
        # Also a cursor from another ordering: its key would mean nothing here.
        raise InvalidCursor(INVALID + " It must come from a link of this list.")
    keys, backwards = payload.get("k"), payload.get("r", False)
    if not isinstance(keys, list) or len(keys) != len(ordering):
        raise InvalidCursor(INVALID)
    if not isinstance(backwards, bool):
        raise InvalidCursor(INVALID)
    return keys, backwards
