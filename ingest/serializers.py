from rest_framework import serializers

from ingest.models import Upload


class UploadInput(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=Upload.Kind.choices)
    format = serializers.CharField(required=False, allow_blank=True, help_text="Auto-detected when absent")
    mapping = serializers.UUIDField(required=False, help_text="Code of a saved column mapping (GPU cloud CSVs)")


class UploadError(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="File row; the header is row 1")
    column = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class UploadOutput(serializers.ModelSerializer):
    id = serializers.UUIDField(source="code")
    errors = UploadError(many=True)
    totals = serializers.DictField(child=serializers.CharField(), help_text="Billed total per currency")
    rows_read = serializers.IntegerField(allow_null=True, help_text="Progress of an import that is running")

    class Meta:
        model = Upload
        fields = [
            "id",
            "kind",
            "status",
            "format",
            "original_name",
            "size_bytes",
            "rows_total",
            "rows_loaded",
            "rows_replaced",
            "rows_duplicate",
            "rows_read",
            "period_start",
            "period_end",
            "cost_basis",
            "totals",
            "errors",
            "error_count",
            "created_at",
            "finished_at",
        ]


class UsageEventsOutput(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="New events stored")
    duplicates = serializers.IntegerField(help_text="Valid events whose event_id was already stored")
    rejected = serializers.ListField(
        child=serializers.DictField(), help_text="[{index, field, message}] for each refused event"
    )


class UnpricedModel(serializers.Serializer):
    provider = serializers.CharField()
    model = serializers.CharField()
    calls = serializers.IntegerField()


class PeriodOutput(serializers.Serializer):
    """What every response of a period says about it (INTERFACES.md, Periods)."""

    start = serializers.DateField(help_text="First day of the period")
    end = serializers.DateField(help_text="Day after the last: the period is [start, end)")
    partial = serializers.BooleanField(help_text="True when the period includes today (its figures are so far)")


class UsageSummaryOutput(PeriodOutput):
    currency = serializers.CharField()
    calls = serializers.IntegerField()
    priced_calls = serializers.IntegerField()
    unpriced_calls = serializers.IntegerField()
    unpriced_models = UnpricedModel(many=True)
    cost = serializers.CharField(allow_null=True, help_text="Priced calls only; null when none is priced")
    cost_by_source = serializers.DictField(child=serializers.CharField(allow_null=True))
    input_tokens = serializers.IntegerField(allow_null=True)
    output_tokens = serializers.IntegerField(allow_null=True)
    completed_jobs = serializers.IntegerField()
    retries = serializers.IntegerField()


class ReconciliationRow(serializers.Serializer):
    provider = serializers.CharField()
    currency = serializers.CharField()
    calls_total = serializers.CharField(allow_null=True)
    bill_total = serializers.CharField(allow_null=True)
    gap = serializers.CharField(allow_null=True, help_text="bill minus calls: unattributed token spend when positive")
    status = serializers.ChoiceField(choices=["matched", "over", "under", "incomplete"])


class ReconciliationOutput(PeriodOutput):
    month = serializers.CharField(allow_null=True, help_text="YYYY-MM when the period is one calendar month")
    providers = ReconciliationRow(many=True)


MAX_CLOCK_SKEW_MINUTES = 5


class _Moment(serializers.DateTimeField):
    def to_internal_value(self, value):
        from datetime import timedelta

        from django.utils import timezone

        moment = super().to_internal_value(value)
        if moment > timezone.now() + timedelta(minutes=MAX_CLOCK_SKEW_MINUTES):
            raise serializers.ValidationError(
                f"is in the future by more than {MAX_CLOCK_SKEW_MINUTES} minutes: check the host's clock"
            )
        return moment


class AgentGpuInput(serializers.Serializer):
    uuid = serializers.CharField(max_length=100)
    index = serializers.IntegerField(min_value=0)
    name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    memory_total_bytes = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    mig_mode = serializers.IntegerField(allow_null=True, required=False)


class AgentSampleInput(serializers.Serializer):
    ts = _Moment()
    gpu_uuid = serializers.CharField(max_length=100)
    utilization_gpu_pct = serializers.IntegerField(min_value=0, max_value=100, allow_null=True, required=False)
    utilization_memory_pct = serializers.IntegerField(min_value=0, max_value=100, allow_null=True, required=False)
    memory_used_bytes = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    power_mw = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    energy_mj = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    temperature_c = serializers.IntegerField(allow_null=True, required=False)
    sm_clock_mhz = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    memory_clock_mhz = serializers.IntegerField(min_value=0, allow_null=True, required=False)


class AgentProcessInput(serializers.Serializer):
    ts = _Moment()
    gpu_uuid = serializers.CharField(max_length=100)
    pid = serializers.IntegerField(min_value=0)
    used_memory_bytes = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    sm_util_pct = serializers.IntegerField(min_value=0, max_value=100, allow_null=True, required=False)
    name = serializers.CharField(allow_blank=True, required=False, default="")
    start_time = serializers.DateTimeField(allow_null=True, required=False)
    user = serializers.CharField(allow_blank=True, required=False, default="")
    container_id = serializers.CharField(allow_blank=True, required=False, default="")
    cmdline = serializers.CharField(allow_blank=True, required=False, default="")
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False, default=dict)


class AgentBatchInput(serializers.Serializer):
    batch_id = serializers.CharField(max_length=200)
    agent_version = serializers.CharField(max_length=50, required=False, default="")
    sent_at = serializers.DateTimeField(required=False)
    interval_seconds = serializers.IntegerField(min_value=1, max_value=3600)
    dropped_batches = serializers.IntegerField(min_value=0, required=False, default=0)
    host = serializers.DictField(required=False, default=dict)
    gpus = AgentGpuInput(many=True)
    samples = AgentSampleInput(many=True)
    processes = AgentProcessInput(many=True, required=False, default=list)

    def validate(self, data):
        known = {gpu["uuid"] for gpu in data["gpus"]}
        unknown = {item["gpu_uuid"] for item in [*data["samples"], *data["processes"]]} - known
        if unknown:
            raise serializers.ValidationError({"gpus": [f"samples refer to GPUs not listed: {sorted(unknown)[:3]}"]})
        return data


class HostGpuOutput(serializers.Serializer):
    uuid = serializers.CharField()
    name = serializers.CharField()
    memory_total_bytes = serializers.IntegerField(allow_null=True)


class HostOutput(serializers.Serializer):
    code = serializers.UUIDField()
    name = serializers.CharField()
    last_seen = serializers.DateTimeField(allow_null=True)
    stale = serializers.BooleanField()
    owner = serializers.CharField()
    gpus = HostGpuOutput(many=True)
    samples = serializers.IntegerField(help_text="Stored per-GPU minutes in the period")
    gpu_seconds_busy = serializers.IntegerField()
    gpu_seconds_idle = serializers.IntegerField()
    gpu_seconds_zombie = serializers.IntegerField(help_text="Idle while a process held memory at ~0% too long")
    gpu_seconds_unowned = serializers.IntegerField(help_text="No labelled process and no host owner")
