from accounts.selectors import membership_list_for_user


def current_org(request):
    """The org the page is about (from the URL) and the user's orgs, for the switcher."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    org_code = (getattr(request, "resolver_match", None) and request.resolver_match.kwargs.get("org_code")) or None
    memberships = list(membership_list_for_user(user=request.user))
    current = next((m for m in memberships if str(m.org.code) == str(org_code)), None) if org_code else None
    return {"user_memberships": memberships, "current_membership": current}
