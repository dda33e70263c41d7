from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.selectors import membership_list_for_user
from accounts.tenancy import get_org_for_user
from finops.charts import (
    bucket_trend_figure,
    build_rent_figure,
    customer_trend_figure,
    daily_cost_figure,
    guided_check_waterfall,
    host_figures,
    plan_cost_histogram,
    usage_trend_figure,
)
from finops.drilldown import drilldown, drilldown_url
from finops.explore_page import (
    by_week,
    change_text,
    explore_figure,
    filter_chips,
    narrowed,
    page_params,
    sort_groups,
    sort_links,
    url_with,
    with_group_by,
)
from finops.exports import explore_groups_csv, explore_lines_csv
from finops.forms import (
    BucketRuleForm,
    BudgetForm,
    BuildRentForm,
    CommitmentForm,
    EconomicsSettingsForm,
    GpuRateForm,
    GuidedCheckForm,
    LearningQuestionForm,
    ReleaseForm,
    build_rent_data,
    measured_pct,
)
from finops.founder_table import metric_display
from finops.models import BucketRule, Commitment
from finops.selectors.anomalies import anomalies_for_week, forecast_for_month
from finops.selectors.budgets import budget_list, budget_name, budget_states, budget_targets
from finops.selectors.build_rent import gpu_rate_card, gpu_type_utilisation
from finops.selectors.costs import cost_breakdown
from finops.selectors.customers import customer_summary, customer_table, customer_trend, customer_usage
from finops.selectors.economics import plan_overview
from finops.selectors.explore import (
    LINES_PAGE,
    Cursor,
    ExploreError,
    Query,
    explore_groups,
    explore_lines,
    explore_lines_all,
    explore_query,
    explore_series,
)
from finops.selectors.founder_facts import commitment_list
from finops.selectors.founder_week import founder_table_for
from finops.selectors.guided_check import guided_check_for, workflow_choices
from finops.selectors.hosts import gpu_host_listing, gpu_host_page, gpu_hours, host_workload_hours
from finops.selectors.inputs import economics_settings_for, rates_on
from finops.selectors.ledger import ledger_summary
from finops.selectors.onboarding import onboarding_banner, onboarding_fix_choices, onboarding_progress
from finops.selectors.settings_lists import bucket_rule_list, learning_question_list, release_list
from finops.selectors.trends import weekly_bucket_spend, weekly_metric_series
from finops.selectors.usage import usage_page
from finops.services.budgets import budget_delete, budget_save
from finops.services.build_rent import gpu_rate_save
from finops.services.onboarding import onboarding_fix_choose
from finops.services.rollups import fresh_rollups
from finops.services.settings import (
    bucket_rule_create,
    bucket_rule_delete,
    commitment_create,
    commitment_delete,
    economics_settings_update,
    exchange_rates_set,
    learning_question_record,
    release_create,
)
from ingest.forms import GpuHostForm, GpuResourceMarkForm
from ingest.gpu_facts import gpu_limits_text
from ingest.periods import local_today, period_for_page
from ingest.selectors import (
    gpu_resource_mark_list,
    host_for_code,
    host_hour_totals,
    host_timeline,
)
from ingest.services.agent import HOST_FIELDS, gpu_host_update
from ingest.services.gpu_marks import gpu_resource_mark
from pricing.build_rent import build_rent_compare


def home(request):
    """Send a visitor to the org they last opened, their first org, or to create one."""
    if not request.user.is_authenticated:
        return redirect("accounts-login")
    memberships = list(membership_list_for_user(user=request.user))
    if not memberships:
        return redirect("accounts-org-create")
    last = request.session.get("org_code")
    chosen = next((m for m in memberships if str(m.org.code) == last), memberships[0])
    return redirect("finops-founder-table", org_code=chosen.org.code)


def _org_page(request, org_code, template, **context):
    org = get_org_for_user(request, org_code)
    return render(request, template, {"org": org, **context})


