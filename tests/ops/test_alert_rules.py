"""deploy/prometheus/alerts.yml: well-formed, and about metrics /metrics really exports.

An alert on a metric that no longer exists never fires, and nothing says so: Prometheus
evaluates the expression to an empty result, as it would for a healthy service. So every
metric name (and every label value an expression selects with `=`) is looked up in a real
scrape of /metrics, parsed with prometheus_client's parser; renaming a metric or a label
value without changing the rules fails here. promtool is not available on this machine,
so the PromQL itself is only checked by operators (`promtool check rules`).
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tickets.checker import run_check

PROMETHEUS = Path(settings.BASE_DIR) / "deploy" / "prometheus"
TOKEN = "a-metrics-token-that-is-long-enough-0123456789"
# Series Prometheus itself makes for every target, not exported by the service.
PROMETHEUS_OWN = {"up"}
SEVERITIES = {"critical", "warning", "info"}

# What in an expression is not a metric name: strings, label matchers, ranges, and the
# label lists of aggregations and vector matching.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan", "atan2"}
# A name not inside a number (1e3) or a duration (5m), and not a function call.
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def equality_matchers(expr: str) -> list[tuple[str, str, str]]:
    """(metric, label, value) for each `label="value"` in a selector."""
    return [
        (metric, label, value)
        for metric, matchers in _SELECTOR.findall(expr)
        for label, operator, value in _MATCHER.findall(matchers)
        if operator == "="
    ]


def load(name: str) -> Any:
    return yaml.safe_load((PROMETHEUS / name).read_text())


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("alerts.yml")["groups"] for rule in group["rules"]]


def rule_ids() -> list[str]:
    return [rule.get("alert", "?") for rule in rules()]


@pytest.fixture
def exported(client, clock, db, settings, make_ticket) -> dict[str, list[dict[str, str]]]:
    """Every sample name /metrics exports, with the label sets it exports it with."""
    settings.METRICS_TOKEN = TOKEN
    make_ticket()
    run_check()  # the checker's heartbeat is only exported once a check has run

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    samples: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
    return samples


# --- The extraction the checks below rely on --------------------------------------------


def test_it_finds_every_metric_name_in_an_expression_and_nothing_else():
    expr = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="x", le!="1e3"}[5m]))) > 1e3'
        " and on (instance) b_total offset 1h or sum without (kind) (c) unless up == 0"
        ' or time() - d:recorded{name="e"} > bool inf'
    )

    assert metric_names(expr) == {"a_bucket", "b_total", "c", "up", "d:recorded"}


def test_it_finds_the_label_values_an_expression_selects_by_equality():
    expr = 'delta(n{status="failed", kind!="created", le=~"1.*"}[30m]) + m{state = "breached"}'

    assert equality_matchers(expr) == [("n", "status", "failed"), ("m", "state", "breached")]


# --- The rule file -----------------------------------------------------------------------


def test_the_rule_file_has_alerts_in_named_groups():
    groups = load("alerts.yml")["groups"]

    assert groups
    for group in groups:
        assert group["name"]
        assert group["rules"]
    names = rule_ids()
    assert len(names) == len(set(names)), "alert names must be unique"


@pytest.mark.parametrize("rule", rules(), ids=rule_ids())
def test_every_alert_has_a_name_expression_duration_severity_and_text(rule):
    assert re.fullmatch(r"SlaWatchdog[A-Z]\w+", rule["alert"])
    assert isinstance(rule["expr"], str)
    assert rule["expr"].strip()
    assert _DURATION.match(str(rule["for"])), rule["for"]
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()


@pytest.mark.parametrize("rule", rules(), ids=rule_ids())
def test_every_metric_an_alert_reads_is_exported_by_metrics(rule, exported):
    names = metric_names(rule["expr"])

    assert names, f"no metric found in {rule['expr']!r}"
    missing = {name for name in names - PROMETHEUS_OWN if name not in exported}
    assert not missing, f"{rule['alert']} reads metrics /metrics does not export: {missing}"


@pytest.mark.parametrize("rule", rules(), ids=rule_ids())
def test_every_label_value_an_alert_selects_is_exported(rule, exported):
    for metric, label, value in equality_matchers(rule["expr"]):
        if metric in PROMETHEUS_OWN:
            continue
        values = {labels.get(label) for labels in exported[metric]}
        assert value in values, f"{rule['alert']}: {metric} has no {label}={value!r}: {values}"


def test_the_scrape_failure_alert_selects_the_job_the_scrape_config_defines():
    jobs = {job["job_name"] for job in load("prometheus.yml")["scrape_configs"]}
    selected = {
        value
        for rule in rules()
        for metric, label, value in equality_matchers(rule["expr"])
        if metric == "up" and label == "job"
    }

    assert selected
    assert selected <= jobs


def test_the_scrape_config_loads_the_rules_and_sends_the_metrics_token():
    config = load("prometheus.yml")
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "sla-watchdog")

    assert "alerts.yml" in config["rule_files"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"]
