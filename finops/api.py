from datetime import UTC
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.read_cache import ECONOMICS, LEDGER, cached_read
from accounts.tenancy import OrgAPIView
from finops import serializers
from finops.exports import explore_groups_csv, explore_lines_csv
from finops.money import as_json
from finops.selectors.anomalies import anomalies_for_week, forecast_for_month
from finops.selectors.budgets import budget_list, budget_states
from finops.selectors.economics import customer_economics, plan_economics
from finops.selectors.explore import (
    DIMENSIONS,
    LINES_PAGE,
    LINES_PAGE_MAX,
    Cursor,
    ExploreError,
    explore_groups,
    explore_lines,
    explore_lines_all,
    explore_query,
)
from finops.selectors.founder_week import founder_table_for
from finops.selectors.health import health_status
from finops.selectors.hosts import gpu_host_list
from finops.selectors.ledger import ledger_summary
from finops.services.budgets import budget_check, budget_delete, budget_reservation_release, budget_save
from finops.services.rollups import fresh_rollups
from ingest.api import PERIOD_DESCRIPTION, PERIOD_HEADERS_DESCRIPTION, PERIOD_PARAMETERS, period_for_request
from ingest.gpu_facts import seen_is_stale
from ingest.periods import PERIOD_PARAMETER_NAMES, Period, local_today, month_period
from ingest.selectors import ledger_billed_totals
from ingest.services.gpu_marks import gpu_resource_mark


@require_GET
def healthz(request):
    """Health for load balancers and operators, no authentication: 503 when down, 200 when ok or degraded."""
    body = health_status()
    return JsonResponse(body, status=503 if body["status"] == "down" else 200)


