"""Stripe dashboard exports through the upload path (kind=revenue): customers, subscriptions and itemised invoices
from tests/fixtures/stripe (the shapes of docs/stripe-csv.md), stored to the cent, all or nothing, idempotent,
never regressing newer state, each org to its own."""

import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal as D
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command
from django.urls import reverse

from ingest.models import DirtyDay, Upload
from pricing.models import (
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeProduct,
    StripeSubscription,
    StripeSubscriptionItem,
)
from pricing.selectors import customer_plans_on, recognised_revenue
from pricing.services.stripe_objects import subscription_upsert
from tests.base import BaseTestCase
from tests.ingest.helpers import ApiClientMixin, as_upload

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stripe"
MIRRORS = (StripeProduct, StripePrice, StripeCustomer, StripeSubscription, StripeSubscriptionItem, StripeInvoice,
           StripeInvoiceLine)  # fmt: skip
ORDER = ("customers.csv", "subscriptions.csv", "invoice_line_items.csv")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def edited(name: str, old: str, new: str) -> bytes:
    text = fixture(name).decode()
    assert old in text, old
    return text.replace(old, new, 1).encode()


class StripeCsvTestCase(ApiClientMixin, BaseTestCase):
    def setUp(self):
        self.make_keys()

    def upload(self, name, content=None, key=None, **fields):
        response = self.api_upload(name, fixture(name) if content is None else content, key=key, kind="revenue",
                                   **fields)  # fmt: skip
        self.assertEqual(response.status_code, 201, response.content)
        return self.api_get(f"/api/v1/uploads/{response.json()['id']}/").json()

    def upload_all(self, names=ORDER):
        for name in names:
            body = self.upload(name)
            self.assertEqual(body["status"], "done", body["errors"])

    def snapshot(self, org=None, exclude=()):
        """Every mirror row's values but the database keys (and `exclude`), per model."""

        def kept(key):
            return key not in ("id", "code", *exclude) and (key == "stripe_id" or not key.endswith("_id")
                                                            or key.endswith("_stripe_id"))  # fmt: skip

        return {
            model.__name__: sorted(
                tuple(sorted((k, str(v)) for k, v in row.items() if kept(k)))
                for row in model.objects.for_org(org or self.org).values()
            )
            for model in MIRRORS
        }


class CustomersExportTests(StripeCsvTestCase):
    def test_it_stores_customers_with_our_id_from_metadata(self):
        body = self.upload("customers.csv")
        self.assertEqual((body["status"], body["format"], body["rows_total"], body["rows_loaded"]),
                         ("done", "stripe_customers", 4, 4))  # fmt: skip
        acme = StripeCustomer.objects.for_org(self.org).get(stripe_id="cus_acme01")
        self.assertEqual((acme.customer_id, acme.email, acme.name), ("acme", "billing@acme.test", "Acme"))
        self.assertEqual(acme.metadata, {"customer_id": "acme", "tier": "gold"})
        self.assertEqual(acme.stripe_created, datetime(2026, 9, 1, 9, tzinfo=UTC))
        self.assertEqual(StripeCustomer.objects.for_org(self.org).get(stripe_id="cus_hooli01").customer_id, "")

    def test_it_reads_headers_in_any_case(self):
        content = fixture("customers.csv").replace(b"id,Description,Email,Name,Created (UTC)",
                                                   b"ID,description,EMAIL,name,created  (utc)")  # fmt: skip
        body = self.upload("customers.csv", content)
        self.assertEqual(body["status"], "done", body["errors"])
        self.assertEqual(
            StripeCustomer.objects.for_org(self.org).get(stripe_id="cus_acme01").email, "billing@acme.test"
        )


