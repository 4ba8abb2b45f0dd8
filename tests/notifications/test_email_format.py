"""The sender's faster header policy writes exactly what compat32 writes."""

from email.policy import compat32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.emails import COMPAT32_FAST, FormattedOnce

NAMES = ["Subject", "To", "From", "Message-ID", "X-SLA-Watchdog-Ticket", "Content-Type"]
VALUES = [
    "[SLA Watchdog] SLA missed: #12 Printer jams",
    "owner12@example.com",
    "SLA Watchdog <watchdog@localhost>",
    "<3f2b7c1e-8a8d-4f0e-9a57-0d3c1e2f4a5b@sla-watchdog>",
    'multipart/alternative; boundary="===============abc=="',
    "ends with a space ",
    " starts with a space",
    "two  spaces\tand a tab",
    "=?utf-8?b?SGFsbG8=?= =?utf-8?b?V2VsdA==?=",
    "x" * 70,
    "x" * 80,
    "a long subject " * 8,
    "Ünïcödé title",
    "",
]


@pytest.mark.parametrize("linesep", ["\n", "\r\n"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", VALUES)
def test_a_header_is_folded_as_compat32_folds_it(name: str, value: str, linesep: str) -> None:
    fast, slow = COMPAT32_FAST.clone(linesep=linesep), compat32.clone(linesep=linesep)

    assert fast.fold_binary(name, value) == slow.fold_binary(name, value)
    assert fast.fold(name, value) == slow.fold(name, value)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    value=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=90)
    | st.text(max_size=40),
)
def test_any_header_value_is_folded_as_compat32_folds_it(name: str, value: str) -> None:
    fast, slow = COMPAT32_FAST.clone(linesep="\r\n"), compat32.clone(linesep="\r\n")
    try:
        expected = slow.fold_binary(name, value)
    except Exception as error:  # what compat32 refuses, the fast policy refuses too
        with pytest.raises(type(error)):
            fast.fold_binary(name, value)
        return
    assert fast.fold_binary(name, value) == expected


def test_a_multipart_message_s_content_type_stays_on_one_line() -> None:
    """Its boundary is short enough for the fast path: no email.header.Header per message."""
    message = FormattedOnce(subject="s", body="text", from_email="a@example.com", to=["b@x.org"])
    message.attach_alternative("<p>html</p>", "text/html")
    data = message.message().as_bytes(linesep="\r\n")

    header = next(line for line in data.split(b"\r\n") if line.startswith(b"Content-Type:"))
    assert header.startswith(b'Content-Type: multipart/alternative; boundary="==')
    assert len(header) <= 78
    boundary = message.message().get_boundary()
    assert data.count(f"--{boundary}".encode()) == 3  # two parts and the closing line
    assert COMPAT32_FAST.fold("Content-Type", header[14:].decode()) == compat32.fold(
        "Content-Type", header[14:].decode()
    )
