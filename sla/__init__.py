"""The SLA domain: pure Python, no Django ORM, testable without a database.

- `business_time`: when a business is open, and durations counted in open time;
- `rules`: where a metric stands at `now`, and what it announces;
- `deadlines`: when a ticket's metrics are due, from a policy's targets and its pauses;
- `enums`: the values the rules speak in (states, announcements, metrics).
"""
