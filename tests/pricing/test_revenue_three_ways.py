"""One revenue scenario built three ways gives the same revenue, fees and margins to the cent (issue 8).

The scenario is made in a real localstripe (tests/pricing/stripe_helpers.py): three products and monthly plans,
four customers (three tied to ours by metadata), four subscriptions (one on a trial), their paid first
invoices and a paid one-off invoice. Then the same Stripe objects reach three organisations:
  (a) the sync reads them from localstripe;
  (b) the dashboard's CSV exports of them (customers, subscriptions, invoice line items, in the columns of
      docs/stripe-csv.md) go through POST /api/v1/uploads/ with kind=revenue;
  (c) they arrive as signed webhook events at POST /stripe/webhook/<org code>/.
Each org also gets the same model calls with reported costs, so margins are compared as well as revenue.

What the three cannot all carry is left out of the comparison, not faked: localstripe gives no refunds or
credit notes here (its charge says 0 refunded) and no API-version-2026 fields; the CSV exports carry amounts,
dates and ids but not livemode or an invoice's own metadata. Stripe's exports show times to the minute; the
files written here keep the seconds so that a period boundary cannot fall inside a truncated minute.
"""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import stripe
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_key_create, org_create
from pricing.models import StripeInvoice, StripeInvoiceLine, StripeSubscription
from pricing.selectors import recognised_revenue
from pricing.services.stripe_sync import stripe_connection_save, stripe_sync_run
from tests.base import BaseTestCase
from tests.ingest.helpers import as_upload
from tests.pricing.stripe_helpers import KEY, card, localstripe_base, localstripe_reset

SECRET = "whsec_three_ways_0123456789"
PLANS = (("starter-monthly", "Starter", "Starter monthly", 1900), ("pro-monthly", "Pro", "Pro monthly", 4900),
         ("team-monthly", "Team", "Team monthly", 19900))  # fmt: skip
CUSTOMERS = (
    # (key, metadata, plan, quantity, trial days)
    ("acme", {"customer_id": "acme"}, "pro-monthly", 2, None),
    ("globex", {"finops_customer": "globex"}, "team-monthly", 1, 14),
    ("initech", {"customer_id": "initech", "segment": "smb"}, "starter-monthly", 1, None),
    ("hooli", {}, "starter-monthly", 3, None),
)
COSTS = {"acme": ("6.10", "4.25"), "globex": ("9.99",), "initech": ("3.00", "2.50", "0.01"), "hooli": ("1.05",)}


def scenario_build(client: stripe.StripeClient) -> None:
    """The catalogue, the customers and their subscriptions (first invoices paid by card), a paid one-off."""
    for plan_id, product_name, nickname, cents in PLANS:
        product = client.v1.products.create(params={"name": product_name})
        client.v1.plans.create(params={"id": plan_id, "product": product.id, "amount": cents, "currency": "usd",
                                       "interval": "month", "nickname": nickname})  # fmt: skip
    ids = {}
    for key, metadata, plan_id, quantity, trial_days in CUSTOMERS:
        customer = client.v1.customers.create(params={"email": f"billing@{key}.test", "name": key.title(),
                                                      "metadata": metadata, "source": card(client)})  # fmt: skip
        ids[key] = customer.id
        params = {"customer": customer.id, "items": [{"plan": plan_id, "quantity": quantity}]}
        if trial_days:
            params["trial_period_days"] = trial_days
        client.v1.subscriptions.create(params=params)
    client.v1.invoice_items.create(params={"customer": ids["acme"], "amount": 1234, "currency": "usd",
                                           "description": "GPU burst pack"})  # fmt: skip
    extra = client.v1.invoices.create(params={"customer": ids["acme"]})
    client.v1.invoices.pay(extra.id)


