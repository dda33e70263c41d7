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
