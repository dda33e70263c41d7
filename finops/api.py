from datetime import date, timedelta
from decimal import Decimal

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from accounts.tenancy import OrgAPIView
from finops import serializers
from finops.money import as_json
from finops.selectors.budgets import budget_list, budget_states
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
from finops.services.budgets import budget_check, budget_delete, budget_reservation_release, budget_save
from finops.services.rollups import rollups_refresh_when_embedded
from ingest.api import PERIOD_PARAMETERS, period_from_query
from ingest.periods import PeriodError, as_utc_bounds, parse_week, week_label
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
    return monday, week_label(monday)


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

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, code):
        if not budget_reservation_release(org=self.org, code=code):
            raise exceptions.NotFound("No such hold: unknown, expired and purged, or already released.")
        return Response(status=status.HTTP_204_NO_CONTENT)