def not_found(request, exception):
    """The 404 of a path no route matches: JSON under /api/ (the schema's 404), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    """Django's own 400 (a request it refuses before any view: too many form fields, a bad host): JSON under /api/
    (the schema's 400), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request: the request is too large or malformed."}, status=400)
    return defaults.bad_request(request, exception)


def json_value(value):
    """Decimals as strings (money at storage precision), breakdowns recursively; None stays None."""
    if isinstance(value, Decimal):
        return as_json(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def explore_line_json(line: dict) -> dict:
    """A source row as serializers.ExploreLineOutput renders it, written out directly: a page of 100 rows through the
    serializer costs ~2.4 ms of a ~15 ms request (tests/finops/test_explore.py holds the two equal)."""
    quantity, upload = json_value(line["quantity"]), line["upload"]
    return {**line, "at": line["at"].astimezone(UTC).isoformat().replace("+00:00", "Z"), "day": line["day"].isoformat(),
            "amount": json_value(line["amount"]), "quantity": None if quantity is None else str(quantity),
            "upload": None if upload is None else str(upload)}  # fmt: skip


def week_for_request(request, org) -> Period:
    """The request's period, which must be one ISO week (`?week=`, or start and end of one), or 400."""
    period = period_for_request(request, org)
    if period.kind != "week":
        raise exceptions.ValidationError({"period": [
            f"This is weekly: give one ISO week as ?week=YYYY-Www (e.g. 2026-W45), not {period.label}."]})  # fmt: skip
    return period


def month_for_request(request, org) -> Period:
    """The request's `?month=` (this month in the organisation's time zone by default), or 400."""
    if not any(request.query_params.get(name) for name in PERIOD_PARAMETER_NAMES):
        return month_period(local_today(org.timezone))
    period = period_for_request(request, org)
    if period.kind != "month":
        raise exceptions.ValidationError({"period": [
            f"This is monthly: give one month as ?month=YYYY-MM (e.g. 2026-11), not {period.label}."]})  # fmt: skip
    return period


@fresh_rollups
class EconomicsApi(OrgAPIView):
    """Reads of the rollups; in the embedded mode (no worker) dirty days are recomputed first."""


class LedgerSummaryApi(EconomicsApi):
    """The identity for a period: billed_total = allocated + idle + unmeasured + unattributed, by bucket and label."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.LedgerSummaryOutput,
                   description=PERIOD_DESCRIPTION)  # fmt: skip
    def get(self, request):
        period = period_for_request(request, self.org)
        summary = ledger_summary(org=self.org, start=period.start, end=period.end)
        since, until = period.bounds()
        lines = ledger_billed_totals(org=self.org, start=since, end=until)
        body = {**json_value(summary), **period.as_dict(), "lines": sum(t["lines"] for t in lines.values())}
        return Response(serializers.LedgerSummaryOutput(body).data, headers=period.headers())


class FounderTableApi(EconomicsApi):
    """The Founder Table rows for a period: measured figures, founder move, stop sign, offenders."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.FounderTableOutput,
                   description=PERIOD_DESCRIPTION)  # fmt: skip
    def get(self, request):
        period = period_for_request(request, self.org)
        body = _founder_table_json(org=self.org, **period.as_dict())
        return HttpResponse(body, content_type="application/json", headers=period.headers())


@cached_read(ECONOMICS)
def _founder_table_json(*, org, start, end, partial: bool) -> bytes:
    """GET founder-table/ rendered once: its offenders can list thousands of GPU resources."""
    rows = founder_table_for(org=org, start=start, end=end).rows
    body = {"start": start, "end": end, "partial": partial, "currency": org.currency, "rows": json_value(rows)}
    return JSONRenderer().render(serializers.FounderTableOutput(body).data)


class WeeklyMetricsApi(EconomicsApi):
    """The twelve weekly metrics, each with the week before and the relative change."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.WeeklyMetricsOutput,
                   description=PERIOD_DESCRIPTION + " The period must be one ISO week.")  # fmt: skip
    def get(self, request):
        period = week_for_request(request, self.org)
        metrics = founder_table_for(org=self.org, start=period.start, end=period.end).metrics
        body = {"week": period.label, **period.as_dict(), "currency": self.org.currency,
                "metrics": json_value(metrics)}  # fmt: skip
        return Response(serializers.WeeklyMetricsOutput(body).data, headers=period.headers())


class CustomerEconomicsApi(EconomicsApi):
    """Per customer: plan, revenue (null until Stripe), AI cost, margin, jobs, cost per completed job, retries."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.CustomerEconomicsOutput(many=True),
                   description=f"{PERIOD_DESCRIPTION} {PERIOD_HEADERS_DESCRIPTION}")  # fmt: skip
    def get(self, request):
        period = period_for_request(request, self.org)
        rows = json_value(customer_economics(org=self.org, start=period.start, end=period.end))
        return Response(serializers.CustomerEconomicsOutput(rows, many=True).data, headers=period.headers())


class AnomaliesApi(EconomicsApi):
    """The week's anomalies: spend spikes, tokens-per-request and retry-rate jumps, model-mix shifts, idle jumps."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.AnomaliesOutput,
                   description=PERIOD_DESCRIPTION + " The period must be one ISO week.")  # fmt: skip
    def get(self, request):
        period = week_for_request(request, self.org)
        found = [vars(a) for a in anomalies_for_week(org=self.org, week_start=period.start)]
        body = {"week": period.label, **period.as_dict(), "anomalies": json_value(found)}
        return Response(serializers.AnomaliesOutput(body).data, headers=period.headers())


FORECAST_DESCRIPTION = (
    "The period is one calendar month, `?month=YYYY-MM`; by default this month so far (in the organisation's time "
    "zone), not the last complete week. " + PERIOD_DESCRIPTION
)


class ForecastApi(EconomicsApi):
    """This month's cost so far, the run rate, and the month-end forecast with its band; `?month=` another month
    (a past month as it stood on its last day, a future one from its first)."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.ForecastOutput,
                   description=FORECAST_DESCRIPTION)  # fmt: skip
    def get(self, request):
        period = month_for_request(request, self.org)
        as_of = min(max(period.today, period.start), period.last_day)
        forecast = forecast_for_month(org=self.org, today=as_of)
        body = {"currency": self.org.currency, "month": period.label, **period.as_dict(),
                **json_value(vars(forecast))}  # fmt: skip
        body["days_left"] = forecast.days_left
        return Response(serializers.ForecastOutput(body).data, headers=period.headers())


