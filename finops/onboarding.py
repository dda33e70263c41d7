"""The seven-day onboarding checklist of PRODUCT.md: one step a day, each pointing at where it is done."""

from dataclasses import dataclass


@dataclass(frozen=True)
class OnboardingStep:
    day: int
    key: str
    title: str
    why: str
    url_name: str
    action: str


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
        "Give every cost line an owner through tags or labels.",
        "finops-costs",
        "Review costs",
    ),
    OnboardingStep(
        3,
        "connect_customers",
        "Connect customers",
        "Tie usage to customer accounts and plans.",
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
    ),
    OnboardingStep(
        5,
        "review_pricing",
        "Review pricing",
        "Connect Stripe to hold cost-to-serve against plan revenue.",
        "finops-plans",
        "Open pricing checks",
    ),
    OnboardingStep(
        6, "add_caps", "Add caps", "Set budgets for trials, cheap plans and heavy flows.", "finops-plans", "Plan caps"
    ),
    OnboardingStep(
        7,
        "choose_fix",
        "Choose one fix",
        "Pick the single biggest leak on the Founder Table and fix it.",
        "finops-founder-table",
        "Open the Founder Table",
    ),
)
