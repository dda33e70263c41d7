"""The ten Founder Table rows: measured figures, the stop-sign rule, and the offenders with their dollar impact.

Pure functions of `PeriodFacts` (gathered by finops/selectors/rollups.py) and the organisation's thresholds.
A rule that needs data the organisation has not connected (revenue before Stripe, say) neither fires nor
passes: its `stop_sign` is None and `note` says what is missing.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from finops.economics.facts import ZERO, HostFacts, PeriodFacts
from finops.founder_table import FOUNDER_ROWS
from finops.money import format_money, prorate_monthly

DEFAULT_THRESHOLDS = {
    "training_run_min_cost": Decimal("50"),
    "plan_p90_cost_share_of_price": Decimal("0.5"),
    "idle_share_of_paid_hours": Decimal("0.25"),
    "zombie_hours": Decimal("2"),
    "batch_realtime_cost": Decimal("100"),
    "premium_call_share": Decimal("0.9"),
    "premium_saving_share": Decimal("0.2"),
    "evaluation_lookback_days": Decimal("7"),
    "trial_share_of_paid_revenue": Decimal("0.1"),
    "trial_cap": Decimal("25"),
    "premium_share_low_price_plan": Decimal("0.3"),
    "mystery_share_of_billed": Decimal("0.1"),
    "commitment_min_utilisation": Decimal("0.6"),
}
THRESHOLD_HELP = {
    "training_run_min_cost": "Training run: runs costing more than this need a learning question",
    "plan_p90_cost_share_of_price": "Inference request: a plan's p90 cost per customer above this share of its price",
    "idle_share_of_paid_hours": "Idle GPU: a host idle more than this share of its paid hours",
    "zombie_hours": "Idle GPU: a zombie process lasting longer than this many hours",
    "batch_realtime_cost": "Batch job: deferrable work paid at real-time prices above this amount",
    "premium_call_share": "Model route: a feature sending more than this share of calls to its premium model",
    "premium_saving_share": "Model route: ... when the cheapest route would save more than this share",
    "evaluation_lookback_days": "Evaluation run: days before a release in which evaluation spend must appear",
    "trial_share_of_paid_revenue": "Free trial: trial spend above this share of paid revenue",
    "trial_cap": "Free trial: one trial account spending more than this in the period",
    "premium_share_low_price_plan": "Customer tier: a below-median plan sending more than this share to premium",
    "mystery_share_of_billed": "Shared cluster: unattributed and untagged cost above this share of the bill",
    "commitment_min_utilisation": "Provider commitment: a commitment used below this share",
}


@dataclass
class RowResult:
    key: str
    title: str
    founder_move: str
    measured: dict
    stop_sign: bool | None
    offenders: list = field(default_factory=list)
    note: str = ""
    fires_when: str = ""
    measures: str = ""


def offender(kind, ident, name, amount, reason, *, at_stake: bool = True) -> dict:
    """One offender of a row. `at_stake` False: the amount is what it concerns, not money known to leak (GPU time no
    agent measured), so the row's impact (`founder_table.row_impact`) leaves it out."""
    return {"kind": kind, "id": ident, "name": name, "amount": amount, "reason": reason, "at_stake": at_stake}


def percentile(values: list, share: Decimal) -> Decimal | None:
    """The nearest-rank percentile of Decimal values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(int((share * len(ordered)).to_integral_value(rounding="ROUND_CEILING")), 1)
    return ordered[rank - 1]


def _money(f: PeriodFacts, amount: Decimal) -> str:
    """An amount in a reason, as a person reads it: in the organisation's currency, rounded to its minor unit."""
    return format_money(amount, f.currency)


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return part / whole if whole else None


def training_run(f: PeriodFacts, t: dict) -> dict:
    runs = [r for r in f.runs if r.purpose in ("training", "research")]
    limit = t["training_run_min_cost"]
    bad = [r for r in runs if r.cost > limit and not r.approved]
    return {
        "measured": {
            "runs": len(runs),
            "spend": sum((r.cost for r in runs), ZERO),
            "gpu_hours": sum((r.gpu_seconds for r in runs), ZERO) / 3600,
            "without_question": len(bad),
        },
        "stop_sign": bool(bad),
        "offenders": [offender("run", r.run, r.run, r.cost, f"{r.purpose} run with no learning question") for r in bad],
    }


