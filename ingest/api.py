from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.tenancy import OrgAPIView
from finops.money import as_json
from ingest import selectors
from ingest.periods import PeriodError, as_utc_bounds, parse_period
from ingest.serializers import LedgerSummaryOutput, UploadInput, UploadOutput
from ingest.services.uploads import upload_create, upload_progress

BUCKETS = ("research", "training", "evaluation", "inference", "retries", "idle", "waste")
LABELS = ("customer_value", "product_proof", "approved_learning", "unlabelled")
PERIOD_PARAMETERS = [
    OpenApiParameter("start", str, description="First day, ISO date (default: first day of this month)"),
    OpenApiParameter("end", str, description="Day after the last, ISO date (default: a month after start)"),
]


def upload_data(upload) -> dict:
    upload.rows_read = upload_progress(upload)
    return UploadOutput(upload).data


class UploadListApi(OrgAPIView):
    """List uploads, or upload a file (multipart) whose import then runs as a task."""

    parser_classes = [MultiPartParser, FormParser]

    def org_queryset(self):
        return selectors.upload_list(org=self.org)

    @extend_schema(responses=UploadOutput(many=True))
    def get(self, request):
        return Response([upload_data(u) for u in self.get_queryset()[:100]])

    @extend_schema(request={"multipart/form-data": UploadInput}, responses={201: UploadOutput})
    def post(self, request):
        data = UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        mapping = None
        if data.validated_data.get("mapping"):
            mapping = selectors.column_mapping_list(org=self.org).filter(code=data.validated_data["mapping"]).first()
            if mapping is None:
                raise exceptions.ValidationError({"mapping": ["No saved column mapping with this code."]})
        created_by = getattr(request.auth, "created_by", None) if request.auth else request.user
        try:
            upload = upload_create(
                org=self.org,
                file=data.validated_data["file"],
                kind=data.validated_data["kind"],
                requested_format="mapped_csv" if mapping else data.validated_data.get("format", ""),
                mapping=mapping,
                created_by=created_by,
            )
        except ValidationError as exc:
            raise exceptions.ValidationError({"file": exc.messages}) from exc
        upload.refresh_from_db()
        return Response(upload_data(upload), status=status.HTTP_201_CREATED)


class UploadDetailApi(OrgAPIView):
    """One upload: its status, progress, period, totals and row/column errors."""

    def org_queryset(self):
        return selectors.upload_list(org=self.org)

    @extend_schema(responses=UploadOutput)
    def get(self, request, code):
        return Response(upload_data(get_object_or_404(self.get_queryset(), code=code)))


class LedgerSummaryApi(OrgAPIView):
    """The reconciliation identity for a period. Allocation figures stay null until the economics engine runs."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=LedgerSummaryOutput)
    def get(self, request):
        try:
            start, end = parse_period(request.query_params.get("start"), request.query_params.get("end"))
        except PeriodError as exc:
            raise exceptions.ValidationError({"period": [str(exc)]}) from exc
        since, until = as_utc_bounds(start, end)
        totals = selectors.ledger_billed_totals(org=self.org, start=since, end=until)
        mine = totals.pop(self.org.currency, None)
        body = {
            "start": start,
            "end": end,
            "currency": self.org.currency,
            "billed_total": as_json(mine["total"]) if mine else None,
            "lines": mine["lines"] if mine else 0,
            "other_currencies": {c: as_json(t["total"]) for c, t in totals.items()},
            "allocated": None,
            "idle": None,
            "unattributed": None,
            "by_bucket": dict.fromkeys(BUCKETS),
            "by_label": dict.fromkeys(LABELS),
        }
        return Response(LedgerSummaryOutput(body).data)