HOSTS_PER_PAGE = 50
PERIOD_NOUNS = {"week": "this week", "month": "this month", "range": "this period"}


def _period_page(request, template, context, period_error):
    """Render a page with a period: 400 when the asked period was refused (the page shows the default)."""
    return render(request, template, {**context, "period_error": period_error}, status=400 if period_error else 200)


@login_required
@fresh_rollups
def founder_table(request, org_code):
    """The Founder Table of a period (the last complete ISO week by default); for one week, also the twelve
    metrics against the week before and the week's anomalies."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    table = founder_table_for(org=org, start=period.start, end=period.end)
    trend = weekly_bucket_spend(org=org, last_day=min(period.last_day, period.today))
    sparklines = weekly_metric_series(org=org, last_day=period.start) if table.weekly else {}
    context = {
        "org": org,
        "page": "founder-table",
        "trend_figures": bucket_trend_figure(trend, org.currency, link=partial(trend_link, org)),
        "trend_weeks": (trend["weeks"][0], trend["weeks"][-1] + timedelta(days=6)),
        "trend_total": any(trend["totals"]),
        "rows": table.rows,
        "metrics": [{**metric_display(m, org.currency), "trend": sparklines.get(m["key"], [])} for m in table.metrics],
        "summary": table.totals,
        "period": period,
        "period_query": urlencode(period.query()),
        "period_noun": PERIOD_NOUNS[period.kind],
        "weekly": table.weekly,
        "audit": table.audit,
        "anomalies": anomalies_for_week(org=org, week_start=period.start) if table.weekly else [],
        "forecast": forecast_for_month(org=org, today=local_today(org.timezone)),
        "red": table.stop_sign_count,
        "green": table.ok_count,
        "onboarding": onboarding_banner(org=org),  # nothing to read after the first 14 days
    }
    return _period_page(request, "finops/founder_table.html", context, period_error)


def trend_link(org, bucket: str, monday: date) -> str:
    """The explorer's URL of one bar of the Founder Table's eight weeks."""
    week = drilldown("trend", bucket, week=monday, week_end=monday + timedelta(days=7))
    return drilldown_url(org, week, start=week.start, end=week.end)


@login_required
@fresh_rollups
def costs(request, org_code):
    """Cost in a period: the identity, day by day, and by bucket, label, source, provider, feature and team."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    breakdown = cost_breakdown(org=org, start=period.start, end=period.end)

    def day_link(kind: str, day: date) -> str:
        bar = drilldown("slice", measure=kind, week=day, week_end=day + timedelta(days=1))
        return drilldown_url(org, bar, start=period.start, end=period.end)

    context = {"org": org, "page": "costs", "summary": ledger_summary(org=org, start=period.start, end=period.end),
               "breakdown": breakdown, "figures": daily_cost_figure(breakdown["daily"], org.currency, day_link),
               "period": period}  # fmt: skip
    return _period_page(request, "finops/costs.html", context, period_error)


