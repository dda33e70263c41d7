"""Realistic bills for the demo tenant and the ingest benchmark, written as the providers export them.

A FOCUS 1.2 cost-and-usage CSV (hourly lines for GPU instances, managed services, storage and
egress across several providers, most tagged, some not) and a GPU cloud's own invoice CSV.
Deterministic for a seed, streamed to disk row by row so a million-line file costs no memory.
"""

import csv
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

FOCUS_COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ProviderName", "PublisherName", "InvoiceIssuerName", "RegionId", "RegionName", "ServiceName", "ServiceCategory",
    "ResourceId", "ResourceName", "ResourceType", "SkuId", "SkuPriceId", "PricingCategory", "PricingQuantity",
    "PricingUnit", "ConsumedQuantity", "ConsumedUnit", "ListUnitPrice", "ListCost", "ContractedUnitPrice",
    "ContractedCost", "BilledCost", "EffectiveCost", "CommitmentDiscountId", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "SubAccountId", "SubAccountName", "Tags",
)  # fmt: skip
CUSTOMERS = ("acme-corp", "globex", "initech", "umbrella", "hooli")
FEATURES = ("doc-summarizer", "chat-assistant", "fine-tuning", "eval-harness", "search")
OWNERS = ("maria@demo-ai.example", "li@demo-ai.example", "sam@demo-ai.example")
ENVIRONMENTS = ("prod", "prod", "staging", "dev")


@dataclass(frozen=True)
class Resource:
    provider: str
    account: str
    region: str
    service: str
    category: str
    resource_id: str
    resource_type: str
    sku: str
    unit: str
    hourly_rate: Decimal
    daily: bool = False  # storage and egress bill once a day
    tags: str = ""


PROVIDERS = (
    ("AWS", "Amazon Web Services", "123456789012", "us-east-1"),
    ("Google Cloud", "Google", "01A2B3-C4D5E6-F7A8B9", "us-central1"),
    ("Microsoft", "Microsoft", "8611537", "eastus"),
)
GPU_SKUS = {
    "AWS": (("p5.48xlarge", "8x H100", Decimal("98.32")), ("g5.xlarge", "1x A10G", Decimal("1.006"))),
    "Google Cloud": (("a3-highgpu-8g", "8x H100", Decimal("88.25")), ("g2-standard-8", "1x L4", Decimal("0.85"))),
    "Microsoft": (("ND96isr_H100_v5", "8x H100", Decimal("98.32")), ("NC24ads_A100_v4", "1x A100", Decimal("3.673"))),
}
MANAGED = (
    ("Managed database", "Databases", "db.r6g.large", "Hours", Decimal("0.258"), False),
    ("Object storage", "Storage", "standard-storage", "GB-Month", Decimal("0.74"), True),
    ("Data transfer", "Networking", "internet-egress", "GB", Decimal("0.09"), True),
    ("Logging", "Management and Governance", "log-ingest", "GB", Decimal("0.50"), True),
)


def _tags(rng: random.Random, gpu: bool) -> str:
    if rng.random() < 0.15:  # some lines carry no tags at all: the mystery bucket
        return ""
    tags = {"env": rng.choice(ENVIRONMENTS), "owner": rng.choice(OWNERS), "feature": rng.choice(FEATURES)}
    if gpu or rng.random() < 0.6:
        tags["customer"] = rng.choice(CUSTOMERS)
    return json.dumps(tags)


