"""Which rollup rows a period holds, when they were last computed, and the identity they sum to (billed = allocated
+ idle + unmeasured + unattributed) by bucket, label and source."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from accounts.read_cache import ECONOMICS, cached_read
from finops.models import Bucket, CustomerRollup, Label, Rollup, RollupDay, WorkRollup
from finops.selectors.grouping import cost_of, slice_sets

ZERO = Decimal(0)

GPU_SOURCES = ("gpu_bill", "gpu_rate", "gpu_no_agent", "gpu_tagged")


def rollups_between(*, org, start: date, end: date):
    """Rollup rows of the days in [start, end): every dimension, with the bill lines behind each amount."""
    return Rollup.objects.for_org(org).filter(day__gte=start, day__lt=end)


def work_between(*, org, start: date, end: date):
    """WorkRollup rows of the days in [start, end): the rollup without customer and route."""
    return WorkRollup.objects.for_org(org).filter(day__gte=start, day__lt=end)


def customers_between(*, org, start: date, end: date):
    """CustomerRollup rows of the days in [start, end): the rollup per customer and plan."""
    return CustomerRollup.objects.for_org(org).filter(day__gte=start, day__lt=end)


def last_rollup_at(*, org=None):
    """When any rollup (of `org`, or of any org) was last computed; None before the first."""
    days = RollupDay.objects.for_org(org) if org else RollupDay.objects.all()
    return days.order_by("-computed_at").values_list("computed_at", flat=True).first()


IDENTITY_TERMS = ("billed_total", "allocated", "idle", "unmeasured", "unattributed")

SUMMARY_SETS = {"kinds": ("currency", "kind"), "buckets": ("currency", "bucket"), "labels": ("currency", "label"),
                "sources": ("currency", "source"), "owners": ("currency", "kind", "owner")}  # fmt: skip


@cached_read(ECONOMICS)
def ledger_summary(*, org, start: date, end: date) -> dict:
    """The identity for [start, end) in the org's currency, by bucket and label; other currencies beside."""
    sets = slice_sets(org=org, start=start, end=end, sets=SUMMARY_SETS, every_currency=True)
    totals = defaultdict(lambda: dict.fromkeys(IDENTITY_TERMS, ZERO))
    for row in sets["kinds"]:
        totals[row["currency"]][row["kind"]] += row["cost"]
        totals[row["currency"]]["billed_total"] += row["cost"]
    mine = {name: [r for r in rows if r["currency"] == org.currency] for name, rows in sets.items()}
    by_bucket = dict.fromkeys(Bucket.values, ZERO)
    for row in mine["buckets"]:
        by_bucket[row["bucket"]] += row["cost"]
    by_label = dict.fromkeys(Label.values, ZERO)
    for row in mine["labels"]:
        by_label[row["label"]] += row["cost"]
    has_rows = org.currency in totals
    own = totals.pop(org.currency, None)
    return {
        "currency": org.currency,
        **(own or dict.fromkeys(IDENTITY_TERMS)),
        "by_bucket": by_bucket if has_rows else dict.fromkeys(Bucket.values),
        "by_label": by_label if has_rows else dict.fromkeys(Label.values),
        "unmeasured_owned": cost_of(r for r in mine["owners"] if r["kind"] == "unmeasured" and r["owner"])
        if has_rows
        else None,
        "by_source": {r["source"]: r["cost"] for r in mine["sources"]},
        "other_currencies": {c: t for c, t in sorted(totals.items())},
        "unpriced_calls": sum(r["unpriced"] or 0 for r in sets["kinds"]),
    }
