from collections import Counter
from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.selectors import membership_list_for_user
from accounts.tenancy import get_org_for_user
from finops.charts import host_figures
from finops.founder_table import FOUNDER_ROWS
from finops.onboarding import ONBOARDING_STEPS
from ingest.forms import GpuHostForm
from ingest.selectors import host_for_code, host_hour_totals, host_list, host_timeline, host_workloads
from ingest.services.agent import HOST_FIELDS, gpu_host_update


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


@login_required
def founder_table(request, org_code):
    return _org_page(request, org_code, "finops/founder_table.html", rows=FOUNDER_ROWS, page="founder-table")


@login_required
def costs(request, org_code):
    return _org_page(request, org_code, "finops/costs.html", page="costs")


@login_required
def customers(request, org_code):
    return _org_page(request, org_code, "finops/customers.html", page="customers")


@login_required
def plans(request, org_code):
    return _org_page(request, org_code, "finops/plans.html", page="plans")


@login_required
def gpus(request, org_code):
    """GPU hosts: reporting or stale, their GPUs, and busy and idle GPU-hours over the last 24 hours."""
    org = get_org_for_user(request, org_code)
    until = timezone.now()
    hosts = host_list(org=org, start=until - timedelta(hours=24), end=until)
    for host in hosts:
        host["busy_hours"] = host["gpu_seconds_busy"] / 3600
        host["idle_hours"] = host["gpu_seconds_idle"] / 3600
        host["zombie_hours"] = host["gpu_seconds_zombie"] / 3600
        host["unowned_hours"] = host["gpu_seconds_unowned"] / 3600
        models = Counter(gpu.name or gpu.uuid for gpu in host["gpus"])
        host["gpu_summary"] = [f"{count} × {name}" if count > 1 else name for name, count in models.items()]
    return render(request, "finops/gpus.html", {"org": org, "page": "gpus", "hosts": hosts})


@login_required
def onboarding(request, org_code):
    return _org_page(request, org_code, "finops/onboarding.html", steps=ONBOARDING_STEPS, page="onboarding")


@login_required
def gpu_host(request, org_code, code):
    """One GPU host over the last 24 hours: charts per GPU and the workloads by label."""
    org = get_org_for_user(request, org_code)
    host = host_for_code(org=org, code=code)
    if host is None:
        raise Http404
    until = timezone.now()
    since = until - timedelta(hours=24)
    totals = host_hour_totals(org=org, host=host, start=since, end=until)
    context = {
        "org": org,
        "page": "gpus",
        "host": host,
        "figures": host_figures(host_timeline(org=org, host=host, start=since, end=until)),
        "workloads": [
            {**w, "gpu_hours": (w["gpu_seconds"] / 3600).quantize(Decimal("0.01"))}
            for w in host_workloads(org=org, host=host, start=since, end=until)
        ],
        "hours": {kind: totals[f"gpu_seconds_{kind}"] / 3600 for kind in ("busy", "idle", "zombie", "unowned")},
        "energy_kwh": totals["energy_kwh"],
    }
    return render(request, "finops/gpu_host.html", context)


@login_required
def gpu_host_edit(request, org_code, code):
    """A GPU host's settings: owner, provider, instance type, the bill resource it maps to, an hourly rate."""
    org = get_org_for_user(request, org_code, write=True)
    host = host_for_code(org=org, code=code)
    if host is None:
        raise Http404
    initial = {field: getattr(host, field) for field in HOST_FIELDS}
    initial["currency"] = host.currency or org.currency
    form = GpuHostForm(request.POST or None, initial=initial, default_currency=org.currency)
    if request.method == "POST" and form.is_valid():
        gpu_host_update(org=org, name=host.name, **form.cleaned_data)
        messages.success(request, f"Settings of {host.name} saved.")
        return redirect("finops-gpu-host", org_code=org.code, code=host.code)
    return render(request, "finops/gpu_host_edit.html", {"org": org, "page": "gpus", "host": host, "form": form})
