import hashlib
import hmac
import json
import secrets
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Organization, Role, Scope
from accounts.services import agent_token_create, api_key_create, org_create, user_get_or_create
from finops.demo_bills import Resource, demo_resources, write_focus_bill, write_gpu_cloud_invoice
from finops.demo_gpus import demo_gpu_batches, demo_start
from finops.demo_revenue import demo_stripe_events
from finops.demo_usage import RELEASE, demo_usage_events, write_usage_jsonl
from finops.selectors.ledger import work_between
from finops.services.budgets import budget_save
from finops.services.rollups import rollups_refresh
from finops.services.settings import (
    commitment_create,
    economics_settings_update,
    learning_question_record,
    release_create,
)
from ingest.selectors import usage_cost_by_provider_day
from ingest.serializers import AgentBatchInput
from ingest.services.agent import agent_batch_ingest, gpu_host_update
from ingest.services.uploads import column_mapping_create, upload_create_from_path, upload_run
from ingest.services.usage import usage_events_ingest
from pricing.services.stripe_sync import stripe_connection_save
from pricing.services.stripe_webhooks import stripe_webhook_receive

DEMO_ORG_NAME = "Demo AI"
DEMO_OWNER_EMAIL = "founder@demo-ai.example"
DEMO_TEAM = (("cto@demo-ai.example", Role.MEMBER), ("investor@demo-ai.example", Role.VIEWER))
DEMO_WEEKS = 6


@transaction.atomic
def demo_org_recreate() -> dict:
    """The demo organisation "Demo AI", rebuilt from scratch: login, password and a read-write API key."""
    password = secrets.token_urlsafe(12)
    owner = _demo_user(DEMO_OWNER_EMAIL, password)
    Organization.objects.filter(name=DEMO_ORG_NAME, memberships__user=owner).delete()
    org = org_create(name=DEMO_ORG_NAME, owner=owner)
    for email, role in DEMO_TEAM:
        org.memberships.create(user=_demo_user(email, password), role=role)
    _, api_key = api_key_create(org=org, name="Demo key", scope=Scope.WRITE, created_by=owner)
    api_key_create(org=org, name="Read-only dashboard export", scope=Scope.READ, created_by=owner)
    demo_bills_import(org=org, owner=owner)
    demo_usage_import(org=org, owner=owner)
    demo_gpus_import(org=org, owner=owner)
    demo_revenue_import(org=org)
    demo_decisions(org=org)
    rollups_refresh(org=org)
    demo_budgets(org=org)
    return {"org": str(org.code), "login": owner.email, "password": password, "api_key": api_key}


def demo_bills_import(*, org, owner) -> None:
    """Six weeks of bills through the real upload path: an AWS FOCUS export and a GPU cloud's own CSV."""
    start = timezone.now().date() - timedelta(weeks=DEMO_WEEKS)
    days = DEMO_WEEKS * 7
    with tempfile.TemporaryDirectory() as folder:
        focus = Path(folder) / "aws-focus-1.2.csv"
        # The generator's log volume suits the ingest benchmark, not a 20-person startup: leave it out.
        services = [_without_customer(r) for r in demo_resources(per_provider=2, providers={"AWS"})
                    if r.service != "Logging"]  # fmt: skip
        resources = [*services, SHARED_CLUSTER]
        write_focus_bill(focus, start=start, days=days, resources=resources)
        invoice = Path(folder) / "lambda-invoice.csv"
        write_gpu_cloud_invoice(invoice, start=start, days=days)
        column_mapping_create(
            org=org,
            name="Lambda invoices",
            provider="Lambda",
            currency="USD",
            columns={
                "date": "Date",
                "resource": "Instance ID",
                "gpu_type": "Instance Type",
                "quantity": "GPU Hours",
                "amount": "Amount (USD)",
                "tags": ["Customer", "Team"],
            },
        )
        for path in (focus, invoice):
            upload = upload_create_from_path(org=org, path=path, kind="bill", created_by=owner, enqueue=False)
            upload = upload_run(upload_id=upload.pk)
            if upload.status != upload.Status.DONE:
                raise RuntimeError(f"demo bill {path.name} did not import: {upload.errors[:3]}")


