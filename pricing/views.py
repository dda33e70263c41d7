from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ParseError

from accounts.parsers import json_parse
from accounts.selectors import organization_for_code
from accounts.tenancy import get_org_for_user
from ingest.periods import period_for_page
from pricing import selectors
from pricing.forms import PriceOverrideForm, StripeConnectionForm, StripeCustomerMapForm
from pricing.services.prices import price_override_create
from pricing.services.stripe_sync import stripe_connection_save, stripe_customer_map
from pricing.services.stripe_webhooks import WebhookRejectedError, stripe_webhook_receive
from pricing.tasks import stripe_sync_org as stripe_sync_org_task


@login_required
def prices(request, org_code):
    """Unpriced models with their call counts in a period, a form to price one, and the organisation's own
    prices."""
    org = get_org_for_user(request, org_code, write=request.method == "POST")
    prefill = {key: request.GET[key] for key in ("provider", "model") if request.GET.get(key)}
    form = PriceOverrideForm(request.POST or None, initial=prefill, org=org)
    if request.method == "POST" and form.is_valid():
        try:
            override = price_override_create(org=org, created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Price saved for {override.provider} / {override.model} from {override.effective_from:%-d %b %Y}; "
                "its calls are priced with it.",
            )
            return redirect("pricing-prices", org_code=org.code)
    period, period_error = period_for_page(request, tz=org.timezone)
    since, until = period.bounds()
    unpriced = selectors.unpriced_model_list(org=org, start=since, end=until)
    context = {
        "org": org,
        "page": "prices",
        "form": form,
        "period": period,
        "period_error": period_error,
        "unpriced": unpriced,
        "unpriced_calls": sum(row["calls"] or 0 for row in unpriced),
        "overrides": selectors.price_override_list(org),
    }
    status = 400 if period_error and request.method == "GET" else 200
    return render(request, "pricing/prices.html", context, status=status)


@login_required
def stripe_settings(request, org_code):
    """The Stripe connection: key and webhook secret (only their last four shown), Sync now, customer mapping."""
    org = get_org_for_user(request, org_code, write=True)
    action = request.POST.get("action") if request.method == "POST" else None
    form = StripeConnectionForm(request.POST if action == "save" else None)
    if action == "save" and form.is_valid():
        try:
            stripe_connection_save(org=org, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Stripe settings saved.")
            return redirect("pricing-stripe", org_code=org.code)
    if action == "sync":
        stripe_sync_org_task.delay(org.pk)
        messages.success(request, "Sync started: the summary below updates when it is done.")
        return redirect("pricing-stripe", org_code=org.code)
    if action == "map":
        map_form = StripeCustomerMapForm(request.POST)
        if map_form.is_valid():
            try:
                customer = stripe_customer_map(org=org, **map_form.cleaned_data)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                who = customer.email or customer.stripe_id
                messages.success(request, f"{who} is now tied to {customer.customer_id or 'no customer id'}.")
        return redirect("pricing-stripe", org_code=org.code)
    context = {
        "org": org,
        "page": "settings",
        "tab": "stripe",
        "form": form,
        "connection": selectors.stripe_connection_get(org),
        "counts": selectors.stripe_mirror_counts(org),
        "customers": selectors.stripe_customer_list(org)[:200],
        "webhook_url": request.build_absolute_uri(reverse("pricing-stripe-webhook", args=[org.code])),
    }
    return render(request, "pricing/stripe_settings.html", context)


@csrf_exempt
@require_POST
def stripe_webhook(request, org_code):
    """Stripe's webhook for one organisation: 400 unless signed with its secret and fresh; a replay is a 200."""
    org = organization_for_code(code=org_code)
    try:
        json_parse(request.body)  # Stripe's client would raise RecursionError on a too-deep body: a 400 here
    except ParseError as exc:
        return HttpResponse(str(exc.detail), status=400, content_type="text/plain")
    try:
        outcome = stripe_webhook_receive(
            org=org, payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except WebhookRejectedError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return JsonResponse({"id": outcome.event_id, "duplicate": outcome.duplicate, "applied": outcome.applied})
