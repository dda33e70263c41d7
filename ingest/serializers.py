from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ingest import limits
from ingest.models import Upload
from ingest.services.deletions import MAX_EVENT_IDS


@extend_schema_field(OpenApiTypes.BINARY)  # the file's bytes; drf-spectacular would say a URI (a FileField's output)
class UploadFileField(serializers.FileField):
    pass


class UploadInput(serializers.Serializer):
    file = UploadFileField()
    kind = serializers.ChoiceField(choices=Upload.Kind.choices)
    format = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Auto-detected when absent"
    )
    mapping = serializers.UUIDField(required=False, help_text="Code of a saved column mapping (GPU cloud CSVs)")

    def validate(self, data):
        """A bill or usage format must be one we read, for that kind (revenue formats are the pricing app's)."""
        from ingest.sources import SOURCES_BY_NAME

        chosen, kind = data.get("format") or "", data["kind"]
        try:
            limits.text_check(chosen)
        except limits.LimitError as exc:
            raise serializers.ValidationError({"format": [str(exc)]}) from None
        known = sorted(name for name, source in SOURCES_BY_NAME.items() if source.kind == kind)
        if chosen and kind in ("bill", "usage") and chosen not in known:
            raise serializers.ValidationError(
                {"format": [f"Unknown format {chosen!r} for a {kind} file; use one of {', '.join(known)}."]}
            )
        return data


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
MAX_BYTES = 2**62  # memory and energy counters: 64-bit columns
MAX_POWER_MW = 10**9  # a megawatt: summed per minute into a 64-bit column


class _Text(serializers.CharField):
    """Text the database can store: no NUL character, no lone surrogate (`ingest.limits`)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return limits.text_check(value)
        except limits.LimitError as exc:
            raise serializers.ValidationError(str(exc)) from None


class _Moment(serializers.DateTimeField):
    """A sample's time: not before INGEST_EARLIEST, at most a few minutes ahead of our clock."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if moment > timezone.now() + timedelta(minutes=MAX_CLOCK_SKEW_MINUTES):
            raise serializers.ValidationError(
                f"is in the future by more than {MAX_CLOCK_SKEW_MINUTES} minutes: check the host's clock"
            )
        if moment < limits.earliest():
            raise serializers.ValidationError(
                f"is before {limits.earliest().date().isoformat()}: check the host's clock"
            )
        return moment


class _AnyMoment(serializers.DateTimeField):
    """A time the agent reports but we do not sample by (process start, sending time): in the window."""

    def to_internal_value(self, value):
        try:
            return limits.moment_check(super().to_internal_value(value))
        except OverflowError:
            raise serializers.ValidationError("is outside the dates we can read") from None
        except limits.LimitError as exc:
            raise serializers.ValidationError(str(exc)) from None


def _count(maximum=limits.MAX_INT32, minimum=0, **kwargs):
    return serializers.IntegerField(min_value=minimum, max_value=maximum, **kwargs)


class AgentGpuInput(serializers.Serializer):
    uuid = _Text(max_length=100)
    index = _count(65535)
    name = _Text(max_length=200, allow_blank=True, required=False, default="")
    memory_total_bytes = _count(MAX_BYTES, allow_null=True, required=False)
    mig_mode = _count(255, allow_null=True, required=False)


class AgentSampleInput(serializers.Serializer):
    ts = _Moment()
    gpu_uuid = _Text(max_length=100)
    utilization_gpu_pct = _count(100, allow_null=True, required=False)
    utilization_memory_pct = _count(100, allow_null=True, required=False)
    memory_used_bytes = _count(MAX_BYTES, allow_null=True, required=False)
    power_mw = _count(MAX_POWER_MW, allow_null=True, required=False)
    energy_mj = _count(MAX_BYTES, allow_null=True, required=False)
    temperature_c = _count(1000, minimum=-300, allow_null=True, required=False)
    sm_clock_mhz = _count(10**6, allow_null=True, required=False)
    memory_clock_mhz = _count(10**6, allow_null=True, required=False)


