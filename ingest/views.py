from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.selectors import agent_token_list, api_key_list
from accounts.tenancy import get_org_for_user


@login_required
def sources(request, org_code):
    """The four inputs and how each is connected."""
    org = get_org_for_user(request, org_code)
    context = {
        "org": org,
        "page": "sources",
        "active_agent_tokens": agent_token_list(org=org).filter(revoked_at=None).count(),
        "active_api_keys": api_key_list(org=org).filter(revoked_at=None).count(),
    }
    return render(request, "ingest/sources.html", context)