def stripe_objects(client: stripe.StripeClient) -> dict:
    """Everything localstripe holds, as the API returns it (plain dicts)."""

    def listed(resource, **params):
        return [obj.to_dict() for obj in resource.list(params={"limit": 100, **params}).auto_paging_iter()]

    return {
        "products": listed(client.v1.products),
        "plans": listed(client.v1.plans),
        "customers": listed(client.v1.customers),
        "subscriptions": listed(client.v1.subscriptions, status="all"),
        "invoices": listed(client.v1.invoices),
    }


# The CSV exports, written from the API objects the way Stripe's dashboard lays them out (docs/stripe-csv.md).


def _when(epoch_seconds) -> str:
    if epoch_seconds is None:
        return ""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _major(cents) -> str:
    return "" if cents is None else f"{Decimal(cents) / 100:.2f}"


def _csv(header: list, rows: list) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def customers_export(objects: dict) -> bytes:
    keys = sorted({key for customer in objects["customers"] for key in customer.get("metadata") or {}})
    header = ["id", "Description", "Email", "Name", "Created (UTC)", *[f"{key} (metadata)" for key in keys]]
    rows = [[c["id"], c.get("description") or "", c.get("email") or "", c.get("name") or "", _when(c["created"]),
             *[(c.get("metadata") or {}).get(key, "") for key in keys]] for c in objects["customers"]]  # fmt: skip
    return _csv(header, rows)


def subscriptions_export(objects: dict) -> bytes:
    header = ["id", "Customer ID", "Customer Email", "Plan", "Product", "Price ID", "Quantity", "Interval", "Amount",
              "Currency", "Status", "Created (UTC)", "Start (UTC)", "Current Period Start (UTC)",
              "Current Period End (UTC)", "Trial Start (UTC)", "Trial End (UTC)", "Canceled At (UTC)",
              "Ended At (UTC)"]  # fmt: skip
    emails = {c["id"]: c.get("email") or "" for c in objects["customers"]}
    rows = []
    for s in objects["subscriptions"]:
        for item in s["items"]["data"]:
            plan = item["plan"]
            rows.append([s["id"], s["customer"], emails.get(s["customer"], ""), plan.get("nickname") or "",
                         plan["product"], plan["id"], item.get("quantity") or "", plan["interval"],
                         _major(plan["amount"]), plan["currency"], s["status"], _when(s["created"]),
                         _when(s.get("start_date")), _when(s.get("current_period_start")),
                         _when(s.get("current_period_end")), _when(s.get("trial_start")), _when(s.get("trial_end")),
                         _when(s.get("canceled_at")), _when(s.get("ended_at"))])  # fmt: skip
    return _csv(header, rows)


def invoice_lines_export(objects: dict) -> bytes:
    header = ["Invoice ID", "Number", "Customer ID", "Customer Email", "Subscription", "Status", "Currency",
              "Amount Due", "Amount Paid", "Amount Remaining", "Subtotal", "Total", "Tax", "Amount Refunded",
              "Date (UTC)", "Period Start (UTC)", "Period End (UTC)", "Paid At (UTC)", "Line Item ID", "Description",
              "Line Amount", "Price ID", "Plan", "Quantity", "Line Period Start (UTC)", "Line Period End (UTC)",
              "Proration"]  # fmt: skip
    rows = []
    for i in objects["invoices"]:
        charge = i.get("charge") if isinstance(i.get("charge"), dict) else {}
        head = [i["id"], i.get("number") or "", i["customer"], i.get("customer_email") or "",
                i.get("subscription") or "", i["status"], i["currency"], _major(i["amount_due"]),
                _major(i["amount_paid"]), _major(i.get("amount_remaining")), _major(i["subtotal"]), _major(i["total"]),
                _major(i.get("tax")), _major(charge.get("amount_refunded")), _when(i["created"]),
                _when(i.get("period_start")), _when(i.get("period_end")),
                _when((i.get("status_transitions") or {}).get("paid_at"))]  # fmt: skip
        assert not i["lines"]["has_more"]
        for line in i["lines"]["data"]:
            plan = line.get("plan") or {}
            period = line.get("period") or {}
            rows.append([*head, line["id"], line.get("description") or "", _major(line["amount"]), plan.get("id", ""),
                         plan.get("nickname") or "", line.get("quantity") or "", _when(period.get("start")),
                         _when(period.get("end")), "true" if line.get("proration") else "false"])  # fmt: skip
    return _csv(header, rows)


