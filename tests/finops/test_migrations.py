from datetime import date
from decimal import Decimal as D
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TestCase, TransactionTestCase


class MigrationTests(TestCase):
    def test_it_has_a_migration_for_every_model_change(self):
        out = StringIO()
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
        self.assertIn("No changes detected", out.getvalue())


class RollupBackfillMigrationTests(TransactionTestCase):
    """0008 sums the rollup rows already computed into WorkRollup and CustomerRollup."""

    before = [("finops", "0007_rollups_without_fk_triggers")]
    after = [("finops", "0008_work_and_customer_rollups")]

    def setUp(self):
        self.executor = MigrationExecutor(connection)
        self.executor.migrate(self.before)

    def tearDown(self):
        self.executor.loader.build_graph()
        self.executor.migrate(self.executor.loader.graph.leaf_nodes())

    def test_it_sums_the_existing_rollup_rows(self):
        apps = self.executor.loader.project_state(self.before).apps
        org = apps.get_model("accounts", "Organization").objects.create(name="Backfill")
        rollup = apps.get_model("finops", "Rollup")
        common = {"org": org, "day": date(2026, 11, 2), "kind": "allocated", "source": "api_calls",
                  "bucket": "inference", "label": "customer_value", "currency": "USD", "plan": "pro",
                  "feature": "chat", "provider": "openai", "model": "gpt-4o"}  # fmt: skip
        rollup.objects.create(**common, customer="acme", route="premium", cost_amount=D("1.25"), calls=2,
                              input_tokens=100, output_tokens=10)  # fmt: skip
        rollup.objects.create(**common, customer="acme", route="cheap", cost_amount=D("0.75"), calls=3,
                              input_tokens=50, output_tokens=5)  # fmt: skip
        rollup.objects.create(**common, customer="beta", route="cheap", cost_amount=D("0.5"), calls=1,
                              unpriced_calls=1)  # fmt: skip

        self.executor.loader.build_graph()
        self.executor.migrate(self.after)
        apps = self.executor.loader.project_state(self.after).apps
        work = apps.get_model("finops", "WorkRollup").objects.filter(org_id=org.pk)
        self.assertEqual(
            sorted(work.values_list("has_unpriced", "cost_amount", "calls", "unpriced_calls", "input_tokens")),
            [(False, D("2.0000000000"), 5, 0, 150), (True, D("0.5000000000"), 1, 1, 0)],
        )
        customers = apps.get_model("finops", "CustomerRollup").objects.filter(org_id=org.pk)
        self.assertEqual(sorted(customers.values_list("customer", "plan", "cost_amount", "calls")),
                         [("acme", "pro", D("2.0000000000"), 5), ("beta", "pro", D("0.5000000000"), 1)])  # fmt: skip
