"""Cached reads answer from the cache when nothing changed, and afresh after every kind of change, with real commits
(a test transaction never commits, so these tests commit for real and clean up after themselves)."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization
from accounts.read_cache import ECONOMICS, LEDGER, cached_read, org_versions
from accounts.services import api_key_create, org_create, user_get_or_create
from finops.models import Commitment
from finops.selectors.warm import first_reads_warm
from finops.services.settings import commitment_create
from finops.tasks import rollup_org
from ingest.models import CostLine, UsageEvent
from ingest.periods import default_period, local_today
from ingest.serializers import AgentBatchInput
from ingest.services.agent import agent_batch_ingest

pytestmark = pytest.mark.django_db(transaction=True)
WEEK = "start=2026-11-02&end=2026-11-09"


@pytest.fixture
def tenant():
    owner, _ = user_get_or_create(email="alice@example.org", password="correct-horse-battery-staple")
    org = org_create(name="Alice AI", owner=owner)
    _, write = api_key_create(org=org, name="w", scope="write", created_by=owner)
    _, read = api_key_create(org=org, name="r", scope="read", created_by=owner)
    return org, write, read


def events(*ids, cost="2.50", day="2026-11-03"):
    return [{"event_id": i, "timestamp": f"{day}T10:00:00Z", "provider": "acme-llm", "model": "m1",
             "feature": "chat", "customer": "cust-1", "cost": cost, "currency": "USD", "input_tokens": 100,
             "output_tokens": 10} for i in ids]  # fmt: skip


def post(client, key, body):
    response = client.post("/api/v1/usage-events/", json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
    assert response.status_code in (200, 201, 202), response.content
    return response


def get(client, key, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    return response.json(), len(queries)


def test_a_repeated_read_answers_from_the_cache_and_every_change_reads_afresh(tenant):
    org, write, read = tenant
    client = Client()
    summary, cold = get(client, read, f"/api/v1/usage/summary/?{WEEK}")
    assert summary["calls"] == 0
    again, warm = get(client, read, f"/api/v1/usage/summary/?{WEEK}")
    assert again == summary and warm < cold  # the summary's own queries are gone: it came from the cache

    post(client, write, events("e1", "e2", "e3"))  # the ledger changed: its reads read afresh
    assert get(client, read, f"/api/v1/usage/summary/?{WEEK}")[0]["calls"] == 3
    ledger, _ = get(client, read, f"/api/v1/ledger/summary/?{WEEK}")
    assert Decimal(ledger["billed_total"]) == Decimal("7.50")

    post(client, write, events("e4", cost="1.25"))  # a recompute (here in the read itself) replaces the economics
    ledger, _ = get(client, read, f"/api/v1/ledger/summary/?{WEEK}")
    assert Decimal(ledger["billed_total"]) == Decimal("8.75")
    customers, _ = get(client, read, f"/api/v1/economics/customers/?{WEEK}")
    assert [(c["customer"], Decimal(c["ai_cost"])) for c in customers] == [("cust-1", Decimal("8.75"))]

    table, _ = get(client, read, f"/api/v1/founder-table/?{WEEK}")
    commitments = next(r for r in table["rows"] if r["key"] == "provider_commitment")
    assert commitments["measured"]["commitments"] == 0
    commitment_create(org=org, name="OpenAI committed spend", kind=Commitment.Kind.API_SPEND, provider="openai",
                      monthly_amount=Decimal("1000"), currency="USD", starts_on=date(2026, 10, 1))  # fmt: skip
    table, _ = get(client, read, f"/api/v1/founder-table/?{WEEK}")  # an organisation's choice changed
    commitments = next(r for r in table["rows"] if r["key"] == "provider_commitment")
    assert commitments["measured"]["commitments"] == 1


def test_the_agent_replaces_the_ledger_version_only(tenant):
    org, _, _ = tenant
    before = org_versions(org.pk, (ECONOMICS, LEDGER))
    batch = {"batch_id": "b1", "interval_seconds": 60, "host": {"name": "gpu-1"}, "agent_version": "1",
             "gpus": [{"uuid": "GPU-1", "index": 0, "name": "NVIDIA H100", "memory_total_bytes": 1}],
             "samples": [{"gpu_uuid": "GPU-1", "ts": "2026-11-03T10:00:00+00:00", "utilization_gpu_pct": 50}],
             "processes": []}  # fmt: skip
    serializer = AgentBatchInput(data=batch)
    assert serializer.is_valid(), serializer.errors
    with transaction.atomic():
        agent_batch_ingest(org=org, host_name="gpu-1", batch=serializer.validated_data)
    economics, ledger = org_versions(org.pk, (ECONOMICS, LEDGER))
    assert economics == before[0]  # its host's last-seen time reaches the economics through a recompute
    assert ledger != before[1]


def test_a_read_beside_uncommitted_changes_neither_uses_nor_fills_the_cache(tenant):
    org, _, _ = tenant
    calls = []

    @cached_read(ECONOMICS)
    def name_of(*, org):
        calls.append(1)
        return Organization.objects.get(pk=org.pk).name

    assert name_of(org=org) == "Alice AI"
    assert name_of(org=org) == "Alice AI" and len(calls) == 1
    with transaction.atomic():
        Organization.objects.filter(pk=org.pk).update(name="Renamed")  # no signal: only the pending rule protects
        commitment_create(org=org, name="c", kind=Commitment.Kind.API_SPEND, provider="openai",
                          monthly_amount=Decimal("1"), currency="USD", starts_on=date(2026, 10, 1))  # fmt: skip
        assert name_of(org=org) == "Renamed" and len(calls) == 2
        transaction.set_rollback(True)
    assert name_of(org=org) == "Alice AI"  # the rolled-back read was not kept; the version is unchanged
    assert len(calls) == 2


def test_a_lost_version_only_makes_reads_miss(tenant):
    from django.core.cache import cache

    org, _, _ = tenant
    first = org_versions(org.pk, (ECONOMICS,))
    cache.delete(f"readv:{ECONOMICS}:{org.pk}")
    assert org_versions(org.pk, (ECONOMICS,)) != first


def test_ledgers_keep_their_one_statement_deletes():
    """No delete listener on a ledger: Django would otherwise load every row it deletes."""
    assert not post_delete.has_listeners(CostLine)
    assert not post_delete.has_listeners(UsageEvent)
    assert post_delete.has_listeners(Commitment)


def test_a_kept_host_list_still_judges_staleness_now(tenant):
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    org, _, read = tenant
    moment = timezone.now().replace(second=0, microsecond=0)
    batch = {"batch_id": "b1", "interval_seconds": 60, "host": {"name": "gpu-1"}, "agent_version": "1",
             "gpus": [{"uuid": "GPU-1", "index": 0, "name": "NVIDIA H100", "memory_total_bytes": 1}],
             "samples": [{"gpu_uuid": "GPU-1", "ts": moment.isoformat(), "utilization_gpu_pct": 50}],
             "processes": []}  # fmt: skip
    serializer = AgentBatchInput(data=batch)
    assert serializer.is_valid(), serializer.errors
    with transaction.atomic():
        agent_batch_ingest(org=org, host_name="gpu-1", batch=serializer.validated_data)
    client = Client()
    [host], _ = get(client, read, "/api/v1/hosts/")
    assert host["stale"] is False
    later = moment + timedelta(minutes=10)
    with mock.patch("django.utils.timezone.now", return_value=later):
        [host], queries = get(client, read, "/api/v1/hosts/")
        assert host["stale"] is True and queries < 5  # from the cache, and stale all the same


def test_new_code_never_reads_what_older_code_kept(tenant, monkeypatch):
    from accounts import read_cache

    org, _, _ = tenant
    calls = []

    @cached_read(ECONOMICS)
    def answer(*, org):
        calls.append(1)
        return len(calls)

    assert answer(org=org) == 1 and answer(org=org) == 1
    monkeypatch.setattr(read_cache, "CODE_VERSION", "another-deploy")
    assert answer(org=org) == 2  # a deploy starts from an empty cache


def test_a_rollup_worker_leaves_the_first_pages_reads_warm(tenant):
    # After new data, the rollup task computes the Founder Table's default week (rows, totals, metrics, eight weeks of
    # spend and of metrics) and the LLM usage page's into the cache: the first page views read them from there.
    org, write, _ = tenant
    monday = default_period(today=local_today(org.timezone)).start
    post(Client(), write, events("w1", "w2", day=(monday + timedelta(days=2)).isoformat()))
    with CaptureQueriesContext(connection) as cold:
        assert rollup_org(org.pk) >= 1
    assert any("finops_rollup" in q["sql"] for q in cold.captured_queries)
    with CaptureQueriesContext(connection) as warm:
        first_reads_warm(org=org)
    assert warm.captured_queries == []
