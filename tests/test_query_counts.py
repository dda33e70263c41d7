"""No read grows faster than its rows: every org page and every read endpoint makes as many queries for a tenant with
~1,000 rows of each kind as for one with ~10.

The pages (under `o/<org code>/`) and the API (under `api/v1/`) are discovered from the URLconf, so a new page is
measured as soon as it is routed: a pattern that needs more than the org code must have its arguments in `KWARGS`,
or be in `SKIPPED` with the reason; otherwise `test_every_org_page_and_read_endpoint_is_guarded` fails. Routes outside
the two prefixes (login and logout, the Stripe webhook, the agent download, the schema, /healthz, admin) read no
tenant's ledgers and are not discovered.

Both tenants hold the same kinds of data, the larger one about 100 times more of the ledgers (bill lines from FOCUS
uploads, model calls, GPU minutes from agent batches) and more of everything a page lists (customers, hosts,
uploads, budgets, commitments, releases, keys, members): a query per listed thing, or a query per row, shows up as
a different count."""

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import ApiKey, Role
from accounts.services import (
    agent_token_create,
    api_key_create,
    invitation_create,
    org_create,
    user_get_or_create,
)
from finops.models import Budget, Commitment
from finops.services.budgets import budget_save
from finops.services.onboarding import onboarding_fix_choose
from finops.services.rollups import rollups_refresh
from finops.services.settings import bucket_rule_create, commitment_create, learning_question_record, release_create
from ingest.models import CostLine, GpuHost, GpuMinute, Upload, UsageEvent
from ingest.services.agent import gpu_host_update
from ingest.services.connectors import connector_create
from ingest.services.gpu_marks import gpu_resource_mark
from ingest.services.uploads import column_mapping_create
from pricing.models import (
    StripeCustomer,
    StripeInvoice,
    StripeInvoiceLine,
    StripePrice,
    StripeSubscription,
    StripeSubscriptionItem,
)
from pricing.services.prices import price_override_create
from tests.ingest.helpers import as_upload, csv_bytes

PAGES, API = "o/<uuid:org_code>/", "api/v1/"
WEEK = date(2026, 11, 2)  # ISO week 2026-W45: every row of both tenants falls in it
# Each URL is read for the week and for the month around it (a range, and the hourly path of GPU charts).
PERIODS = ("start=2026-11-02&end=2026-11-09", "month=2026-11")
ONLY_PERIODS = {
    "finops-metrics-weekly-api": ("week=2026-W45",),  # weekly only
    "finops-anomalies-api": ("week=2026-W45",),
    "finops-forecast-api": ("month=2026-11",),  # monthly only
}
# Patterns that take more than the org code: the objects of the tenant they are read for.
KWARGS = {
    "finops-gpu-host": lambda tenant: {"code": tenant.host_code},
    "finops-gpu-host-edit": lambda tenant: {"code": tenant.host_code},
    "finops-customer": lambda tenant: {"customer": tenant.customers[0]},
    "ingest-upload": lambda tenant: {"code": tenant.upload_code},
    "ingest-mapping-create": lambda tenant: {"code": tenant.upload_code},
    "ingest-upload-delete": lambda tenant: {"code": tenant.upload_code},
    "ingest-upload-detail-api": lambda tenant: {"code": tenant.upload_code},
    "finops-budget-detail-api": lambda tenant: {"code": tenant.budget_code},
    "ingest-connector": lambda tenant: {"code": tenant.connector_code},
    "ingest-connector-edit": lambda tenant: {"code": tenant.connector_code},
    "ingest-connector-create": lambda tenant: {"kind": "s3_compatible"},
}
# Patterns not measured, with the reason; `test_the_skipped_ones_do_not_read` checks that each refuses a GET.
SKIPPED = {
    # Pages that only take a POST (a form's action), and redirect.
    "finops-rule-delete": "POST only: removes a bucket rule",
    "finops-budget-delete": "POST only: removes a budget",
    "finops-commitment-delete": "POST only: removes a commitment",
    "finops-onboarding-fix": "POST only: records the chosen fix",
    "accounts-member-role": "POST only: changes a member's role",
    "accounts-member-remove": "POST only: removes a member",
    "accounts-invitation-revoke": "POST only: withdraws an invitation",
    "accounts-api-key-revoke": "POST only: revokes an API key",
    "accounts-agent-token-revoke": "POST only: revokes an agent token",
    "ingest-connector-test": "POST only: tests a connector's credentials against its remote side",
    "ingest-connector-run": "POST only: starts a connector's run",
    "ingest-connector-delete": "POST only: deletes a connector",
    # API endpoints without a GET.
    "accounts-api-key-revoke-api": "DELETE only",
    "accounts-agent-token-revoke-api": "DELETE only",
    "finops-budget-check-api": "POST only: a budget check holds money",
    "finops-budget-reservation-api": "DELETE only: releases a hold",
    "ingest-usage-events-api": "POST only: model calls in",
    "ingest-usage-events-delete-api": "POST only: deletes model calls",
    "ingest-agent-samples-api": "the agent's endpoint: POST only, with an agent token",
}