@login_required
@fresh_rollups
def explore(request, org_code):
    """The cost explorer: a period's cost grouped by one or two dimensions and filtered by any, as stacked bars and
    a sortable table against the period before; a row or a bar narrows the filter, down to the source rows. The URL
    holds the whole state; `?format=csv` exports the table shown."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    if request.GET.get("add_dimension") in DIMENSION_LABELS:  # the add-a-filter form, into the URL as `<name>=value`
        params = page_params(request.GET)
        name, value = request.GET["add_dimension"], request.GET.get("add_value", "").strip() or "(none)"
        return redirect(request.path + url_with(params, **{name: [*params.get(name, []), value]}))
    params = with_group_by(page_params(request.GET))
    explore_error = None
    try:
        query = explore_query(params)
    except ExploreError as exc:
        query, explore_error = Query(), str(exc)
    show_lines = params.get("show") == ["lines"] and not explore_error
    start, end = period.start, period.end
    if request.GET.get("format") == "csv" and not explore_error:
        name = f"explore-{'lines-' if show_lines else ''}{start}-{end}.csv"
        if show_lines:
            return explore_lines_csv(explore_lines_all(org=org, start=start, end=end, query=query), name)
        return explore_groups_csv(explore_groups(org=org, start=start, end=end, query=query), query.group_by, name)
    result = explore_groups(org=org, start=start, end=end, query=query)
    sort = (params.get("sort") or ["-amount"])[0]
    groups = sort_groups(result["groups"], sort, query.group_by)
    for group in groups:
        group["drill_url"] = url_with(narrowed(params, group, query.group_by), show="lines")
        group["change_text"] = change_text(group["change"])
    context = {"org": org, "page": "explore", "period": period, "result": result, "groups": groups,
               "query": query, "params": params, "explore_error": explore_error, "show_lines": show_lines,
               "sort_links": sort_links(params, sort, query.group_by), "chips": filter_chips(params),
               "csv_url": url_with(params, format="csv"), "groups_url": url_with(params, show=None),
               "dimensions": list(DIMENSION_LABELS.items()), "group_by": [*query.group_by, "", ""][:2]}  # fmt: skip
    context["previous_last"] = result["previous_end"] - timedelta(days=1)
    context["change_text"] = change_text(result["change"])
    if show_lines:
        try:
            cursor = Cursor.decode(request.GET["cursor"]) if request.GET.get("cursor") else None
        except ExploreError:
            cursor = None
        context["lines"] = explore_lines(org=org, start=start, end=end, query=query, cursor=cursor, limit=LINES_PAGE)
        next_cursor = context["lines"]["next"]
        context["next_url"] = url_with(params, cursor=next_cursor) if next_cursor else None
        context["first_url"] = url_with(params) if cursor else None
    else:
        weekly = by_week(period, (params.get("by") or [None])[0])
        series = explore_series(org=org, start=start, end=end, query=query, by_week=weekly)
        context["figure"] = explore_figure(series, params, group_by=query.group_by, currency=org.currency,
                                           weekly=weekly)  # fmt: skip
        context["weekly"] = weekly
        context["by_url"] = url_with(params, by="day" if weekly else "week")
    status = 400 if explore_error else None
    response = _period_page(request, "finops/explore.html", context, period_error)
    if status:
        response.status_code = status
    return response


DIMENSION_LABELS = {"provider": "Provider", "service": "Service", "resource": "Resource", "host": "GPU host",
                    "customer": "Customer", "plan": "Plan",
                    "feature": "Feature", "model": "Model", "route": "Route", "environment": "Environment",
                    "owner": "Owner (team)", "bucket": "Bucket", "label": "Label", "source": "Source kind",
                    "origin": "Rollup source"}  # fmt: skip


@login_required
@fresh_rollups
def customers(request, org_code):
    """Per customer in a period: plan, revenue, AI cost, margins, completed jobs and the cost of one."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    table = customer_table(org=org, start=period.start, end=period.end, params=request.GET)
    context = {"org": org, "page": "customers", "rows": table["rows"], "columns": table["columns"], "q": table["q"],
               "sort": table["sort"], "period": period, "period_query": urlencode(period.query()),
               "revenue_known": table["revenue_known"], "customers": table["customers"]}  # fmt: skip
    return _period_page(request, "finops/customers.html", context, period_error)


