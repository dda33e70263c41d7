from rest_framework import serializers

MONEY = {"allow_null": True, "help_text": "Decimal string; null when unknown"}


class LedgerSummaryOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField()
    billed_total = serializers.CharField(**MONEY)
    allocated = serializers.CharField(**MONEY)
    idle = serializers.CharField(**MONEY)
    unattributed = serializers.CharField(**MONEY)
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


class FounderRowOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    measured = serializers.DictField()
    founder_move = serializers.CharField()
    stop_sign = serializers.BooleanField(allow_null=True, help_text="null when the data to judge is not connected")
    offenders = OffenderOutput(many=True)
    note = serializers.CharField(allow_blank=True)


class FounderTableOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField()
    rows = FounderRowOutput(many=True)


class MetricOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="A decimal string, a {name: amount} breakdown, or null")
    previous = serializers.JSONField(allow_null=True)
    change = serializers.CharField(allow_null=True, help_text="Relative change; null when the week before was 0")


class WeeklyMetricsOutput(serializers.Serializer):
    week = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField()
    metrics = MetricOutput(many=True)


class CustomerEconomicsOutput(serializers.Serializer):
    customer = serializers.CharField()
    plan = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    revenue = serializers.CharField(**MONEY)
    ai_cost = serializers.CharField(**MONEY)
    gross_margin = serializers.CharField(allow_null=True, help_text="(revenue - AI cost) / revenue")
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


class AnomaliesOutput(serializers.Serializer):
    week = serializers.CharField()
    anomalies = AnomalyOutput(many=True)


class ForecastOutput(serializers.Serializer):
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
    ai_cost = serializers.CharField(**MONEY)
    revenue = serializers.CharField(**MONEY)
    margin = serializers.CharField(allow_null=True)
    losing_customers = serializers.ListField(child=serializers.CharField())
    suggested_usage_cap = UsageCapOutput(allow_null=True)
