from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from accounts.tenancy import get_org_for_user
from pricing import selectors
from pricing.forms import PriceOverrideForm
from pricing.services.prices import price_override_create


@login_required
def prices(request, org_code):
    """Unpriced models with their call counts, a form to price one, and the organisation's own prices."""
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
                f"Price saved for {override.provider} / {override.model} from {override.effective_from:%Y-%m-%d}; "
                "its calls are priced with it.",
            )
            return redirect("pricing-prices", org_code=org.code)
    unpriced = selectors.unpriced_model_list(org)
    context = {
        "org": org,
        "page": "prices",
        "form": form,
        "unpriced": unpriced,
        "unpriced_calls": sum(row["calls"] or 0 for row in unpriced),
        "overrides": selectors.price_override_list(org),
    }
    return render(request, "pricing/prices.html", context)
