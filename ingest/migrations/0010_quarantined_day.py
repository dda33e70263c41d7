"""Quarantined days: an org-day whose rollup failed, kept apart until its data changes (issue 16)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_onboarding_state"),
        ("ingest", "0009_costline_crossing_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="QuarantinedDay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("error", models.TextField(help_text="The last failure, truncated")),
                ("attempts", models.IntegerField(default=1)),
                ("first_failed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_failed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("retry_after", models.DateTimeField(help_text="Not recomputed before then unless its data changes")),
                (
                    "org",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.organization"
                    ),
                ),
            ],
            options={
                "ordering": ["day"],
                "constraints": [models.UniqueConstraint(fields=("org", "day"), name="quarantinedday_unique_org_day")],
            },
        ),
    ]
