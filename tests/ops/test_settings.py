"""Settings from the environment: good values are read, bad ones stop start-up by name.

Start-up is tried in a subprocess with an environment built from nothing, and with .env
loading switched off, so neither this machine's variables nor a developer's .env leak in.
"""

import secrets
import subprocess
import sys

import pytest
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django_ratelimit.core import _split_rate

from tests.processes import REPO, check_deploy, environment, start_up
from watchdog.checks import check_rate_limit_cache
from watchdog.environment import env_bool, env_float, env_int, env_list, env_rate, env_str

LONG_ENOUGH = secrets.token_urlsafe(64)
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": LONG_ENOUGH,
    "ALLOWED_HOSTS": "watchdog.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
}


# --- Start-up refuses bad values ------------------------------------------------------------


@pytest.mark.slow
def test_it_starts_up_with_nothing_configured(tmp_path):
    result = start_up(tmp_path)

    assert result.returncode == 0, result.stderr


def case(named: str, **variables: str) -> tuple[dict[str, str], str]:
    return variables, named


BAD_CONFIGURATIONS = {
    "DEBUG=maybe": case("DEBUG='maybe'", DEBUG="maybe"),
    "EMAIL_PORT=abc": case("EMAIL_PORT='abc'", EMAIL_PORT="abc"),
    "EMAIL_PORT=0": case("EMAIL_PORT='0'", EMAIL_PORT="0"),
    "EMAIL_TIMEOUT=-1": case("EMAIL_TIMEOUT='-1'", EMAIL_TIMEOUT="-1"),
    "EMAIL_TIMEOUT=nan": case("EMAIL_TIMEOUT='nan'", EMAIL_TIMEOUT="nan"),
    "EMAIL_TIMEOUT=inf": case("EMAIL_TIMEOUT='inf'", EMAIL_TIMEOUT="inf"),
    "SLA_WARNING_MINUTES=0": case("SLA_WARNING_MINUTES='0'", SLA_WARNING_MINUTES="0"),
    "SLA_CHECK_INTERVAL=soon": case("SLA_CHECK_INTERVAL='soon'", SLA_CHECK_INTERVAL="soon"),
    "API_PAGE_SIZE=0": case("API_PAGE_SIZE='0'", API_PAGE_SIZE="0"),
    "RATELIMIT_TICKETS_LIST=ten": case(
        "RATELIMIT_TICKETS_LIST='ten'", RATELIMIT_TICKETS_LIST="ten"
    ),
    "RATELIMIT_TICKETS_LIST=10/0m": case(
        "RATELIMIT_TICKETS_LIST='10/0m'", RATELIMIT_TICKETS_LIST="10/0m"
    ),
    "RATELIMIT_TICKETS_CREATE=1_0/m": case(
        "RATELIMIT_TICKETS_CREATE='1_0/m'", RATELIMIT_TICKETS_CREATE="1_0/m"
    ),
    "RATELIMIT_LOGIN_PER_IP=-5/m": case(
        "RATELIMIT_LOGIN_PER_IP='-5/m'", RATELIMIT_LOGIN_PER_IP="-5/m"
    ),
    "RATELIMIT_LOGIN_PER_USERNAME=5/week": case(
        "RATELIMIT_LOGIN_PER_USERNAME='5/week'", RATELIMIT_LOGIN_PER_USERNAME="5/week"
    ),
    "RATELIMIT_ENABLE=sometimes": case(
        "RATELIMIT_ENABLE='sometimes'", RATELIMIT_ENABLE="sometimes"
    ),
    "DATABASE_URL=nonsense://x": case("DATABASE_URL", DATABASE_URL="nonsense://x"),
    "REDIS_URL=http://x": case("REDIS_URL='http://x'", REDIS_URL="http://x"),
    "EMAIL_USE_TLS and EMAIL_USE_SSL": case(
        "EMAIL_USE_TLS and EMAIL_USE_SSL", EMAIL_USE_TLS="true", EMAIL_USE_SSL="true"
    ),
    "LOG_LEVEL=verbose": case("LOG_LEVEL='verbose'", LOG_LEVEL="verbose"),
    "WEBHOOK_ALLOWED_NETWORKS=intranet": case(
        "WEBHOOK_ALLOWED_NETWORKS: 'intranet'", WEBHOOK_ALLOWED_NETWORKS="10.0.0.0/8,intranet"
    ),
    "WEBHOOK_TIMEOUT=0": case("WEBHOOK_TIMEOUT='0'", WEBHOOK_TIMEOUT="0"),
    "DEBUG=false without SECRET_KEY": case(
        "SECRET_KEY", DEBUG="false", ALLOWED_HOSTS="watchdog.example.com"
    ),
    "DEBUG=false with a short SECRET_KEY": case(
        "SECRET_KEY", DEBUG="false", SECRET_KEY="short", ALLOWED_HOSTS="watchdog.example.com"
    ),
    "DEBUG=false with the development SECRET_KEY": case(
        "SECRET_KEY",
        DEBUG="false",
        SECRET_KEY="django-insecure-" + LONG_ENOUGH,
        ALLOWED_HOSTS="watchdog.example.com",
    ),
    "DEBUG=false without ALLOWED_HOSTS": case(
        "ALLOWED_HOSTS", DEBUG="false", SECRET_KEY=LONG_ENOUGH
    ),
    "DEBUG=false with blank ALLOWED_HOSTS": case(
        "ALLOWED_HOSTS", DEBUG="false", SECRET_KEY=LONG_ENOUGH, ALLOWED_HOSTS=" , "
    ),
}


