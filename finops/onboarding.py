"""The seven-day onboarding checklist of PRODUCT.md: one step a day, each pointing at where it is done.

Whether a step is done is read from the organisation's data by `finops.selectors.onboarding`.
"""

from dataclasses import dataclass
from decimal import Decimal

# Steps 2 and 3 tick when this share of the cost they look at is owned, or on a known plan.
SHARE_NEEDED = Decimal("0.9")
# Steps 2, 3 and 4 look at the last days with costs, up to the newest day the rollups hold.
WINDOW_DAYS = 7
FIRST_WEEK_DAYS = 7
# The Founder Table shows the "Day 3 of 7 — next step" banner until the checklist is done or this day is past.
BANNER_DAYS = 14


@dataclass(frozen=True)
class OnboardingStep:
    day: int
    key: str
    title: str
    why: str
    url_name: str
    action: str
    done_url_name: str = ""  # where the action points once the step is done, when that differs
    done_action: str = ""


ONBOARDING_STEPS = (
    OnboardingStep(
        1,
        "name_spend",
        "Name the spend",
        "Connect your cloud bills and LLM usage so every dollar has a source.",
        "ingest-sources",
        "Connect sources",
    ),
    OnboardingStep(
        2,
        "add_ownership",
        "Add ownership",
        "Give every cost an owner: an owner or team tag on bill lines, a feature on each model call, "
        "an owner on each GPU host.",
        "finops-costs",
        "Review costs",
    ),
    OnboardingStep(
        3,
        "connect_customers",
        "Connect customers",
        "Tie usage to customer accounts and their plans: send the customer with each call, connect Stripe.",
        "finops-customers",
        "See customers",
    ),
    OnboardingStep(
        4,
        "find_idle",
        "Find idle burn",
        "Install the GPU agent on each box to see idle and unowned GPUs.",
        "accounts-agent-tokens",
        "Create an agent token",
        done_url_name="finops-gpus",
        done_action="See GPUs",
    ),
    OnboardingStep(
        5,
        "review_pricing",
        "Review pricing",
        "Connect Stripe to hold cost-to-serve against plan revenue.",
        "pricing-stripe",
        "Connect Stripe",
        done_url_name="finops-plans",
        done_action="Open pricing checks",
    ),
    OnboardingStep(
        6,
        "add_caps",
        "Add caps",
        "Set budgets for trials, cheap plans and heavy flows.",
        "finops-budgets",
        "Set budgets",
    ),
    OnboardingStep(
        7,
        "choose_fix",
        "Choose one fix",
        "Pick the single biggest leak on the Founder Table and commit to its founder move.",
        "finops-founder-table",
        "Open the Founder Table",
    ),
)
