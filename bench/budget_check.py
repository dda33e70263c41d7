r"""Benchmark: the budget check a product calls before an expensive job, alone and under contention.

    createdb -h 127.0.0.1 -U postgres finops_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/finops_bench .venv/bin/python bench/budget_check.py \
        [--checks 2000] [--threads 4]

Builds (afresh each run) one organisation the size of a busy tenant: 200 customers on three plans and a trial,
eight features, 30 days of `CustomerRollup` and `WorkRollup` rows, and 63 budgets (the organisation per month,
each plan per month, the trial accounts per month, each feature per week, 50 customers per day).

(1) one at a time: --checks `POST /api/v1/budget-check/` through Django's test client with a write API key, each
    for a random customer and feature (so each touches four or five budgets), the whole request timed;
(2) contended: the same number of checks from --threads threads on their own connections, all queueing on the
    organisation's budget row lock; checks per second.
Reference, measured in the same run: the bare locking transaction a check cannot do without, on a raw cursor:
`SELECT ... FOR UPDATE` of the same budgets, one `INSERT` of a hold per budget, `COMMIT`. Ratio: our median
against the reference's.
"""

import argparse
import json
import random
import statistics
import sys
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from rollup import setup_django  # noqa: E402 - the benchmarks' one Django set-up (bench/ is on the path)

ORG_NAME = "Budget Check Bench"
CUSTOMERS = 200
PLANS = ("starter", "pro", "enterprise")
FEATURES = ("chat", "summarise", "agent", "search", "extract", "batch-report", "translate", "classify")
DAYS = 30


def plan_of(n: int) -> str:
    return "trial" if n % 10 == 9 else PLANS[n % 3]


def build():
    """The organisation, its rollup rows and budgets; returns (org, write API key)."""
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Organization
    from accounts.services import api_key_create, org_create, user_get_or_create
    from finops.models import CustomerRollup, WorkRollup
    from finops.services.budgets import budget_save

    call_command("migrate", verbosity=0)
    Organization.objects.filter(name=ORG_NAME).delete()
    owner, _ = user_get_or_create(email="budget-bench@example.org", password=None)
    org = org_create(name=ORG_NAME, owner=owner)
    today = timezone.now().date()
    rng = random.Random(7)
    customers, work = [], []
    for offset in range(DAYS):
        day = today - timedelta(days=offset)
        for n in range(CUSTOMERS):
            cost = Decimal(rng.randint(1, 4000)) / 100
            customers.append(CustomerRollup(org=org, day=day, kind="allocated", currency="USD", cost_amount=cost,
                                            customer=f"cust-{n:03d}", plan=plan_of(n)))  # fmt: skip
        for feature in FEATURES:
            for bucket in ("inference", "retries", "evaluation"):
                cost = Decimal(rng.randint(1, 90000)) / 100
                work.append(WorkRollup(org=org, day=day, kind="allocated", currency="USD", cost_amount=cost,
                                       source="api_calls", bucket=bucket, label="customer_value",
                                       feature=feature))  # fmt: skip
    CustomerRollup.objects.bulk_create(customers, batch_size=5000)
    WorkRollup.objects.bulk_create(work, batch_size=5000)
    budgets = [("org", "", "month", 500_000), ("trial", "", "month", 5_000)]
    budgets += [("plan", plan, "month", 100_000) for plan in PLANS]
    budgets += [("feature", feature, "week", 100_000) for feature in FEATURES]
    budgets += [("customer", f"cust-{n:03d}", "day", 1_000) for n in range(0, CUSTOMERS, 4)]
    for scope, target, period, amount in budgets:
        budget_save(org=org, scope=scope, target=target, period=period, amount=Decimal(amount), currency="USD",
                    alert_at=Decimal("0.99"))  # fmt: skip
    _, key = api_key_create(org=org, name="budget bench", scope="write", created_by=owner)
    return org, key


def requests_plan(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"customer": f"cust-{rng.randrange(CUSTOMERS):03d}", "feature": rng.choice(FEATURES),
             "estimated_cost": "0.05"} for _ in range(count)]  # fmt: skip


def ours_sequential(key: str, bodies: list[dict]) -> list[float]:
    from django.test import Client

    client, seconds = Client(), []
    for body in bodies:
        began = time.perf_counter()
        response = client.post("/api/v1/budget-check/", json.dumps(body), content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
        seconds.append(time.perf_counter() - began)
        assert response.status_code == 200 and response.json()["allow"], response.content[:300]
    return seconds


def reference_sequential(org, bodies: list[dict]) -> list[float]:
    """The bare locking transaction for the same budgets: lock, insert the holds, commit."""
    from django.db import connection, transaction

    seconds = []
    lock = ("SELECT id FROM finops_budget WHERE org_id = %s AND (scope IN ('org', 'plan', 'trial') OR "
            "(scope = 'customer' AND target = %s) OR (scope = 'feature' AND target = %s)) "
            "ORDER BY id FOR UPDATE")  # fmt: skip
    insert = ("INSERT INTO finops_budgetreservation (org_id, budget_id, check_code, customer, feature, amount, "
              "created_at, expires_at) SELECT %s, id, %s, %s, %s, 0.05, now(), now() + interval '1 hour' "
              "FROM unnest(%s::bigint[]) AS id")  # fmt: skip
    for body in bodies:
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(lock, [org.id, body["customer"], body["feature"]])
            ids = [row[0] for row in cursor.fetchall()]
            cursor.execute(insert, [org.id, uuid.uuid4(), body["customer"], body["feature"], ids])
        seconds.append(time.perf_counter() - began)
    return seconds


def contended(run, bodies: list[dict], threads: int) -> float:
    """Checks per second with `threads` workers sharing `bodies`, each on its own connection."""
    from django.db import connections

    chunks = [bodies[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(chunk):
        barrier.wait()
        try:
            run(chunk)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    return len(bodies) / (time.perf_counter() - began)


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if q != 50 else statistics.median(values) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from finops.models import BudgetReservation

    if connection.vendor != "postgresql":
        sys.exit("Run it against PostgreSQL: DATABASE_URL=postgres://...")
    org, key = build()
    bodies = requests_plan(args.checks, seed=1)
    ours_sequential(key, bodies[:50])  # warm the connection and caches
    reference_sequential(org, bodies[:50])
    ours = ours_sequential(key, bodies)
    reference = reference_sequential(org, bodies)
    BudgetReservation.objects.filter(org=org).delete()
    ours_rate = contended(lambda chunk: ours_sequential(key, chunk), requests_plan(args.checks, seed=2), args.threads)
    reference_rate = contended(lambda chunk: reference_sequential(org, chunk), requests_plan(args.checks, seed=3),
                               args.threads)  # fmt: skip
    holds = BudgetReservation.objects.filter(org=org).count()
    print(f"budget check, {args.checks} checks, org with {CUSTOMERS} customers and {DAYS} days of rollups")
    print(f"  ours (whole request):   median {ms(ours, 50):.2f} ms, p95 {ms(ours, 95):.2f} ms, "
          f"{1 / statistics.mean(ours):.0f} checks/s")  # fmt: skip
    print(f"  reference (lock+hold):  median {ms(reference, 50):.2f} ms, p95 {ms(reference, 95):.2f} ms")
    print(f"  ratio (median):         {ms(ours, 50) / ms(reference, 50):.1f}x")
    print(f"  contended, {args.threads} threads: ours {ours_rate:.0f} checks/s, reference {reference_rate:.0f}/s "
          f"({holds} holds written)")  # fmt: skip


if __name__ == "__main__":
    main()
