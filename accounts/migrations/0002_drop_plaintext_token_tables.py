"""Drop the tables of the token apps this service no longer installs.

DRF's authtoken app kept each user's API token in plain text, and simplejwt's blacklist
app kept every refresh token the same way: whoever read the database, or a backup of it,
could use them. Their tokens are not carried over (carrying them would keep exactly the
credentials that may have been copied); users sign in again, as after any expiry.
"""

from typing import Any

from django.db import migrations

# The blacklist refers to the outstanding tokens, so it goes first.
TABLES = ["authtoken_token", "token_blacklist_blacklistedtoken", "token_blacklist_outstandingtoken"]
APPS = ["authtoken", "token_blacklist"]


def drop_plaintext_token_tables(apps: Any, schema_editor: Any) -> None:
    existing = set(schema_editor.connection.introspection.table_names())
    for table in TABLES:
        if table in existing:
            schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(table)}")
    # Were either app installed again, its migrations would then recreate its tables.
    recorded = ", ".join(["%s"] * len(APPS))
    schema_editor.execute(f"DELETE FROM django_migrations WHERE app IN ({recorded})", APPS)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_logins")]

    operations = [
        migrations.RunPython(drop_plaintext_token_tables, migrations.RunPython.noop, elidable=True)
    ]