@login_required
@fresh_rollups
def customer(request, org_code, customer):
    """One customer in a period: cost, revenue, margin, jobs, models and features, and twelve weeks of trend."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    row = customer_summary(org=org, customer=customer, start=period.start, end=period.end)
    if row is None:
        raise Http404("No such customer")
    trend = customer_trend(org=org, customer=customer, last_day=period.last_day)

    def week_link(monday: date) -> str:  # a week's cost bar: the customer's cost of that week in the explorer
        week = replace(drilldown("offender", "customer", ident=customer), start=monday, end=monday + timedelta(days=7))
        return drilldown_url(org, week, start=period.start, end=period.end)

    context = {"org": org, "page": "customers", "customer": customer, "row": row, "period": period,
               "usage": customer_usage(org=org, customer=customer, start=period.start, end=period.end),
               "trend": trend, "figures": customer_trend_figure(trend, org.currency, week_link),
               "period_query": urlencode(period.query()),
               "explore_query": urlencode({"start": period.start, "end": period.end})}  # fmt: skip
    return _period_page(request, "finops/customer.html", context, period_error)


@login_required
@fresh_rollups
def usage(request, org_code):
    """LLM usage in a period: calls, tokens, cost, unpriced calls, errors and retries by model, provider, feature
    and customer, and day by day."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    read = usage_page(org=org, start=period.start, end=period.end)

    def day_link(day: date) -> str:  # a day's cost bar: that day's model calls in the explorer
        calls = drilldown("slice", "source", ident="api_call", week=day, week_end=day + timedelta(days=1))
        return drilldown_url(org, calls, start=period.start, end=period.end)

    context = {"org": org, "page": "usage", "usage": read, "summary": read["summary"], "period": period,
               "figures": usage_trend_figure(read["daily"], org.currency, day_link),
               "period_query": urlencode(period.query()),
               "explore_query": urlencode({"start": period.start, "end": period.end})}  # fmt: skip
    return _period_page(request, "finops/usage.html", context, period_error)


@login_required
@fresh_rollups
def plans(request, org_code):
    """Pricing checks per plan in a period: price, cost per customer, margin, losers, suggested caps."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    overview = plan_overview(org=org, start=period.start, end=period.end)
    context = {
        "org": org,
        "page": "plans",
        "plans": overview["plans"],
        "trial": overview["trial"],
        "trial_spend": overview["trial_spend"],
        "trial_cap": overview["trial_cap"],
        "target_margin": overview["target_margin_pct"],
        "figures": plan_cost_histogram(overview["plan_rows"], overview["customer_rows"], overview["target_margin_pct"]),
        "period": period,
    }
    return _period_page(request, "finops/plans.html", context, period_error)


@login_required
@fresh_rollups
def gpus(request, org_code):
    """Every GPU host of a period, from its agent, its bill or both: cost, idle and unmeasured cost, GPU-hours."""
    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    rows, number, count, unmeasured = gpu_host_page(org=org, start=period.start, end=period.end,
                                                     page=request.GET.get("page"), per_page=HOSTS_PER_PAGE)  # fmt: skip
    shown = Paginator(range(count), HOSTS_PER_PAGE).get_page(number)  # the page's numbers; its hosts:
    shown.object_list = rows
    context = {"org": org, "page": "gpus", "hosts": shown, "period": period,
               "unmeasured": unmeasured, "limits": gpu_limits_text(),
               "agent_url": request.build_absolute_uri("/"),
               "period_query": "" if period_error else urlencode(period.query())}  # fmt: skip
    return _period_page(request, "finops/gpus.html", context, period_error)


@login_required
def gpu_resources(request, org_code):
    """Mark a bill resource as a GPU host or not: the mark wins over what its names say, and its days recompute."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    form = GpuResourceMarkForm(request.POST or None, initial={"resource_id": request.GET.get("resource", "")})
    if request.method == "POST" and form.is_valid():
        is_gpu = form.cleaned_data["is_gpu"]
        gpu_resource_mark(org=org, resource_id=form.cleaned_data["resource_id"], is_gpu=is_gpu, user=request.user)
        verdict = {True: "a GPU host", False: "not a GPU host", None: "decided by its bill's names again"}[is_gpu]
        messages.success(request, f"{form.cleaned_data['resource_id']} is now {verdict}; its days are recomputed.")
        return redirect("finops-gpu-resources", org_code=org.code)
    context = {"org": org, "page": "gpus", "form": form, "marks": gpu_resource_mark_list(org=org)}
    return render(request, "finops/gpu_resources.html", context)