def inference_request(f: PeriodFacts, t: dict) -> dict:
    per_job = f.job_cost / f.completed_jobs if f.completed_jobs else None
    measured = {"completed_jobs": f.completed_jobs, "cost_per_completed_job": per_job, "failed_jobs": f.failed_jobs}
    if f.revenue is None:
        return {"measured": measured, "stop_sign": None, "note": "Connect Stripe to compare cost with revenue."}
    offenders = []
    for customer, plan, cost in f.customer_cost:
        if plan == f.trial_plan:
            continue  # a trial account pays nothing by design: the free-trial row judges it
        revenue = f.revenue.get(customer, ZERO)
        if cost > revenue:
            offenders.append(
                offender(
                    "customer",
                    customer,
                    customer,
                    cost - revenue,
                    f"AI cost {_money(f, cost)} above revenue {_money(f, revenue)}",
                )
            )
    for plan, price in sorted((f.plan_prices or {}).items()):
        costs = [c for _, p, c in f.customer_cost if p == plan]
        p90 = percentile(costs, Decimal("0.9"))
        if p90 is not None and price and p90 > price * t["plan_p90_cost_share_of_price"]:
            offenders.append(
                offender(
                    "plan",
                    plan,
                    plan,
                    p90 - price * t["plan_p90_cost_share_of_price"],
                    f"p90 cost per customer {_money(f, p90)} against price {_money(f, price)}",
                )
            )
    return {"measured": measured, "stop_sign": bool(offenders), "offenders": offenders}


AGENT_INSTALL = "pip install nvidia-ml-py && python3 finops_agent.py --server URL --token TOKEN"


def idle_gpu(f: PeriodFacts, t: dict) -> dict:
    """Fires on measured idleness, unowned paid GPU time (measured or not) and zombies; hosts no agent reports on
    are listed with their unmeasured cost and the move "install the agent", without firing on their own."""
    offenders, fires = [], False
    for h in f.hosts:
        measured_paid = _measured_paid(h)
        share = _ratio(h.idle_cost, measured_paid) if measured_paid > 0 else None
        if share is not None and share > t["idle_share_of_paid_hours"]:
            offenders.append(offender("host", h.host, h.host, h.idle_cost, f"idle {share:.0%} of measured paid time"))
            fires = True
        elif h.unowned_idle_cost > 0:
            offenders.append(offender("host", h.host, h.host, h.unowned_idle_cost, "idle GPU time with no owner"))
            fires = True
        if h.unmeasured_cost > 0:
            agent = "its agent was silent for part of the billed time" if h.agent else "no agent reports on it"
            move = "check the agent" if h.agent else "install the agent"
            why = f"{agent}: {move}"
            if h.unowned_unmeasured_cost > 0:
                why = f"running with no owner, and {agent}: tag an owner and {move}"
                fires = True
            offenders.append(offender("host", h.host, h.host, h.unmeasured_cost, why, at_stake=False))
        if Decimal(h.zombie_seconds) / 3600 > t["zombie_hours"]:
            hours = Decimal(h.zombie_seconds) / 3600
            offenders.append(offender("host", h.host, h.host, _zombie_cost(h), f"zombie process for {hours:.1f} h"))
            fires = True
    unmeasured = [h for h in f.hosts if h.unmeasured_cost > 0 and not h.agent]
    any_measured = any(_measured_paid(h) > 0 for h in f.hosts)
    if not f.hosts:
        note = "No GPU hosts yet: install the agent or upload a bill with GPU instances."
    elif unmeasured:
        plural = "s" if len(unmeasured) != 1 else ""
        note = f"No agent reports on {len(unmeasured)} GPU host{plural}; install it: {AGENT_INSTALL}"
    elif any(h.unmeasured_cost > 0 for h in f.hosts):
        note = "An agent was silent for part of the billed GPU time: that time is unmeasured, not idle."
    else:
        note = ""
    return {
        "measured": {
            "idle_gpu_hours": sum((h.idle_gpu_seconds for h in f.hosts), ZERO) / 3600,
            "idle_cost": sum((h.idle_cost for h in f.hosts), ZERO),
            "unmeasured_cost": sum((h.unmeasured_cost for h in f.hosts), ZERO),
            "paid_cost": sum((h.paid_cost for h in f.hosts), ZERO),
            "hosts": len(f.hosts),
            "hosts_without_agent": len(unmeasured),
        },
        # Nothing fired and no agent measured anything: not known to be fine.
        "stop_sign": True if fires else (False if any_measured else None),
        "offenders": offenders,
        "note": note,
    }


