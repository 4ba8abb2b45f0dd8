"""Every setting the code reads is documented, once in docs/settings.md and in .env.example,
and neither names a setting the code does not read."""

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Where environment variables are read: the settings, and gunicorn's own configuration.
READERS = [ROOT / "watchdog" / "settings.py", ROOT / "gunicorn.conf.py"]
# Read by the test suite's settings only; no deployment sets it.
TEST_ONLY = {"DATABASE_TEST_NAME"}


def declared() -> set[str]:
    """Names passed to the strict readers of watchdog.environment (env_str, env_int ...)."""
    names: set[str] = set()
    for path in READERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.startswith("env_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names.add(str(node.args[0].value))
    return names


def in_settings_reference() -> set[str]:
    text = (ROOT / "docs" / "settings.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_the_readers_are_found():
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "PORT"} <= declared()


def test_every_setting_read_is_in_the_settings_reference():
    assert declared() - in_settings_reference() == set()


def test_the_settings_reference_names_only_settings_that_are_read():
    assert in_settings_reference() - declared() == set()


def test_every_setting_read_is_in_env_example():
    assert declared() - TEST_ONLY - in_env_example() == set()


def test_env_example_names_only_settings_that_are_read():
    assert in_env_example() - declared() == set()
