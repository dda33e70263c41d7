from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.tenancy import OrgAPIView
from finops.money import as_json
from ingest import selectors
from ingest.models import Upload
from ingest.periods import Period, PeriodError, period_resolve
from ingest.serializers import (
    AgentBatchInput,
    AgentBatchOutput,
    HostConflictOutput,
    ReconciliationOutput,
    UploadDeleteOutput,
    UploadInput,
    UploadOutput,
    UsageEventsDeleteInput,
    UsageEventsDeleteOutput,
    UsageEventsOutput,
    UsageSummaryOutput,
)
from ingest.services.agent import GpuOfAnotherHostError, HostConflictError, agent_batch_ingest
from ingest.services.deletions import UploadBusyError, upload_delete, usage_events_delete
from ingest.services.uploads import upload_create, upload_progress
from ingest.services.usage import usage_events_ingest

PERIOD_DESCRIPTION = (
    "The period: `?start=&end=` (ISO dates, end excluded; start alone runs through today), or `?week=YYYY-Www`, "
    "or `?month=YYYY-MM`, one form at a time; with none, the last complete ISO week in the organisation's time "
    "zone. At most ten years, starting 2000-01-01 or later and ending at most a year after today. A malformed, "
    'mixed or out-of-range period is a 400 with `{"period": ["why"]}`.'
)
PERIOD_PARAMETERS = [
    OpenApiParameter("start", str, description="First day, ISO date 2026-11-02 (with end, or alone: through today)"),
    OpenApiParameter("end", str, description="Day after the last, ISO date (needs start)"),
    OpenApiParameter("week", str, description="ISO week YYYY-Www, e.g. 2026-W45"),
    OpenApiParameter("month", str, description="Calendar month YYYY-MM, e.g. 2026-11"),
]
PERIOD_HEADERS_DESCRIPTION = (
    "The body is a bare list, so the period is stated in the response headers `X-Period-Start`, `X-Period-End` "
    "(exclusive) and `X-Period-Partial` (`true` when the period includes today)."
)


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

    @extend_schema(
        responses={200: UploadDeleteOutput, 404: dict, 409: dict},
        description="Delete the upload and every row it loaded (bill lines, usage events, contract commitments) "
        "and the billing periods it stands for; the days they fell on recompute. 409 while its import runs. "
        "For a revenue export, the Stripe objects whose last writer was this upload go too, with their items and "
        "lines (`stripe_objects`); those a sync or webhook has written since stay.",
    )
    def delete(self, request, code):
        upload = get_object_or_404(self.get_queryset(), code=code)
        try:
            deleted = upload_delete(org=self.org, upload=upload)
        except Upload.DoesNotExist as exc:
            raise exceptions.NotFound() from exc
        except UploadBusyError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(UploadDeleteOutput(deleted).data)


MAX_EVENTS_PER_REQUEST = 1000


class UsageEventsApi(OrgAPIView):
    """Send model calls as they happen: a JSON list of up to 1,000 events; `event_id` makes a retry harmless."""

    @extend_schema(
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses=UsageEventsOutput,
        description="Fields: docs/usage-events.md. Bad events are refused one by one with their index and field.",
    )
    def post(self, request):
        events = request.data
        if not isinstance(events, list):
            raise exceptions.ValidationError({"events": ["Send a JSON list of events."]})
        if len(events) > MAX_EVENTS_PER_REQUEST:
            raise exceptions.ValidationError({"events": [f"At most {MAX_EVENTS_PER_REQUEST} events per request."]})
        return Response(UsageEventsOutput(usage_events_ingest(org=self.org, events=events)).data)


