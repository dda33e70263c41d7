"""GPU hosts as the GPUs page and `GET hosts/` show them: agent hosts and the GPU resources bills name, with the
period's cost, idle cost (an agent saw it idle) and unmeasured cost (no agent reported on it)."""

from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import Decimal
from difflib import SequenceMatcher

from django.core.paginator import Paginator
from django.db.models import Sum
from django.utils import timezone

from accounts.read_cache import ECONOMICS, LEDGER, cached_read
from finops.models import Kind
from finops.selectors.ledger import GPU_SOURCES, work_between
from ingest.gpu_facts import seen_is_stale
from ingest.periods import as_utc_bounds
from ingest.selectors import gpu_resource_marks, host_list, host_workloads

ZERO = Decimal(0)
SECONDS_PER_HOUR = 3600
HOUR_KINDS = ("busy", "idle", "zombie", "unowned")


def gpu_host_list(*, org, start: date, end: date) -> list[dict]:
    """Every GPU host of [start, end): each agent host (whether or not a bill prices it) and each GPU resource a bill
    names that no agent host maps, with `source` agent, bill or both, largest cost first. Whether an agent host is
    stale is judged now, not when the list was kept."""
    hosts = _host_rows(org=org, start=start, end=end)
    _judge_staleness(hosts)
    return hosts


def gpu_host_page(*, org, start: date, end: date, page, per_page: int) -> tuple[list[dict], int, int, Decimal]:
    """One page of `gpu_host_list` (a big bill names thousands of GPU resources): (its hosts with the figures the
    GPUs page shows, the page's number, how many hosts there are, the unmeasured cost of them all). Staleness
    judged now."""
    hosts, number, count, unmeasured = _host_page(org=org, start=start, end=end, page=str(page or ""),
                                                  per_page=per_page)  # fmt: skip
    _judge_staleness(hosts)
    for host in hosts:
        _add_shown_figures(host)
    return hosts, number, count, unmeasured


def gpu_hours(host: dict) -> dict:
    """{busy, idle, zombie, unowned: GPU-hours} of a listed host, from its GPU-seconds."""
    return {kind: host[f"gpu_seconds_{kind}"] / SECONDS_PER_HOUR for kind in HOUR_KINDS}


def _add_shown_figures(host: dict) -> None:
    """A listed host's GPU-hours, what its bill's tags placed and its GPUs by model, as the GPUs page shows them."""
    for kind, hours in gpu_hours(host).items():
        host[f"{kind}_hours"] = hours
    if host["source"] == "bill" and host["cost"] is not None:  # allocated by its lines' tags, not measured
        host["placed_by_tags"] = host["cost"] - host["idle_cost"] - host["unmeasured_cost"]
    models = Counter(gpu.name or gpu.uuid for gpu in host["gpus"])
    host["gpu_summary"] = [f"{count} × {name}" if count > 1 else name for name, count in models.items()]


def host_workload_hours(*, org, host, start: datetime, end: datetime) -> list[dict]:
    """The workloads on `host` in [start, end) (`host_workloads`), each with its GPU-hours to the hundredth."""
    return [
        {**w, "gpu_hours": (w["gpu_seconds"] / SECONDS_PER_HOUR).quantize(Decimal("0.01"))}
        for w in host_workloads(org=org, host=host, start=start, end=end)
    ]


@cached_read(ECONOMICS, LEDGER)
def _host_page(*, org, start: date, end: date, page: str, per_page: int) -> tuple:
    hosts = _host_rows(org=org, start=start, end=end)
    shown = Paginator(hosts, per_page).get_page(page)
    unmeasured = sum((h["unmeasured_cost"] or ZERO for h in hosts), ZERO)
    return list(shown.object_list), shown.number, len(hosts), unmeasured


def gpu_host_listing(*, org, host, start: date, end: date) -> tuple[dict, list[dict]]:
    """An agent host as the GPUs page lists it, and the bill-only resources whose names look like it (the five
    most alike), without unpacking every host of a big bill at each request."""
    listed, candidates = _host_listing(org=org, host=host, start=start, end=end)
    _judge_staleness([listed])
    return listed, candidates


@cached_read(ECONOMICS, LEDGER)
def _host_listing(*, org, host, start: date, end: date) -> tuple[dict, list[dict]]:
    hosts = _host_rows(org=org, start=start, end=end)
    listed = next(h for h in hosts if h["code"] == host.code)
    return listed, ([] if host.bill_resource_id else link_candidates(listed, hosts)[:5])