def _measured_paid(h: HostFacts) -> Decimal:
    """The paid cost of the host's time an agent measured (the GPU-seconds it reported cover only that)."""
    return h.paid_cost - h.unmeasured_cost - h.tagged_unmeasured_cost


def _zombie_cost(h: HostFacts) -> Decimal:
    if not h.paid_gpu_seconds:
        return ZERO
    return _measured_paid(h) * Decimal(h.zombie_seconds) / h.paid_gpu_seconds


def batch_job(f: PeriodFacts, t: dict) -> dict:
    fires = f.deferrable_realtime_cost > t["batch_realtime_cost"]
    offenders = (
        [
            offender("feature", name, name, cost, "deferrable work paid at real-time prices")
            for name, cost in f.deferrable_by_feature
            if cost > 0
        ]
        if fires
        else []
    )
    return {
        "measured": {
            "deferrable_realtime_cost": f.deferrable_realtime_cost,
            "batch_discount_at_stake": f.deferrable_realtime_cost / 2,
        },
        "stop_sign": fires,
        "offenders": offenders,
    }


def premium_audit(routes) -> list[dict]:
    """Per feature: the premium model (highest cost per token), its call share, and the saving had its calls
    gone to the feature's cheapest route at that route's cost per token."""
    by_feature = {}
    for r in routes:
        if r.tokens > 0 and r.calls > 0:
            by_feature.setdefault(r.feature, []).append(r)
    audit = []
    for feature, rows in sorted(by_feature.items()):
        if len(rows) < 2:
            continue
        per_token = {r.model: r.cost / r.tokens for r in rows}
        premium = max(rows, key=lambda r: per_token[r.model])
        cheap = min(rows, key=lambda r: per_token[r.model])
        calls = sum(r.calls for r in rows)
        cost = sum((r.cost for r in rows), ZERO)
        saving = premium.cost - premium.tokens * per_token[cheap.model]
        audit.append(
            {
                "feature": feature,
                "premium_model": premium.model,
                "cheap_model": cheap.model,
                "premium_call_share": Decimal(premium.calls) / calls,
                "cost": cost,
                "saving": saving,
                "saving_share": _ratio(saving, cost),
            }
        )
    return audit


def model_route(f: PeriodFacts, t: dict) -> dict:
    audit = premium_audit(f.routes)
    bad = [
        a
        for a in audit
        if a["premium_call_share"] > t["premium_call_share"] and (a["saving_share"] or ZERO) > t["premium_saving_share"]
    ]
    return {
        "measured": {
            "features": len(audit),
            "calls": sum(r.calls for r in f.routes),
            "possible_saving": sum((a["saving"] for a in audit), ZERO),
        },
        "stop_sign": bool(bad) if audit else None,
        "offenders": [
            offender(
                "feature",
                a["feature"],
                a["feature"],
                a["saving"],
                f"{a['premium_call_share']:.0%} of calls on {a['premium_model']}; "
                f"{a['cheap_model']} would save {a['saving_share']:.0%}",
            )
            for a in bad
        ],
        "audit": audit,
        "note": "" if audit else "No feature uses two models yet.",
    }