def demo_resources(*, per_provider: int = 4, seed: int = 7, providers=None) -> list[Resource]:
    """GPU instances, a database, storage, egress and logging per provider; `per_provider` GPU instances each."""
    rng = random.Random(seed)
    resources = []
    for provider, _, account, region in PROVIDERS:
        if providers and provider not in providers:
            continue
        skus = GPU_SKUS[provider]
        for index in range(per_provider):
            sku, gpus, rate = skus[index % len(skus)]
            resource_id = f"{provider[:3].lower()}-gpu-{index:04d}"
            resources.append(
                Resource(provider, account, region, "Virtual Machines", "Compute", resource_id,
                         f"GPU instance ({gpus})", sku, "Hours", rate, tags=_tags(rng, gpu=True))
            )  # fmt: skip
        for service, category, sku, unit, rate, daily in MANAGED:
            resources.append(
                Resource(provider, account, region, service, category, f"{provider[:3].lower()}-{sku}",
                         service, sku, unit, rate, daily=daily, tags=_tags(rng, gpu=False))
            )  # fmt: skip
    return resources


def _month(day: date) -> tuple[str, str]:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return f"{start.isoformat()}T00:00:00Z", f"{end.isoformat()}T00:00:00Z"


def write_focus_bill(path, *, start: date, days: int, resources: list[Resource], seed: int = 7) -> int:
    """Write an hourly FOCUS 1.2 CSV for `resources` over `days` from `start`; returns the line count."""
    rng = random.Random(seed)
    lines = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FOCUS_COLUMNS)
        for offset in range(days):
            day = start + timedelta(days=offset)
            period_start, period_end = _month(day)
            for hour in range(24):
                moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                begin, end = (
                    moment.strftime("%Y-%m-%dT%H:00:00Z"),
                    (moment + timedelta(hours=1)).strftime("%Y-%m-%dT%H:00:00Z"),
                )
                for r in resources:
                    if r.daily and hour:
                        continue
                    quantity = Decimal(24 * rng.randint(40, 400)) if r.daily else Decimal(1)
                    rate = r.hourly_rate / (Decimal(720) if r.unit == "GB-Month" else 1)
                    cost = (rate * quantity).quantize(Decimal("0.0000001"))
                    committed = r.category == "Compute" and r.resource_id.endswith("0000")
                    effective = (cost * Decimal("0.62")).quantize(Decimal("0.0000001")) if committed else cost
                    writer.writerow((
                        r.account, "Demo AI", "USD", period_start, period_end,
                        begin, (moment + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z") if r.daily else end,
                        "Usage", "", f"{r.service} {r.sku} in {r.region}", "Usage-Based",
                        r.provider, r.provider, r.provider, r.region, r.region, r.service, r.category,
                        r.resource_id, r.resource_id, r.resource_type, r.sku, f"{r.sku}-od",
                        "Committed" if committed else "Standard", quantity, r.unit, quantity, r.unit,
                        rate, cost, rate, cost, cost, effective,
                        f"{r.provider[:3].lower()}-commitment-1" if committed else "",
                        "Used" if committed else "", "Reservation" if committed else "",
                        r.account, "ml-platform", r.tags,
                    ))  # fmt: skip
                    lines += 1
    return lines


GPU_CLOUD_COLUMNS = ("Date", "Instance ID", "Instance Type", "Region", "GPU Hours", "Amount (USD)", "Customer", "Team")
GPU_CLOUD_INSTANCES = (
    ("lambda-h100-a", "8x H100 SXM", Decimal("23.92"), "acme-corp"),
    ("lambda-h100-b", "8x H100 SXM", Decimal("23.92"), ""),
    ("lambda-a100-a", "1x A100 40GB", Decimal("1.29"), "globex"),
)


def write_gpu_cloud_invoice(path, *, start: date, days: int, seed: int = 11) -> int:
    """A Lambda-style daily invoice CSV (no FOCUS): one line per instance and day."""
    rng = random.Random(seed)
    lines = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(GPU_CLOUD_COLUMNS)
        for offset in range(days):
            day = start + timedelta(days=offset)
            for instance, kind, rate, customer in GPU_CLOUD_INSTANCES:
                hours = 24 if rng.random() > 0.1 else rng.randint(2, 23)
                gpus = 8 if kind.startswith("8x") else 1
                writer.writerow(
                    (day.isoformat(), instance, kind, "us-west-1", hours * gpus, rate * hours, customer, "research")
                )
                lines += 1
    return lines