class SubscriptionsExportTests(StripeCsvTestCase):
    def test_it_stores_subscriptions_items_and_their_prices(self):
        self.upload_all(ORDER[:2])
        acme = StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_acme01")
        self.assertEqual((acme.status, acme.currency, acme.customer.customer_id), ("active", "USD", "acme"))
        self.assertEqual(acme.current_period_start, datetime(2026, 11, 1, tzinfo=UTC))
        [item] = acme.items.all()
        self.assertEqual((item.quantity, item.price.stripe_id), (2, "price_pro"))
        pro = StripePrice.objects.for_org(self.org).get(stripe_id="price_pro")
        self.assertEqual(
            (pro.unit_amount, pro.currency, pro.interval, pro.interval_count), (D("49.00"), "USD", "month", 1)
        )
        self.assertEqual((pro.plan_name, pro.product.stripe_id), ("Pro monthly", "prod_pro"))
        trial = StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_globex01")
        self.assertEqual((trial.status, trial.trial_end), ("trialing", datetime(2026, 11, 8, 10, tzinfo=UTC)))
        hooli = StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_hooli01")
        self.assertEqual(hooli.ended_at, datetime(2026, 10, 15, 12, tzinfo=UTC))
        plans = customer_plans_on(org=self.org, day=date(2026, 11, 2))
        self.assertEqual(plans, {"acme": "Pro monthly", "globex": "trial", "initech": "Starter monthly"})

    def test_a_plan_given_only_by_id_and_a_product_by_name(self):
        content = (
            b"id,Customer ID,Plan,Product,Quantity,Interval,Amount,Currency,Status,Created (UTC)\n"
            b"sub_x,cus_x,plan_legacy_gold,Gold,1,Every 3 months,300,jpy,active,2026-10-01 00:00\n"
        )
        body = self.upload("subscriptions.csv", content)
        self.assertEqual(body["status"], "done", body["errors"])
        price = StripePrice.objects.for_org(self.org).get(stripe_id="plan_legacy_gold")
        self.assertEqual(
            (price.kind, price.plan_name, price.unit_amount, price.currency), ("plan", "Gold", D(300), "JPY")
        )
        self.assertEqual((price.interval, price.interval_count), ("month", 3))


class InvoicesExportTests(StripeCsvTestCase):
    def test_it_stores_itemised_invoices_to_the_cent(self):
        self.upload_all(ORDER[:2])
        body = self.upload("invoice_line_items.csv")
        self.assertEqual((body["status"], body["format"], body["rows_total"]), ("done", "stripe_invoices", 5))
        self.assertEqual(body["totals"], {"USD": "131.2400000000"})  # paid: 110.34 + 20.90 + 0
        acme = StripeInvoice.objects.for_org(self.org).get(stripe_id="in_acme11")
        self.assertEqual((acme.paid_amount, acme.due_amount, acme.tax_amount, acme.discount_amount),
                         (D("110.34"), D("110.34"), D(0), D(0)))  # fmt: skip
        self.assertEqual((acme.customer.customer_id, acme.subscription.stripe_id), ("acme", "sub_acme01"))
        self.assertEqual(acme.paid_at, datetime(2026, 11, 1, 1, tzinfo=UTC))
        lines = {line.stripe_id: line for line in acme.lines.all()}
        self.assertEqual((lines["il_acme11a"].amount, lines["il_acme11a"].quantity), (D("98.00"), 2))
        self.assertEqual(lines["il_acme11a"].price.plan_name, "Pro monthly")
        self.assertEqual((lines["il_acme11b"].amount, lines["il_acme11b"].price), (D("12.34"), None))
        initech = StripeInvoice.objects.for_org(self.org).get(stripe_id="in_initech11")
        self.assertEqual((initech.tax_amount, initech.total_amount), (D("1.90"), D("20.90")))
        self.assertEqual(StripeInvoice.objects.for_org(self.org).get(stripe_id="in_hooli10").status, "open")

    def test_november_revenue_by_hand(self):
        self.upload_all()
        rows = {(r.customer, r.plan): r.revenue for r in recognised_revenue(org=self.org, start=date(2026, 11, 1),
                                                                            end=date(2026, 12, 1))}  # fmt: skip
        # acme paid 110.34 for a 98.00 seat line and a 12.34 burst pack; initech 20.90 of which 1.90 tax.
        self.assertEqual(rows, {("acme", "Pro monthly"): D("98.00"), ("acme", ""): D("12.34"),
                                ("initech", "Starter monthly"): D("19.00")})  # fmt: skip
        week = {r.customer: r.revenue for r in recognised_revenue(org=self.org, start=date(2026, 11, 2),
                                                                  end=date(2026, 11, 9))}  # fmt: skip
        self.assertEqual(week["initech"], D("4.4333333333"))  # 19.00 x 7/30

    def test_the_order_of_the_files_does_not_matter(self):
        self.upload_all(reversed(ORDER))
        # A price first seen on an invoice line is stored as of that invoice; its details come with the subscription.
        other = self.snapshot(exclude=["state_at"])
        for model in MIRRORS:
            model.objects.for_org(self.org).delete()
        self.upload_all()
        self.assertEqual(self.snapshot(exclude=["state_at"]), other)
        invoice = StripeInvoice.objects.for_org(self.org).get(stripe_id="in_acme11")
        self.assertEqual((invoice.customer.customer_id, invoice.subscription.stripe_id), ("acme", "sub_acme01"))
        self.assertEqual(StripePrice.objects.for_org(self.org).get(stripe_id="price_pro").unit_amount, D("49.00"))

    def test_an_export_without_line_columns_keeps_the_lines_held(self):
        self.upload_all()
        content = (
            b"id,Customer,Subscription,Status,Currency,Amount Due,Amount Paid,Date (UTC),Paid At (UTC)\n"
            b"in_acme11,cus_acme01,sub_acme01,paid,usd,110.34,110.34,2026-11-01 00:00,2026-11-01 01:00\n"
        )
        body = self.upload("invoices.csv", content)
        self.assertEqual(body["status"], "done", body["errors"])
        self.assertEqual(StripeInvoiceLine.objects.for_org(self.org).filter(invoice__stripe_id="in_acme11").count(), 2)