def webhook_events(objects: dict) -> list[dict]:
    """The events Stripe would have sent for the same objects, oldest first."""
    events = []

    def event(kind, obj):
        events.append({"id": f"evt_{len(events):04d}", "object": "event", "type": kind, "created": obj["created"],
                       "livemode": False, "data": {"object": obj}})  # fmt: skip

    for product in objects["products"]:
        event("product.created", product)
    for plan in objects["plans"]:
        event("plan.created", plan)
    for customer in objects["customers"]:
        event("customer.created", customer)
    for subscription in objects["subscriptions"]:
        event("customer.subscription.created", subscription)
    for invoice in objects["invoices"]:
        event("invoice.paid" if invoice["status"] == "paid" else "invoice.finalized", invoice)
    return events


class RevenueThreeWaysTests(BaseTestCase):
    def setUp(self):
        base = localstripe_base()
        client = localstripe_reset(base)
        scenario_build(client)
        self.objects = stripe_objects(client)
        override = override_settings(STRIPE_API_BASE=base)
        override.enable()
        self.addCleanup(override.disable)
        self.synced = self.org
        self.imported = org_create(name="Alice by CSV", owner=self.alice)
        self.hooked = org_create(name="Alice by webhooks", owner=self.alice)
        self.keys = {org.pk: api_key_create(org=org, name="k", scope="write", created_by=self.alice)[1]
                     for org in (self.synced, self.imported, self.hooked)}  # fmt: skip
        today = timezone.now().date()
        self.start, self.end = today - timedelta(days=1), today + timedelta(days=14)
        self.period = f"start={self.start:%Y-%m-%d}&end={self.end:%Y-%m-%d}"

    def api(self, method, org, url, **kwargs):
        auth = {"HTTP_AUTHORIZATION": f"Bearer {self.keys[org.pk]}"}
        with self.captureOnCommitCallbacks(execute=True):
            return getattr(self.client, method)(url, **kwargs, **auth)

    def build_by_sync(self):
        result = stripe_sync_run(org=self.synced, api_key=KEY)
        self.assertEqual(result.seen["invoices"], len(self.objects["invoices"]))

    def build_by_csv(self):
        exports = (("customers.csv", customers_export), ("subscriptions.csv", subscriptions_export),
                   ("invoice_line_items.csv", invoice_lines_export))  # fmt: skip
        for name, export in exports:
            data = {"file": as_upload(name, export(self.objects)), "kind": "revenue"}
            response = self.api("post", self.imported, "/api/v1/uploads/", data=data)
            self.assertEqual(response.status_code, 201, response.content)
            body = self.api("get", self.imported, f"/api/v1/uploads/{response.json()['id']}/").json()
            self.assertEqual(body["status"], "done", body["errors"])

    def build_by_webhooks(self):
        stripe_connection_save(org=self.hooked, webhook_secret=SECRET)
        url = reverse("pricing-stripe-webhook", args=[self.hooked.code])
        for event in webhook_events(self.objects):
            body = json.dumps(event)
            signature = stripe.WebhookSignature.generate_signature_header(body, SECRET)
            response = self.client.post(url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
            self.assertEqual(response.json(), {"id": event["id"], "duplicate": False, "applied": True})

    def usage(self, org):
        """The same model calls for each org, with the costs the provider reported, a few minutes ago."""
        at = timezone.now() - timedelta(minutes=10)
        events = [{"event_id": f"{customer}-{n}", "timestamp": (at + timedelta(seconds=n)).isoformat(),
                   "provider": "openai", "model": "gpt-4o", "customer": customer, "cost": cost, "currency": "USD",
                   "input_tokens": 1000, "output_tokens": 100}
                  for customer, costs in COSTS.items() for n, cost in enumerate(costs)]  # fmt: skip
        response = self.api("post", org, "/api/v1/usage-events/", data=json.dumps(events),
                            content_type="application/json")  # fmt: skip
        self.assertEqual(response.json()["accepted"], len(events), response.content)

    def test_sync_csv_and_webhooks_give_the_same_revenue_and_margins(self):
        self.build_by_sync()
        self.build_by_csv()
        self.build_by_webhooks()
        orgs = (self.synced, self.imported, self.hooked)
        for org in orgs:  # revenue first: the rollups take each customer's plan from its subscription
            self.usage(org)

        recognised = {org.pk: [(r.customer, r.plan, r.currency, r.revenue, r.fees)
                               for r in recognised_revenue(org=org, start=self.start, end=self.end)]
                      for org in orgs}  # fmt: skip
        expected = recognised[self.synced.pk]
        self.assertEqual(recognised[self.imported.pk], expected)
        self.assertEqual(recognised[self.hooked.pk], expected)
        by_key = {(customer, plan): revenue for customer, plan, _, revenue, _ in expected}
        self.assertEqual({customer for customer, _ in by_key}, {"acme", "initech", f"stripe:{self.hooli_id()}"})
        self.assertIn(("acme", "Pro monthly"), by_key)
        self.assertIn(("acme", ""), by_key)  # the one-off burst pack has no plan
        self.assertNotIn("globex", {customer for customer, _ in by_key})  # on its trial: nothing paid

        customers = {org.pk: self.api("get", org, f"/api/v1/economics/customers/?{self.period}").json() for org in orgs}
        self.assertEqual(customers[self.imported.pk], customers[self.synced.pk])
        self.assertEqual(customers[self.hooked.pk], customers[self.synced.pk])
        rows = {row["customer"]: row for row in customers[self.synced.pk]}
        self.assertEqual(rows["acme"]["plan"], "Pro monthly")
        self.assertEqual(rows["globex"]["plan"], "trial")
        self.assertIsNone(rows["globex"]["gross_margin"])  # no revenue: undefined, never 0
        self.assertEqual(rows["acme"]["ai_cost"], "10.3500000000")
        revenue = Decimal(rows["initech"]["revenue"])
        self.assertGreater(revenue, 0)
        margin = (revenue - Decimal("5.51")) / revenue
        self.assertEqual(Decimal(rows["initech"]["gross_margin"]), margin.quantize(Decimal("1e-10")))

        plans = {org.pk: self.api("get", org, f"/api/v1/economics/plans/?{self.period}").json() for org in orgs}
        self.assertEqual(plans[self.imported.pk], plans[self.synced.pk])
        self.assertEqual(plans[self.hooked.pk], plans[self.synced.pk])
        self.assertLessEqual({"Pro monthly", "Starter monthly", "trial"}, {p["plan"] for p in plans[self.synced.pk]})

        fields = ("stripe_id", "paid_amount", "tax_amount", "period_start", "paid_at")
        stored = {org.pk: sorted(StripeInvoice.objects.for_org(org).values_list(*fields)) for org in orgs}
        self.assertEqual(stored[self.imported.pk], stored[self.synced.pk])
        self.assertEqual(stored[self.hooked.pk], stored[self.synced.pk])
        lines = {org.pk: StripeInvoiceLine.objects.for_org(org).count() for org in orgs}
        self.assertEqual(set(lines.values()), {sum(len(i["lines"]["data"]) for i in self.objects["invoices"])})
        trials = {org.pk: list(StripeSubscription.objects.for_org(org).exclude(trial_end=None)
                               .values_list("stripe_id", "status", "trial_start", "trial_end"))
                  for org in orgs}  # fmt: skip
        self.assertEqual(trials[self.imported.pk], trials[self.synced.pk])
        self.assertEqual(trials[self.hooked.pk], trials[self.synced.pk])

    def hooli_id(self) -> str:
        return next(c["id"] for c in self.objects["customers"] if c["email"] == "billing@hooli.test")