@pytest.fixture(scope="module")
def start_ups(tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every bad configuration, started side by side: one after another takes ~10 s."""
    tmp_path = tmp_path_factory.mktemp("start-ups")
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=REPO,
            env=environment(tmp_path, **variables),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (variables, _) in BAD_CONFIGURATIONS.items()
    }
    finished = {}
    try:
        for name, process in running.items():
            stdout, stderr = process.communicate(timeout=60)
            finished[name] = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return finished


@pytest.mark.slow
@pytest.mark.parametrize("name", BAD_CONFIGURATIONS)
def test_it_refuses_to_start_with_a_bad_value_and_names_it(start_ups, name):
    _, named = BAD_CONFIGURATIONS[name]

    result = start_ups[name]

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


# --- The deployment checklist ---------------------------------------------------------------


@pytest.mark.slow
def test_check_deploy_passes_for_a_production_configuration(tmp_path):
    result = check_deploy(tmp_path, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "watchdog.W001" not in result.stdout + result.stderr


@pytest.mark.slow
def test_check_deploy_fails_on_per_process_rate_limits_without_redis(tmp_path):
    result = check_deploy(tmp_path, **{**PRODUCTION, "REDIS_URL": ""})

    assert result.returncode != 0
    assert "watchdog.W001" in result.stderr
    assert "Rate limits are counted per process" in result.stderr


def test_the_rate_limit_check_warns_about_an_in_process_cache():
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=locmem):
        messages = check_rate_limit_cache(None)

    assert [(type(m), m.id) for m in messages] == [(CheckWarning, "watchdog.W001")]
    assert "per process" in messages[0].msg


def test_the_rate_limit_check_is_quiet_with_redis():
    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        }
    }
    with override_settings(CACHES=redis):
        messages = check_rate_limit_cache(None)

    assert messages == []


# --- The environment readers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        (" TRUE ", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_reads_true_and_false_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", raw)

    assert env_bool("WATCHDOG_TEST_VALUE", not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_readers_answer_the_default_when_unset_or_blank(monkeypatch, default):
    monkeypatch.delenv("WATCHDOG_TEST_VALUE", raising=False)
    unset = env_bool("WATCHDOG_TEST_VALUE", default)
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", "  ")
    blank = env_bool("WATCHDOG_TEST_VALUE", default)

    assert (unset, blank) == (default, default)
    assert env_int("WATCHDOG_TEST_VALUE", 7) == 7
    assert env_float("WATCHDOG_TEST_VALUE", 2.5) == 2.5
    assert env_str("WATCHDOG_TEST_VALUE", "fallback") == "fallback"
    assert env_list("WATCHDOG_TEST_VALUE", ["a"]) == ["a"]
    assert env_rate("WATCHDOG_TEST_VALUE", "10/m") == "10/m"


def test_env_int_reads_a_whole_number_at_or_above_its_minimum(monkeypatch):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", " 587 ")

    assert env_int("WATCHDOG_TEST_VALUE", 25, minimum=1) == 587
    assert env_int("WATCHDOG_TEST_VALUE", 25, minimum=587) == 587


@pytest.mark.parametrize("raw", ["abc", "2.5", "0", "-3", "1e3"])
def test_env_int_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", raw)

    with pytest.raises(ImproperlyConfigured, match=r"WATCHDOG_TEST_VALUE=.*whole number >= 1"):
        env_int("WATCHDOG_TEST_VALUE", 25, minimum=1)


@pytest.mark.parametrize(("raw", "expected"), [("10", 10.0), ("0.5", 0.5), ("1e1", 10.0)])
def test_env_float_reads_a_number_at_or_above_its_minimum(monkeypatch, raw, expected):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", raw)

    assert env_float("WATCHDOG_TEST_VALUE", 1.0, minimum=0.1) == expected


@pytest.mark.parametrize("raw", ["soon", "0.05", "-1", "nan", "inf", "-inf"])
def test_env_float_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", raw)

    with pytest.raises(ImproperlyConfigured, match="WATCHDOG_TEST_VALUE="):
        env_float("WATCHDOG_TEST_VALUE", 1.0, minimum=0.1)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", " a.example.com, b.example.com ,, ")

    assert env_list("WATCHDOG_TEST_VALUE", []) == ["a.example.com", "b.example.com"]


def test_env_str_reads_the_value_without_surrounding_spaces(monkeypatch):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", "  redis://cache:6379/0 ")

    assert env_str("WATCHDOG_TEST_VALUE") == "redis://cache:6379/0"


@pytest.mark.parametrize(
    ("raw", "count", "seconds"),
    [("10/m", 10, 60), ("100/5m", 100, 300), ("1/s", 1, 1), ("3/2h", 3, 7200), ("7/d", 7, 86400)],
)
def test_env_rate_reads_rates_django_ratelimit_understands(monkeypatch, raw, count, seconds):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", raw)

    rate = env_rate("WATCHDOG_TEST_VALUE", "1/s")

    assert _split_rate(rate) == (count, seconds)


@pytest.mark.parametrize(
    "raw",
    ["ten", "10", "10/", "/m", "10/x", "10/M", "10/m/s", "10/0m", "0/m", "-1/m", "1_0/m", "10 /m"],
)
def test_env_rate_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("WATCHDOG_TEST_VALUE", raw)

    with pytest.raises(ImproperlyConfigured, match="WATCHDOG_TEST_VALUE="):
        env_rate("WATCHDOG_TEST_VALUE", "10/m")


def test_a_lease_shorter_than_a_few_smtp_timeouts_is_warned_about(settings):
    from watchdog.checks import check_delivery_lease

    settings.EMAIL_TIMEOUT = 10
    settings.SLA_DELIVERY_LEASE_SECONDS = 30

    assert [m.id for m in check_delivery_lease(None)] == ["watchdog.W002"]


def test_the_default_lease_outlasts_the_default_smtp_timeout(settings):
    from watchdog.checks import check_delivery_lease

    settings.EMAIL_TIMEOUT = 10
    settings.SLA_DELIVERY_LEASE_SECONDS = 300

    assert check_delivery_lease(None) == []
