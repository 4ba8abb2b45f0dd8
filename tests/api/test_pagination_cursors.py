"""Cursor text: what encode_cursor writes, decode_cursor reads back; the rest is refused.

No database: these are pure functions.
"""

import base64
import json
import re
from datetime import UTC, datetime

import pytest

from watchdog.pagination.cursors import (
    MAX_CURSOR_LENGTH,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)

ORDERING = [("priority_rank", True), ("deadline", False), ("id", False)]
AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def raw(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize("backwards", [False, True])
def test_a_cursor_reads_back_as_its_keys_and_direction(backwards):
    cursor = encode_cursor(ORDERING, [2, AT, 41], backwards=backwards)

    assert decode_cursor(cursor, ORDERING) == ([2, AT.isoformat(), 41], backwards)


def test_a_null_key_reads_back_as_none():
    ordering = [("next_breach_at", False), ("id", False)]

    assert decode_cursor(encode_cursor(ordering, [None, 7], backwards=False), ordering) == (
        [None, 7],
        False,
    )


def test_a_cursor_is_unpadded_base64url_as_the_schema_says():
    for keys in ([4, AT, 1], [1, AT, 2**62], [3, AT, 12]):
        cursor = encode_cursor(ORDERING, keys, backwards=False)
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
        assert len(cursor) < 200


def test_it_refuses_a_cursor_made_for_another_ordering():
    cursor = encode_cursor([("deadline", False), ("id", False)], [AT, 1], backwards=False)

    with pytest.raises(InvalidCursor, match="It must come from a link of this list"):
        decode_cursor(cursor, [("deadline", True), ("id", False)])


@pytest.mark.parametrize(
    "cursor",
    [
        "a" * (MAX_CURSOR_LENGTH + 1),
        "!!!",
        "a",  # not whole base64
        raw("text")[:-1] + "@",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        base64.urlsafe_b64encode(b"{not json").decode(),
    ],
)
def test_it_refuses_what_is_not_a_cursor(cursor):
    with pytest.raises(InvalidCursor, match=r"^Invalid cursor\.$"):
        decode_cursor(cursor, ORDERING)


@pytest.mark.parametrize(
    "payload",
    [
        {"o": ["-priority_rank", "deadline", "id"], "k": [1, "2026-03-10T12:00:00+00:00"]},
        {"o": ["-priority_rank", "deadline", "id"], "k": "1,2,3"},
        {"o": ["-priority_rank", "deadline", "id"], "k": [1, 2, 3], "r": "yes"},
        {"o": ["-priority_rank", "deadline", "id"], "k": [1, 2, 3], "r": 1},
    ],
)
def test_it_refuses_a_cursor_with_the_wrong_keys_or_direction(payload):
    with pytest.raises(InvalidCursor, match=r"^Invalid cursor\.$"):
        decode_cursor(raw(payload), ORDERING)


@pytest.mark.parametrize("payload", [[1, 2, 3], "text", None, 12])
def test_it_refuses_json_that_is_not_an_object(payload):
    with pytest.raises(InvalidCursor, match="It must come from a link of this list"):
        decode_cursor(raw(payload), ORDERING)


def test_a_cursor_without_a_direction_goes_forwards():
    payload = {"o": ["-priority_rank", "deadline", "id"], "k": [1, "x", 3]}

    assert decode_cursor(raw(payload), ORDERING) == ([1, "x", 3], False)
