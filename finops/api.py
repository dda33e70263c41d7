from datetime import date, timedelta
from decimal import Decimal

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response

from accounts.tenancy import OrgAPIView
from finops import serializers
from finops.money import as_json
from finops.selectors.health import health_status
from finops.selectors.rollups import (
    anomalies_for_week,
    customer_economics,
    forecast_for_month,
    founder_table_rows,
    ledger_summary,
    metrics_for_week,
    plan_economics,
)
from finops.services.rollups import rollups_refresh_when_embedded
from ingest.api import PERIOD_PARAMETERS, period_from_query
from ingest.periods import PeriodError, as_utc_bounds, parse_week
from ingest.selectors import ledger_billed_totals

WEEK_PARAMETERS = [OpenApiParameter("week", str, description="ISO week YYYY-Www (default: this week)")]


@require_GET
def healthz(request):
    """Liveness for load balancers: database and broker state, no authentication."""
    body, healthy = health_status()
    return JsonResponse(body, status=200 if healthy else 503)


def json_value(value):
    """Decimals as strings (money at storage precision), breakdowns recursively; None stays None."""
    if isinstance(value, Decimal):
        return as_json(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def week_from_query(request) -> tuple[date, str]:
    """The Monday of `?week=YYYY-Www` (this week by default) and its label, or 400 with the reason."""
    try:
        monday = parse_week(request.query_params.get("week"))
    except PeriodError as exc:
        raise exceptions.ValidationError({"week": [str(exc)]}) from exc
    year, week, _ = monday.isocalendar()
    return monday, f"{year}-W{week:02d}"


class EconomicsApi(OrgAPIView):
    """Reads of the rollups; in the embedded mode (no worker) dirty days are recomputed first."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        rollups_refresh_when_embedded(org=self.org)


class LedgerSummaryApi(EconomicsApi):
    """The identity for a period: billed_total = allocated + idle + unattributed, by bucket and label."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.LedgerSummaryOutput)
    def get(self, request):
        start, end = period_from_query(request)
        summary = ledger_summary(org=self.org, start=start, end=end)
        lines = ledger_billed_totals(org=self.org, start=as_utc_bounds(start, end)[0], end=as_utc_bounds(start, end)[1])
        body = {"start": start, "end": end, **json_value(summary), "lines": sum(t["lines"] for t in lines.values())}
        return Response(serializers.LedgerSummaryOutput(body).data)


class FounderTableApi(EconomicsApi):
    """The ten Founder Table rows for a period: measured figures, founder move, stop sign, offenders."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.FounderTableOutput)
    def get(self, request):
        start, end = period_from_query(request)
        rows = founder_table_rows(org=self.org, start=start, end=end)
        body = {"start": start, "end": end, "currency": self.org.currency, "rows": json_value(rows)}
        return Response(serializers.FounderTableOutput(body).data)


class WeeklyMetricsApi(EconomicsApi):
    """The twelve weekly metrics, each with the week before and the relative change."""

    @extend_schema(parameters=WEEK_PARAMETERS, responses=serializers.WeeklyMetricsOutput)
    def get(self, request):
        monday, label = week_from_query(request)
        metrics = metrics_for_week(org=self.org, monday=monday)
        body = {"week": label, "start": monday, "end": monday + timedelta(days=7),
                "currency": self.org.currency, "metrics": json_value(metrics)}  # fmt: skip
        return Response(serializers.WeeklyMetricsOutput(body).data)


class CustomerEconomicsApi(EconomicsApi):
    """Per customer: plan, revenue (null until Stripe), AI cost, margin, jobs, cost per completed job, retries."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.CustomerEconomicsOutput(many=True))
    def get(self, request):
        start, end = period_from_query(request)
        rows = json_value(customer_economics(org=self.org, start=start, end=end))
        return Response(serializers.CustomerEconomicsOutput(rows, many=True).data)


class AnomaliesApi(EconomicsApi):
    """The week's anomalies: spend spikes, tokens-per-request and retry-rate jumps, model-mix shifts, idle jumps."""

    @extend_schema(parameters=WEEK_PARAMETERS, responses=serializers.AnomaliesOutput)
    def get(self, request):
        monday, label = week_from_query(request)
        found = [vars(a) for a in anomalies_for_week(org=self.org, week_start=monday)]
        body = {"week": label, "anomalies": json_value(found)}
        return Response(serializers.AnomaliesOutput(body).data)


class ForecastApi(EconomicsApi):
    """This month's cost so far, the run rate, and the month-end forecast with its band."""

    @extend_schema(responses=serializers.ForecastOutput)
    def get(self, request):
        today = timezone.now().date()
        forecast = forecast_for_month(org=self.org, today=today)
        body = {"currency": self.org.currency, "month": f"{today:%Y-%m}", **json_value(vars(forecast))}
        body["days_left"] = forecast.days_left
        return Response(serializers.ForecastOutput(body).data)


class PlanEconomicsApi(EconomicsApi):
    """Per plan: price for the period, customers, AI cost per customer (median, p90, max), margin, the customers
    who lose money and the usage cap that keeps the target margin."""

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=serializers.PlanEconomicsOutput(many=True))
    def get(self, request):
        start, end = period_from_query(request)
        rows = json_value(plan_economics(org=self.org, start=start, end=end))
        return Response(serializers.PlanEconomicsOutput(rows, many=True).data)
