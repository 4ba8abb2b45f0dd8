"""The signing key of an installation that sets no SECRET_KEY: random, made once, kept in a file.

Everything Django and the JWTs sign (access and refresh tokens, sessions, password-reset
links) is only as secret as SECRET_KEY. A key written in the repository would let anyone
sign a token for any user, so a development installation that sets none gets its own.
"""

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MINIMUM_LENGTH = 50


def installation_secret_key(path: Path) -> str:
    """The key kept at `path`, made (random, readable by its owner only) on first use.

    Several processes may start at once (`make run` starts the checker beside the server):
    the key is written to a temporary file and linked into place, so no process reads a
    half-written key, and every process ends up with the first writer's.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(64) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if len(key) < MINIMUM_LENGTH:
        raise ImproperlyConfigured(
            f"{path} holds no usable SECRET_KEY (fewer than {MINIMUM_LENGTH} characters): "
            "delete it to have a new one made, or set SECRET_KEY."
        )
    return key