class UsageEventsDeleteApi(OrgAPIView):
    """Delete usage events: `{"event_ids": [...]}` (up to 1,000) or `{"upload": "<upload id>"}` (every event the
    upload stored); the days they fell on recompute. A replay deletes nothing more and lists the ids as not found."""

    def org_queryset(self):
        return selectors.upload_list(org=self.org)

    @extend_schema(request=UsageEventsDeleteInput, responses={200: UsageEventsDeleteOutput, 404: dict, 409: dict})
    def post(self, request):
        data = UsageEventsDeleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = None
        if "upload" in data.validated_data:
            upload = get_object_or_404(self.get_queryset(), code=data.validated_data["upload"])
        try:
            deleted = usage_events_delete(org=self.org, event_ids=data.validated_data.get("event_ids"), upload=upload)
        except UploadBusyError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(UsageEventsDeleteOutput(deleted).data)


def period_for_request(request, org) -> Period:
    """The request's period (`PERIOD_PARAMETERS`) in the organisation's time zone, or 400 with the reason."""
    try:
        return period_resolve(request.query_params, tz=org.timezone if org else "UTC")
    except PeriodError as exc:
        raise exceptions.ValidationError({"period": [str(exc)]}) from exc


def period_from_query(request):
    """(start, end) of the request's period in UTC; for views not yet on `period_for_request`."""
    period = period_for_request(request, None)
    return period.start, period.end


class UsageSummaryApi(OrgAPIView):
    """Model calls in a period: priced and unpriced (never counted as $0), cost by source, jobs and retries."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=UsageSummaryOutput, description=PERIOD_DESCRIPTION)
    def get(self, request):
        period = period_for_request(request, self.org)
        since, until = period.bounds()
        summary = selectors.usage_summary(org=self.org, start=since, end=until)
        summary["cost"] = as_json(summary["cost"])
        summary["cost_by_source"] = {k: as_json(v) for k, v in summary["cost_by_source"].items()}
        body = UsageSummaryOutput({**period.as_dict(), "currency": self.org.currency, **summary}).data
        return Response(body, headers=period.headers())


class ReconciliationApi(OrgAPIView):
    """Per provider and period (usually `?month=`): logged call costs against the provider's bill; the gap is
    unattributed token spend."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=ReconciliationOutput, description=PERIOD_DESCRIPTION)
    def get(self, request):
        period = period_for_request(request, self.org)
        since, until = period.bounds()
        rows = selectors.reconciliation(org=self.org, start=since, end=until)
        for row in rows:
            for key in ("calls_total", "bill_total", "gap"):
                row[key] = as_json(row[key])
        month = period.label if period.kind == "month" else None
        body = ReconciliationOutput({**period.as_dict(), "month": month, "providers": rows}).data
        return Response(body, headers=period.headers())


class AgentSamplesApi(OrgAPIView):
    """A batch from a GPU host's agent (its own token); idempotent by (host, batch_id).

    The token names the host; `host.name` in the batch is the machine's hostname, recorded the first time.
    Another machine with the same token gets 409 with `"code": "host_conflict"` (the agent keeps the batch)."""

    token_kind = "agent"

    @extend_schema(request=AgentBatchInput, responses={201: AgentBatchOutput, 200: AgentBatchOutput, 400: dict,
                                                        409: HostConflictOutput})  # fmt: skip
    def post(self, request):
        data = AgentBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        gpus = data.validated_data["gpus"]
        try:
            result = agent_batch_ingest(org=self.org, host_name=request.auth.host_name, batch=data.validated_data)
        except HostConflictError as exc:
            body = {"code": exc.code, "detail": str(exc), "host": exc.host, "recorded_hostname": exc.recorded,
                    "reported_hostname": exc.reported}  # fmt: skip
            return Response(body, status=status.HTTP_409_CONFLICT)
        except GpuOfAnotherHostError as exc:  # shaped like the serializer's own errors for gpus[i].uuid
            raise exceptions.ValidationError(
                {"gpus": [{"uuid": [str(exc)]} if i == exc.index else {} for i in range(len(gpus))]}
            ) from exc
        return Response(
            result, status=status.HTTP_200_OK if result["status"] == "duplicate" else status.HTTP_201_CREATED
        )
