from decimal import Decimal

from rest_framework import serializers

from finops.economics.budgets import target_error
from ingest.gpu_facts import STALE_AFTER, minutes_text
from ingest.serializers import HostOutput, PeriodOutput

MONEY = {"allow_null": True, "help_text": "Decimal string; null when unknown"}


def money(meaning: str) -> dict:
    """MONEY with what the amount means."""
    return {**MONEY, "help_text": f"{meaning}. Decimal string; null when unknown"}


class LedgerSummaryOutput(PeriodOutput):
    currency = serializers.CharField()
    billed_total = serializers.CharField(**MONEY)
    allocated = serializers.CharField(**MONEY)
    idle = serializers.CharField(**money("Paid GPU capacity an agent saw doing no work, unused commitment"))
    unmeasured = serializers.CharField(
        **money("Paid GPU host time no agent reported on and no workload tag placed: neither idle nor used")
    )
    unattributed = serializers.CharField(**MONEY)
    unmeasured_owned = serializers.CharField(**money("The part of unmeasured on hosts with an owner"))
    by_bucket = serializers.DictField(child=serializers.CharField(allow_null=True))
    by_label = serializers.DictField(child=serializers.CharField(allow_null=True))
    by_source = serializers.DictField(child=serializers.CharField(), help_text="gpu_bill, api_calls, api_gap, ...")
    lines = serializers.IntegerField(help_text="Bill lines starting in the period")
    other_currencies = serializers.DictField(child=serializers.DictField(), help_text="The identity per other currency")
    unpriced_calls = serializers.IntegerField()


class OffenderOutput(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.CharField()
    name = serializers.CharField()
    amount = serializers.CharField(**MONEY)
    reason = serializers.CharField()
    at_stake = serializers.BooleanField(
        default=True, help_text="false: the amount is what the offender concerns, not money known to leak"
    )


class FounderRowOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    measured = serializers.DictField()
    founder_move = serializers.CharField()
    stop_sign = serializers.BooleanField(allow_null=True, help_text="null when the data to judge is not connected")
    offenders = OffenderOutput(many=True)
    note = serializers.CharField(allow_blank=True)


class FounderTableOutput(PeriodOutput):
    currency = serializers.CharField()
    rows = FounderRowOutput(many=True)


class MetricOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="A decimal string, a {name: amount} breakdown, or null")
    previous = serializers.JSONField(allow_null=True)
    change = serializers.CharField(allow_null=True, help_text="Relative change; null when the week before was 0")


class WeeklyMetricsOutput(PeriodOutput):
    week = serializers.CharField()
    currency = serializers.CharField()
    metrics = MetricOutput(many=True)


class CustomerEconomicsOutput(serializers.Serializer):
    customer = serializers.CharField()
    plan = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    revenue = serializers.CharField(**MONEY)
    ai_cost = serializers.CharField(
        **money("Direct cost: their calls, GPU time the agent attributed to them, bill lines tagged to them")
    )
    fully_loaded_cost = serializers.CharField(
        **money("Direct cost plus their share of idle, unmeasured and unattributed cost (by direct cost)")
    )
    gross_margin = serializers.CharField(allow_null=True, help_text="(revenue - AI cost) / revenue")
    fully_loaded_margin = serializers.CharField(allow_null=True, help_text="(revenue - fully loaded cost) / revenue")
    gross_margin_after_fees = serializers.CharField(allow_null=True)
    payment_fees = serializers.CharField(**MONEY)
    loses_money = serializers.BooleanField()
    completed_jobs = serializers.IntegerField()
    failed_jobs = serializers.IntegerField()
    cost_per_completed_job = serializers.CharField(**MONEY)
    retries_per_completed_job = serializers.CharField(allow_null=True)


class AnomalyOutput(serializers.Serializer):
    kind = serializers.CharField(help_text="spend_spike, tokens_per_request_jump, retry_rate_jump, model_mix_shift, "
                                 "idle_hours_jump")  # fmt: skip
    subject = serializers.CharField()
    value = serializers.CharField()
    baseline = serializers.CharField()
    reason = serializers.CharField()


class AnomaliesOutput(PeriodOutput):
    week = serializers.CharField()
    anomalies = AnomalyOutput(many=True)


