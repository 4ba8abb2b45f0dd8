"""tickets.facts: the engine's typed rows: the columns it reads and writes, per metric."""

from datetime import UTC, datetime

from sla.enums import Metric
from tickets.facts import (
    DEADLINE_FIELDS,
    FACT_FIELDS,
    METRICS,
    SLA_FIELDS,
    MetricSla,
    SlaColumns,
    TicketFacts,
)
from tickets.models import Ticket

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_every_column_the_engine_reads_or_writes_is_a_ticket_column():
    columns = {field.attname for field in Ticket._meta.concrete_fields}
    assert set(FACT_FIELDS) <= columns
    assert set(SLA_FIELDS) <= columns
    assert set(DEADLINE_FIELDS) <= columns


def test_each_metric_describes_the_columns_its_facts_come_from():
    facts = TicketFacts._make(f"<{field}>" for field in FACT_FIELDS)
    for columns in METRICS:
        stored = facts.stored(columns.metric)._asdict()
        assert [
            stored[key] for key in ("deadline", "state", "warning_threshold", "breached_at")
        ] == [
            f"<{columns.deadline}>",
            f"<{columns.state}>",
            f"<{columns.warning_threshold}>",
            f"<{columns.breached_at}>",
        ]
    assert facts.stored(Metric.FIRST_RESPONSE)._asdict()["met_at"] == "<first_responded_at>"
    assert facts.stored(Metric.RESOLUTION).met_at is None


def test_the_written_row_follows_sla_fields():
    written = SlaColumns(
        resolution=MetricSla("breached", 1, T0),
        first_response=MetricSla("at_risk", 2, None),
        next_breach_at=T0,
        next_check_at=None,
    )
    assert dict(zip(SLA_FIELDS, written.row(), strict=True)) == {
        "resolution_state": "breached",
        "resolution_warning_threshold": 1,
        "resolution_breached_at": T0,
        "resolution_escalation_step": 0,
        "first_response_state": "at_risk",
        "first_response_warning_threshold": 2,
        "first_response_breached_at": None,
        "first_response_escalation_step": 0,
        "next_breach_at": T0,
        "next_check_at": None,
    }


def test_new_deadlines_change_nothing_else():
    facts = TicketFacts._make(f"<{field}>" for field in FACT_FIELDS)
    moved = facts.with_deadlines(T0, None)
    assert moved._asdict() == {**facts._asdict(), "deadline": T0, "first_response_due": None}
    same = facts.with_deadlines(facts.deadline, facts.first_response_due)
    assert same is facts
