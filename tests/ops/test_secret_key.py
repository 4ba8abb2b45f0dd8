"""The signing key: never one published in the repository, and production never on DEBUG."""

import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework.test import APIClient

from watchdog.secret_key import installation_secret_key

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The development key this repository once published, spelled in pieces so that the
# repository-wide search below finds no copy of it, this file included.
PUBLISHED_KEY = "-".join(
    ["django", "insecure", "development", "only", "never", "use", "in", "production"]
)


def run(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """A process with only the environment the test gives it (and no .env)."""
    return subprocess.run(  # noqa: S603
        args,
        cwd=REPO,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHON_DOTENV_DISABLED": "1",
            "DJANGO_SETTINGS_MODULE": "watchdog.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "STATIC_ROOT": str(tmp_path),
            **variables,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def signing_key_at_start_up(tmp_path: Path, **variables: str) -> str:
    result = run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
        tmp_path,
        **variables,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- An installation that sets no key -----------------------------------------------------


@pytest.mark.slow
def test_a_fresh_installation_makes_its_own_key_readable_by_its_owner_only(tmp_path):
    key_file = tmp_path / "var" / "secret_key"

    key = signing_key_at_start_up(tmp_path, SECRET_KEY_FILE=str(key_file))

    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key) >= 50
    assert key != PUBLISHED_KEY
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left behind


@pytest.mark.slow
def test_later_starts_sign_with_the_same_key(tmp_path):
    key_file = tmp_path / "secret_key"

    first = signing_key_at_start_up(tmp_path, SECRET_KEY_FILE=str(key_file))
    second = signing_key_at_start_up(tmp_path, SECRET_KEY_FILE=str(key_file))

    assert first == second


@pytest.mark.slow
def test_processes_starting_together_agree_on_one_key(tmp_path):
    # `make run` starts the checker and the server at once, on a fresh clone.
    key_file = tmp_path / "secret_key"
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", "from django.conf import settings; print(settings.SECRET_KEY)"],
            cwd=REPO,
            env={
                "PATH": os.environ.get("PATH", ""),
                "PYTHON_DOTENV_DISABLED": "1",
                "DJANGO_SETTINGS_MODULE": "watchdog.settings",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                "STATIC_ROOT": str(tmp_path),
                "SECRET_KEY_FILE": str(key_file),
            },
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]

    keys = {process.communicate(timeout=60)[0].strip() for process in starting}

    assert keys == {key_file.read_text().strip()}


def test_two_installations_sign_with_different_keys(tmp_path):
    ours = installation_secret_key(tmp_path / "ours")
    theirs = installation_secret_key(tmp_path / "theirs")

    assert ours != theirs


@pytest.mark.slow
def test_a_key_set_in_the_environment_wins_and_no_file_is_made(tmp_path):
    key = "k" * 64
    key_file = tmp_path / "secret_key"

    assert signing_key_at_start_up(tmp_path, SECRET_KEY=key, SECRET_KEY_FILE=str(key_file)) == key
    assert not key_file.exists()


def test_it_refuses_a_key_file_too_short_to_be_a_key(tmp_path):
    (tmp_path / "secret_key").write_text("short\n")

    with pytest.raises(ImproperlyConfigured, match="delete it"):
        installation_secret_key(tmp_path / "secret_key")


@pytest.mark.slow
@pytest.mark.parametrize("key", ["short", PUBLISHED_KEY])
def test_it_refuses_to_start_on_a_weak_key_even_with_debug_on(tmp_path, key):
    result = run(
        [sys.executable, "-c", "import django; django.setup()"],
        tmp_path,
        DEBUG="true",
        SECRET_KEY=key,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


# --- The published key signs nothing ------------------------------------------------------


def test_this_test_run_does_not_sign_with_the_published_key():
    assert settings.SECRET_KEY != PUBLISHED_KEY
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == settings.SECRET_KEY


def test_a_jwt_signed_with_the_published_key_is_refused_with_401(alice):
    now = timezone.now()
    forged = jwt.encode(
        {
            "token_type": "access",
            "user_id": str(alice.pk),
            "jti": "f" * 32,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
        },
        PUBLISHED_KEY,
        algorithm="HS256",
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")

    response = client.get("/api/tickets/")

    assert response.status_code == 401


def test_the_published_key_is_nowhere_in_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")

    holding = [
        name.decode()
        for name in tracked
        if name and (REPO / name.decode()).is_file()
        if PUBLISHED_KEY.encode() in (REPO / name.decode()).read_bytes()
    ]

    assert holding == []


# --- Production processes never run on development settings -------------------------------


@pytest.mark.slow
def test_gunicorn_refuses_to_start_with_debug_on(tmp_path):
    result = run(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--print-config", "watchdog.wsgi"],
        tmp_path,
    )

    assert result.returncode != 0
    assert "DEBUG is true" in result.stderr


@pytest.mark.slow
def test_gunicorn_starts_with_debug_off(tmp_path):
    result = run(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--print-config", "watchdog.wsgi"],
        tmp_path,
        DEBUG="false",
        SECRET_KEY="k" * 64,
        ALLOWED_HOSTS="watchdog.example.com",
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_make_stack_refuses_to_start_with_debug_on(tmp_path):
    result = run(
        ["bash", "scripts/stack"],
        tmp_path,
        PYTHON=sys.executable,
        SECRET_KEY_FILE=str(tmp_path / "secret_key"),
        # Nothing listens there: a stack that did not refuse would stop at its migrate.
        DATABASE_URL="postgres://nobody@127.0.0.1:9/none",
        REDIS_URL="redis://127.0.0.1:9/0",
    )

    assert result.returncode != 0
    assert "make stack: set DEBUG=false" in result.stderr
