"""The shared_cluster row of the Founder Table, its declaration and its rule: unattributed and untagged cost above its
share of the bill fires."""

from decimal import Decimal

from finops.economics.facts import PeriodFacts
from finops.economics.rows.base import Figure, Row, Threshold, Unit, offender, ratio


def judge(f: PeriodFacts, t: dict) -> dict:
    mystery = f.unattributed + f.untagged_allocated
    share = ratio(mystery, f.billed_total)
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


ROW = Row(
    key="shared_cluster",
    title="Shared cluster",
    measures="Spend by team, feature, namespace, customer",
    founder_move="Tag every workload before launch",
    fires_when="Costs land in one untagged mystery bucket",
    thresholds=(
        Threshold(
            "mystery_share_of_billed",
            Decimal("0.1"),
            Unit.SHARE,
            "unattributed and untagged cost above this share of the bill",
        ),
    ),
    figures=(
        Figure("mystery_bucket", Unit.MONEY),
        Figure("share_of_bill", Unit.SHARE),
        Figure("unattributed", Unit.MONEY),
    ),
    offender_kinds=("bucket",),
    judge=judge,
)