class PlanEconomicsApi(EconomicsApi):
    """Per plan: price for the period, customers, AI cost per customer (median, p90, max), margin, the customers
    who lose money and the usage cap that keeps the target margin."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.PlanEconomicsOutput(many=True),
                   description=f"{PERIOD_DESCRIPTION} {PERIOD_HEADERS_DESCRIPTION}")  # fmt: skip
    def get(self, request):
        period = period_for_request(request, self.org)
        rows = json_value(plan_economics(org=self.org, start=period.start, end=period.end))
        return Response(serializers.PlanEconomicsOutput(rows, many=True).data, headers=period.headers())


def budget_body(budget, state, start, end) -> dict:
    """A budget in its current period, as the API returns it."""
    return {"budget": budget, "amount": as_json(state.amount), "period_start": start, "period_end": end,
            "spent": as_json(state.spent), "reserved": as_json(state.reserved),
            "remaining": as_json(state.remaining), "status": state.status}  # fmt: skip


def _budget_currency(org, data) -> str:
    currency = data.get("currency", org.currency).upper()
    if currency != org.currency:
        raise exceptions.ValidationError(
            {"currency": [f"Budgets and checks are in the organisation's currency, {org.currency}."]}
        )
    return currency


class BudgetListApi(EconomicsApi):
    """The organisation's budgets with what is spent, reserved and left in the current period (UTC); POST creates
    one, or updates the budget already set for the same scope, target and period (so a retry changes nothing)."""

    @extend_schema(responses=serializers.BudgetOutput(many=True))
    def get(self, request):
        states = budget_states(org=self.org, budgets=budget_list(org=self.org))
        return Response(serializers.BudgetOutput([budget_body(*s) for s in states], many=True).data)

    @extend_schema(request=serializers.BudgetInput, responses={201: serializers.BudgetOutput,
                                                                200: serializers.BudgetOutput})  # fmt: skip
    def post(self, request):
        data = serializers.BudgetInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {**data.validated_data, "currency": _budget_currency(self.org, data.validated_data)}
        budget, created = budget_save(org=self.org, **fields)
        (state,) = budget_states(org=self.org, budgets=[budget])
        body = serializers.BudgetOutput(budget_body(*state)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class BudgetDetailApi(EconomicsApi):
    """One budget in its current period; DELETE removes it."""

    def org_queryset(self):
        return budget_list(org=self.org)

    @extend_schema(responses=serializers.BudgetOutput)
    def get(self, request, code):
        budget = get_object_or_404(self.get_queryset(), code=code)
        (state,) = budget_states(org=self.org, budgets=[budget])
        return Response(serializers.BudgetOutput(budget_body(*state)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, code):
        budget_delete(org=self.org, budget=get_object_or_404(self.get_queryset(), code=code))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BudgetCheckApi(EconomicsApi):
    """Call before an expensive job: does its estimated cost fit every budget that applies (the org's, the
    customer's, its plan's or the trial accounts', the feature's)? When it does, the estimate is held on those
    budgets until the hold expires or is released, so concurrent checks cannot spend the same money twice."""

    throttle_scope = "budget-check"

    @extend_schema(request=serializers.BudgetCheckInput, responses=serializers.BudgetCheckOutput)
    def post(self, request):
        data = serializers.BudgetCheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        _budget_currency(self.org, data.validated_data)
        fields = {k: data.validated_data[k] for k in ("customer", "feature", "estimated_cost")}
        check = budget_check(org=self.org, **fields)
        body = {"allow": check.verdict.allow, "reason": check.verdict.reason,
                "remaining": as_json(check.verdict.remaining), "currency": check.currency,
                "reservation": check.reservation, "expires_at": check.expires_at}  # fmt: skip
        return Response(serializers.BudgetCheckOutput(body).data)


class BudgetReservationApi(OrgAPIView):
    """Release what an allowed budget check holds (the job is done and its cost reported, or it never ran)."""

    throttle_scope = "budget-check"

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, code):
        if not budget_reservation_release(org=self.org, code=code):
            raise exceptions.NotFound("No such hold: unknown, expired and purged, or already released.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@cached_read(ECONOMICS, LEDGER)
def _host_bodies(*, org, start, end) -> tuple[list, list]:
    """The hosts of GET hosts/ serialised once (a big bill names thousands), with each agent host's last sample."""
    hosts = gpu_host_list(org=org, start=start, end=end)
    seen = [(i, h["last_seen"]) for i, h in enumerate(hosts) if h["source"] != "bill"]
    return list(serializers.GpuHostOutput(json_value(hosts), many=True).data), seen