def evaluation_run(f: PeriodFacts, t: dict) -> dict:
    offenders = [
        offender("release", name, name, ZERO, "released with no evaluation spend before it")
        for name, spend in f.releases
        if not spend
    ]
    offenders += [
        offender(
            "feature",
            feature,
            f"{feature} on {model}",
            cost,
            f"{model} used in production with no evaluation calls first",
        )
        for feature, model, cost in f.unevaluated_models
    ]
    return {
        "measured": {"evaluation_spend": f.evaluation_cost, "releases": len(f.releases)},
        "stop_sign": bool(offenders),
        "offenders": offenders,
    }


def free_trial(f: PeriodFacts, t: dict) -> dict:
    trials = [(c, cost) for c, plan, cost in f.customer_cost if plan == f.trial_plan]
    spend = sum((cost for _, cost in trials), ZERO)
    offenders = [
        offender("customer", c, c, cost, f"trial account above the cap of {_money(f, t['trial_cap'])}")
        for c, cost in trials
        if cost > t["trial_cap"]
    ]
    if f.revenue is not None:
        paid = sum((v for c, v in f.revenue.items()), ZERO)
        if spend > paid * t["trial_share_of_paid_revenue"]:
            offenders.insert(
                0,
                offender(
                    "plan", f.trial_plan, "all trial accounts", spend, "trial spend above its share of paid revenue"
                ),
            )
    offenders.sort(key=lambda o: -o["amount"])
    # Without revenue the share-of-revenue half is unknown: only an account above the cap can decide the row.
    unknown = f.revenue is None and not offenders
    return {
        "measured": {"trial_accounts": len(trials), "trial_spend": spend},
        "stop_sign": None if unknown else bool(offenders),
        "offenders": offenders,
        "note": "Connect Stripe to compare trial spend with paid revenue." if unknown else "",
    }


