"""Realistic LLM usage for the demo tenant, written in the generic JSON lines format.

34 customers on starter, pro and enterprise plans plus a few trial accounts; four features
(chat, summarise, agent workflow, batch enrichment) on a premium and a cheap route; agent jobs
that retry and sometimes fail; an evaluation run before a release; a self-hosted fine-tune the
price catalogue does not know. Deterministic for a seed.
"""

import json
import random
from datetime import UTC, date, datetime, timedelta

PLANS = ("starter", "pro", "enterprise")
CUSTOMERS = tuple(f"cust-{i:03d}" for i in range(1, 35))
TRIALS = ("trial-orbit", "trial-kite", "trial-nova", "trial-lumen")
RELEASE = "v2.4"
HEAVY_TRIAL = "trial-nova"
HEAVY_STARTERS = ("cust-003", "cust-006")  # on the cheapest plan, summarising all day: they cost more than they pay
# feature -> (premium (provider, model), cheap (provider, model), share sent to the premium route)
FEATURES = {
    "chat": (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), 0.35),
    "summarise": (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), 0.97),
    "agent-workflow": (("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"), 0.8),
    "batch-enrichment": (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), 0.05),
}
FINETUNE = ("self-hosted", "demo-ai-finetune-v2")


def plan_of(customer: str) -> str:
    """The demo plan of a customer: trials are 'trial', the rest spread over the three plans."""
    if not customer:
        return ""
    return "trial" if customer in TRIALS else PLANS[int(customer[-3:]) % 3]


def _event(rng, number, moment, customer, feature, attempt=1, job=None, status="ok", purpose="inference"):
    premium, cheap, premium_share = FEATURES[feature]
    # Low-price plans on the premium route are what the customer-tier row looks for.
    provider, model = premium if rng.random() < premium_share else cheap
    if feature == "chat" and rng.random() < 0.04:
        provider, model = FINETUNE
    scale = 8 if feature in ("summarise", "batch-enrichment") else 1
    cached = rng.randint(0, 3000) if provider == "anthropic" else rng.choice((0, 0, 1024, 2048))
    return {
        "event_id": f"demo-{number:07d}",
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provider": provider,
        "model": model,
        "customer": customer,
        "feature": feature,
        "environment": "prod" if rng.random() > 0.05 else "staging",
        "route": "premium" if (provider, model) == premium else "cheap",
        "job_id": job or "",
        "attempt": attempt,
        "status": status,
        "error_type": "" if status == "ok" else rng.choice(("timeout", "rate_limit", "invalid_output")),
        "purpose": purpose,
        "input_tokens": rng.randint(1500, 12000) * scale,
        "cached_input_tokens": cached,
        "output_tokens": 0 if status == "error" else rng.randint(200, 2500),
        "latency_ms": rng.randint(300, 9000),
        "metadata": {"plan": plan_of(customer)},
    }


def demo_usage_events(*, start: date, days: int, seed: int = 5):
    """Yield the demo's usage events day by day, oldest first."""
    rng = random.Random(seed)
    number = 0
    release_day = start + timedelta(days=days - 9)
    for offset in range(days):
        day = start + timedelta(days=offset)
        weekday_factor = 0.6 if day.weekday() >= 5 else 1.0
        for _ in range(int(rng.randint(150, 220) * weekday_factor)):
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 86399))
            customer = rng.choice(CUSTOMERS + TRIALS if rng.random() < 0.9 else TRIALS)
            feature = rng.choices(tuple(FEATURES), weights=(5, 3, 2, 1))[0]
            if feature != "agent-workflow":
                number += 1
                yield _event(rng, number, moment, customer, feature)
                continue
            job = f"job-{day:%m%d}-{number}"
            attempts = rng.choices((1, 2, 3), weights=(7, 2, 1))[0]
            failed = rng.random() < 0.08
            for attempt in range(1, attempts + 1):
                number += 1
                ok = attempt == attempts and not failed
                yield _event(rng, number, moment + timedelta(seconds=20 * attempt), customer, feature, attempt, job,
                             "ok" if ok else "error")  # fmt: skip
        for _ in range(45):  # one trial account summarising whole document sets on the premium route
            number += 1
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 86399))
            yield _event(rng, number, moment, HEAVY_TRIAL, "summarise")
        for customer in HEAVY_STARTERS:
            for _ in range(30):
                number += 1
                moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 86399))
                yield _event(rng, number, moment, customer, "summarise")
        if day == release_day - timedelta(days=1):
            for _ in range(240):  # the evaluation run that protects the release
                number += 1
                moment = datetime(day.year, day.month, day.day, 15, tzinfo=UTC) + timedelta(
                    seconds=rng.randint(0, 3600)
                )
                row = _event(rng, number, moment, "", "agent-workflow", purpose="evaluation")
                row["metadata"] = {"release": RELEASE, "test_set": "agent-regression-v7"}
                yield row


def write_usage_jsonl(path, events) -> int:
    """Write events as JSON lines; returns how many."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")
            count += 1
    return count
