"""Look-alike usernames: "alice" with a Cyrillic "a" (U+0430) must not pass for "alice".

A username's skeleton maps every character to one representative of the characters
Unicode's confusables data (UTS #39, as packaged by confusable-homoglyphs) says look the
same, after NFKC (fullwidth and other compatibility forms) and case folding. Two
usernames with one skeleton look alike; registration refuses the second.
"""

import unicodedata
from functools import cache

from confusable_homoglyphs.confusables import confusables_data
from django.contrib.auth.models import User

# Marks the data wraps right-to-left characters in, so they print in order.
_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f")


@cache
def _representatives() -> dict[str, str]:
    """Each confusable character's representative: the smallest of its class, ASCII first."""
    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent.get(char, char) != char:
            char = parent[char]
        return char

    def better(a: str, b: str) -> bool:
        return (not a.isascii(), ord(a)) < (not b.isascii(), ord(b))

    for source, homoglyphs in confusables_data.items():
        char = source.translate(_DIRECTION_MARKS)
        for homoglyph in homoglyphs:
            other = homoglyph["c"].translate(_DIRECTION_MARKS)
            if len(char) != 1 or len(other) != 1:
                continue  # a sequence ("rn" for "m"): beyond a per-character map
            a, b = root(char), root(other)
            if a != b:
                if better(b, a):
                    a, b = b, a
                parent[b] = a
    return {char: root(char) for char in parent}


def skeletons(username: str) -> frozenset[str]:
    """What `username` looks like, as typed and case-folded: shared by look-alikes.

    Both, because the confusables are case-sensitive ("I" passes for "l", "i" does not)
    while usernames are unique in any case.
    """
    representatives = _representatives()

    def mapped(text: str) -> str:
        return "".join(representatives.get(char, char) for char in text)

    normal = unicodedata.normalize("NFKC", username)
    return frozenset({mapped(normal), mapped(normal.casefold())})


def lookalike_of(username: str) -> str | None:
    """An existing username that `username` looks like (itself in another case too).

    Reads every username: registration is rare and rate limited, and a stored skeleton
    would miss the users made outside registration (admin, createsuperuser, code).
    """
    wanted = skeletons(username)
    for existing in User.objects.values_list("username", flat=True).iterator(chunk_size=2000):
        if wanted & skeletons(existing):
            return existing
    return None
