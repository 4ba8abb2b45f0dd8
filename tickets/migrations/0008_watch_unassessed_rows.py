# A ticket inserted by anything but the SLA engine starts due (UNASSESSED), and the open
# tickets that such code left unwatched before this migration are marked due once.

import datetime

from django.db import migrations, models

UNASSESSED = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def watch_unwatched_open_tickets(apps, schema_editor):
    # Open tickets with nothing scheduled: an ORM insert never assessed (the bug), or a
    # ticket whose running metrics are all breached or paused. Assessing the latter again
    # changes and announces nothing, so marking them all is safe.
    Ticket = apps.get_model("tickets", "Ticket")
    Ticket.objects.filter(status__in=["open", "pending"], next_check_at__isnull=True).update(
        next_check_at=UNASSESSED
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0007_open_states_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ticket",
            name="next_check_at",
            field=models.DateTimeField(
                blank=True, db_default=UNASSESSED, default=UNASSESSED, editable=False, null=True
            ),
        ),
        migrations.RunPython(watch_unwatched_open_tickets, migrations.RunPython.noop),
    ]