class ForecastOutput(PeriodOutput):
    currency = serializers.CharField()
    month = serializers.CharField()
    month_to_date = serializers.CharField()
    run_rate_per_day = serializers.CharField()
    forecast = serializers.CharField()
    low = serializers.CharField()
    high = serializers.CharField()
    days_left = serializers.IntegerField()


class UsageCapOutput(serializers.Serializer):
    cost = serializers.CharField(help_text="AI cost per customer for the period that keeps the target margin")
    tokens = serializers.IntegerField(allow_null=True)
    jobs = serializers.IntegerField(allow_null=True)


class PlanEconomicsOutput(serializers.Serializer):
    plan = serializers.CharField(allow_blank=True)
    currency = serializers.CharField()
    price = serializers.CharField(**MONEY)
    customers = serializers.IntegerField()
    cost_median = serializers.CharField(**MONEY)
    cost_p90 = serializers.CharField(**MONEY)
    cost_max = serializers.CharField(**MONEY)
    ai_cost = serializers.CharField(**money("The customers' direct cost"))
    fully_loaded_cost = serializers.CharField(**money("The customers' fully loaded cost"))
    revenue = serializers.CharField(**MONEY)
    margin = serializers.CharField(allow_null=True, help_text="(revenue - direct cost) / revenue")
    fully_loaded_margin = serializers.CharField(allow_null=True, help_text="(revenue - fully loaded cost) / revenue")
    losing_customers = serializers.ListField(child=serializers.CharField())
    suggested_usage_cap = UsageCapOutput(allow_null=True)


class BudgetInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["org", "customer", "plan", "feature", "trial"])
    target = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="",
        help_text="The customer id, plan or feature; empty for org and trial",
    )  # fmt: skip
    period = serializers.ChoiceField(choices=["day", "week", "month"])
    amount = serializers.DecimalField(max_digits=20, decimal_places=10, min_value=Decimal("0.0000000001"))
    currency = serializers.CharField(min_length=3, max_length=3, required=False,
                                     help_text="The organisation's reporting currency (the default)")  # fmt: skip
    alert_at = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal(1), required=False,
        default=Decimal("0.8"), help_text="Alert when this fraction of the budget is spent or reserved",
    )  # fmt: skip

    def validate(self, data):
        data["target"] = data["target"].strip()
        error = target_error(data["scope"], data["target"])
        if error:
            raise serializers.ValidationError({"target": [error]})
        return data


class BudgetOutput(serializers.Serializer):
    id = serializers.UUIDField(source="budget.code")
    scope = serializers.CharField(source="budget.scope")
    target = serializers.CharField(source="budget.target")
    period = serializers.CharField(source="budget.period")
    amount = serializers.CharField()
    currency = serializers.CharField(source="budget.currency")
    alert_at = serializers.CharField(source="budget.alert_at")
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Exclusive")
    spent = serializers.CharField(help_text="Cost in the current period, from the rollups")
    reserved = serializers.CharField(help_text="Held by allowed budget checks whose hold has not expired")
    remaining = serializers.CharField(help_text="amount - spent - reserved; negative when over")
    status = serializers.ChoiceField(choices=["ok", "alert", "over"])


class BudgetCheckInput(serializers.Serializer):
    customer = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    feature = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    estimated_cost = serializers.DecimalField(max_digits=20, decimal_places=10, min_value=Decimal(0))
    currency = serializers.CharField(min_length=3, max_length=3, required=False,
                                     help_text="Must be the organisation's currency (the default)")  # fmt: skip


class BudgetCheckOutput(serializers.Serializer):
    allow = serializers.BooleanField()
    reason = serializers.CharField()
    remaining = serializers.CharField(
        allow_null=True,
        help_text="The tightest applicable budget's remainder (after this job when allowed); null when none applies",
    )
    currency = serializers.CharField()
    reservation = serializers.UUIDField(allow_null=True, help_text="DELETE budget-check/{reservation}/ releases it")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When the hold lapses on its own")