def customer_tier(f: PeriodFacts, t: dict) -> dict:
    """Fires for a plan priced below the median that rides premium models, or one whose customers' median margin
    after direct compute cost is below the organisation's target margin."""
    shares = {
        plan: (Decimal(premium) / calls if calls else None, cost) for plan, premium, calls, cost in f.plan_premium
    }
    premium_calls, calls = sum(p[1] for p in f.plan_premium), sum(p[2] for p in f.plan_premium)
    margins = _plan_margins(f)
    measured = {
        "plans": len(shares),
        "premium_call_share": Decimal(premium_calls) / calls if calls else None,
        "premium_share_by_plan": {p: v[0] for p, v in sorted(shares.items())},
        "median_margin_by_plan": {p: m for p, (m, _) in sorted(margins.items())},
        "target_margin": f.target_margin,
    }
    if not f.plan_prices:
        return {"measured": measured, "stop_sign": None, "note": "Connect Stripe to know each plan's price."}
    prices = sorted(f.plan_prices.values())
    median = prices[len(prices) // 2]
    reasons = {}
    for plan, (share, cost) in sorted(shares.items()):
        price = f.plan_prices.get(plan)
        if price is not None and price < median and share is not None and share > t["premium_share_low_price_plan"]:
            reasons[plan] = (cost, [f"{share:.0%} of calls on premium models at price {_money(f, price)}, "
                                    "below the median plan"])  # fmt: skip
    for plan, (margin, at_stake) in sorted(margins.items()):
        if f.target_margin is not None and margin < f.target_margin and plan != f.trial_plan:
            cost, why = reasons.get(plan, (ZERO, []))
            reasons[plan] = (max(cost, at_stake), [*why, f"median margin {margin:.0%} below the {f.target_margin:.0%} "
                                                        "target"])  # fmt: skip
    offenders = [offender("plan", plan, plan, cost, "; ".join(why)) for plan, (cost, why) in sorted(reasons.items())]
    return {"measured": measured, "stop_sign": bool(offenders), "offenders": offenders}


def _plan_margins(f: PeriodFacts) -> dict:
    """{plan: (median margin of its paying customers after direct cost, cost above what the target margin allows)}."""
    if f.revenue is None:
        return {}
    by_plan = {}
    for customer, plan, cost in f.customer_cost:
        by_plan.setdefault(plan, {})[customer] = by_plan.get(plan, {}).get(customer, ZERO) + cost
    costed = {customer for customer, _, _ in f.customer_cost}
    for customer, plan in (f.revenue_plans or {}).items():  # paying customers who cost nothing: a margin of 100%
        if customer not in costed:
            by_plan.setdefault(plan, {})[customer] = ZERO
    result = {}
    for plan, costs in by_plan.items():
        paying = {c: f.revenue[c] for c in costs if f.revenue.get(c, ZERO) > 0}
        if not plan or not paying:
            continue
        margin = percentile(sorted((paying[c] - costs[c]) / paying[c] for c in paying), Decimal("0.5"))
        allowed = sum(paying.values(), ZERO) * (1 - (f.target_margin or ZERO))
        result[plan] = (margin, max(sum((costs[c] for c in paying), ZERO) - allowed, ZERO))
    return result


def shared_cluster(f: PeriodFacts, t: dict) -> dict:
    mystery = f.unattributed + f.untagged_allocated
    share = _ratio(mystery, f.billed_total)
    fires = share is not None and share > t["mystery_share_of_billed"]
    return {
        "measured": {"mystery_bucket": mystery, "share_of_bill": share, "unattributed": f.unattributed},
        "stop_sign": fires if share is not None else None,
        "offenders": [
            offender(
                "bucket",
                "unattributed",
                "untagged and unattributed cost",
                mystery,
                f"{share:.0%} of the bill has no owner",
            )
        ]
        if fires
        else [],
    }


def provider_commitment(f: PeriodFacts, t: dict) -> dict:
    offenders = []
    used_total = unused_total = ZERO
    for ident, used, unused in f.commitments:
        used_total += used
        unused_total += unused
        share = _ratio(used, used + unused)
        if share is not None and share < t["commitment_min_utilisation"]:
            offenders.append(offender("commitment", ident, ident, unused, f"used {share:.0%}"))
    for name, cost, revenue in f.promised:
        if cost > revenue:
            why = f"promised capacity costs {_money(f, cost)} against {_money(f, revenue)} of revenue"
            offenders.append(offender("commitment", name, name, cost - revenue, why))
    judged = f.commitments or f.promised
    return {
        "measured": {
            "commitments": len(f.commitments),
            "used": used_total,
            "unused": unused_total,
            "utilisation": _ratio(used_total, used_total + unused_total),
        },
        "stop_sign": bool(offenders) if judged else None,
        "offenders": offenders,
        "note": "" if judged else "No commitments in the bills or on the commitments page yet.",
    }


RULES = {
    "training_run": training_run,
    "inference_request": inference_request,
    "idle_gpu": idle_gpu,
    "batch_job": batch_job,
    "model_route": model_route,
    "evaluation_run": evaluation_run,
    "free_trial": free_trial,
    "customer_tier": customer_tier,
    "shared_cluster": shared_cluster,
    "provider_commitment": provider_commitment,
}


def thresholds_with_defaults(overrides: dict | None) -> dict:
    """The default thresholds with the organisation's overrides (decimal text) applied."""
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key in merged:
            merged[key] = Decimal(str(value))
    return merged


def founder_table(facts: PeriodFacts, thresholds: dict | None = None) -> list[RowResult]:
    """The ten rows, in the table's order, offenders largest first."""
    t = thresholds_with_defaults(thresholds)
    rows = []
    for definition in FOUNDER_ROWS:
        result = RULES[definition.key](facts, t)
        offenders = sorted(result.get("offenders", []), key=lambda o: -o["amount"])
        measured = dict(result["measured"])
        if "audit" in result:
            measured["audit"] = result["audit"]
        rows.append(
            RowResult(
                definition.key,
                definition.title,
                definition.founder_move,
                measured,
                result["stop_sign"],
                offenders,
                result.get("note", ""),
                definition.fires_when,
                definition.measures,
            )
        )
    return rows


def commitment_split(monthly_amount: Decimal, days: int, used_share: Decimal) -> tuple[Decimal, Decimal]:
    """(used, unused) of a commitment over `days`: its monthly amount pro rata (12 months a 365-day year),
    split by the share of it that was used (capped at all of it)."""
    committed = prorate_monthly(monthly_amount, days)
    used = committed * min(max(used_share, ZERO), Decimal(1))
    return used, committed - used