class AllOrNothingTests(StripeCsvTestCase):
    def assert_nothing_stored(self):
        self.assertEqual({m.__name__: m.objects.for_org(self.org).count() for m in MIRRORS},
                         {m.__name__: 0 for m in MIRRORS})  # fmt: skip

    def test_a_bad_amount_rejects_the_whole_file_with_row_and_column(self):
        content = edited("invoice_line_items.csv", ",20.90,20.90,0.00,", ",20.90,2O.90,0.00,")
        body = self.upload("invoice_line_items.csv", content)
        self.assertEqual(body["status"], "failed")
        self.assertEqual(body["errors"], [{"row": 4, "column": "Amount Paid",
                                           "message": "Amount Paid is not a number: '2O.90'"}])  # fmt: skip
        self.assert_nothing_stored()

    def test_a_missing_column_rejects_the_file(self):
        content = fixture("invoice_line_items.csv").replace(b",Customer ID,", b",Client,", 1)
        body = self.upload("invoice_line_items.csv", content)
        self.assertEqual(body["status"], "failed")
        self.assertEqual([(e["row"], e["column"]) for e in body["errors"]], [(1, "Customer ID")])
        self.assert_nothing_stored()

    def test_a_format_asked_for_must_fit(self):
        body = self.upload("customers.csv", format="stripe_invoices")
        self.assertEqual(body["status"], "failed")
        self.assertEqual({e["column"] for e in body["errors"]}, {"Customer ID", "Status", "Currency", "Amount Paid"})
        self.assertEqual(self.upload("customers.csv", format="stripe_nope")["status"], "failed")
        self.assert_nothing_stored()

    def test_bad_cells_are_all_reported_and_nothing_is_kept(self):
        content = edited("subscriptions.csv", ",2,month,49.00,usd,active,", ",2,month,49.00,usd,activ,")
        content = content.replace(b"2026-10-01 08:30,2026-10-01 08:30", b"yesterday,2026-10-01 08:30")
        body = self.upload("subscriptions.csv", content)
        self.assertEqual(body["status"], "failed")
        self.assertEqual([(e["row"], e["column"]) for e in body["errors"]],
                         [(2, "Status"), (4, "Created (UTC)")])  # fmt: skip
        self.assert_nothing_stored()

    def test_rows_of_one_invoice_that_disagree_reject_it(self):
        content = edited("invoice_line_items.csv", "110.34,110.34,0.00,110.34,110.34,0.00,0.00,2026-11-01 00:00,"
                         "2026-11-01 00:00,2026-12-01 00:00,2026-11-01 01:00,il_acme11b",
                         "110.34,100.34,0.00,110.34,110.34,0.00,0.00,2026-11-01 00:00,2026-11-01 00:00,"
                         "2026-12-01 00:00,2026-11-01 01:00,il_acme11b")  # fmt: skip
        body = self.upload("invoice_line_items.csv", content)
        self.assertEqual(body["status"], "failed")
        self.assertEqual([(e["row"], e["column"]) for e in body["errors"]], [(3, "Amount Paid")])
        self.assert_nothing_stored()

    def test_an_unknown_header_is_refused(self):
        body = self.upload("x.csv", b"a,b\n1,2\n")
        self.assertEqual(body["status"], "failed")
        self.assertIn("not a Stripe export", body["errors"][0]["message"])