class GpuHostOutput(HostOutput):
    code = serializers.UUIDField(allow_null=True, help_text="The agent host's code; null for a host only a bill names")
    resource_id = serializers.CharField(allow_null=True, help_text="The bill resource, or null")
    source = serializers.ChoiceField(choices=("agent", "bill", "both"), help_text="Who knows this host")
    stale = serializers.BooleanField(
        allow_null=True, help_text=f"No samples for {minutes_text(STALE_AFTER)}; null without an agent"
    )
    reported_hostname = serializers.CharField(help_text="The hostname its agent's machine reported")
    currency = serializers.CharField()
    cost = serializers.CharField(**money("GPU cost of the host in the period"))
    idle_cost = serializers.CharField(**money("The part an agent saw idle"))
    unmeasured_cost = serializers.CharField(**money("The part no agent reported on and no workload tag placed"))


class GpuResourceMarkInput(serializers.Serializer):
    resource_id = serializers.CharField(max_length=500, help_text="The bill lines' resource id")
    is_gpu = serializers.BooleanField(allow_null=True, help_text="true: a GPU host; false: not one; null: forget")


class GpuResourceMarkOutput(serializers.Serializer):
    resource_id = serializers.CharField()
    is_gpu = serializers.BooleanField(allow_null=True)


class ExploreGroupOutput(serializers.Serializer):
    """One group: the value of each dimension grouped by ("(none)" when empty), then its cost."""

    provider = serializers.CharField(required=False)
    service = serializers.CharField(required=False, help_text="A bill line's service; (none) for calls and GPU time")
    resource = serializers.CharField(required=False, help_text="A bill line's resource id (or name)")
    host = serializers.CharField(required=False)
    customer = serializers.CharField(required=False)
    plan = serializers.CharField(required=False)
    feature = serializers.CharField(required=False)
    model = serializers.CharField(required=False)
    route = serializers.CharField(required=False)
    environment = serializers.CharField(required=False)
    owner = serializers.CharField(required=False)
    bucket = serializers.CharField(required=False)
    label = serializers.CharField(required=False)
    source = serializers.CharField(
        required=False, help_text="bill_line, api_call, gpu_time, idle, unmeasured or unattributed"
    )
    origin = serializers.CharField(
        required=False,
        help_text="The rollup's own source: gpu_bill, gpu_rate, gpu_tagged, gpu_no_agent, api_calls, "
        "api_gap, cloud_tagged, cloud_shared, no_rate",
    )
    amount = serializers.CharField(**money("The group's cost in the period"))
    previous = serializers.CharField(**money("Its cost in the period of the same length before"))
    change = serializers.CharField(**money("(amount - previous) / previous; null when previous is 0 or unknown"))
    unpriced_calls = serializers.IntegerField(help_text="Model calls of the group with no known price")


class ExploreOutput(PeriodOutput):
    currency = serializers.CharField()
    group_by = serializers.ListField(child=serializers.CharField())
    filters = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                    help_text='{dimension: [values]}; "(none)" is "is empty"')  # fmt: skip
    total = serializers.CharField(**money("The cost of every group in the period"))
    previous_total = serializers.CharField(**money("The same filters' cost in the period before"))
    change = serializers.CharField(**money("The total's relative change"))
    previous_start = serializers.DateField()
    previous_end = serializers.DateField()
    groups = ExploreGroupOutput(many=True)


class ExploreLineOutput(serializers.Serializer):
    kind = serializers.CharField(help_text="bill_line, usage_event or gpu_hour")
    id = serializers.IntegerField()
    at = serializers.DateTimeField(help_text="Charge period start, call time, or the GPU-hour")
    day = serializers.DateField()
    amount = serializers.CharField(**money("The row's own amount (a bill line's billed cost); null for GPU-hours"))
    currency = serializers.CharField(allow_blank=True)
    provider = serializers.CharField(allow_blank=True)
    service = serializers.CharField(allow_blank=True)
    resource = serializers.CharField(allow_blank=True)
    model = serializers.CharField(allow_blank=True)
    customer = serializers.CharField(allow_blank=True)
    feature = serializers.CharField(allow_blank=True)
    environment = serializers.CharField(allow_blank=True)
    quantity = serializers.CharField(allow_null=True)
    unit = serializers.CharField(allow_blank=True)
    upload = serializers.UUIDField(allow_null=True, help_text="The upload's code: GET uploads/{code}/")
    upload_name = serializers.CharField(allow_blank=True)
    source_row = serializers.IntegerField(allow_null=True, help_text="Row of the uploaded file (header = 1)")


class ExploreLinesOutput(PeriodOutput):
    lines = ExploreLineOutput(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as ?cursor= for the next page; null on the last")
