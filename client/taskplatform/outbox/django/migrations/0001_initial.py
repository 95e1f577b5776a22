"""The outbox's tables (Postgres), from the one definition in taskplatform/outbox/schema.py."""

from django.db import migrations

from taskplatform.outbox.schema import DROP, STATEMENTS


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations = [
        migrations.RunSQL(sql=list(STATEMENTS), reverse_sql=list(DROP)),
    ]
