"""The tenancy door: every read is scoped with `for_org`, every request resolves its org here."""

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.views import APIView


class OrgQuerySet(models.QuerySet):
    """The one queryset for tenant-owned models: reads start with `.for_org(org)`."""

    def for_org(self, org):
        if org is None or getattr(org, "pk", None) is None:
            raise ValueError("for_org() needs a saved organisation")
        return self.filter(org=org)


def get_org_for_user(request, org_code, *, write=False, owner=False):
    """The organisation `org_code` if the user is a member, with `org.membership` set.

    Non-members (and unknown codes) get 404, never 403, so another tenant's existence is
    not revealed. Members who may not write get 403 when `write` (viewer) or `owner`
    (anyone but an owner) is asked for.
    """
    from accounts.selectors import membership_for_user

    user = request.user
    if not user.is_authenticated:
        raise Http404
    membership = membership_for_user(user=user, org_code=org_code)
    if membership is None:
        raise Http404
    if owner and not membership.is_owner:
        raise PermissionDenied("Only an owner of this organisation can do that.")
    if write and not membership.can_write:
        raise PermissionDenied("Viewers can look but not change anything.")
    org = membership.org
    org.membership = membership
    if hasattr(request, "session"):
        request.session["org_code"] = str(org.code)
    return org


class OrgAPIView(APIView):
    """The one DRF base view: resolves `self.org` from the token or the session, then `org_queryset()`.

    Bearer API keys carry their org; a read-only key gets 403 on writes. Session users
    name the org with `?org=<code>` (or the last org they opened); non-members get 404.
    Agent tokens work only on views that set `token_kind = "agent"`.
    """

    token_kind = "api_key"

    def initial(self, request, *args, **kwargs):
        try:
            super().initial(request, *args, **kwargs)
        except (exceptions.AuthenticationFailed, exceptions.NotAuthenticated):
            self.check_throttles(request)  # a missing or wrong token counts against the address (scope anon)
            raise
        self.org = self.resolve_org(request)

    def resolve_org(self, request):
        from accounts.models import AgentToken, ApiKey, Scope

        writing = request.method not in SAFE_METHODS
        token = request.auth if isinstance(request.auth, (ApiKey, AgentToken)) else None
        asked = request.query_params.get("org")
        if token is not None:
            kind = "agent" if isinstance(token, AgentToken) else "api_key"
            if kind != self.token_kind:
                raise exceptions.AuthenticationFailed("This kind of token cannot be used on this endpoint.")
            if asked and asked != str(token.org.code):
                raise exceptions.NotFound()
            if writing and kind == "api_key" and token.scope != Scope.WRITE:
                raise exceptions.PermissionDenied("This API key is read-only.")
            return token.org
        if self.token_kind != "api_key":
            raise exceptions.NotAuthenticated("This endpoint needs its token in the Authorization header.")
        org_code = asked or request.session.get("org_code")
        if not org_code:
            raise exceptions.NotFound("Name the organisation with ?org=<code>.")
        return get_org_for_user(request, org_code, write=writing)

    def get_queryset(self):
        return self.org_queryset()

    def org_queryset(self):
        raise NotImplementedError("OrgAPIView subclasses return their org-scoped rows here.")
