"""The lines that run past the UTC midnight after their start, by org and start: a day's rollup finds the lines that
run into it from the days before (finops.selectors.inputs.CROSSING, the same predicate word for word) without reading
62 days of lines. PostgreSQL only (an expression Django's Index cannot state); the ORM's read elsewhere needs none."""

from django.db import migrations

INDEX = "costline_org_crossing"
CREATE = f"""
CREATE INDEX IF NOT EXISTS {INDEX} ON ingest_costline (org_id, charge_period_start)
WHERE charge_period_end > (date_trunc('day', charge_period_start AT TIME ZONE 'UTC') + interval '1 day')
    AT TIME ZONE 'UTC'
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("ingest", "0008_costline_commitment_upload_row_indexes")]

    operations = [migrations.RunPython(create, drop)]