# Nobody tagged the shared Kubernetes cluster: the mystery bucket the Shared cluster row looks for.
SHARED_CLUSTER = Resource("AWS", "123456789012", "us-east-1", "Amazon Elastic Kubernetes Service", "Compute",
                          "aws-eks-shared", "Kubernetes cluster", "m6i.8xlarge", "Hours", Decimal("32.00"))  # fmt: skip


def _without_customer(resource: Resource) -> Resource:
    """Shared services (database, storage, egress) serve every customer: the demo tags them with a team, not a
    customer, so no customer is charged a whole database."""
    if resource.category == "Compute" or not resource.tags:
        return resource
    tags = {k: v for k, v in json.loads(resource.tags).items() if k != "customer"}
    return replace(resource, tags=json.dumps(tags))


def _demo_user(email: str, password: str):
    user, _ = user_get_or_create(email=email)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


LIVE_DAYS = 2  # the newest days arrive through the live endpoint's service, the rest as a file
UNLOGGED_SHARE = Decimal("0.035")  # OpenAI bills a little more than the logs explain: the gap to find


def demo_usage_import(*, org, owner) -> None:
    """Six weeks of model calls (file upload, then live batches) and the providers' cost reports as bills."""
    start = timezone.now().date() - timedelta(weeks=DEMO_WEEKS)
    live_from = timezone.now().date() - timedelta(days=LIVE_DAYS)
    events = list(demo_usage_events(start=start, days=DEMO_WEEKS * 7))
    older = [e for e in events if e["timestamp"] < live_from.isoformat()]
    newer = [e for e in events if e["timestamp"] >= live_from.isoformat()]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "usage-export.jsonl"
        write_usage_jsonl(path, older)
        _import_now(org=org, owner=owner, path=path, kind="usage")
        for index in range(0, len(newer), 500):
            usage_events_ingest(org=org, events=newer[index : index + 500])
        for provider, document in demo_cost_reports(org=org).items():
            report = Path(folder) / f"{provider}-cost-report.json"
            report.write_text(json.dumps(document))
            _import_now(org=org, owner=owner, path=report, kind="bill")


def _import_now(*, org, owner, path, kind) -> None:
    upload = upload_create_from_path(org=org, path=path, kind=kind, created_by=owner, enqueue=False)
    upload = upload_run(upload_id=upload.pk)
    if upload.status != upload.Status.DONE:
        raise RuntimeError(f"demo file {path.name} did not import: {upload.errors[:3]}")


def demo_cost_reports(*, org) -> dict:
    """OpenAI and Anthropic cost reports built from the priced calls: OpenAI bills 3.5% more than logged."""
    daily = usage_cost_by_provider_day(org=org)
    openai_buckets, anthropic_days = [], []
    for (provider, day), cost in sorted(daily.items()):
        begin = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        if provider == "openai":
            value = (cost * (1 + UNLOGGED_SHARE)).quantize(Decimal("0.000001"))
            result = {"object": "organization.costs.result", "amount": {"value": str(value), "currency": "usd"},
                      "line_item": "completions", "project_id": "proj_demo"}  # fmt: skip
            openai_buckets.append(
                {"object": "bucket", "start_time": begin, "end_time": begin + 86400, "results": [result]}
            )
        elif provider == "anthropic":
            cents = (cost * 100).quantize(Decimal("0.0001"))
            anthropic_days.append(
                {
                    "starting_at": f"{day.isoformat()}T00:00:00Z",
                    "ending_at": f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z",
                    "results": [{"currency": "USD", "amount": str(cents), "workspace_id": None,
                                 "description": "Claude API", "cost_type": "tokens", "model": None,
                                 "service_tier": None, "token_type": None, "context_window": None}],
                }
            )  # fmt: skip
    reports = {}
    if openai_buckets:
        reports["openai"] = {"object": "page", "data": openai_buckets, "has_more": False, "next_page": None}
    if anthropic_days:
        reports["anthropic"] = {"data": anthropic_days, "has_more": False, "next_page": None}
    return reports


def demo_gpu_days(today) -> int:
    """Agent data for this week so far and the two whole weeks before: the default period (the last complete week)
    and the week its metrics compare with are always fully measured, whatever day the demo is built."""
    return 14 + today.weekday() + 1