@login_required
@fresh_rollups
def onboarding(request, org_code):
    """The seven-day checklist: the day it is, each step ticked from the data, and the one fix to choose."""
    org = get_org_for_user(request, org_code)
    context = {"org": org, "page": "onboarding", "progress": onboarding_progress(org=org),
               "fixes": onboarding_fix_choices(org=org)}  # fmt: skip
    return render(request, "finops/onboarding.html", context)


@login_required
@require_POST
def onboarding_fix(request, org_code):
    """Step 7: record the Founder Table row whose founder move the organisation commits to."""
    org = get_org_for_user(request, org_code, write=True)
    try:
        onboarding_fix_choose(org=org, fix=request.POST.get("fix", ""), user=request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "Fix chosen. It stays on this page; change it whenever another leak matters more.")
    return redirect(reverse("finops-onboarding", kwargs={"org_code": org.code}) + "#step-choose_fix")


@login_required
@fresh_rollups
def gpu_host(request, org_code, code):
    """One agent host in a period: its cost, GPU-hours, charts per GPU, the workloads by label, and the bill
    resources whose names look like it (to link its bill lines)."""
    org = get_org_for_user(request, org_code)
    host = host_for_code(org=org, code=code)
    if host is None:
        raise Http404
    period, period_error = period_for_page(request, tz=org.timezone)
    since, until = period.bounds()
    listed, candidates = gpu_host_listing(org=org, host=host, start=period.start, end=period.end)  # as GPUs lists it
    context = {
        "org": org,
        "page": "gpus",
        "host": host,
        "listed": listed,
        "period": period,
        "figures": host_figures(host_timeline(org=org, host=host, start=since, end=until)),
        "workloads": host_workload_hours(org=org, host=host, start=since, end=until),
        "hours": gpu_hours(listed),
        "energy_kwh": host_hour_totals(org=org, host=host, start=since, end=until)["energy_kwh"],
        "link_candidates": candidates,
        "limits": gpu_limits_text(),
    }
    return _period_page(request, "finops/gpu_host.html", context, period_error)


@login_required
def gpu_host_edit(request, org_code, code):
    """A GPU host's settings: owner, provider, instance type, the bill resource it maps to, an hourly rate."""
    org = get_org_for_user(request, org_code, write=True)
    host = host_for_code(org=org, code=code)
    if host is None:
        raise Http404
    initial = {field: getattr(host, field) for field in HOST_FIELDS}
    initial["currency"] = host.currency or org.currency
    if request.GET.get("bill_resource_id"):  # "link it" on the host page: the resource whose name looks alike
        initial["bill_resource_id"] = request.GET["bill_resource_id"]
    form = GpuHostForm(request.POST or None, initial=initial, default_currency=org.currency)
    if request.method == "POST" and form.is_valid():
        gpu_host_update(org=org, name=host.name, **form.cleaned_data)
        messages.success(request, f"Settings of {host.name} saved.")
        return redirect("finops-gpu-host", org_code=org.code, code=host.code)
    return render(request, "finops/gpu_host_edit.html", {"org": org, "page": "gpus", "host": host, "form": form})


@login_required
def thresholds(request, org_code):
    """The stop-sign thresholds and allocation choices; members and owners may change them."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    today = date.today()
    form = EconomicsSettingsForm(
        request.POST or None, instance=economics_settings_for(org=org), current_rates=rates_on(org=org, day=today)
    )
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in EconomicsSettingsForm.Meta.fields}
        economics_settings_update(org=org, thresholds=form.thresholds(), deferrable_features=form.deferrable_features(),
                                  blend_weights=form.cleaned_data["blend_text"],
                                  group_keys=form.cleaned_data["group_keys_text"], **fields)  # fmt: skip
        exchange_rates_set(org=org, rates=form.cleaned_data["rates_text"], day=today)
        messages.success(request, "Saved. The Founder Table uses the new thresholds now.")
        return redirect("finops-thresholds", org_code=org.code)
    return render(request, "finops/thresholds.html", {"org": org, "page": "founder-table", "form": form})


@login_required
def rules(request, org_code):
    """Bucket rules: where a cost with no purpose of its own lands ("purpose = eval* -> evaluation")."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    form = BucketRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        bucket_rule_create(org=org, **form.cleaned_data)
        messages.success(request, "Rule added; costs are being recomputed with it.")
        return redirect("finops-rules", org_code=org.code)
    context = {"org": org, "page": "founder-table", "form": form, "rules": bucket_rule_list(org=org)}
    return render(request, "finops/rules.html", context)


