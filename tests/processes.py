"""Django started in a subprocess from an environment built from nothing.

Settings, health, logging, metrics and Celery tests start the project this way, so that
neither this machine's variables nor a developer's .env leak in.
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """Only what the test says, with .env loading off: nothing leaks in from this machine."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHON_DOTENV_DISABLED": "1",
        "DJANGO_SETTINGS_MODULE": "watchdog.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path),
        "SECRET_KEY_FILE": str(tmp_path / "secret_key"),
        **variables,
    }


def run(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=REPO,
        env=environment(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_up(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return run(["-c", "import django; django.setup()"], tmp_path, **variables)


def check_deploy(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **variables)
