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


class LedgerSummaryOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    currency = serializers.CharField()
    billed_total = serializers.CharField(allow_null=True)
    lines = serializers.IntegerField()
    other_currencies = serializers.DictField(child=serializers.CharField())
    allocated = serializers.CharField(allow_null=True)
    idle = serializers.CharField(allow_null=True)
    unattributed = serializers.CharField(allow_null=True)
    by_bucket = serializers.DictField(child=serializers.CharField(allow_null=True))
    by_label = serializers.DictField(child=serializers.CharField(allow_null=True))


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


class UsageSummaryOutput(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
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


class ReconciliationOutput(serializers.Serializer):
    month = serializers.CharField()
    providers = ReconciliationRow(many=True)