@login_required
@require_POST
def rule_delete(request, org_code, code):
    org = get_org_for_user(request, org_code, write=True)
    bucket_rule_delete(org=org, rule=get_object_or_404(BucketRule, org=org, code=code))
    messages.success(request, "Rule removed.")
    return redirect("finops-rules", org_code=org.code)


@login_required
def decisions(request, org_code):
    """Releases (evaluation spend is judged against them) and the learning questions that approve runs."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    release_form = ReleaseForm(request.POST if "release" in request.POST else None, prefix="release")
    question_form = LearningQuestionForm(
        request.POST if "question" in request.POST else None,
        prefix="question",
        initial={"run": request.GET.get("run", "")},
    )
    if release_form.is_bound and release_form.is_valid():
        release_create(org=org, **release_form.cleaned_data)
        messages.success(request, "Release recorded.")
        return redirect("finops-decisions", org_code=org.code)
    if question_form.is_bound and question_form.is_valid():
        learning_question_record(org=org, **question_form.cleaned_data)
        messages.success(request, "Learning question recorded: the run counts as approved learning.")
        return redirect("finops-decisions", org_code=org.code)
    context = {
        "org": org,
        "page": "founder-table",
        "release_form": release_form,
        "question_form": question_form,
        "releases": release_list(org=org),
        "questions": learning_question_list(org=org),
    }
    return render(request, "finops/decisions.html", context)


@login_required
def commitments(request, org_code):
    """Reserved GPUs, committed API spend and capacity promised to customers, with their measured use."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    form = CommitmentForm(request.POST or None, initial={"currency": org.currency, "starts_on": date.today()})
    if request.method == "POST" and form.is_valid():
        commitment_create(org=org, **form.cleaned_data)
        messages.success(request, "Commitment recorded.")
        return redirect("finops-commitments", org_code=org.code)
    context = {"org": org, "page": "founder-table", "form": form,
               "commitments": commitment_list(org=org, today=date.today())}  # fmt: skip
    return render(request, "finops/commitments.html", context)


@login_required
@require_POST
def commitment_remove(request, org_code, code):
    org = get_org_for_user(request, org_code, write=True)
    commitment_delete(org=org, commitment=get_object_or_404(Commitment, org=org, code=code))
    messages.success(request, "Commitment removed.")
    return redirect("finops-commitments", org_code=org.code)


BUILD_RENT_LOOKBACK = timedelta(days=30)