@cached_read(ECONOMICS, LEDGER)
def _host_seen(*, org, start, end) -> list:
    """(index, last sample) of each agent host in GET hosts/'s list, apart: a few, where the bodies are thousands."""
    return _host_bodies(org=org, start=start, end=end)[1]


@cached_read(ECONOMICS, LEDGER)
def _hosts_json(*, org, start, end, stale: tuple) -> bytes:
    """GET hosts/ rendered once for these agent hosts' staleness (thousands of hosts are megabytes of JSON)."""
    bodies, seen = _host_bodies(org=org, start=start, end=end)
    for (index, _), is_stale in zip(seen, stale, strict=True):
        bodies[index]["stale"] = is_stale
    return JSONRenderer().render(bodies)


class HostListApi(EconomicsApi):
    """GPU hosts: every agent host and every GPU resource a bill names, with the period's cost, idle cost and
    unmeasured cost; POST marks a bill resource as a GPU host or not (the mark wins over detection)."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.GpuHostOutput(many=True),
                   description=PERIOD_HEADERS_DESCRIPTION)  # fmt: skip
    def get(self, request):
        period = period_for_request(request, self.org)
        seen = _host_seen(org=self.org, start=period.start, end=period.end)
        now = timezone.now()
        stale = tuple(seen_is_stale(last_seen, now) for _, last_seen in seen)  # judged now, not when kept
        body = _hosts_json(org=self.org, start=period.start, end=period.end, stale=stale)
        return HttpResponse(body, content_type="application/json", headers=period.headers())

    @extend_schema(request=serializers.GpuResourceMarkInput, responses=serializers.GpuResourceMarkOutput)
    def post(self, request):
        if isinstance(request.data, dict) and "is_gpu" not in request.data:  # a form field left out reads as false
            raise exceptions.ValidationError({"is_gpu": ["Give true (a GPU host), false (not one) or null (forget)."]})
        data = serializers.GpuResourceMarkInput(data=request.data)
        data.is_valid(raise_exception=True)
        resource, is_gpu = data.validated_data["resource_id"], data.validated_data["is_gpu"]
        user = getattr(request.auth, "created_by", None) if request.auth else request.user
        try:
            gpu_resource_mark(org=self.org, resource_id=resource, is_gpu=is_gpu, user=user)
        except ValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from exc
        return Response(serializers.GpuResourceMarkOutput({"resource_id": resource.strip(), "is_gpu": is_gpu}).data)


EXPLORE_PARAMETERS = [
    *PERIOD_PARAMETERS,
    OpenApiParameter("group_by", str, description=f"One or two dimensions, comma-separated: {', '.join(DIMENSIONS)}"),
    *[
        OpenApiParameter(name, str, description=f"Only these {name} values, comma-separated; `(none)` is empty")
        for name in DIMENSIONS
    ],
    OpenApiParameter("format", str, enum=["json", "csv"], description="`csv` downloads the same rows as CSV"),
]
EXPLORE_DESCRIPTION = (
    "Filters: `<dimension>=v1,v2` keeps cost whose dimension is one of the values, `(none)` the cost where it is "
    "empty (untagged). `source` is one of bill_line, api_call, gpu_time, idle, unmeasured, unattributed; `origin` "
    "is the rollup's own, finer source (gpu_bill, gpu_rate, gpu_tagged, gpu_no_agent, api_calls, api_gap, "
    "cloud_tagged, cloud_shared, no_rate). "
    "An unknown dimension, or more than two in `group_by`, is a 400 naming it. " + PERIOD_DESCRIPTION
)


class ExploreBaseApi(EconomicsApi):
    """The explorer's reads: `?format=csv` answers a streamed CSV; errors stay JSON."""

    def perform_content_negotiation(self, request, force=False):
        if request.query_params.get("format") == "csv":
            renderer = self.get_renderers()[0]
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    def explore_request(self, request):
        """The period and the explorer query of the request, or 400."""
        period = period_for_request(request, self.org)
        try:
            return period, explore_query(request.query_params)
        except ExploreError as exc:
            raise exceptions.ValidationError({exc.field: [str(exc)]}) from exc

    def wants_csv(self, request) -> bool:
        return request.query_params.get("format") == "csv"