def _judge_staleness(hosts: list[dict]) -> None:
    now = timezone.now()
    for host in hosts:
        if host["source"] != "bill":
            host["stale"] = seen_is_stale(host["last_seen"], now)


@cached_read(ECONOMICS, LEDGER)
def _host_rows(*, org, start: date, end: date) -> list[dict]:
    since, until = as_utc_bounds(start, end)
    costs = _host_costs(org, start, end)
    hosts = []
    agent_names = set()
    for host in host_list(org=org, start=since, end=until):
        agent_names.add(host["name"])
        cost = costs.get(host["name"])
        billed = cost is not None and cost["billed"]  # mapped by its bill resource id, or named alike exactly
        hosts.append({**host, **_money(cost, org.currency), "source": "both" if billed else "agent"})
    marks = gpu_resource_marks(org=org)
    for resource, cost in costs.items():
        if resource in agent_names or marks.get(resource) is False:
            continue
        hosts.append(
            {
                "code": None,
                "name": short_name(resource),
                "resource_id": resource,
                "reported_hostname": "",
                "last_seen": None,
                "stale": None,
                "owner": cost["owner"],
                "provider": cost["provider"],
                "gpus": [],
                "samples": 0,
                "gpu_seconds_busy": 0,
                "gpu_seconds_idle": 0,
                "gpu_seconds_zombie": 0,
                "gpu_seconds_unowned": 0,
                "marked": marks.get(resource),
                **_money(cost, org.currency),
                "source": "bill",
            }
        )
    return sorted(hosts, key=lambda h: (-(h["cost"] or ZERO), h["name"]))


def _host_costs(org, start: date, end: date) -> dict:
    """{rollup host: {cost, idle, unmeasured, billed, owner, provider}} of the GPU cost rows of [start, end)."""
    rows = (
        work_between(org=org, start=start, end=end)
        .filter(currency=org.currency, source__in=GPU_SOURCES)
        .exclude(host="")
        .values("host", "kind", "source", "owner", "provider")
        .annotate(total=Sum("cost_amount"))
        .order_by("host", "owner", "provider")
    )
    costs = defaultdict(lambda: {"cost": ZERO, "idle": ZERO, "unmeasured": ZERO, "billed": False, "owner": "",
                                 "provider": ""})  # fmt: skip
    for row in rows:
        entry = costs[row["host"]]
        entry["cost"] += row["total"]
        entry["idle"] += row["total"] if row["kind"] == Kind.IDLE else ZERO
        entry["unmeasured"] += row["total"] if row["kind"] == Kind.UNMEASURED else ZERO
        entry["billed"] = entry["billed"] or row["source"] != "gpu_rate"
        if row["owner"] and row["owner"] != "(labelled processes)":
            entry["owner"] = entry["owner"] or row["owner"]
        entry["provider"] = entry["provider"] or row["provider"]
    return dict(costs)


def _money(cost: dict | None, currency: str) -> dict:
    if cost is None:  # no bill line and no hourly rate prices this host: its cost is unknown, not 0
        return {"cost": None, "idle_cost": None, "unmeasured_cost": None, "currency": currency}
    return {"cost": cost["cost"], "idle_cost": cost["idle"], "unmeasured_cost": cost["unmeasured"],
            "currency": currency}  # fmt: skip


def short_name(resource: str) -> str:
    """The last part of a resource id ("arn:aws:ec2:...:instance/i-0abc" -> "i-0abc"), the whole id otherwise."""
    tail = resource.rstrip("/").rsplit("/", 1)[-1]
    return tail or resource


def link_candidates(host: dict, hosts: list[dict]) -> list[dict]:
    """Bill-only hosts whose names look like `host`'s name or the hostname its agent reported: the resources the
    host page offers to link (its bill resource id), most alike first."""
    names = [n.lower() for n in (host["name"], host.get("reported_hostname") or "") if n]
    scored = []
    for other in hosts:
        if other["source"] != "bill":
            continue
        resource = other["resource_id"].lower()
        score = max(_alike(name, resource) for name in names) if names else 0
        if score >= 0.6:
            scored.append((-score, other["name"], other))
    return [other for _, _, other in sorted(scored, key=lambda s: (s[0], s[1]))]


def _alike(name: str, resource: str) -> float:
    if name in resource or short_name(resource) in name:
        return 1.0
    return SequenceMatcher(None, name, short_name(resource)).ratio()
