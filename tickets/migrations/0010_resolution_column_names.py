"""Name the resolution metric's SLA columns as the first-response ones are named.

A rename only: the API keeps `sla_state`, `warning_sent_at` and `breached_at`
(tickets.serializers maps them), and no row changes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tickets", "0009_pause_calendar")]

    operations = [
        migrations.RenameField("ticket", "sla_state", "resolution_state"),
        migrations.RenameField("ticket", "warning_sent_at", "resolution_warning_sent_at"),
        migrations.RenameField("ticket", "breached_at", "resolution_breached_at"),
        migrations.RenameField("ticket", "warning_threshold", "resolution_warning_threshold"),
        # The database renames the column inside ticket_open_states_idx by itself; only
        # Django's record of the index needs its new field name.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex("ticket", "ticket_open_states_idx"),
                migrations.AddIndex(
                    "ticket",
                    models.Index(
                        condition=models.Q(("status__in", ["open", "pending"])),
                        fields=["resolution_state", "first_response_state"],
                        name="ticket_open_states_idx",
                    ),
                ),
            ]
        ),
    ]
