"""Drill-down: from a figure the Founder Table shows to the explorer filtered to the cost behind it, for the same
period. `drilldown` is the one mapping (the page's template tag and its trend chart call it); `drilldown_url` makes it
a link. A drill-down's `equal` says whether the explorer's total for that link IS the figure, to the cent
(tests/finops/test_drilldown.py holds every such link to it on the demo); where it is not, the link opens the cost
the figure concerns, and claims nothing more."""

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from django.urls import reverse

from finops.selectors.explore import EMPTY

# The explorer's `source` values that make up each identity term (the Founder Table's cards).
ALLOCATED_SOURCES = ("bill_line", "api_call", "gpu_time")
CARD_SOURCES = {"billed": (), "allocated": ALLOCATED_SOURCES, "idle": ("idle",), "unmeasured": ("unmeasured",),
                "unattributed": ("unattributed",)}  # fmt: skip
# The rollup sources of the mystery bucket (the shared_cluster row): shared cloud cost and the gap between an LLM bill
# and its logged calls, whether an allocation key placed them or not, and bill lines with no exchange rate. The
# allocation (finops/economics/allocation.py) writes these sources for allocated and unattributed cost only, and
# every unattributed cost under one of them, so their sum is `unattributed + untagged_allocated` exactly.
MYSTERY_ORIGINS = ("api_gap", "cloud_shared", "no_rate")
# Metrics whose figure is a sum of explorer cost: both split allocated cost (every allocated row carries one feature
# and one environment, "" included), so their total is the allocated card.
METRIC_EQUAL = {"gpu_spend_by_feature": {"source": ALLOCATED_SOURCES},
                "gpu_spend_by_environment": {"source": ALLOCATED_SOURCES}}  # fmt: skip
# Metrics whose figure concerns a slice of cost but is not its sum: customers' direct cost (cost placed by an
# allocation key is left out), per release, or zero once there is paid proof.
METRIC_CONCERNS = {"gpu_spend_by_customer": {"source": ALLOCATED_SOURCES},
                   "evaluation_spend_per_release": {"bucket": ("evaluation",), "source": ALLOCATED_SOURCES},
                   "training_spend_before_paid_proof": {"bucket": ("training", "research"),
                                                        "source": ALLOCATED_SOURCES}}  # fmt: skip


@dataclass(frozen=True)
class Drill:
    """The explorer filters {dimension: values} behind a figure, its period when it has its own (a trend bar's
    week), and whether the explorer's total of them is the figure itself."""

    filters: dict = field(default_factory=dict)
    equal: bool = False
    start: date | None = None
    end: date | None = None


def drilldown(shown: str, key: str = "", *, ident: str = "", measure: str = "", week: date | None = None,
              week_end: date | None = None) -> Drill | None:  # fmt: skip
    """The explorer slice behind what the Founder Table shows, or None where no slice of cost stands behind it:

    - `card`, key billed/allocated/idle/unmeasured/unattributed: the explorer's `source` values of that term; equal.
    - `offender`, key = the offender's kind, `ident` its id, `measure` what its amount measures (rows/idle_gpu.py):
      - host, measure idle (idle share of measured paid time): `source=idle&host=`; equal (the host's idle cost).
      - host, measure unmeasured (no agent, or a silent one): `source=unmeasured&host=`; equal.
      - host, measure unowned_idle: `source=idle&owner=(none)&host=`; not claimed equal (the facts count a host's
        unowned idle per GPU-hour, the rollup's owner is the slice's).
      - host, measure zombie (a share of the host's paid time): the host's cost; not equal.
      - customer (trial cost above the cap is the customer's direct cost only; "cost above revenue" is a
        difference): the customer's cost; not equal.
      - plan (p90 above price, margin at stake, all trial accounts): the plan's cost; not equal.
      - feature (deferrable cost, a model route's saving, an unevaluated model): the feature's cost; not equal.
      - run (a training or research job; the explorer keeps no job id): training and research cost; not equal.
      - release (no evaluation spend before it): evaluation cost; not equal.
      - commitment (unused share, promised capacity against revenue): idle cost, where unused commitment lands;
        not equal.
      - bucket `unattributed` (the mystery bucket, untagged and unattributed cost): `origin=` MYSTERY_ORIGINS; equal.
    - `metric`, key = the metric's key: METRIC_EQUAL (equal) or METRIC_CONCERNS (not equal); other metrics (counts,
      hours, shares, per-job cost, failed jobs' cost) are not explorer cost: None.
    - `trend`, key = a bucket ("" for none), `week`/`week_end` its ISO week: `bucket=` over that week; equal (the
      chart sums the same rollup rows).
    - `slice`, key = an explorer dimension, `ident` its value ("" for none), `measure` a term of the identity or "":
      one row of a breakdown (the Costs page's by bucket, label, source, provider, feature, team; a day's bar of one
      term); equal (the breakdowns sum the same rollup rows in the organisation's currency)."""
    if shown == "card":
        sources = CARD_SOURCES.get(key)
        if sources is None:
            return None
        return Drill({"source": sources} if sources else {}, equal=True)
    if shown == "trend":
        return Drill({"bucket": (key or EMPTY,)}, equal=True, start=week, end=week_end)
    if shown == "metric":
        if key in METRIC_EQUAL:
            return Drill(METRIC_EQUAL[key], equal=True)
        return Drill(METRIC_CONCERNS[key]) if key in METRIC_CONCERNS else None
    if shown == "slice":
        filters = {key: (ident or EMPTY,)} if key else {}
        if CARD_SOURCES.get(measure):
            filters["source"] = CARD_SOURCES[measure]
        return Drill(filters, equal=True, start=week, end=week_end)
    if shown == "offender":
        return _offender(key, ident or EMPTY, measure)
    raise ValueError(f"Nothing called {shown!r} is shown on the Founder Table.")


def _offender(kind: str, ident: str, measure: str) -> Drill | None:
    if kind == "host":
        if measure == "idle":
            return Drill({"source": ("idle",), "host": (ident,)}, equal=True)
        if measure == "unmeasured":
            return Drill({"source": ("unmeasured",), "host": (ident,)}, equal=True)
        if measure == "unowned_idle":
            return Drill({"source": ("idle",), "owner": (EMPTY,), "host": (ident,)})
        return Drill({"host": (ident,)})
    if kind in ("customer", "plan", "feature"):
        return Drill({kind: (ident,)})
    if kind == "run":
        return Drill({"bucket": ("training", "research")})
    if kind == "release":
        return Drill({"bucket": ("evaluation",)})
    if kind == "commitment":
        return Drill({"source": ("idle",)})
    if kind == "bucket" and ident == "unattributed":
        return Drill({"origin": MYSTERY_ORIGINS}, equal=True)
    return None


def drilldown_url(org, drill: Drill, *, start: date, end: date) -> str:
    """The explorer page's URL of a drill-down over [start, end) (the drill's own week where it has one)."""
    query = [("start", (drill.start or start).isoformat()), ("end", (drill.end or end).isoformat())]
    query += [(name, ",".join(values)) for name, values in drill.filters.items()]
    return reverse("finops-explore", kwargs={"org_code": org.code}) + "?" + urlencode(query)