class AgentProcessInput(serializers.Serializer):
    ts = _Moment()
    gpu_uuid = _Text(max_length=100)
    pid = _count()
    used_memory_bytes = _count(MAX_BYTES, allow_null=True, required=False)
    sm_util_pct = _count(100, allow_null=True, required=False)
    name = _Text(max_length=255, allow_blank=True, required=False, default="")
    start_time = _AnyMoment(allow_null=True, required=False)
    user = _Text(max_length=100, allow_blank=True, required=False, default="")
    container_id = _Text(max_length=100, allow_blank=True, required=False, default="")
    cmdline = _Text(max_length=8192, allow_blank=True, required=False, default="")
    labels = serializers.DictField(child=_Text(max_length=200, allow_blank=True), required=False, default=dict)

    def validate_labels(self, labels):
        for key in labels:
            try:
                limits.text_check(key, 100)
            except limits.LimitError as exc:
                raise serializers.ValidationError(f"label key {key[:40]!r} {exc}") from None
        return labels


HOST_TEXT = {"name": 255, "driver_version": 100}


class AgentBatchOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "duplicate"], help_text="duplicate: this batch_id was stored")
    batch_id = serializers.CharField()
    gpu_minutes = serializers.IntegerField(required=False, help_text="Per-GPU minutes stored (accepted only)")
    process_minutes = serializers.IntegerField(required=False, help_text="Per-process minutes stored (accepted only)")


class HostConflictOutput(serializers.Serializer):
    code = serializers.ChoiceField(choices=["host_conflict"])
    detail = serializers.CharField()
    host = serializers.CharField(help_text="The host the token names")
    recorded_hostname = serializers.CharField(help_text="The machine that uses the token")
    reported_hostname = serializers.CharField(help_text="The machine refused")


class AgentBatchInput(serializers.Serializer):
    batch_id = _Text(max_length=200)
    agent_version = _Text(max_length=50, required=False, default="", allow_blank=True)
    sent_at = _AnyMoment(required=False)
    interval_seconds = serializers.IntegerField(min_value=1, max_value=3600)
    dropped_batches = _count(required=False, default=0)
    host = serializers.DictField(required=False, default=dict)
    gpus = AgentGpuInput(many=True)
    samples = AgentSampleInput(many=True)
    processes = AgentProcessInput(many=True, required=False, default=list)

    def validate_host(self, host):
        """What the agent says about the machine: its hostname and driver version are stored, the rest kept out."""
        try:
            limits.json_check(host)
        except limits.LimitError as exc:
            raise serializers.ValidationError(str(exc)) from None
        for key, max_length in HOST_TEXT.items():
            try:
                if host.get(key) is not None:
                    limits.text_check(str(host[key]), max_length)
            except limits.LimitError as exc:
                raise serializers.ValidationError(f"{key} {exc}") from None
        return host

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


class UploadDeleteOutput(serializers.Serializer):
    upload = serializers.UUIDField(help_text="The deleted upload's id")
    kind = serializers.CharField()
    cost_lines = serializers.IntegerField(help_text="Bill lines deleted")
    usage_events = serializers.IntegerField(help_text="Usage events deleted")
    commitments = serializers.IntegerField(help_text="Contract commitments deleted")
    billing_periods = serializers.IntegerField(
        help_text="Billing periods this upload stood for, forgotten: the same period uploaded again is a first load"
    )
    stripe_objects = serializers.IntegerField(
        help_text="Stripe objects a revenue export last wrote, deleted with their items and lines (0 for other kinds)"
    )
    days = serializers.ListField(child=serializers.DateField(), help_text="UTC days whose rollups recompute")


class UsageEventsDeleteInput(serializers.Serializer):
    event_ids = serializers.ListField(
        child=_Text(max_length=200), required=False, max_length=MAX_EVENT_IDS, help_text="Up to 1,000 event ids"
    )
    upload = serializers.UUIDField(required=False, help_text="Every event this upload stored")

    def validate(self, attrs):
        if ("event_ids" in attrs) == ("upload" in attrs):
            raise serializers.ValidationError("Send event_ids or upload, one of them.")
        return attrs


class UsageEventsDeleteOutput(serializers.Serializer):
    deleted = serializers.IntegerField(help_text="Events deleted by this request")
    not_found = serializers.ListField(
        child=serializers.CharField(), help_text="Event ids not held: never sent, or already deleted (a replay)"
    )
    days = serializers.ListField(child=serializers.DateField(), help_text="UTC days whose rollups recompute")
