"""What the Founder Table rows judge a period by: the facts the read side gathers (finops/selectors) and the rules
read (finops/economics/rows). Plain values, no database."""

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class HostFacts:
    host: str
    paid_cost: Decimal
    idle_cost: Decimal
    unowned_idle_cost: Decimal
    paid_gpu_seconds: Decimal
    idle_gpu_seconds: Decimal
    zombie_seconds: int = 0
    agent: bool = True
    unmeasured_cost: Decimal = ZERO  # paid time no agent reported on and no workload tag placed
    unowned_unmeasured_cost: Decimal = ZERO
    tagged_unmeasured_cost: Decimal = ZERO  # paid time no agent reported on, allocated by the bill's tags


@dataclass(frozen=True)
class RunFacts:
    run: str
    purpose: str
    cost: Decimal
    gpu_seconds: Decimal
    approved: bool


@dataclass(frozen=True)
class RouteFacts:
    feature: str
    model: str
    calls: int
    cost: Decimal
    tokens: int


@dataclass(frozen=True)
class PeriodFacts:
    currency: str
    billed_total: Decimal = ZERO
    allocated: Decimal = ZERO
    idle: Decimal = ZERO
    unmeasured: Decimal = ZERO
    unattributed: Decimal = ZERO
    untagged_allocated: Decimal = ZERO  # placed by a shared-cost key, not by a tag
    customer_cost: tuple = ()  # ((customer, plan, direct cost), ...)
    customers_fully_loaded: Decimal = ZERO  # customers' fully loaded cost, all together
    target_margin: Decimal | None = None  # the organisation's target gross margin after compute (a fraction)
    revenue_plans: dict | None = None  # customer -> plan of paying customers no cost row names a plan for
    revenue: dict | None = None  # customer -> revenue; None until revenue is connected
    plan_prices: dict | None = None  # plan -> price per period; None until revenue is connected
    completed_jobs: int = 0
    failed_jobs: int = 0
    job_attempts: int = 0
    job_cost: Decimal = ZERO  # completed + failed customer jobs
    hosts: tuple = ()  # HostFacts
    runs: tuple = ()  # RunFacts
    routes: tuple = ()  # RouteFacts
    deferrable_realtime_cost: Decimal = ZERO
    deferrable_by_feature: tuple = ()  # ((feature, cost), ...)
    releases: tuple = ()  # ((name, evaluation spend in the lookback before it), ...)
    unevaluated_models: tuple = ()  # ((feature, model, cost), ...) first production use with no evaluation first
    evaluation_cost: Decimal = ZERO
    trial_plan: str = "trial"
    commitments: tuple = ()  # ((commitment id, used cost, unused cost), ...)
    promised: tuple = ()  # ((name, cost, revenue it serves), ...) of capacity promised to customers
    plan_premium: tuple = ()  # ((plan, premium calls, calls, premium cost), ...)
    feature_cost: tuple = ()  # ((feature, cost), ...)
    environment_cost: tuple = ()  # ((environment, cost), ...)
    inference_calls: int = 0
    failed_job_cost: Decimal = ZERO
    training_research_cost: Decimal = ZERO