@login_required
def build_vs_rent(request, org_code):
    """Build versus rent for one GPU type: renting on-demand, reserved or spot against buying, at the utilisation
    the agents measured (or one entered), with the rate card edit for writers."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    card = gpu_rate_card(org=org)
    asked = request.POST.get("gpu_type") if request.method == "POST" else request.GET.get("gpu_type")
    rate = next((r for r in card if r.gpu_type == asked), card[0])
    rate_form = GpuRateForm(request.POST or None, rate=rate)
    if request.method == "POST" and rate_form.is_valid():
        gpu_rate_save(org=org, gpu_type=rate.gpu_type, **rate_form.cleaned_data)
        messages.success(request, f"Rate card saved for {rate.gpu_type}.")
        return redirect(reverse("finops-build-vs-rent", kwargs={"org_code": org.code}) + "?" +
                        urlencode({"gpu_type": rate.gpu_type}))  # fmt: skip
    until = timezone.now()
    measured = gpu_type_utilisation(org=org, match_name=rate.match_name, start=until - BUILD_RENT_LOOKBACK, end=until)
    data = build_rent_data(request.GET, rate=rate, measured=measured, settings=economics_settings_for(org=org),
                           currency=rate.currency)  # fmt: skip
    form = BuildRentForm(data, gpu_types=[r.gpu_type for r in card], currency=rate.currency)
    result = build_rent_compare(form.scenario()) if form.is_valid() else None
    context = {
        "org": org,
        "page": "build-vs-rent",
        "rate": rate,
        "form": form,
        "rate_form": rate_form,
        "measured": measured,
        "measured_pct": measured_pct(measured),
        "uses_measured": result is not None and measured_pct(measured) == form.cleaned_data["utilisation_pct"],
        "result": result,
        "currency": rate.currency,
        "figures": build_rent_figure(result, rate.currency) if result else None,
    }
    return render(request, "finops/build_vs_rent.html", context)


@login_required
@fresh_rollups
def pricing_check(request, org_code):
    """The guided pricing check: one paid workflow's cost per completed job, step by step, against the price
    paid per job, ending in a verdict. A GET form: viewers can try any numbers."""

    org = get_org_for_user(request, org_code)
    period, period_error = period_for_page(request, tz=org.timezone)
    start, end = period.start, period.end
    features, plans = workflow_choices(org=org, start=start, end=end)
    data = request.GET.copy()
    data.setdefault("feature", features[0] if features else "")
    data["start"], data["end"] = start.isoformat(), end.isoformat()  # the form's own fields show the period
    form = GuidedCheckForm(data, features=features, plans=plans, start=start, end=end, currency=org.currency)
    check = None
    if features and form.is_valid():
        asked = form.cleaned_data
        check = guided_check_for(org=org, feature=asked["feature"], plan=asked["plan"], start=asked["start"],
                                 end=asked["end"], founder_inputs=form.founder_inputs)  # fmt: skip
    context = {
        "org": org,
        "page": "plans",
        "form": form,
        "features": features,
        "check": check,
        "period": period,
        "figures": guided_check_waterfall(check) if check and check.cost_per_job is not None else None,
    }
    return _period_page(request, "finops/pricing_check.html", context, period_error)


@login_required
@fresh_rollups
def budgets(request, org_code):
    """Budgets with what is spent, held and left in the current period; writers add, change and remove them.
    `?scope=&target=&period=&amount=` prefills the form (the Plans page links its suggested caps here)."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    prefill = {k: request.GET[k] for k in ("scope", "target", "period", "amount") if request.GET.get(k)}
    form = BudgetForm(request.POST or None, initial=prefill)
    if request.method == "POST" and form.is_valid():
        budget, created = budget_save(org=org, currency=org.currency, **form.budget_fields())
        messages.success(request, f"Budget {'added' if created else 'updated'}: {budget_name(budget)}.")
        return redirect("finops-budgets", org_code=org.code)
    context = {"org": org, "page": "budgets", "form": form,
               "budgets": [_budget_row(*state) for state in budget_states(org=org, budgets=budget_list(org=org))],
               "targets": budget_targets(org=org, today=timezone.now().date()),
               "api_url": request.build_absolute_uri(reverse("finops-budget-check-api")),
               "reservation_minutes": settings.BUDGET_RESERVATION_MINUTES}  # fmt: skip
    return render(request, "finops/budgets.html", context)


def _budget_row(budget, state, start, end) -> dict:
    used = state.used_fraction
    return {"budget": budget, "state": state, "start": start, "last_day": end - timedelta(days=1),
            "used_pct": None if used is None else round(used * 100), "bar_pct": min(100, round((used or 0) * 100)),
            "alert_pct": round(budget.alert_at * 100), "over_by": max(-state.remaining, Decimal(0))}  # fmt: skip


@login_required
@require_POST
def budget_remove(request, org_code, code):
    org = get_org_for_user(request, org_code, write=True)
    budget = get_object_or_404(budget_list(org=org), code=code)
    budget_delete(org=org, budget=budget)
    messages.success(request, f"Budget removed: {budget_name(budget)}.")
    return redirect("finops-budgets", org_code=org.code)