DEMO_HOST_DETAILS = {
    "train-h100-01": {"owner": "ml-team", "provider": "owned", "instance_type": "8x H100 SXM",
                      "hourly_rate_amount": Decimal("24.00"), "currency": "USD"},
    "infer-a100-01": {"owner": "", "provider": "Lambda", "instance_type": "1x A100 40GB",
                      "bill_resource_id": "lambda-a100-a"},
    "dev-l4-01": {"owner": "", "provider": "owned", "instance_type": "1x L4",
                  "hourly_rate_amount": Decimal("0.85"), "currency": "USD"},
}  # fmt: skip


def demo_gpus_import(*, org, owner) -> None:
    """Three GPU hosts with agent tokens and 15 to 21 days of agent batches, through the endpoint's validation and
    service."""
    days = demo_gpu_days(timezone.now().date())
    start = demo_start(timezone.now(), days)
    for host_name, details in DEMO_HOST_DETAILS.items():
        agent_token_create(org=org, host_name=host_name, created_by=owner)
        gpu_host_update(org=org, name=host_name, **details)
    for host_name, batch in demo_gpu_batches(start=start, days=days):
        data = AgentBatchInput(data=batch)
        data.is_valid(raise_exception=True)
        agent_batch_ingest(org=org, host_name=host_name, batch=data.validated_data)


def demo_decisions(*, org) -> None:
    """What the founder recorded: thresholds and keys, the release, learning questions for some training runs."""
    economics_settings_update(org=org, thresholds={}, deferrable_features=["batch-enrichment"],
                              electricity_price_amount=Decimal("0.15"), pue=Decimal("1.3"))  # fmt: skip
    release_day = timezone.now().date() - timedelta(days=9)
    release_create(org=org, name=RELEASE, released_at=datetime(release_day.year, release_day.month,
                                                                  release_day.day, 17, tzinfo=UTC))  # fmt: skip
    today = timezone.now().date()
    commitment_create(org=org, name="OpenAI committed spend", kind="api_spend", provider="openai",
                      monthly_amount=Decimal("250"), currency="USD", starts_on=today - timedelta(days=90))  # fmt: skip
    for offset in range(2, demo_gpu_days(today), 2):  # every other run has its question; the rest fire the sign
        day = today - timedelta(days=offset)
        learning_question_record(org=org, run=f"train-run-{day:%m%d}",
                                 question="Does the v3 data mix cut refusals without hurting accuracy?")  # fmt: skip


def demo_budgets(*, org) -> None:
    """Caps the founder set on day 6 of onboarding: the trial accounts, the cheapest plan, the batch flow, and the
    whole organisation at a quarter above its last four weeks' pace. Set after the rollup, so building the demo
    sends no alert e-mail."""
    today = timezone.now().date()
    four_weeks = work_between(org=org, start=today - timedelta(days=28), end=today).filter(currency=org.currency)
    pace = (four_weeks.aggregate(total=Sum("cost_amount"))["total"] or Decimal(0)) * 30 / 28
    monthly = max((pace * Decimal("1.25") / 1000).quantize(Decimal(1)) * 1000, Decimal(1000))
    for scope, target, period, amount in (("trial", "", "month", Decimal(30)), ("plan", "starter", "month",
                                          Decimal(400)), ("feature", "batch-enrichment", "week", Decimal(150)),
                                          ("org", "", "month", monthly)):  # fmt: skip
        budget_save(org=org, scope=scope, target=target, period=period, amount=amount, currency=org.currency,
                    alert_at=Decimal("0.8"))  # fmt: skip


DEMO_WEBHOOK_SECRET = "whsec_demo_" + "0" * 24  # the demo's own secret; real organisations enter theirs


def demo_revenue_import(*, org) -> None:
    """Stripe revenue through the webhook endpoint's service: each event signed as Stripe signs it, then verified."""
    stripe_connection_save(org=org, webhook_secret=DEMO_WEBHOOK_SECRET)
    start = timezone.now().date() - timedelta(weeks=DEMO_WEEKS)
    for event in demo_stripe_events(start=start, today=timezone.now().date()):
        payload = json.dumps(event).encode()
        stripe_webhook_receive(org=org, payload=payload, signature=stripe_signature(payload, DEMO_WEBHOOK_SECRET))


def stripe_signature(payload: bytes, secret: str) -> str:
    """The Stripe-Signature header Stripe would send for `payload` now (HMAC-SHA256 of "<t>.<payload>")."""
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
