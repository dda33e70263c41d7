"""The Costs page's breakdown of a period: the identity day by day, the largest providers, features, environments
and owners."""

from collections import defaultdict
from datetime import date

from accounts.read_cache import ECONOMICS, cached_read
from finops.selectors.grouping import ZERO, as_day, slice_sets
from finops.selectors.ledger import IDENTITY_TERMS

BREAKDOWN_SETS = {"daily": ("day", "kind"), "provider": ("provider",), "feature": ("feature",),
                  "environment": ("environment",), "owner": ("owner",)}  # fmt: skip


@cached_read(ECONOMICS)
def cost_breakdown(*, org, start: date, end: date) -> dict:
    """For the Costs page: per day allocated, idle, unmeasured and unattributed; the twelve largest providers,
    features, environments and owners (teams)."""
    sets = slice_sets(org=org, start=start, end=end, sets=BREAKDOWN_SETS)
    daily = defaultdict(lambda: dict.fromkeys(IDENTITY_TERMS[1:], ZERO))
    for r in sets["daily"]:
        daily[as_day(r["day"])][r["kind"]] += r["cost"]

    def top(field):
        ranked = sorted(sets[field], key=lambda r: (-r["cost"], r[field]))
        return [(r[field] or "(none)", r["cost"]) for r in ranked[:12]]

    return {"daily": dict(sorted(daily.items())), "by_provider": top("provider"), "by_feature": top("feature"),
            "by_environment": top("environment"), "by_owner": top("owner")}  # fmt: skip
