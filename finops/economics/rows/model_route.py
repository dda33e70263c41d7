"""The model_route row of the Founder Table, its declaration and its rule: a feature sending nearly all its calls to its
premium model when its cheapest route would save a share of the cost fires; the premium-route audit is shown with the
row."""

from decimal import Decimal

from finops.economics.facts import ZERO, PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, offender, ratio


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
                "saving_share": ratio(saving, cost),
            }
        )
    return audit


def judge(f: PeriodFacts, t: dict) -> dict:
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


ROW = Row(
    key="model_route",
    title="Model route",
    measures="Model used, fallback, retry count",
    founder_move="Send simple work to cheaper paths",
    fires_when="(Nearly) every request takes the premium route",
    thresholds=(
        Threshold(
            "premium_call_share",
            Decimal("0.9"),
            Unit.SHARE,
            "a feature sending more than this share of calls to its premium model",
        ),
        Threshold(
            "premium_saving_share",
            Decimal("0.2"),
            Unit.SHARE,
            "... when the cheapest route would save more than this share",
        ),
    ),
    figures=(
        Figure("features", Unit.COUNT),
        Figure("calls", Unit.COUNT),
        Figure("possible_saving", Unit.MONEY),
    ),
    offender_kinds=("feature",),
    judge=judge,
    extras=("audit",),
)