class ExploreApi(ExploreBaseApi):
    """A period's cost grouped by one or two dimensions and filtered by any, each group with the period of the same
    length before it and the change."""

    @extend_schema(parameters=EXPLORE_PARAMETERS, description=EXPLORE_DESCRIPTION,
                   responses={(200, "application/json"): serializers.ExploreOutput,
                              (200, "text/csv"): OpenApiTypes.STR})  # fmt: skip
    def get(self, request):
        period, query = self.explore_request(request)
        result = explore_groups(org=self.org, start=period.start, end=period.end, query=query)
        if self.wants_csv(request):
            name = f"explore-{period.start}-{period.end}.csv"
            return explore_groups_csv(result, query.group_by, name)
        body = {**json_value(result), **period.as_dict(), "group_by": list(query.group_by),
                "filters": {k: [v or "(none)" for v in vs] for k, vs in query.filters.items()}}  # fmt: skip
        return Response(serializers.ExploreOutput(body).data, headers=period.headers())


class ExploreLinesApi(ExploreBaseApi):
    """The source rows behind the filtered cost: bill lines (with their upload and row), model calls and GPU-hours,
    ordered by time, kind and id; cursor-paginated, or every one of them as CSV."""

    @extend_schema(
        parameters=[
            *EXPLORE_PARAMETERS,
            OpenApiParameter("cursor", str, description="The `next` of the previous page"),
            OpenApiParameter("limit", int, description=f"Rows per page, 1 to {LINES_PAGE_MAX} ({LINES_PAGE})"),
        ],
        description=EXPLORE_DESCRIPTION,
        responses={(200, "application/json"): serializers.ExploreLinesOutput, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        period, query = self.explore_request(request)
        if self.wants_csv(request):
            lines = explore_lines_all(org=self.org, start=period.start, end=period.end, query=query)
            return explore_lines_csv(lines, f"explore-lines-{period.start}-{period.end}.csv")
        try:
            text = request.query_params.get("cursor")
            cursor = Cursor.decode(text) if text else None
        except ExploreError as exc:
            raise exceptions.ValidationError({exc.field: [str(exc)]}) from exc
        limit = request.query_params.get("limit", str(LINES_PAGE))
        if not limit.isdigit() or not 1 <= int(limit) <= LINES_PAGE_MAX:
            raise exceptions.ValidationError({"limit": [f"Give a whole number from 1 to {LINES_PAGE_MAX}."]})
        page = explore_lines(org=self.org, start=period.start, end=period.end, query=query, cursor=cursor,
                             limit=int(limit))  # fmt: skip
        lines = [explore_line_json(line) for line in page["lines"]]
        return Response({**period.as_dict(), "lines": lines, "next": page["next"]}, headers=period.headers())