BILL_COLUMNS = ("BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
                "ChargePeriodEnd", "ChargeCategory", "ChargeDescription", "ProviderName", "ServiceName",
                "ServiceCategory", "ResourceId", "ResourceName", "ResourceType", "SkuId", "BilledCost",
                "EffectiveCost", "Tags")  # fmt: skip


def discovered() -> list[tuple[str, str, tuple, object]]:
    """(name, route, argument names, view) of every org page and every API endpoint in the URLconf."""

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif route.startswith((PAGES, API)):
                yield pattern.name, route, pattern

    found = []
    for name, route, pattern in walk(get_resolver().url_patterns, ""):
        arguments = set(pattern.pattern.converters) | ({"org_code"} if route.startswith(PAGES) else set())
        found.append((name, route, tuple(sorted(arguments)), pattern.callback))
    return found


def measured() -> list[tuple[str, str]]:
    """(name, route) of the patterns the guard reads."""
    return [(name, route) for name, route, _, _ in discovered() if name not in SKIPPED]


class Tenant:
    """One organisation with `scale` times the small amount of every kind of data, and how to read it."""

    def __init__(self, label: str, scale: int, ledger_rows: int):
        self.label, self.scale, self.rows = label, scale, ledger_rows
        self.owner, _ = user_get_or_create(email=f"owner-{label}@example.org", password="x")
        self.org = org_create(name=f"Tenant {label}", owner=self.owner)
        _, self.write_key = api_key_create(org=self.org, name="write", scope="write", created_by=self.owner)
        self.read_key_row, self.read_key = api_key_create(org=self.org, name="read", scope="read",
                                                          created_by=self.owner)  # fmt: skip
        self.customers = [f"cust-{i}" for i in range(3 * scale)]
        self.features = [f"feature-{i}" for i in range(3 + scale)]

    def build(self, test_case):
        self.client = Client()  # for writing the data only: a Client is not kept in the class's test data
        self._people()
        self._bills(test_case)
        self._usage()
        self._agents()
        self._stripe()
        self._choices()
        del self.client
        rollups_refresh(org=self.org)

    def _people(self):
        for i in range(self.scale):
            user, _ = user_get_or_create(email=f"viewer-{i}-{self.label}@example.org", password="x")
            self.org.memberships.create(user=user, role=Role.VIEWER)
            invitation_create(org=self.org, email=f"invited-{i}-{self.label}@example.org", role=Role.MEMBER,
                              invited_by=self.owner)  # fmt: skip
            api_key_create(org=self.org, name=f"key {i}", scope="read", created_by=self.owner)

    def _bills(self, test_case):
        """FOCUS bills over the week, one upload per billing account: GPU nodes (one of them an agent host's), tagged
        and shared compute, storage and logs (the guided check's services), and an OpenAI cost report line."""
        accounts = 2 if self.scale == 1 else 5
        per_upload = self.rows // accounts
        for account in range(accounts):
            rows = [BILL_COLUMNS]
            for i in range(per_upload):
                n = account * per_upload + i
                rows.append(self._bill_line(f"acct-{account}", n))
            response = self._upload(test_case, f"bill-{account}.csv", csv_bytes(rows))
            assert response["status"] == "done", response
            self.upload_code = response["id"]
        column_mapping_create(org=self.org, name="neo", provider="NeoCloud", currency="USD",
                              columns={"cost": "Amount", "start": "Start"})  # fmt: skip

    def _bill_line(self, account: str, n: int) -> list:
        day = WEEK + timedelta(days=n % 7)
        customer, feature = self.customers[n % len(self.customers)], self.features[n % len(self.features)]
        kinds = [
            ("Compute", "Compute", f"node-{n % (2 * self.scale)}", "8xH100-SXM5-80GB", {"customer": customer}),
            ("Compute", "Compute", f"vm-{n % 5}", "m5.large", {"owner": f"team-{n % 3}", "feature": feature}),
            ("Object storage", "Storage", f"bucket-{n % 3}", "standard-storage", {"feature": feature}),
            ("Object storage", "Storage", "bucket-shared", "standard-storage", {}),
            ("Cloud Logging", "Management and Governance", "logs", "log-ingest", {}),
            ("OpenAI API", "AI and Machine Learning", "openai", "gpt-4o-mini", {}),
        ]
        service, category, resource, sku, tags = kinds[n % len(kinds)]
        provider = "OpenAI" if service == "OpenAI API" else "NeoCloud"
        cost = f"{1 + n % 17}.{n % 100:02d}"
        return [account, "USD", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", f"{day}T00:00:00Z",
                f"{day + timedelta(days=1)}T00:00:00Z", "Usage", "", provider, service, category, resource, resource,
                "Virtual Machine", sku, cost, cost, json.dumps(tags)]  # fmt: skip

    def _upload(self, test_case, name: str, content: bytes) -> dict:
        """Upload a bill, run its import (on commit, as in production) and return the upload as the API shows it."""
        auth = {"HTTP_AUTHORIZATION": f"Bearer {self.write_key}"}
        with test_case.captureOnCommitCallbacks(execute=True):
            response = self.client.post("/api/v1/uploads/", {"file": as_upload(name, content), "kind": "bill"}, **auth)
        assert response.status_code == 201, response.content
        return self.client.get(f"/api/v1/uploads/{response.json()['id']}/", **auth).json()

    def _usage(self):
        """Model calls: jobs with retries and failures, customers on features, priced, reported and unpriced."""
        events = []
        for n in range(self.rows):
            model = ("gpt-4o-mini", "claude-3-5-haiku", f"mystery-{n % 3}")[n % 3]
            provider = {"gpt-4o-mini": "openai", "claude-3-5-haiku": "anthropic"}.get(model, "acme-llm")
            job, attempt = divmod(n, 3)
            failed = job % 5 == 0 or (attempt < 2 and job % 2 == 0)  # every fifth job fails, others retry
            event = {"event_id": f"{self.label}-{n}", "provider": provider, "model": model,
                     "timestamp": f"{WEEK + timedelta(days=n % 7)}T{n % 24:02d}:{n % 60:02d}:00Z",
                     "customer": self.customers[n % len(self.customers)],
                     "feature": self.features[job % len(self.features)],
                     "environment": ("production", "staging")[n % 2],
                     "purpose": ("inference", "evaluation")[n % 7 == 0],
                     "job_id": f"job-{job}", "attempt": attempt + 1, "status": "error" if failed else "ok",
                     "input_tokens": 1000 + n, "output_tokens": 200}  # fmt: skip
            if provider == "anthropic":
                event |= {"cost": "0.0125", "currency": "USD"}
            events.append(event)
        for first in range(0, len(events), 1000):
            batch = events[first : first + 1000]
            response = self.client.post("/api/v1/usage-events/", json.dumps(batch), content_type="application/json",
                                        HTTP_AUTHORIZATION=f"Bearer {self.write_key}")  # fmt: skip
            assert response.json()["accepted"] == len(batch), response.content

    def _agents(self):
        """Agent hosts of two GPUs each, one sample a minute, one labelled process on the first GPU; the first host
        runs on the first GPU node of the bill."""
        hosts = 1 if self.scale == 1 else 3
        minutes = self.rows // (2 * hosts)
        for h in range(hosts):
            name = f"gpu-box-{h}"
            _, raw = agent_token_create(org=self.org, host_name=name, created_by=self.owner)
            response = self.client.post("/api/v1/agent/samples/", json.dumps(self._batch(name, h, minutes)),
                                        content_type="application/json",
                                        HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip
            assert response.status_code == 201, response.content
        gpu_host_update(org=self.org, name="gpu-box-0", bill_resource_id="node-0", owner="maria")
        self.host_code = GpuHost.objects.for_org(self.org).get(name="gpu-box-0").code

    def _batch(self, name: str, h: int, minutes: int) -> dict:
        start = datetime.combine(WEEK + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
        uuids = (f"GPU-{self.label}-{h}-a", f"GPU-{self.label}-{h}-b")
        samples, processes = [], []
        for m in range(minutes):
            ts = (start + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for index, uuid in enumerate(uuids):
                samples.append({"ts": ts, "gpu_uuid": uuid, "utilization_gpu_pct": (90, 0)[index] if m % 5 else 0,
                                "memory_used_bytes": 20_000_000_000, "power_mw": 350_000})  # fmt: skip
            processes.append({"ts": ts, "gpu_uuid": uuids[0], "pid": 4242, "used_memory_bytes": 15_000_000_000,
                              "sm_util_pct": 60, "name": "python",
                              "labels": {"customer": self.customers[m % len(self.customers)],
                                         "feature": self.features[0], "job_id": f"train-{m % 3}",
                                         "purpose": "training"}})  # fmt: skip
        gpus = [{"uuid": uuid, "index": i, "name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 85_899_345_920}
                for i, uuid in enumerate(uuids)]  # fmt: skip
        return {"batch_id": f"{name}-1", "agent_version": "1.0.0", "interval_seconds": 60,
                "host": {"name": name}, "gpus": gpus, "samples": samples, "processes": processes}  # fmt: skip

    def _stripe(self):
        """A pro and a team plan; every customer subscribes to one and paid November's invoice."""
        nov1, dec1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
        at = {"org": self.org, "state_at": nov1, "stripe_created": datetime(2026, 10, 1, tzinfo=UTC)}
        prices = [StripePrice.objects.create(stripe_id=f"price_{plan}", nickname=plan, unit_amount=Decimal(amount),
                                             currency="usd", interval="month", **at)
                  for plan, amount in (("pro", "300"), ("team", "1000"))]  # fmt: skip
        for i, name in enumerate(self.customers):
            price = prices[i % 2]
            customer = StripeCustomer.objects.create(stripe_id=f"cus_{name}", customer_id=name, **at)
            subscription = StripeSubscription.objects.create(stripe_id=f"sub_{name}", customer=customer,
                                                             customer_stripe_id=customer.stripe_id, status="active",
                                                             **at)  # fmt: skip
            StripeSubscriptionItem.objects.create(stripe_id=f"si_{name}", subscription=subscription, price=price,
                                                  price_stripe_id=price.stripe_id, quantity=1, **at)  # fmt: skip
            invoice = StripeInvoice.objects.create(stripe_id=f"in_{name}", customer=customer, currency="usd",
                                                   customer_stripe_id=customer.stripe_id, status="paid",
                                                   paid_amount=price.unit_amount, due_amount=price.unit_amount,
                                                   period_start=nov1, period_end=dec1, paid_at=nov1, **at)  # fmt: skip
            StripeInvoiceLine.objects.create(stripe_id=f"il_{name}", invoice=invoice, price=price,
                                             amount=price.unit_amount, currency="usd", period_start=nov1,
                                             period_end=dec1, **at)  # fmt: skip

    def _choices(self):
        """What the organisation entered: budgets, commitments, releases, questions, rules, marks, prices."""
        org, n = self.org, 1 if self.scale == 1 else 5
        targets = [(Budget.Scope.ORG, ""), (Budget.Scope.CUSTOMER, self.customers[0]),
                   (Budget.Scope.FEATURE, self.features[0]), (Budget.Scope.PLAN, "pro"), (Budget.Scope.TRIAL, ""),
                   (Budget.Scope.CUSTOMER, self.customers[1])]  # fmt: skip
        for scope, target in targets[: 2 * n]:
            for period in ("week", "month")[: 1 if self.scale == 1 else 2]:
                budget, _ = budget_save(org=org, scope=scope, target=target, period=period, amount=Decimal(500),
                                        currency="USD", alert_at=Decimal("0.8"))  # fmt: skip
                self.budget_code = budget.code
        for i in range(n):
            commitment_create(org=org, name=f"api {i}", kind=Commitment.Kind.API_SPEND, provider="openai",
                              monthly_amount=Decimal(100), currency="USD", starts_on=date(2026, 10, 1))  # fmt: skip
            commitment_create(org=org, name=f"gpus {i}", kind=Commitment.Kind.GPU_RESERVATION, provider="Lambda",
                              hosts=f"gpu-box-{i % 3}", monthly_amount=Decimal(1000), currency="USD",
                              starts_on=date(2026, 10, 1), promised_revenue_amount=Decimal(2000))  # fmt: skip
            connector = connector_create(org=org, kind="s3_compatible", name=f"r2 {i}", values={
                "endpoint_url": "https://r2.example.org", "bucket": f"invoices-{i}", "access_key_id": "key",
                "secret_access_key": "secret"})  # fmt: skip
            self.connector_code = connector.code
            released_at = datetime.combine(WEEK + timedelta(days=i % 7), datetime.min.time(), tzinfo=UTC)
            release_create(org=org, name=f"v1.{i}", released_at=released_at)
            learning_question_record(org=org, run=f"train-{i}", question="Does it learn?")
            bucket_rule_create(org=org, field="feature", pattern=f"feature-{i}*", bucket="evaluation")
            gpu_resource_mark(org=org, resource_id=f"vm-{i}", is_gpu=False, user=self.owner)
            price_override_create(org=org, provider="acme-llm", model=f"mystery-{i}", effective_from=date(2026, 1, 1),
                                  currency="USD", input_per_mtok=Decimal(1), output_per_mtok=Decimal(2))  # fmt: skip
        onboarding_fix_choose(org=org, fix="idle_gpu", user=self.owner)

    def url(self, name: str, route: str, query: str = "") -> str:
        kwargs = KWARGS[name](self) if name in KWARGS else {}
        if route.startswith(PAGES):
            kwargs["org_code"] = self.org.code
        return f"{reverse(name, kwargs=kwargs)}?{query}"

    def get(self, client, name: str, route: str, query: str):
        """(response, queries) of one read: as the owner for a page, with the read-only API key for the API."""
        headers = {}
        if route.startswith(API):
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.read_key}"
            # A key's use is recorded at most once a minute: keep that write out of the count.
            ApiKey.objects.filter(pk=self.read_key_row.pk).update(last_used_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            response = client.get(self.url(name, route, query), **headers)
        return response, [q["sql"] for q in queries.captured_queries]


def _shapes(queries: list[str]) -> Counter:
    """The queries without their literals, counted: what differs between two reads."""
    return Counter(re.sub(r"'[^']*'|\b\d+(\.\d+)?\b", "?", sql)[:160] for sql in queries)


class QueryCountTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.small = Tenant("small", scale=1, ledger_rows=10)
        cls.small.build(cls)
        cls.large = Tenant("large", scale=10, ledger_rows=1000)
        cls.large.build(cls)

    def setUp(self):
        self.clients = {}
        for tenant in (self.small, self.large):
            self.clients[tenant.label] = Client()
            self.clients[tenant.label].force_login(tenant.owner)

    def test_the_tenants_hold_what_they_should(self):
        for tenant, rows, uploads in ((self.small, 10, 2), (self.large, 1000, 5)):
            org = tenant.org
            self.assertEqual(UsageEvent.objects.filter(org=org).count(), rows)
            self.assertEqual(CostLine.objects.filter(org=org).count(), rows)
            self.assertAlmostEqual(GpuMinute.objects.filter(org=org).count(), rows, delta=rows // 100)
            self.assertEqual(Upload.objects.filter(org=org, status="done").count(), uploads)

    def test_every_org_page_and_read_endpoint_is_guarded(self):
        names = [name for name, _, _, _ in discovered()]
        self.assertGreater(len(names), 40, "the URLconf was not walked")
        self.assertEqual(len(names), len(set(names)), "every pattern has its own name")
        unguarded = [
            f"{route} ({name}) takes {', '.join(a for a in arguments if a != 'org_code')}"
            for name, route, arguments, _ in discovered()
            if name not in SKIPPED and name not in KWARGS and set(arguments) - {"org_code"}
        ]
        self.assertEqual(unguarded, [], "give these patterns their arguments in KWARGS, or skip them with the reason")
        self.assertEqual(set(KWARGS) - set(names), set(), "KWARGS names patterns that are gone")
        self.assertEqual(set(SKIPPED) - set(names), set(), "SKIPPED names patterns that are gone")

    def test_the_skipped_ones_do_not_read(self):
        client = self.clients["small"]
        for name, route, arguments, view in discovered():
            if name not in SKIPPED:
                continue
            api_view = getattr(view, "cls", None)
            if api_view is not None:  # DRF: the view has no GET handler
                self.assertFalse(hasattr(api_view, "get"), f"{route} ({name}) is skipped but has a GET")
                continue
            kwargs = {argument: self.small.org.code for argument in arguments}  # 405 comes before any lookup
            response = client.get(reverse(name, kwargs=kwargs))
            self.assertEqual(response.status_code, 405, f"{route} ({name}) is skipped but answers GET")

    def test_every_read_makes_as_many_queries_for_100_times_the_rows(self):
        failures, reads = [], 0
        for name, route in measured():
            for query in ONLY_PERIODS.get(name, PERIODS):
                small, small_queries = self.small.get(self.clients["small"], name, route, query)
                large, large_queries = self.large.get(self.clients["large"], name, route, query)
                reads += 1
                url = f"/{route}?{query} ({name})"
                if (small.status_code, large.status_code) != (200, 200):
                    failures.append(f"{url}: status {small.status_code} (small) and {large.status_code} (large)")
                elif len(small_queries) != len(large_queries):
                    more, fewer = _shapes(large_queries), _shapes(small_queries)
                    differing = dict((more - fewer) or (fewer - more))
                    failures.append(f"{url}: {len(small_queries)} queries for ~10 rows of each kind, "
                                    f"{len(large_queries)} for ~1,000; differing: {differing}")  # fmt: skip
        self.assertGreater(reads, 50)
        if failures:
            self.fail("\n".join(failures))