class IdempotencyAndOrderingTests(StripeCsvTestCase):
    def test_importing_the_same_files_again_changes_nothing(self):
        self.upload_all()
        before = self.snapshot()
        self.upload_all()
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(StripeInvoiceLine.objects.for_org(self.org).count(), 5)

    def test_a_newer_state_from_a_webhook_is_not_regressed(self):
        self.upload_all(ORDER[:2])
        held = StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_acme01")
        canceled = {"id": "sub_acme01", "object": "subscription", "customer": "cus_acme01", "status": "canceled",
                    "created": int(held.stripe_created.timestamp()), "ended_at": 1_795_000_000,
                    "items": {"object": "list", "data": []}}  # fmt: skip
        subscription_upsert(org=self.org, obj=canceled, state_at=datetime(2026, 11, 20, tzinfo=UTC))
        body = self.upload("subscriptions.csv")
        self.assertEqual((body["status"], body["rows_loaded"], body["rows_duplicate"]), ("done", 3, 1))
        self.assertEqual(StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_acme01").status, "canceled")

    def test_an_older_state_gives_way_to_the_export(self):
        self.upload_all(ORDER[:2])
        trialing = {"id": "sub_initech01", "object": "subscription", "customer": "cus_initech01",
                    "status": "trialing", "items": {"object": "list", "data": []}}  # fmt: skip
        subscription_upsert(org=self.org, obj=trialing, state_at=datetime(2026, 10, 2, tzinfo=UTC))
        self.upload("subscriptions.csv")  # the export shows the period renewed on 1 November: newer
        self.assertEqual(StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_initech01").status, "active")


class RevenueUploadDeleteTests(StripeCsvTestCase):
    """Deleting a revenue upload deletes the Stripe objects whose last writer it was; a sync's or webhook's stay."""

    def delete(self, body):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.delete(f"/api/v1/uploads/{body['id']}/",
                                          HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def november(self):
        revenue = {}
        for row in recognised_revenue(org=self.org, start=date(2026, 11, 1), end=date(2026, 12, 1)):
            revenue[row.customer] = revenue.get(row.customer, D(0)) + row.revenue
        return revenue

    def test_deleting_the_uploads_takes_their_stripe_objects_and_revenue(self):
        bodies = [self.upload(name) for name in ORDER]
        self.assertEqual(self.november(), {"acme": D("110.34"), "initech": D("19.00")})
        upload = Upload.objects.get(code=bodies[2]["id"])
        self.assertEqual(StripeInvoiceLine.objects.for_org(self.org).filter(upload=upload).count(), 5)
        held = sum(model.objects.for_org(self.org).filter(upload__code=bodies[2]["id"]).count() for model in MIRRORS)
        deleted = self.delete(bodies[2])  # the invoices: revenue goes, the plans stay
        self.assertEqual((deleted["kind"], deleted["stripe_objects"]), ("revenue", held))
        self.assertEqual(self.november(), {})
        self.assertEqual(StripeInvoiceLine.objects.for_org(self.org).count(), 0)
        self.assertTrue(StripeSubscription.objects.for_org(self.org).exists())
        subscriptions = self.delete(bodies[1])
        self.assertGreater(subscriptions["stripe_objects"], 0)
        self.assertTrue(subscriptions["days"])  # the plans the subscriptions gave recompute
        self.assertTrue(set(DirtyDay.objects.filter(org=self.org).values_list("day", flat=True))
                        >= {date.fromisoformat(d) for d in subscriptions["days"]})  # fmt: skip
        self.delete(bodies[0])
        self.assertEqual({model.__name__: model.objects.for_org(self.org).count() for model in MIRRORS},
                         {model.__name__: 0 for model in MIRRORS})  # fmt: skip

    def test_an_object_a_webhook_wrote_since_stays(self):
        bodies = [self.upload(name) for name in ORDER]
        held = StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_acme01")
        self.assertEqual(str(held.upload.code), bodies[1]["id"])
        canceled = {"id": "sub_acme01", "object": "subscription", "customer": "cus_acme01", "status": "canceled",
                    "created": int(held.stripe_created.timestamp()), "ended_at": 1_795_000_000,
                    "items": {"object": "list", "data": []}}  # fmt: skip
        subscription_upsert(org=self.org, obj=canceled, state_at=datetime(2026, 11, 20, tzinfo=UTC))
        self.assertIsNone(StripeSubscription.objects.for_org(self.org).get(stripe_id="sub_acme01").upload)
        for body in bodies:
            self.delete(body)
        self.assertEqual(list(StripeSubscription.objects.for_org(self.org).values_list("stripe_id", "status")),
                         [("sub_acme01", "canceled")])  # fmt: skip
        self.assertEqual(StripeInvoice.objects.for_org(self.org).count(), 0)
        self.assertEqual(self.november(), {})

    def test_importing_again_makes_the_new_upload_the_writer(self):
        first = self.upload("customers.csv")
        second = self.upload("customers.csv")
        self.assertEqual(self.delete(first)["stripe_objects"], 0)
        self.assertEqual(StripeCustomer.objects.for_org(self.org).count(), 4)
        self.assertEqual(self.delete(second)["stripe_objects"], 4)
        self.assertFalse(StripeCustomer.objects.for_org(self.org).exists())


class RevenueUploadAccessTests(StripeCsvTestCase):
    def test_it_hides_other_orgs(self):
        mine = self.upload("customers.csv")
        self.assertEqual(self.api_get(f"/api/v1/uploads/{mine['id']}/", key=self.charlie_key).status_code, 404)
        self.client.force_login(self.charlie)
        page = self.client.get(reverse("ingest-upload", args=[self.org.code, mine["id"]]))
        self.assertEqual(page.status_code, 404)
        self.assertEqual(StripeCustomer.objects.for_org(self.charlies_org).count(), 0)

    def test_each_org_keeps_its_own_rows(self):
        self.upload_all()
        self.upload("customers.csv", key=self.charlie_key)
        self.assertEqual(StripeCustomer.objects.for_org(self.charlies_org).count(), 4)
        self.assertEqual(StripeInvoice.objects.for_org(self.charlies_org).count(), 0)
        self.assertEqual(recognised_revenue(org=self.charlies_org, start=date(2026, 11, 1), end=date(2026, 12, 1)), [])

    def test_it_requires_write(self):
        response = self.api_upload("customers.csv", fixture("customers.csv"), key=self.read_key, kind="revenue")
        self.assertEqual(response.status_code, 403)
        self.client.force_login(self.bob)
        url = reverse("ingest-sources", args=[self.org.code])
        response = self.client.post(url, {"file": as_upload("customers.csv", fixture("customers.csv")),
                                          "kind": "revenue"})  # fmt: skip
        self.assertEqual(response.status_code, 403)
        self.assertEqual(Upload.objects.for_org(self.org).count(), 0)

    def test_the_sources_page_uploads_an_export(self):
        self.client.force_login(self.alice)
        url = reverse("ingest-sources", args=[self.org.code])
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(url, {"file": as_upload("customers.csv", fixture("customers.csv")),
                                              "kind": "revenue", "format": ""})  # fmt: skip
        self.assertEqual(response.status_code, 302)
        response = self.client.get(response["Location"])
        self.assertContains(response, "Stripe objects stored")
        self.assertContains(response, "stripe_customers")
        self.assertEqual(StripeCustomer.objects.for_org(self.org).count(), 4)


class ImportFileCommandTests(StripeCsvTestCase):
    def test_the_command_imports_an_export(self):
        out = StringIO()
        path = FIXTURES / "invoice_line_items.csv"
        call_command("import_file", "--org", str(self.org.code), "--kind", "revenue", str(path), stdout=out)
        self.assertIn(
            "stripe_invoices, 4 Stripe objects stored (0 held newer), 131.2400000000 USD paid", out.getvalue()
        )
        self.assertEqual(len(out.getvalue().strip().splitlines()), 1)

    def test_the_command_fails_with_the_row_and_column(self):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "customers.csv"
            path.write_bytes(fixture("customers.csv").replace(b"cus_globex01,", b",", 1))
            with self.assertRaisesMessage(CommandError, "row 3, column id: id is empty"):
                call_command("import_file", "--org", str(self.org.code), "--kind", "revenue", str(path),
                             stdout=StringIO())  # fmt: skip
        self.assertEqual(StripeCustomer.objects.for_org(self.org).count(), 0)
